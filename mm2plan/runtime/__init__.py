"""The bundled replication runtime (a ReplicationEngine) and MM2's record formats.

May import: mm2plan.core, mm2plan.ports, confluent_kafka, prometheus_client (metrics), and
mm2plan.topology in the worker and `replicate` entry points (to load the topology file).
replicator.py copies one flow's share of partitions; records.py holds MM2's heartbeat,
checkpoint and offset-sync records byte for byte; engine.py and supervise.py run flows in the
background; status.py is what a worker reports.
"""
