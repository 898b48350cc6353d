"""The bundled replication runtime (a ReplicationEngine) and MM2's record formats.

May import: mm2plan.core, mm2plan.ports, confluent_kafka. Today: records.py, MM2's heartbeat,
checkpoint and offset-sync records byte for byte; the replicator itself comes next.
"""
