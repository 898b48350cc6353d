"""MM2's connector configs for each enabled flow: the `connect` engine's desired state, and
what every export (`mm2.properties`, Strimzi, Connect JSON) is rendered from.

Pure. A flow `dc1->dc2` of topology `prod` runs up to three connectors, named
`prod.dc1->dc2.MirrorSourceConnector` (and `...MirrorCheckpointConnector`,
`...MirrorHeartbeatConnector`): aliases may hold `-` and `.` but never `>`, so `->` keeps two
flows apart on a shared Connect cluster (`a-b`->`c` and `a`->`b-c` would both be `a-b-c`).
The heartbeat connector runs only when the flow emits heartbeats, the checkpoint connector only
when it emits checkpoints or syncs group offsets: the others would do nothing.

Every value is a string as Connect takes it. Every setting is written, mm2plan's default where
the topology sets none, so a connector runs as the plan says whatever MM2's defaults are.
Secrets are references only (`javaclient`): a literal in the topology becomes
`${env:MM2PLAN_<ALIAS>_<KEY>}`, listed in `invented`, and the worker needs the providers in
`providers` (`config.providers=env` ...) to resolve them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mm2plan.core.diagnostics import Diagnostic, warning
from mm2plan.core.javaclient import Invented, JavaClient, to_java
from mm2plan.core.model import Flow, Topology, join_path
from mm2plan.core.properties import CLIENT_PREFIXES, RUNTIME_PROPERTIES
from mm2plan.planning.desired import replication_settings

SOURCE = "MirrorSourceConnector"
CHECKPOINT = "MirrorCheckpointConnector"
HEARTBEAT = "MirrorHeartbeatConnector"
KINDS = (SOURCE, CHECKPOINT, HEARTBEAT)
CONNECTOR_PACKAGE = "org.apache.kafka.connect.mirror."
BYTE_ARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
POLICY_CLASSES = {
    "default": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
    "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
}
WORKER_PROPERTIES = ("offset.flush.interval.ms",)
"""Runtime properties that are the Connect worker's, not a connector's."""
NOT_REPRESENTABLE = "not-representable"
INVENTED_REFERENCE = "invented-reference"

# Which connector reads which setting (MirrorSourceConfig, MirrorCheckpointConfig,
# MirrorHeartbeatConfig); the shared ones (policy, tasks.max, clients) go to all three.
_BY_KIND: dict[str, frozenset[str]] = {
    SOURCE: frozenset(
        {
            "topics",
            "topics.exclude",
            "replication.factor",
            "sync.topic.configs.enabled",
            "sync.topic.configs.interval.seconds",
            "sync.topic.acls.enabled",
            "refresh.topics.interval.seconds",
            "offset.lag.max",
            "emit.offset-syncs.enabled",
            "offset-syncs.topic.replication.factor",
        }
    ),
    CHECKPOINT: frozenset(
        {
            "topics",
            "topics.exclude",
            "groups",
            "groups.exclude",
            "emit.checkpoints.enabled",
            "emit.checkpoints.interval.seconds",
            "sync.group.offsets.enabled",
            "sync.group.offsets.interval.seconds",
            "refresh.groups.interval.seconds",
            "checkpoints.topic.replication.factor",
            "emit.offset-syncs.enabled",
        }
    ),
    HEARTBEAT: frozenset(
        {
            "emit.heartbeats.enabled",
            "emit.heartbeats.interval.seconds",
            "heartbeats.topic.replication.factor",
        }
    ),
}
_COMMON = ("replication.policy.class", "replication.policy.separator", "tasks.max")
PATTERN_KEYS = ("topics", "topics.exclude", "groups", "groups.exclude")


def connector_name(topology: str, flow: Flow, kind: str) -> str:
    return f"{topology}.{flow.source}->{flow.target}.{kind}"


@dataclass
class FlowConnectors:
    flow: Flow
    settings: dict[str, str]
    """The flow's MM2 settings by MM2's name (patterns, policy, sync, emit, intervals, replication
    factors, client overrides): what `<src>-><dst>.` says in dedicated mode."""
    worker: dict[str, str]
    """Connect worker settings the flow needs (offset.flush.interval.ms)."""
    connectors: dict[str, dict[str, str]]
    """Connector name -> its full config (the body of `PUT /connectors/<name>/config`)."""

    def kinds(self) -> list[str]:
        return [name.rsplit(".", 1)[1] for name in self.connectors]


@dataclass
class Connectors:
    flows: dict[str, FlowConnectors] = field(default_factory=dict)
    """By flow name (`dc1->dc2`), enabled flows in topology order."""
    clients: dict[str, JavaClient] = field(default_factory=dict)
    """Each cluster's client config in the Java clients' names."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """What a connector cannot say (warnings, at the topology's line)."""

    @property
    def invented(self) -> list[Invented]:
        return [i for c in self.clients.values() for i in c.invented]

    @property
    def providers(self) -> set[str]:
        return {p for c in self.clients.values() for p in c.providers}


def pattern_list(patterns: tuple[str, ...] | list[str]) -> str:
    """MM2 reads a list property as comma-separated, each item trimmed; empty is no item."""
    return ",".join(patterns)


def pattern_problem(pattern: str) -> str | None:
    if "," in pattern:
        return "has a comma, and MM2 splits its pattern lists on commas"
    if pattern != pattern.strip():
        return "starts or ends with whitespace, which MM2 trims"
    return None


def whole_seconds(value: str) -> tuple[str, bool]:
    """MM2's intervals are whole seconds (`long`): a fraction is rounded up; (text, exact)."""
    try:
        f = float(value)
    except ValueError:
        return value, True
    if f == int(f):
        return str(int(f)), True
    return str(math.ceil(f)), False


def flow_settings(topology: Topology, flow: Flow) -> tuple[dict[str, str], dict[str, str]]:
    """(connector settings, worker settings) of a flow by MM2's names, all as text."""
    s: Mapping[str, Any] = replication_settings(topology, flow)
    out: dict[str, str] = {
        "replication.policy.class": POLICY_CLASSES[s["replication.policy"]],
        "replication.policy.separator": s["replication.policy.separator"],
        **{k: pattern_list(s[k]) for k in PATTERN_KEYS},
        "replication.factor": str(topology.defaults.replication_factor),
        **{
            k: "true" if s[k] else "false"
            for k in (
                "sync.group.offsets.enabled",
                "sync.topic.configs.enabled",
                "emit.heartbeats.enabled",
                "emit.checkpoints.enabled",
            )
        },
        # mm2plan plans ACLs from the topology's apps; MM2 copying the source's would add ACLs
        # no plan shows.
        "sync.topic.acls.enabled": "false",
    }
    worker: dict[str, str] = {}
    for name, value in s.items():
        if name in RUNTIME_PROPERTIES:
            text = str(value)
            if name.endswith(".interval.seconds"):
                text, _ = whole_seconds(text)
            (worker if name in WORKER_PROPERTIES else out)[name] = text
        elif name.startswith(CLIENT_PREFIXES):
            out[name] = str(value)
    return out, worker


def _flow_diagnostics(topology: Topology, flow: Flow) -> list[Diagnostic]:
    base = join_path("flows", flow.index)
    out = []

    def note(key: str, message: str, hint: str = "") -> None:
        path = join_path(base, key)
        out.append(warning(NOT_REPRESENTABLE, message, hint, source=topology.mark(path), path=path))

    if flow.exactly_once:
        note(
            "exactly_once",
            f"flow {flow.name}: exactly_once is the bundled engine's; MM2 runs the flow "
            "at least once",
            "MM2's exactly-once source support (KIP-618) needs Connect workers set up for it",
        )
    if flow.loop_prevention != "none":
        note(
            "loop_prevention",
            f"flow {flow.name}: loop_prevention: {flow.loop_prevention} is the bundled "
            "engine's; MM2 prevents loops by names alone",
        )
    for key, field_name in zip(
        PATTERN_KEYS, ("topics", "topics_exclude", "groups", "groups_exclude"), strict=True
    ):
        for p in getattr(flow, field_name):
            problem = pattern_problem(p)
            if problem:
                note(field_name, f"flow {flow.name}: {key} pattern {p!r} {problem}")
    for name, value in flow.properties.items():
        if name.endswith(".interval.seconds") and not whole_seconds(value)[1]:
            note(
                f"properties.{name}",
                f"flow {flow.name}: {name} is {value}; MM2 takes whole seconds, so "
                f"{whole_seconds(value)[0]}",
            )
    return out


def _client_diagnostics(topology: Topology, client: JavaClient) -> list[Diagnostic]:
    out = []
    base = join_path(join_path("clusters", client.alias), "config")
    for u in client.untranslated:
        path = join_path(base, u.key)
        out.append(
            warning(
                NOT_REPRESENTABLE,
                f"cluster {client.alias}: {u.key} is not exported: {u.reason}",
                source=topology.mark(path),
                path=path,
            )
        )
    for i in client.invented:
        path = join_path(base, i.key)
        out.append(
            warning(
                INVENTED_REFERENCE,
                f"cluster {client.alias}: {i.key} is written in plain text; the export refers "
                f"to {i.reference} instead",
                f"set {i.env} where MirrorMaker 2 runs, or write a reference in the topology",
                source=topology.mark(path),
                path=path,
            )
        )
    return out


def _clients_of(side: str, client: JavaClient) -> dict[str, str]:
    """`source.cluster.*` for what every client takes, `source.consumer.*` (producer, admin)
    for the rest: MM2 keeps only security and bootstrap keys of `source.cluster.`."""
    out = {f"{side}.cluster.bootstrap.servers": client.bootstrap_servers}
    out.update({f"{side}.cluster.{k}": v for k, v in client.shared().items()})
    for k, v in client.per_client().items():
        for role in ("consumer", "producer", "admin"):
            out[f"{side}.{role}.{k}"] = v
    return out


def kinds_of(flow: Flow) -> list[str]:
    kinds = [SOURCE]
    if flow.emit_checkpoints or flow.sync_group_offsets:
        kinds.append(CHECKPOINT)
    if flow.emit_heartbeats:
        kinds.append(HEARTBEAT)
    return kinds


def connector_configs(topology: Topology) -> Connectors:
    """Every enabled flow's connectors, with the clusters' clients and what could not be said."""
    result = Connectors()
    for alias, cluster in topology.clusters.items():
        client = to_java(alias, cluster.bootstrap_servers, cluster.config)
        result.clients[alias] = client
        result.diagnostics.extend(_client_diagnostics(topology, client))
    for flow in topology.enabled_flows():
        if flow.source not in result.clients or flow.target not in result.clients:
            continue  # the validator reports it
        settings, worker = flow_settings(topology, flow)
        result.diagnostics.extend(_flow_diagnostics(topology, flow))
        base = {
            "source.cluster.alias": flow.source,
            "target.cluster.alias": flow.target,
            **_clients_of("source", result.clients[flow.source]),
            **_clients_of("target", result.clients[flow.target]),
            "key.converter": BYTE_ARRAY_CONVERTER,
            "value.converter": BYTE_ARRAY_CONVERTER,
            "header.converter": BYTE_ARRAY_CONVERTER,
        }
        overrides = {k: v for k, v in settings.items() if k.startswith(CLIENT_PREFIXES)}
        connectors: dict[str, dict[str, str]] = {}
        for kind in kinds_of(flow):
            name = connector_name(topology.name, flow, kind)
            own = {k: v for k, v in settings.items() if k in _BY_KIND[kind] or k in _COMMON}
            connectors[name] = dict(
                sorted(
                    {
                        "name": name,
                        "connector.class": CONNECTOR_PACKAGE + kind,
                        **base,
                        **own,
                        **overrides,
                    }.items()
                )
            )
        result.flows[flow.name] = FlowConnectors(flow, settings, worker, connectors)
    return result
