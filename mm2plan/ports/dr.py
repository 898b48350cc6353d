"""The disaster-recovery port: what failover, failback and status read and change on one cluster.

Everything a failover needs is readable from the surviving cluster alone: MM2's heartbeats and
checkpoints, the bundled runtime's progress (its exact offset mapping) and mm2plan's failover
records. The source is consulted only when it answers. Methods raise `ClusterError` when the
cluster cannot be reached or refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mm2plan.core.mm2_records import Checkpoint
from mm2plan.core.progress import Position
from mm2plan.ports.cluster import AclResults, ClusterAdmin

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class TimedCheckpoint:
    checkpoint: Checkpoint
    timestamp_ms: int
    """When the checkpoint was written (the record's timestamp): its age is the failover's
    uncertainty about where the group really was."""


@dataclass(frozen=True, slots=True)
class GroupInfo:
    state: str
    """Kafka's consumer group state: Empty, Stable, PreparingRebalance, Dead, ..."""
    members: int


class DrCluster(ClusterAdmin, Protocol):
    alias: str

    def probe(self, timeout_s: float | None = None) -> None:
        """Raises ClusterError unless the cluster answers within `timeout_s` (default: the
        connection's own timeout)."""
        ...

    def has_authorizer(self) -> bool:
        """Whether ACLs (the failover's fence) can be set here at all."""
        ...

    def heartbeats(self, topic: str) -> dict[tuple[str, str], int]:
        """(source, target) -> timestamp (ms) of the newest heartbeat in `topic`."""
        ...

    def checkpoints(self, topic: str) -> dict[tuple[str, str, int], TimedCheckpoint]:
        """(group, topic, partition) -> the newest checkpoint in `topic`."""
        ...

    def progress(self, topology: str, flow: str) -> dict[TopicPartitionKey, Position]:
        """The bundled runtime's positions of one flow (on its target)."""
        ...

    def end_offsets(self, topics: Sequence[str]) -> dict[TopicPartitionKey, int]:
        """High watermarks of every partition of the topics that exist."""
        ...

    def record_timestamp(self, topic: str, partition: int, offset: int) -> int | None:
        """Timestamp (ms) of the record at `offset`, or of the first one after it; None if none."""
        ...

    def groups(self, groups: Sequence[str]) -> dict[str, GroupInfo]: ...

    def committed(self, groups: Sequence[str]) -> dict[str, dict[TopicPartitionKey, int]]: ...

    def commit(self, group: str, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """Set the group's offsets (the group must have no active members)."""
        ...

    def write_progress(
        self, topology: str, flow: str, positions: Mapping[TopicPartitionKey, Position]
    ) -> None:
        """Set the bundled runtime's positions of a stopped flow (failback --truncate)."""
        ...

    def failover_records(self) -> dict[str, dict[str, Any]]: ...

    def write_failover_record(self, key: str, record: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...

    def topic_names(self) -> list[str]:
        """Every topic of the cluster: status finds the source topics a flow selects."""
        ...


__all__ = ["AclResults", "DrCluster", "GroupInfo", "TimedCheckpoint", "TopicPartitionKey"]
