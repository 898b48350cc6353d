"""Desired state: what each cluster should hold, derived from the topology and the live sources.

Pure: the live state is an input (it tells the source's partition counts and configs, and which
undeclared topics match a flow's patterns), never something this module fetches.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mm2plan.core.addresses import Address
from mm2plan.core.bookkeeping import PROGRESS_TOPIC, is_bookkeeping_topic
from mm2plan.core.filters import group_filter
from mm2plan.core.graph import Placement, TopologyGraph
from mm2plan.core.model import Cluster, Flow, TopicSpec, Topology
from mm2plan.core.naming import BROKER_TOPICS, ReplicationPolicy
from mm2plan.core.properties import RUNTIME_PROPERTIES
from mm2plan.core.resources import ALLOW, LITERAL, PREFIXED, AclBinding, LiveState

# MM2's DefaultConfigPropertyFilter: topic configs it never copies to remote topics.
MM2_CONFIG_EXCLUDE = re.compile(
    r"follower\.replication\.throttled\.replicas|leader\.replication\.throttled\.replicas|"
    r"message\.timestamp\.difference\.max\.ms|message\.timestamp\.type|"
    r"unclean\.leader\.election\.enable|min\.insync\.replicas"
)

COMPACT = {"cleanup.policy": "compact"}
TRANSACTIONAL_ID_PREFIX = "mm2plan-"
"""The bundled runtime's transactional ids (exactly_once) start with this: one prefixed ACL."""


@dataclass(frozen=True, slots=True)
class DesiredTopic:
    cluster: str
    name: str
    partitions: int | None
    """None: whatever the topic has (a declared topic without a count); -1 creates at the
    broker default."""
    replication_factor: int
    config: Mapping[str, str]
    role: str
    """local | remote | internal"""
    origin: str = ""
    """For remote topics: `dc1:orders` (the source cluster and topic name)."""
    depends_on: tuple[tuple[str, str], ...] = ()
    """(cluster, topic) this copy is made from."""
    exact_config: bool = True
    """Remote topics follow the source's config; internal topics only pin cleanup.policy."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "config": dict(sorted(self.config.items())),
            "role": self.role,
        }
        if self.origin:
            out["origin"] = self.origin
        return out


@dataclass(frozen=True, slots=True)
class DesiredReplication:
    flow: Flow
    settings: Mapping[str, Any]


@dataclass
class DesiredState:
    topics: dict[str, dict[str, DesiredTopic]] = field(default_factory=lambda: defaultdict(dict))
    acls: dict[str, set[AclBinding]] = field(default_factory=lambda: defaultdict(set))
    replications: list[DesiredReplication] = field(default_factory=list)
    graph: TopologyGraph | None = None
    topology_name: str = "default"
    copies: dict[int, list[Placement]] = field(default_factory=lambda: defaultdict(list))
    """The copies each flow makes, by flow index: one pass over the placements, not one per
    flow."""


def is_kafka_internal(name: str) -> bool:
    return name in BROKER_TOPICS or is_bookkeeping_topic(name)


def discovered_topics(
    topology: Topology, policy: ReplicationPolicy, live: LiveState, first_pass: TopologyGraph
) -> dict[str, list[str]]:
    """Live topics no cluster declares that flows would replicate: MM2 copies whatever matches,
    declared or not, so the plan must too. Copies made by replication are not origins."""
    out: dict[str, list[str]] = defaultdict(list)
    for alias, cluster in live.clusters.items():
        if alias not in topology.clusters:
            continue
        held = set(first_pass.topics_on(alias))
        for name in cluster.topics:
            if name in held or is_kafka_internal(name) or policy.is_internal_topic(name):
                continue
            if policy.topic_source(name) in topology.clusters:
                continue  # a remote copy (default naming says so)
            out[alias].append(name)
    return out


def build_desired(
    topology: Topology, live: LiveState, graph: TopologyGraph | None = None
) -> DesiredState:
    """`graph` is the topology's graph if the caller has it (validate built one): live topics
    that flows would copy are added to it, rather than building the graph again."""
    graph = graph or TopologyGraph(topology)
    discovered = discovered_topics(topology, graph.policy, live, graph)
    if discovered:
        graph = graph.with_local_topics(discovered)
    specs: dict[tuple[str, str], TopicSpec] = {}
    for alias, c in topology.clusters.items():
        for t in c.topics:
            specs.setdefault((alias, t.name), t)
    state = DesiredState(graph=graph, topology_name=topology.name)
    rf = topology.defaults.replication_factor
    flows = {f.index: f for f in graph.usable_flows()}
    # Internal topics first: heartbeats are replicated too, and their copies take their shape.
    for flow in flows.values():
        _internal_topics(state, topology, graph.policy, flow, rf)
        state.replications.append(DesiredReplication(flow, replication_settings(topology, flow)))
    # BFS order of placements means a copy's source is always decided before the copy.
    for p in sorted(graph.placements(), key=lambda p: len(p.hops)):
        if p.flow_index is not None:
            state.copies[p.flow_index].append(p)
        on_cluster = state.topics[p.cluster]
        if p.topic in on_cluster:
            continue
        if not p.is_remote:
            spec = specs.get((p.cluster, p.topic))
            if spec is None:
                continue  # discovered: exists live, not managed, only replicated from
            on_cluster[p.topic] = DesiredTopic(
                p.cluster,
                p.topic,
                spec.partitions,
                spec.replication_factor if spec.replication_factor is not None else rf,
                dict(spec.config),
                "local",
            )
        else:
            assert p.flow_index is not None
            on_cluster[p.topic] = _remote_topic(p, flows[p.flow_index], graph, state, live, rf)
    _acls(state, topology, graph)
    return state


def config_after_apply(
    dt: DesiredTopic, live_config: Mapping[str, str] | None, owned: bool
) -> dict[str, str]:
    """The configs a topic will have once the plan is applied: exactly the desired ones for a
    topic mm2plan owns (or creates), else the live ones with the desired ones set on top."""
    if live_config is None or (dt.exact_config and owned):
        return dict(dt.config)
    return {**live_config, **dt.config}


def _source_shape(
    cluster: str, topic: str, state: DesiredState, live: LiveState
) -> tuple[int | None, Mapping[str, str]]:
    """Partitions and configs a copy's source will have after apply: the larger of declared and
    live counts (a source that grew must grow its copies), and its configs after apply."""
    desired = state.topics.get(cluster, {}).get(topic)
    lc = live.clusters.get(cluster)
    lt = lc.topics.get(topic) if lc else None
    counts = [
        n
        for n in (desired.partitions if desired else None, lt.partitions if lt else None)
        if n is not None and n > 0
    ]
    if desired is None:
        config: Mapping[str, str] = dict(lt.config) if lt else {}
    else:
        owned = lc is not None and Address.topic(cluster, topic) in lc.owned
        config = config_after_apply(desired, lt.config if lt else None, owned)
    return (max(counts) if counts else None), config


def _remote_topic(
    p: Placement, flow: Flow, graph: TopologyGraph, state: DesiredState, live: LiveState, rf: int
) -> DesiredTopic:
    assert p.source_cluster is not None and p.source_topic is not None
    partitions, config = _source_shape(p.source_cluster, p.source_topic, state, live)
    synced = (
        {k: v for k, v in config.items() if not MM2_CONFIG_EXCLUDE.fullmatch(k)}
        if flow.sync_topic_configs
        else {}
    )
    # A copy of heartbeats is MM2's infrastructure, shared by every topology that replicates
    # between these clusters (MM2 copies heartbeats whatever the patterns): internal.
    beats = p.heartbeats or graph.policy.is_heartbeats_topic(p.topic)
    return DesiredTopic(
        p.cluster,
        p.topic,
        partitions if partitions is not None else -1,
        rf,
        synced,
        "internal" if beats else "remote",
        f"{p.source_cluster}:{p.source_topic}",
        ((p.source_cluster, p.source_topic),),
        exact_config=flow.sync_topic_configs and not beats,
    )


def _internal_topics(
    state: DesiredState, topology: Topology, policy: ReplicationPolicy, flow: Flow, rf: int
) -> None:
    """The topics MM2's connectors use for a flow, each where MM2 creates it: heartbeats and
    checkpoints on the target, offset-syncs on the source (offset-syncs.topic.location=source)."""
    wanted = [(flow.source, policy.offset_syncs_topic(flow.target))]
    if flow.emit_heartbeats:
        wanted.append((flow.target, policy.heartbeats_topic()))
    if flow.emit_checkpoints:
        wanted.append((flow.target, policy.checkpoints_topic(flow.source)))
    for where, name in wanted:
        if name not in state.topics[where]:
            state.topics[where][name] = DesiredTopic(
                where, name, 1, rf, COMPACT, "internal", exact_config=False
            )


def replication_settings(topology: Topology, flow: Flow) -> dict[str, Any]:
    """The effective MM2 settings of a flow: what a runtime or connector is launched with.
    Every runtime property is there, mm2plan's default where the topology sets none, so the
    plan shows what will run and a changed value is an update of the flow."""
    return {
        "source": flow.source,
        "target": flow.target,
        "engine": topology.runtime.engine,
        "replication.policy": topology.defaults.replication_policy,
        "replication.policy.separator": topology.defaults.separator,
        "topics": list(flow.topics),
        "topics.exclude": list(flow.topics_exclude),
        "groups": list(flow.groups),
        "groups.exclude": list(flow.groups_exclude),
        "sync.group.offsets.enabled": flow.sync_group_offsets,
        "sync.topic.configs.enabled": flow.sync_topic_configs,
        "emit.heartbeats.enabled": flow.emit_heartbeats,
        "emit.checkpoints.enabled": flow.emit_checkpoints,
        "exactly_once": flow.exactly_once,
        "loop_prevention": flow.loop_prevention,
        **effective_properties(topology, flow),
    }


def effective_properties(topology: Topology, flow: Flow) -> dict[str, str]:
    """MM2's name -> value for every runtime property of the flow (its overrides on mm2plan's
    defaults; an internal topic's empty replication factor is the topology's), and the client
    overrides it sets, by name."""
    rf = str(topology.defaults.replication_factor)
    out = {k: v for k, v in flow.properties.items() if k not in RUNTIME_PROPERTIES}
    for name, prop in RUNTIME_PROPERTIES.items():
        out[name] = flow.properties.get(name, prop.default) or rf
    return dict(sorted(out.items()))


def _allow(
    principal: str, ops: Iterable[str], rtype: str, name: str, pattern: str = LITERAL
) -> set[AclBinding]:
    return {AclBinding(principal, op, rtype, name, pattern, ALLOW) for op in ops}


def _acls(state: DesiredState, topology: Topology, graph: TopologyGraph) -> None:
    names_by_origin: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    held: dict[str, set[str]] = defaultdict(set)
    for p in graph.placements():
        names_by_origin[p.cluster][p.origin_topic].add(p.topic)
        held[p.cluster].add(p.topic)
    for app in topology.apps:
        for i, alias in enumerate(app.clusters):
            if alias not in topology.clusters:
                continue
            acls = state.acls[alias]
            for topic in app.consumes:
                names = set(names_by_origin[alias].get(topic, set()))
                if topic in held[alias]:
                    names.add(topic)
                for name in names:
                    acls |= _allow(app.principal, ("READ", "DESCRIBE"), "TOPIC", name)
            for topic in app.produces:
                if i == 0 or topic in held[alias]:
                    acls |= _allow(app.principal, ("WRITE", "DESCRIBE"), "TOPIC", topic)
            for group in app.groups:
                acls |= _allow(app.principal, ("READ", "DESCRIBE"), "GROUP", group)
    _replicator_acls(state, topology, graph)


def _replicator_acls(state: DesiredState, topology: Topology, graph: TopologyGraph) -> None:
    """Exactly what MM2's connectors do on each side, for clusters that name the principal."""
    policy = graph.policy
    prefixed_names = topology.defaults.replication_policy == "default"
    for flow in graph.usable_flows():
        src: Cluster = topology.clusters[flow.source]
        dst: Cluster = topology.clusters[flow.target]
        if src.replicator_principal:
            who, acls = src.replicator_principal, state.acls[flow.source]
            copies = state.copies[flow.index]
            for name in {p.source_topic for p in copies if p.source_topic is not None}:
                acls |= _allow(who, ("READ", "DESCRIBE", "DESCRIBE_CONFIGS"), "TOPIC", name)
            acls |= _allow(
                who, ("READ", "WRITE", "DESCRIBE"), "TOPIC", policy.offset_syncs_topic(flow.target)
            )
            acls |= _allow(who, ("DESCRIBE",), "CLUSTER", "kafka-cluster")
            if flow.emit_checkpoints:
                for group in _synced_groups(topology, flow, flow.source):
                    acls |= _allow(who, ("DESCRIBE",), "GROUP", group)
        if dst.replicator_principal:
            who, acls = dst.replicator_principal, state.acls[flow.target]
            ops = ["CREATE", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"]
            if flow.sync_group_offsets:
                ops.append("READ")  # Kafka's OffsetCommit: READ on each topic a group commits
            if prefixed_names:
                prefix = policy.format_remote_topic(flow.source, "")
                acls |= _allow(who, ops, "TOPIC", prefix, PREFIXED)
            else:
                for name in {p.topic for p in state.copies[flow.index]}:
                    acls |= _allow(who, ops, "TOPIC", name)
            for name in (policy.heartbeats_topic(), policy.checkpoints_topic(flow.source)):
                acls |= _allow(who, ("CREATE", "READ", "WRITE", "DESCRIBE"), "TOPIC", name)
            if flow.sync_group_offsets:
                for group in _synced_groups(topology, flow, flow.target):
                    acls |= _allow(who, ("READ", "DESCRIBE"), "GROUP", group)
            if topology.runtime.engine == "bundled":
                acls |= _bundled_runtime_acls(who, flow)


def _bundled_runtime_acls(who: str, flow: Flow) -> set[AclBinding]:
    """What the bundled runtime does on the target beyond MM2: it keeps its progress in a
    topic of its own (creating it on first start) and, for exactly-once, writes records and
    progress in transactions under ids that start with `TRANSACTIONAL_ID_PREFIX`."""
    acls = _allow(who, ("READ", "WRITE", "DESCRIBE", "CREATE"), "TOPIC", PROGRESS_TOPIC)
    if flow.exactly_once:
        acls |= _allow(
            who, ("WRITE", "DESCRIBE"), "TRANSACTIONAL_ID", TRANSACTIONAL_ID_PREFIX, PREFIXED
        )
        acls |= _allow(who, ("IDEMPOTENT_WRITE",), "CLUSTER", "kafka-cluster")
    return acls


def _synced_groups(topology: Topology, flow: Flow, cluster: str) -> set[str]:
    """Groups of the topology's apps on `cluster` that this flow checkpoints."""
    gf = group_filter(flow)
    return {
        g for app in topology.apps if cluster in app.clusters for g in app.groups if gf.matches(g)
    }
