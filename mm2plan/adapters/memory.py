"""An in-memory `ClusterAdmin`: the planner's and applier's tests run against it, and golden
cases load their recorded live state into it. It follows Kafka's rules where the core relies on
them (no partition decrease, TOPIC_ALREADY_EXISTS, an atomic lock) and can be told to fail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mm2plan.core.bookkeeping import LOCK_TOPIC, STATE_TOPIC
from mm2plan.core.naming import topic_name_problem
from mm2plan.core.ownership import owned_topic_names
from mm2plan.core.resources import AclBinding, LiveCluster, LiveTopic
from mm2plan.ports.cluster import (
    AclResults,
    ClusterError,
    DataScope,
    LockHeld,
    NewTopic,
    OpError,
    Results,
)
from mm2plan.ports.replication import EngineError, FlowKey, FlowSpec, FlowState, FlowStatus

_ACL_NAMES = {
    "resource_type": frozenset({"TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"}),
    "operation": frozenset(
        {
            "ALL",
            "READ",
            "WRITE",
            "CREATE",
            "DELETE",
            "ALTER",
            "DESCRIBE",
            "CLUSTER_ACTION",
            "DESCRIBE_CONFIGS",
            "ALTER_CONFIGS",
            "IDEMPOTENT_WRITE",
        }
    ),
    "pattern_type": frozenset({"LITERAL", "PREFIXED"}),
    "permission": frozenset({"ALLOW", "DENY"}),
}
"""The names of an ACL's parts that Kafka (through confluent-kafka) takes."""


def _acl_name_problem(b: AclBinding) -> str | None:
    for part, names in _ACL_NAMES.items():
        value = getattr(b, part)
        if value not in names:
            return f"not a valid ACL binding: {part} {value!r}"
    return None


@dataclass
class MemoryCluster:
    alias: str
    topics: dict[str, LiveTopic] = field(default_factory=dict)
    acls: set[AclBinding] | None = field(default_factory=set)
    owned: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: dict[str, Any] | None = None
    fail_topics: set[str] = field(default_factory=set)
    """Topic names whose create/alter fails with POLICY_VIOLATION (fault injection)."""
    unreachable: bool = False

    @classmethod
    def from_live(cls, live: LiveCluster) -> MemoryCluster:
        return cls(
            live.alias,
            dict(live.topics),
            None if live.acls is None else set(live.acls),
            {k: dict(v) for k, v in live.owned.items()},
        )


class MemoryAdmin:
    def __init__(self, cluster: MemoryCluster) -> None:
        self.cluster = cluster
        self.alias = cluster.alias
        self._holds_lock = False
        self._holder: dict[str, Any] = {}

    def _check(self) -> MemoryCluster:
        if self.cluster.unreachable:
            raise ClusterError(
                self.alias,
                "cannot reach bootstrap servers",
                "check bootstrap_servers and that the cluster is up",
            )
        return self.cluster

    def read_state(self, data: DataScope = "all") -> LiveCluster:
        c = self._check()
        topics = dict(c.topics)
        if data == "owned":
            named = owned_topic_names(c.owned)
            topics = {n: t if n in named else replace(t, has_data=None) for n, t in topics.items()}
        return LiveCluster(
            c.alias,
            topics,
            None if c.acls is None else frozenset(c.acls),
            {k: dict(v) for k, v in c.owned.items()},
        )

    def _fails(self, name: str) -> OpError | None:
        if name in self.cluster.fail_topics:
            return OpError("POLICY_VIOLATION", f"injected failure for {name}")
        return None

    def create_topics(self, topics: Sequence[NewTopic]) -> Results:
        c = self._check()
        out: dict[str, OpError | None] = {}
        for t in topics:
            if (err := self._fails(t.name)) is not None:
                out[t.name] = err
            elif t.name in c.topics:
                out[t.name] = OpError("TOPIC_ALREADY_EXISTS", f"Topic '{t.name}' already exists.")
            elif (problem := topic_name_problem(t.name)) is not None:
                out[t.name] = OpError("TOPIC_EXCEPTION", f"Topic name is invalid: {problem}")
            elif t.partitions == 0 or t.partitions < -1:
                out[t.name] = OpError("INVALID_PARTITIONS", "Number of partitions is invalid.")
            else:
                c.topics[t.name] = LiveTopic(
                    t.name,
                    t.partitions if t.partitions > 0 else 1,
                    t.replication_factor if t.replication_factor > 0 else 1,
                    dict(t.config),
                    False,
                )
                out[t.name] = None
        return out

    def create_partitions(self, counts: Mapping[str, int]) -> Results:
        c = self._check()
        out: dict[str, OpError | None] = {}
        for name, n in counts.items():
            t = c.topics.get(name)
            if (err := self._fails(name)) is not None:
                out[name] = err
            elif t is None:
                out[name] = OpError("UNKNOWN_TOPIC_OR_PART", f"no topic {name}")
            elif n <= t.partitions:
                out[name] = OpError(
                    "INVALID_PARTITIONS",
                    f"Topic currently has {t.partitions} partitions, which is "
                    f"higher than the requested {n}.",
                )
            else:
                c.topics[name] = replace(t, partitions=n)
                out[name] = None
        return out

    def alter_topic_configs(self, changes: Mapping[str, Mapping[str, str | None]]) -> Results:
        c = self._check()
        out: dict[str, OpError | None] = {}
        for name, delta in changes.items():
            t = c.topics.get(name)
            if not delta:
                out[name] = None
                continue
            if (err := self._fails(name)) is not None:
                out[name] = err
                continue
            if t is None:
                out[name] = OpError("UNKNOWN_TOPIC_OR_PART", f"no topic {name}")
                continue
            config = dict(t.config)
            for k, v in delta.items():
                if v is None:
                    config.pop(k, None)
                else:
                    config[k] = v
            c.topics[name] = replace(t, config=config)
            out[name] = None
        return out

    def delete_topics(self, names: Sequence[str]) -> Results:
        c = self._check()
        out: dict[str, OpError | None] = {}
        for n in names:
            if n in c.topics:
                del c.topics[n]
                out[n] = None
            else:
                out[n] = OpError("UNKNOWN_TOPIC_OR_PART", f"no topic {n}")
        return out

    def _acl_call(self, bindings: Sequence[AclBinding], create: bool) -> AclResults:
        """Without an authorizer Kafka fails each binding with SECURITY_DISABLED; a binding
        with a name Kafka does not know fails alone, as the Kafka adapter refuses it."""
        acls = self._check().acls
        if acls is None:
            return dict.fromkeys(
                bindings, OpError("SECURITY_DISABLED", "No Authorizer is configured.")
            )
        out: dict[AclBinding, OpError | None] = {}
        for b in bindings:
            bad = _acl_name_problem(b)
            out[b] = None if bad is None else OpError("INVALID_REQUEST", bad)
        ok = [b for b, err in out.items() if err is None]
        (acls.update if create else acls.difference_update)(ok)
        return out

    def create_acls(self, bindings: Sequence[AclBinding]) -> AclResults:
        return self._acl_call(bindings, create=True)

    def delete_acls(self, bindings: Sequence[AclBinding]) -> AclResults:
        return self._acl_call(bindings, create=False)

    def _ensure_state_topic(self) -> None:
        c = self.cluster
        if STATE_TOPIC not in c.topics:
            c.topics[STATE_TOPIC] = LiveTopic(STATE_TOPIC, 1, 1, {"cleanup.policy": "compact"})

    def write_ownership(self, records: Mapping[str, Mapping[str, Any] | None]) -> None:
        c = self._check()
        self._ensure_state_topic()
        for addr, rec in records.items():
            if rec is None:
                c.owned.pop(addr, None)
            else:
                c.owned[addr] = dict(rec)

    def acquire_lock(self, holder: Mapping[str, Any], force: bool = False) -> None:
        """The lock is a topic, as on Kafka, and names its holder."""
        c = self._check()
        if c.lock is not None and not force:
            raise LockHeld(self.alias, c.lock)
        c.lock = self._holder = dict(holder)
        c.topics[LOCK_TOPIC] = LiveTopic(LOCK_TOPIC, 1, 1)
        self._holds_lock = True
        self._ensure_state_topic()  # as the real adapter does, so tests see the same world

    def release_lock(self) -> None:
        """A lock broken by --force-unlock meanwhile is someone else's now, and stays."""
        if not self._holds_lock:
            return
        self._holds_lock = False
        if self.cluster.lock == self._holder:
            self.cluster.lock = None
            self.cluster.topics.pop(LOCK_TOPIC, None)

    def close(self) -> None:
        """Nothing to release."""


class MemoryEngine:
    """An in-memory `ReplicationEngine`: flows and their settings, no records copied. Apply's
    and (later) failover's tests drive it; `fail` makes a flow's calls fail (fault injection)."""

    name = "memory"

    def __init__(self) -> None:
        self.flows: dict[FlowKey, FlowStatus] = {}
        self.fail: set[FlowKey] = set()
        self.calls: list[tuple[str, FlowKey]] = []

    def _check(self, verb: str, key: FlowKey) -> None:
        self.calls.append((verb, key))
        if key in self.fail:
            raise EngineError(key, f"injected failure on {verb}", "fix the engine, then re-run")

    def describe(self, key: FlowKey) -> FlowStatus:
        return self.flows.get(key, FlowStatus(key, FlowState.ABSENT))

    def start(self, spec: FlowSpec) -> None:
        self._check("start", spec.key)
        self.flows[spec.key] = FlowStatus(spec.key, FlowState.RUNNING, dict(spec.settings))

    def update(self, spec: FlowSpec) -> None:
        self._check("update", spec.key)
        if spec.key not in self.flows:
            raise EngineError(spec.key, "is not known to the engine", "start it first")
        self.flows[spec.key] = FlowStatus(spec.key, FlowState.RUNNING, dict(spec.settings))

    def stop(self, key: FlowKey) -> None:
        self._check("stop", key)
        if key in self.flows:
            self.flows[key] = replace(self.flows[key], state=FlowState.STOPPED)
