"""One flow's runtime configuration, resolved from the topology: what a replicator process runs.

Built in the process that replicates (secrets are resolved there, from its environment, and
never written anywhere), from the same topology file `apply` planned with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mm2plan.core.filters import NameFilter, group_filter, topic_filter
from mm2plan.core.model import Flow, Topology, reveal
from mm2plan.core.naming import ReplicationPolicy, policy_for
from mm2plan.core.properties import CLIENT_PREFIXES, RUNTIME_PROPERTIES


class ConfigError(ValueError):
    """The flow cannot run as configured; the message says what to change."""


@dataclass(frozen=True)
class FlowConfig:
    topology: str
    source: str
    target: str
    source_client: Mapping[str, str] = field(repr=False)
    target_client: Mapping[str, str] = field(repr=False)
    policy: ReplicationPolicy
    topics: NameFilter
    groups: NameFilter
    replication_factor: int
    sync_group_offsets: bool = True
    sync_topic_configs: bool = True
    emit_heartbeats: bool = True
    emit_checkpoints: bool = True
    exactly_once: bool = False
    loop_prevention: bool = False
    properties: Mapping[str, str] = field(default_factory=dict)
    """Every RUNTIME_PROPERTIES value, defaults filled in."""
    consumer_overrides: Mapping[str, str] = field(default_factory=dict, repr=False)
    producer_overrides: Mapping[str, str] = field(default_factory=dict, repr=False)
    admin_overrides: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    def seconds(self, prop: str) -> float:
        return float(self.properties[prop])

    def integer(self, prop: str) -> int:
        return int(self.properties[prop])

    def flag(self, prop: str) -> bool:
        return self.properties[prop].lower() == "true"

    def internal_rf(self, prop: str) -> int:
        v = self.properties.get(prop, "")
        return int(v) if v else self.replication_factor

    @property
    def processes(self) -> int:
        return max(1, self.integer("tasks.max"))


def flow_config(
    topology: Topology, flow: Flow, environ: Mapping[str, str] | None = None
) -> FlowConfig:
    """Raises ConfigError (unknown cluster, unresolvable secret reference)."""
    try:
        src = topology.clusters[flow.source]
        dst = topology.clusters[flow.target]
    except KeyError as exc:
        raise ConfigError(
            f"flow {flow.name}: cluster {exc.args[0]} is not in the topology"
        ) from None
    try:
        src_conf = {"bootstrap.servers": src.bootstrap_servers, **reveal(src.config, environ)}
        dst_conf = {"bootstrap.servers": dst.bootstrap_servers, **reveal(dst.config, environ)}
    except Exception as exc:  # SecretResolutionError: say which flow, never the value
        raise ConfigError(f"flow {flow.name}: {exc}") from None
    props = {name: p.default for name, p in RUNTIME_PROPERTIES.items()}
    overrides: dict[str, dict[str, str]] = {p: {} for p in CLIENT_PREFIXES}
    for k, v in flow.properties.items():
        for prefix in CLIENT_PREFIXES:
            if k.startswith(prefix):
                overrides[prefix][k[len(prefix) :]] = str(v)
                break
        else:
            if k not in RUNTIME_PROPERTIES:
                raise ConfigError(f"flow {flow.name}: unknown MM2 property {k}")
            props[k] = str(v)
    d = topology.defaults
    return FlowConfig(
        topology=topology.name,
        source=flow.source,
        target=flow.target,
        source_client=src_conf,
        target_client=dst_conf,
        policy=policy_for(d.replication_policy, d.separator),
        topics=topic_filter(flow),
        groups=group_filter(flow),
        replication_factor=d.replication_factor,
        sync_group_offsets=flow.sync_group_offsets,
        sync_topic_configs=flow.sync_topic_configs,
        emit_heartbeats=flow.emit_heartbeats,
        emit_checkpoints=flow.emit_checkpoints,
        exactly_once=flow.exactly_once,
        loop_prevention=flow.loop_prevention == "headers",
        properties=props,
        consumer_overrides=overrides["source.consumer."],
        producer_overrides=overrides["target.producer."],
        admin_overrides={**overrides["source.admin."], **overrides["target.admin."]},
    )
