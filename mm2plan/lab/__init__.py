"""The local Kafka lab: real Apache Kafka (KRaft) from Maven Central's jars, on loopback.

Used by the integration tests and by `mm2plan sandbox`. Needs Java 17+ and, the first time,
Maven; everything else is in the jars. See docs/lab.md.
"""

from mm2plan.lab.cluster import (
    KafkaCluster,
    new_cluster,
    start_clusters,
    stop_clusters,
)
from mm2plan.lab.connect import (
    ConnectWorker,
    mirror_maker_command,
    new_worker,
    start_mirror_maker,
    start_worker,
)
from mm2plan.lab.jars import KAFKA_VERSION, LabError, ensure_kafka, require_java

__all__ = [
    "KAFKA_VERSION",
    "ConnectWorker",
    "KafkaCluster",
    "LabError",
    "ensure_kafka",
    "mirror_maker_command",
    "new_cluster",
    "new_worker",
    "require_java",
    "start_clusters",
    "start_mirror_maker",
    "start_worker",
    "stop_clusters",
]
