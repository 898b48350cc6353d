"""The ports between the core and Kafka: Protocols, request values and domain errors.

The planner and applier see only these; `kafka/confluent.py` implements them on confluent-kafka
and `kafka/memory.py` in memory for tests. Per-resource results come back as `OpError | None`
so one bad topic never hides the outcome of the others in the same batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mm2plan.core.model import Cluster
from mm2plan.core.resources import AclBinding, LiveCluster

STATE_TOPIC = "__mm2plan.state"
"""Compacted topic on each cluster: mm2plan's ownership records, key = resource address."""
LOCK_TOPIC = "__mm2plan.lock"
"""Exists while an apply runs: CreateTopics is atomic, so creating it is the lock."""


class ClusterError(Exception):
    """A whole cluster failed (unreachable, authentication, ...): message says what to do."""

    def __init__(
        self, alias: str, message: str, hint: str = "", code: str = "cluster-unreachable"
    ) -> None:
        super().__init__(f"cluster {alias}: {message}")
        self.alias = alias
        self.hint = hint
        self.code = code
        """The diagnostic code shown to the user (README "Diagnostics")."""


class LockHeld(ClusterError):
    def __init__(self, alias: str, holder: Mapping[str, Any]) -> None:
        who = ", ".join(f"{k}={v}" for k, v in sorted(holder.items())) or "unknown holder"
        super().__init__(
            alias,
            f"another apply holds the lock ({who})",
            "wait for it to finish; if it died, re-run with --force-unlock",
            code="apply-locked",
        )
        self.holder = dict(holder)


@dataclass(frozen=True, slots=True)
class OpError:
    """Why one resource's operation failed; `code` is Kafka's error name when there is one."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class NewTopic:
    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)


Results = Mapping[str, OpError | None]
AclResults = Mapping[AclBinding, OpError | None]


class ClusterAdmin(Protocol):
    """Reads and changes one cluster. Every method may raise ClusterError for the whole call."""

    alias: str

    def read_state(self) -> LiveCluster: ...

    def create_topics(self, topics: Sequence[NewTopic]) -> Results: ...

    def create_partitions(self, counts: Mapping[str, int]) -> Results: ...

    def alter_topic_configs(self, changes: Mapping[str, Mapping[str, str | None]]) -> Results:
        """Incremental: a value sets the key on the topic, None deletes it (back to default)."""
        ...

    def delete_topics(self, names: Sequence[str]) -> Results: ...

    def create_acls(self, bindings: Sequence[AclBinding]) -> AclResults: ...

    def delete_acls(self, bindings: Sequence[AclBinding]) -> AclResults: ...

    def write_ownership(self, records: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Upsert (or, with None, forget) ownership records in STATE_TOPIC, durably."""
        ...

    def acquire_lock(self, holder: Mapping[str, Any], force: bool = False) -> None:
        """Raise LockHeld if another apply holds it; with force, break that lock first."""
        ...

    def release_lock(self) -> None: ...

    def close(self) -> None: ...


AdminFactory = Callable[[Cluster], ClusterAdmin]
