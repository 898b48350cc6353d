"""The cluster ports: reader, admin writer, ownership store; their request values and errors.

Execution sees only these; `adapters/kafka` implements them on confluent-kafka and
`adapters/memory.py` in memory for tests; one contract suite runs the same cases on both.
Per-resource results come back as `OpError | None` so one bad topic never hides the outcome of
the others in the same batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mm2plan.core.model import Cluster
from mm2plan.core.resources import AclBinding, LiveCluster


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


DataScope = Literal["all", "owned"]
"""Which topics `read_state` tells holding data of: every one, or those an ownership record
names (the only ones a plan may delete; the rest read None). "owned" spares a cluster of
many topics two offset requests per partition."""


class ClusterReader(Protocol):
    """Reads one cluster: what plan and status need, and all they may do."""

    alias: str

    def read_state(self, data: DataScope = "all") -> LiveCluster:
        """Topics (with their own config overrides and whether they hold data), ACLs (None
        without an authorizer) and mm2plan's ownership records. Raises ClusterError."""
        ...


class ClusterAdmin(Protocol):
    """Changes one cluster's topics and ACLs; each call is one batch with a result per resource
    (None: done), and raises ClusterError only when the whole cluster failed."""

    alias: str

    def create_topics(self, topics: Sequence[NewTopic]) -> Results: ...

    def create_partitions(self, counts: Mapping[str, int]) -> Results:
        """Counts are new totals; Kafka only grows partitions (INVALID_PARTITIONS otherwise)."""
        ...

    def alter_topic_configs(self, changes: Mapping[str, Mapping[str, str | None]]) -> Results:
        """Incremental: a value sets the key on the topic, None deletes it (back to default)."""
        ...

    def delete_topics(self, names: Sequence[str]) -> Results: ...

    def create_acls(self, bindings: Sequence[AclBinding]) -> AclResults: ...

    def delete_acls(self, bindings: Sequence[AclBinding]) -> AclResults: ...


class OwnershipStore(Protocol):
    """mm2plan's records of what it owns on one cluster, and the cluster's apply lock."""

    alias: str

    def write_ownership(self, records: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Upsert (or, with None, forget) ownership records in STATE_TOPIC, durably."""
        ...

    def acquire_lock(self, holder: Mapping[str, Any], force: bool = False) -> None:
        """Raise LockHeld if another apply holds it; with force, break that lock first."""
        ...

    def release_lock(self) -> None:
        """Only a lock this store took and still holds; a lock broken meanwhile stays."""
        ...


class ClusterConnection(ClusterReader, ClusterAdmin, OwnershipStore, Protocol):
    """Every cluster port on one set of clients: what a command opens per cluster."""

    def close(self) -> None: ...


ConnectionFactory = Callable[[Cluster], ClusterConnection]
