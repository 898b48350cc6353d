"""Topology + live state -> Plan. Pure: no Kafka, no terminal.

Rules that protect data: mm2plan changes or deletes only what it owns (ownership records live on
the clusters); an existing topic that already fits is adopted, one that conflicts is an error
diagnostic; partitions only grow; replication factors are never changed behind the user's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mm2plan.core.addresses import Address, Kind, apply_stage
from mm2plan.core.collector import collector_paused
from mm2plan.core.diagnostics import Diagnostic, error, warning
from mm2plan.core.graph import TopologyGraph
from mm2plan.core.model import DEFAULT_TOPOLOGY_NAME, Topology, join_path
from mm2plan.core.ownership import Owned, OwnershipRecord, read_records
from mm2plan.core.resources import AclBinding, LiveCluster, LiveState, LiveTopic
from mm2plan.planning.desired import (
    DesiredState,
    DesiredTopic,
    build_desired,
    config_after_apply,
    is_kafka_internal,
)
from mm2plan.planning.fingerprint import fingerprint
from mm2plan.planning.plan import (
    Action,
    Change,
    FlowSettings,
    Plan,
    TopicState,
    select,
)
from mm2plan.topology.loader import to_document


@dataclass(frozen=True, slots=True)
class FlowRun:
    """What a flow's engine says it is doing (execution reads it through the engine port):
    the planner turns a recorded flow that does not run as recorded into an update.

    Not part of the fingerprint: a flow restarting with backoff flips between failed and
    running, and must not make every saved plan stale; applying a saved plan's update to a
    flow that has recovered meanwhile only restarts it."""

    state: str
    """running | stopped | failed | absent (ports.replication.FlowState's values)."""
    settings: Mapping[str, Any] | None = None
    """What it runs with; None: the engine does not say."""
    reason: str = ""
    held: str = ""
    """Why the flow is stopped on purpose (a failover in effect): apply leaves it stopped."""


def topology_doc(topology: Topology) -> Any:
    """The topology as fingerprints see it: the file's own serialization, each secret only its
    placeholder, so no plan file carries anything derived from a secret's value."""
    return to_document(topology, redact_secrets=True)


def scoped(
    live: LiveState, topology_name: str
) -> tuple[LiveState, dict[str, Owned], dict[str, set[str]]]:
    """This topology's view: only its own ownership records count as owned (returned typed, by
    cluster); the addresses other topologies own are returned apart, so the plan neither
    changes nor deletes them."""
    mine: dict[str, LiveCluster] = {}
    records: dict[str, Owned] = {}
    others: dict[str, set[str]] = {}
    for alias, lc in live.clusters.items():
        own = {a: r for a, r in read_records(lc.owned).items() if r.topology == topology_name}
        records[alias] = own
        # Another topology's by what its record says, even one this version cannot read
        # whole; an unreadable record of this topology's is neither: not owned, not theirs.
        others[alias] = {
            a
            for a, r in lc.owned.items()
            if not isinstance(r, Mapping)
            or r.get("topology", DEFAULT_TOPOLOGY_NAME) != topology_name
        }
        mine[alias] = replace(lc, owned={a: lc.owned[a] for a in own})
    return LiveState(mine), records, others


def make_plan(
    topology: Topology,
    live: LiveState,
    targets: tuple[str, ...] = (),
    graph: TopologyGraph | None = None,
    flows: Mapping[str, FlowRun] | None = None,
) -> Plan:
    """`graph`: the topology's graph, when the caller has built it (validate does), so that one
    command builds it once. `flows`: each flow's run by name (`dc1->dc2`), when its engine was
    asked; without, a recorded flow is taken to run as recorded. Desired state and changes are
    objects by the hundred thousand that all live on: the cycle collector is paused meanwhile."""
    with collector_paused():
        return _plan(topology, live, targets, graph, flows or {})


def _plan(
    topology: Topology,
    live: LiveState,
    targets: tuple[str, ...],
    graph: TopologyGraph | None,
    flows: Mapping[str, FlowRun],
) -> Plan:
    world = live
    live, records, elsewhere = scoped(live, topology.name)
    desired = build_desired(topology, live, graph)
    changes: list[Change] = []
    diags: list[Diagnostic] = []
    for alias in sorted(topology.clusters):
        lc = live.clusters.get(alias, LiveCluster(alias))
        other = elsewhere.get(alias, set())
        owned = records.get(alias, {})
        wanted = desired.topics.get(alias, {})
        changes += _topic_changes(topology, desired, alias, wanted, lc, owned, other, diags)
        acls = desired.acls.get(alias, set())
        changes += _acl_changes(topology, alias, acls, lc, owned, other, diags)
    changes += _replication_changes(desired, live, records, changes, flows)
    changes.sort(key=_apply_order)
    return Plan(
        select(changes, targets),
        fingerprint(topology_doc(topology), world),
        topology.file,
        tuple(diags),
        targets,
        topology.name,
    )


def _address_of(desired: DesiredState, cluster: str, topic: str) -> Address:
    """A copy's source may be an internal topic (heartbeats are replicated too)."""
    dt = desired.topics.get(cluster, {}).get(topic)
    return Address.topic(cluster, topic, internal=dt is not None and dt.role == "internal")


def _topic_changes(
    topology: Topology,
    desired: DesiredState,
    alias: str,
    wanted: Mapping[str, DesiredTopic],
    lc: LiveCluster,
    owned_records: Owned,
    elsewhere: set[str],
    diags: list[Diagnostic],
) -> list[Change]:
    out = []
    for name, dt in sorted(wanted.items()):
        internal = dt.role == "internal"
        addr = Address.topic(alias, name, internal)
        deps = tuple(_address_of(desired, c, t) for c, t in dt.depends_on)
        lt = lc.topics.get(name)
        if lt is None:
            after = TopicState(
                dt.partitions if dt.partitions is not None else -1,
                dt.config,
                dt.replication_factor,
                dt.role,
                dt.origin or None,
            )
            out.append(Change(addr, Action.CREATE, None, after, _create_reason(dt), deps))
            continue
        owned = addr in owned_records
        mark = topology.mark(f"clusters.{alias}.topics", f"clusters.{alias}")
        if addr in elsewhere:
            if not internal:  # internal topics are shared; user topics have one owner
                diags.append(
                    error(
                        "owned-elsewhere",
                        f"{addr} is managed by another mm2plan topology",
                        "give the topic one owner: remove it from one of the topologies",
                        source=mark,
                        path=f"clusters.{alias}",
                    )
                )
            continue
        problem = _conflict(dt, lt, owned)
        if problem:
            diags.append(
                error(
                    "topic-conflict",
                    f"{addr}: the existing topic {problem}",
                    "mm2plan will not change a topic it does not own in a way that "
                    "could lose data; fix it by hand or rename it",
                    source=mark,
                    path=f"clusters.{alias}",
                )
            )
            continue
        shrinking = dt.partitions is not None and 0 < dt.partitions < lt.partitions
        if shrinking and dt.role == "local":
            topic_path = join_path(f"clusters.{alias}.topics", name)
            diags.append(
                error(
                    "partition-decrease",
                    f"{addr}: the topic has "
                    f"{lt.partitions} partitions; the topology asks for "
                    f"{dt.partitions}",
                    "Kafka cannot remove partitions: raise "
                    "the count back, or create a new topic and migrate",
                    source=topology.mark(topic_path) or mark,
                    path=topic_path,
                )
            )
            continue
        if (
            dt.replication_factor > 0
            and lt.replication_factor != dt.replication_factor
            and (owned or dt.role == "local")
        ):
            diags.append(
                warning(
                    "replication-factor-change",
                    f"{addr}: replication factor is "
                    f"{lt.replication_factor}, the topology says "
                    f"{dt.replication_factor}; mm2plan does not change it",
                    "use kafka-reassign-partitions to change replicas",
                    source=mark,
                    path=f"clusters.{alias}",
                )
            )
        before = _live_state(lt, dt)
        after = _target_state(lt, dt, owned)
        if not owned:
            out.append(
                Change(
                    addr,
                    Action.ADOPT,
                    before,
                    after,
                    "exists and fits: mm2plan takes ownership",
                    deps,
                )
            )
        elif before != after:
            out.append(
                Change(
                    addr,
                    Action.UPDATE,
                    before,
                    after,
                    update_reason(dt, before, after, owned_records[addr].applied),
                    deps,
                )
            )
        else:
            out.append(Change(addr, Action.NOOP, before, after))
    for addr, record in sorted(owned_records.items()):
        if record.kind.is_topic and record.topic not in wanted:
            out += _delete_owned(lc, addr, record, "no longer in the topology")
    return out


def _conflict(dt: DesiredTopic, lt: LiveTopic, owned: bool) -> str:
    if owned:
        return ""
    want_cleanup = dt.config.get("cleanup.policy")
    have_cleanup = lt.config.get("cleanup.policy", "delete")
    if want_cleanup and _policy_set(want_cleanup) != _policy_set(have_cleanup):
        return f"has cleanup.policy={have_cleanup}, the topology needs {want_cleanup}"
    if dt.role == "remote" and dt.partitions is not None and 0 < lt.partitions < dt.partitions:
        return (
            f"has {lt.partitions} partitions, fewer than its source {dt.origin} ({dt.partitions})"
        )
    return ""


def _policy_set(value: str) -> frozenset[str]:
    return frozenset(p.strip() for p in value.split(",") if p.strip())


def _live_state(lt: LiveTopic, dt: DesiredTopic) -> TopicState:
    return TopicState(lt.partitions, dict(lt.config))


def _target_state(lt: LiveTopic, dt: DesiredTopic, owned: bool) -> TopicState:
    partitions = lt.partitions
    if dt.partitions is not None and dt.partitions > lt.partitions:
        partitions = dt.partitions
    return TopicState(partitions, config_after_apply(dt, lt.config, owned))


def _create_reason(dt: DesiredTopic) -> str:
    if dt.role == "remote":
        return f"replica of {dt.origin}"
    if dt.role == "internal":
        return f"MM2 heartbeats from {dt.origin}" if dt.origin else "used by MM2 replication"
    return "declared in the topology"


_UNKNOWN: Any = object()
"""What the ownership record does not say (records written before they held applied values)."""


def update_reason(
    dt: DesiredTopic,
    before: TopicState,
    after: TopicState,
    applied: Mapping[str, Any] | None,
) -> str:
    """Which attributes change, and why, as far as can be known: each attribute's desired value
    (after), live value (before) and the value the last apply recorded tell whether what asks
    for it changed (the topology, or a copy's source), the topic drifted, or both. A record
    without applied values cannot tell, and the reason says so rather than guess."""
    applied = applied or {}
    recorded_config = applied.get("config")
    recorded_partitions = applied.get("partitions")
    attrs: list[tuple[str, Any, Any, Any]] = []
    if before.partitions != after.partitions:
        last = recorded_partitions
        last = last if isinstance(last, int) and last > 0 else _UNKNOWN
        what = f"partitions {before.partitions} -> {after.partitions}"
        attrs.append((what, before.partitions, after.partitions, last))
    live_config, want_config = before.config, after.config
    for key in sorted(set(live_config) | set(want_config)):
        b, a = live_config.get(key), want_config.get(key)
        if a != b:
            last = recorded_config.get(key) if isinstance(recorded_config, Mapping) else _UNKNOWN
            attrs.append((f"{'sets' if a is not None else 'removes'} {key}", b, a, last))
    who = _asked_by(dt)
    causes = {
        "asked": f"{who} changed since the last apply",
        "drift": "the topic drifted from what the last apply set",
        "both": f"{who} and the topic both changed since the last apply",
        "unknown": f"to match {who} - a change there or drift: the ownership record holds no "
        "applied values to tell",
    }
    grouped: dict[str, list[str]] = {cause: [] for cause in causes}
    for what, b, a, last in attrs:
        if last is _UNKNOWN:
            grouped["unknown"].append(what)
        elif a != last:
            grouped["asked" if b == last else "both"].append(what)
        else:
            grouped["drift"].append(what)
    return "; ".join(
        f"{', '.join(whats)}: {causes[cause]}" for cause, whats in grouped.items() if whats
    )


def _asked_by(dt: DesiredTopic) -> str:
    if dt.origin:
        return f"the source {dt.origin}"
    return "MM2" if dt.role == "internal" else "the topology"


def _acl_changes(
    topology: Topology,
    alias: str,
    wanted: set[AclBinding],
    lc: LiveCluster,
    owned_records: Owned,
    elsewhere: set[str],
    diags: list[Diagnostic],
) -> list[Change]:
    if lc.acls is None:
        if wanted:
            diags.append(
                warning(
                    "acls-unsupported",
                    f"cluster {alias} has no authorizer: "
                    f"{len(wanted)} ACLs cannot be applied there",
                    "enable an authorizer (authorizer.class.name) on the brokers",
                    source=topology.mark(f"clusters.{alias}"),
                    path=f"clusters.{alias}",
                )
            )
        return []
    out = []
    for b in sorted(wanted):
        addr = Address.acl(alias, b.describe())
        if b not in lc.acls:
            out.append(
                Change(
                    addr,
                    Action.CREATE,
                    None,
                    b,
                    "least privilege for what the topology declares",
                )
            )
        elif addr in elsewhere:
            continue  # the same ACL serves another topology too: leave it to its owner
        elif addr not in owned_records:
            out.append(
                Change(
                    addr,
                    Action.ADOPT,
                    b,
                    b,
                    "exists: mm2plan takes ownership",
                )
            )
        else:
            out.append(Change(addr, Action.NOOP, b, b))
    wanted_addrs = {Address.acl(alias, b.describe()) for b in wanted}
    for addr, record in sorted(owned_records.items()):
        if record.kind is Kind.ACL and addr not in wanted_addrs:
            out += _delete_owned(lc, addr, record, "no longer needed by the topology")
    return out


def _replication_changes(
    desired: DesiredState,
    live: LiveState,
    records: Mapping[str, Owned],
    so_far: list[Change],
    flows: Mapping[str, FlowRun],
) -> list[Change]:
    out = []
    topic_changes = {
        c.address: c
        for c in so_far
        if c.kind in (Kind.TOPIC, Kind.INTERNAL_TOPIC) and c.action is not Action.NOOP
    }
    wanted_addrs = set()
    for rep in desired.replications:
        flow = rep.flow
        addr = Address.replication(flow.target, flow.name, desired.topology_name)
        wanted_addrs.add(addr)
        record = records.get(flow.target, {}).get(addr)
        copies = {Address.topic(p.cluster, p.topic) for p in desired.copies[flow.index]}
        deps = tuple(sorted(a for a in copies if a in topic_changes))
        after = FlowSettings(dict(rep.settings))
        if record is None:
            out.append(
                Change(
                    addr,
                    Action.CREATE,
                    None,
                    after,
                    f"new flow {flow.name}",
                    deps,
                )
            )
        elif FlowSettings(dict(record.settings)) != after:
            out.append(
                Change(
                    addr,
                    Action.UPDATE,
                    FlowSettings(dict(record.settings)),
                    after,
                    "flow settings changed: replication restarts",
                    deps,
                )
            )
        else:
            out.append(_run_change(addr, after, flows.get(flow.name), deps))
    for alias, owned in sorted(records.items()):
        lc = live.clusters.get(alias, LiveCluster(alias))
        for addr, record in sorted(owned.items()):
            if record.kind is Kind.REPLICATION and addr not in wanted_addrs:
                out += _delete_owned(
                    lc, addr, record, "flow removed from the topology: replication stops"
                )
    return out


def _run_change(
    addr: Address, after: FlowSettings, run: FlowRun | None, deps: tuple[Address, ...]
) -> Change:
    """A flow recorded as applied with the desired settings: an update when it does not run,
    or runs with other settings than those (its engine's word, `run`)."""
    if run is None or run.state == "running":
        if run is None or run.settings is None or FlowSettings(dict(run.settings)) == after:
            return Change(addr, Action.NOOP, after, after)
        before = FlowSettings(dict(run.settings))
        reason = "config differs: the engine runs other settings; apply restarts it with these"
        return Change(addr, Action.UPDATE, before, after, reason, deps)
    if run.held:
        return Change(addr, Action.NOOP, after, after, run.held)
    if run.state == "failed":
        reason = f"flow is failed: {run.reason or 'no reason given'}; apply restarts it"
    elif run.state == "stopped":
        reason = "flow is stopped; apply starts it"
    else:
        reason = "flow is not running (its engine knows nothing of it); apply starts it"
    return Change(addr, Action.UPDATE, after, after, reason, deps)


def _delete_owned(
    lc: LiveCluster, addr: Address, record: OwnershipRecord, reason: str
) -> list[Change]:
    """Deleting something mm2plan owns, if it still exists (a record can outlive its resource,
    e.g. a topic deleted by hand): the one place that knows how each kind is deleted."""
    kind = record.kind
    if kind.is_topic:
        name = record.topic
        lt = lc.topics.get(name)
        if lt is None or is_kafka_internal(name):
            return []
        return [
            Change(
                addr,
                Action.DELETE,
                TopicState(
                    lt.partitions, dict(lt.config), lt.replication_factor, has_data=lt.has_data
                ),
                None,
                reason,
                destroys_data=lt.has_data is not False,
            )
        ]
    if kind is Kind.ACL:
        binding = record.binding
        if binding is None or lc.acls is None or binding not in lc.acls:
            return []
        return [Change(addr, Action.DELETE, binding, None, reason)]
    return [Change(addr, Action.DELETE, FlowSettings(dict(record.settings)), None, reason)]


def make_destroy_plan(topology: Topology, live: LiveState) -> Plan:
    """Delete everything this topology owns on its clusters, replication first."""
    the_world = live
    live, records, _ = scoped(live, topology.name)
    changes: list[Change] = []
    for alias in sorted(topology.clusters):
        lc = live.clusters.get(alias, LiveCluster(alias))
        for addr, record in sorted(records.get(alias, {}).items()):
            changes += _delete_owned(lc, addr, record, "destroy")
    # Replication stops before its topics go; ACLs after the topics they guard.
    changes.sort(key=_apply_order)
    return Plan(
        tuple(changes),
        fingerprint(topology_doc(topology), the_world),
        topology.file,
        topology_name=topology.name,
    )


def _apply_order(c: Change) -> tuple[int, str, str]:
    """Plans list changes in the order apply carries them out."""
    return (apply_stage(c.kind, c.action is Action.DELETE), c.cluster, c.address)
