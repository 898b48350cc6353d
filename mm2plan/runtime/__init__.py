"""The bundled replication runtime (a ReplicationEngine) and MM2's record formats.

May import: mm2plan.core, mm2plan.ports, confluent_kafka. Nothing runs here yet.
"""
