"""The Kafka ports on confluent-kafka (librdkafka): reader, admin, ownership store.

May import: mm2plan.core, mm2plan.ports, confluent_kafka (only this package does).
"""
