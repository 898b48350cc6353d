"""A topology as the files other MM2 deployments read: MM2's dedicated-mode properties, Strimzi
`KafkaMirrorMaker2` resources, and Connect connector configs.

Pure: each renderer returns the files' text and what it could not say (warnings at the
topology's lines), and the CLI writes them. All three start from `connectors.connector_configs`,
so the three agree with each other and with the `connect` engine. Secrets are references only
(see `core.javaclient`); `needs` tells the user what to provide where MM2 runs.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import yaml

from mm2plan.core.diagnostics import Diagnostic, warning
from mm2plan.core.javaclient import PROVIDER_CLASSES, JavaClient
from mm2plan.core.javaprops import format_entry
from mm2plan.core.model import Flow, Topology
from mm2plan.core.properties import CLIENT_PREFIXES
from mm2plan.planning.connectors import (
    CHECKPOINT,
    HEARTBEAT,
    NOT_REPRESENTABLE,
    PATTERN_KEYS,
    POLICY_CLASSES,
    SOURCE,
    Connectors,
    FlowConnectors,
    connector_configs,
    flow_settings,
)

FORMATS = ("mm2-properties", "strimzi", "connect-json")
STRIMZI_VERSIONS = ("v1", "v1beta2")
WORKER_TOPIC_RFS = (
    "offset.storage.replication.factor",
    "status.storage.replication.factor",
    "config.storage.replication.factor",
)
"""Connect's own topics (dedicated mode: `mm2-offsets.<source>.internal` ... on each target)."""


@dataclass(frozen=True)
class ExportFile:
    name: str
    text: str


@dataclass
class Export:
    files: list[ExportFile] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    """What the user must provide where MM2 runs (environment variables, Secrets, providers)."""


def _needs(connectors: Connectors, workers: bool) -> list[str]:
    """Each reference the configs hold, and with `workers` the providers Connect needs."""
    out = []
    for alias, client in connectors.clients.items():
        out += [f"{ref}: {alias}'s {key}" for key, ref in client.references]
        out += [
            f"{i.reference}: {alias}'s {i.key} (plain text in the topology, so not exported)"
            for i in client.invented
        ]
    if workers:
        for p in sorted(connectors.providers):
            out.append(
                f"config.providers={p} and config.providers.{p}.class={PROVIDER_CLASSES[p]} "
                "on the Connect workers"
            )
    return out


def _comment(lines: Iterable[str]) -> list[str]:
    return [f"# {line}".rstrip() for line in lines]


def _warn(topology: Topology, message: str, hint: str = "", path: str = "") -> Diagnostic:
    return warning(NOT_REPRESENTABLE, message, hint, source=topology.mark(path), path=path)


def _not_exported(topology: Topology) -> list[Diagnostic]:
    """What lives in the topology but in no MM2 config: `mm2plan apply` still manages it."""
    out = []
    declared = [a for a, c in topology.clusters.items() if c.topics]
    if declared:
        out.append(
            _warn(
                topology,
                "declared topics (partitions, configs) of "
                f"{', '.join(declared)} are not in MM2's config: MM2 creates remote topics "
                "only, like their sources",
                "run `mm2plan apply` to create and manage them",
                f"clusters.{declared[0]}.topics",
            )
        )
    if topology.apps:
        out.append(
            _warn(
                topology,
                "apps' ACLs are not in MM2's config",
                "run `mm2plan apply` to manage them",
                "apps",
            )
        )
    return out


# --- mm2.properties (dedicated mode) -----------------------------------------------------------


def _cluster_lines(alias: str, client: JavaClient, worker: dict[str, str]) -> list[str]:
    lines = [format_entry(f"{alias}.bootstrap.servers", client.bootstrap_servers)]
    lines += [format_entry(f"{alias}.{k}", v) for k, v in client.shared().items()]
    for k, v in client.per_client().items():
        lines += [
            format_entry(f"{alias}.{role}.{k}", v) for role in ("consumer", "producer", "admin")
        ]
    if worker:
        lines.append(f"# the Connect worker of the flows into {alias}")
        lines += [format_entry(f"{alias}.{k}", v) for k, v in worker.items()]
    return lines


def _target_worker(
    topology: Topology, flows: list[Flow]
) -> tuple[dict[str, dict[str, str]], list[Diagnostic]]:
    """Worker settings by target cluster: one worker per herder, so flows into one target
    share them (the smallest value when they differ)."""
    per: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for f in flows:
        for k, v in flow_settings(topology, f)[1].items():
            per[f.target][k].append(int(v))
    out: dict[str, dict[str, str]] = {}
    diags = []
    for target, values in per.items():
        out[target] = {}
        for k, vs in values.items():
            out[target][k] = str(min(vs))
            if len(set(vs)) > 1:
                diags.append(
                    _warn(
                        topology,
                        f"flows into {target} set {k} differently "
                        f"({', '.join(map(str, sorted(set(vs))))}); MM2 has one worker per "
                        f"target, which takes {min(vs)}",
                        path="flows",
                    )
                )
    return out, diags


def mm2_properties(topology: Topology) -> Export:
    """MM2's dedicated mode file: exactly the topology's flows run, nothing else."""
    cc = connector_configs(topology)
    flows = [f for f in topology.flows if f.source in cc.clients and f.target in cc.clients]
    settings = {f.index: flow_settings(topology, f)[0] for f in flows}
    workers, diags = _target_worker(topology, flows)
    # Patterns and client overrides always per flow; the rest top-level when every flow agrees.
    candidates = set.intersection(*(set(s) for s in settings.values())) if settings else set()
    shared = {
        k: settings[flows[0].index][k]
        for k in sorted(candidates)
        if k not in PATTERN_KEYS
        and not k.startswith(CLIENT_PREFIXES)
        and len({s[k] for s in settings.values()}) == 1
    }
    rf = str(topology.defaults.replication_factor)
    global_lines = {
        "replication.policy.class": shared.pop("replication.policy.class", None)
        or POLICY_CLASSES[topology.defaults.replication_policy],
        "replication.policy.separator": shared.pop(
            "replication.policy.separator", topology.defaults.separator
        ),
        "replication.factor": shared.pop("replication.factor", rf),
        # mm2plan plans ACLs from apps: MM2 copying the source's would add ACLs no plan shows.
        "sync.topic.acls.enabled": shared.pop("sync.topic.acls.enabled", "false"),
        **{k: rf for k in WORKER_TOPIC_RFS},
    }
    export = Export(diagnostics=[*cc.diagnostics, *diags, *_not_exported(topology)])
    export.needs = _needs(cc, workers=False)
    out = _comment(
        [
            f"MirrorMaker 2 dedicated mode, exported by mm2plan from {topology.file} "
            f"(topology '{topology.name}').",
            "Run: connect-mirror-maker.sh mm2.properties",
            *(
                ["Secrets it refers to (provide them where MM2 runs):"]
                + [f"  {n}" for n in export.needs]
                if export.needs
                else []
            ),
        ]
    )
    out += ["", format_entry("clusters", ", ".join(topology.clusters)), ""]
    for alias, client in cc.clients.items():
        out += [f"# cluster {alias}", *_cluster_lines(alias, client, workers.get(alias, {})), ""]
    if cc.providers:
        out.append(format_entry("config.providers", ",".join(sorted(cc.providers))))
        out += [
            format_entry(f"config.providers.{p}.class", PROVIDER_CLASSES[p])
            for p in sorted(cc.providers)
        ]
        out.append("")
    out.append(
        "# naming, ACLs, and the replication factor of the topics MM2 and its workers create"
    )
    out += [format_entry(k, v) for k, v in global_lines.items()]
    out.append("")
    if shared:
        out.append("# every flow's settings (mm2plan's defaults, also where MM2's differ)")
        out += [format_entry(k, v) for k, v in shared.items()]
        out.append("")
    pairs = {(f.source, f.target) for f in flows}
    for f in flows:
        prefix = f"{f.source}->{f.target}."
        out.append(f"# flow {f.name}" + ("" if f.enabled else " (disabled: kept for the record)"))
        out.append(format_entry(prefix + "enabled", "true" if f.enabled else "false"))
        if not f.enabled:
            out.append(format_entry(prefix + "emit.heartbeats.enabled", "false"))
        own = settings[f.index]
        for k, v in own.items():
            if k in shared or k in global_lines:
                continue
            if not f.enabled and k == "emit.heartbeats.enabled":
                continue
            out.append(format_entry(prefix + k, v))
        out.append("")
    idle = [
        (a, b)
        for a in topology.clusters
        for b in topology.clusters
        if a != b and (a, b) not in pairs
    ]
    if idle:
        out.append(
            "# no flow: dedicated mode would still run a heartbeat connector for each of these "
            "pairs (KAFKA-10710)"
        )
        for a, b in idle:
            out.append(format_entry(f"{a}->{b}.enabled", "false"))
            out.append(format_entry(f"{a}->{b}.emit.heartbeats.enabled", "false"))
        out.append("")
    export.files.append(ExportFile("mm2.properties", "\n".join(out).rstrip("\n") + "\n"))
    return export


# --- Connect JSON ------------------------------------------------------------------------------


def file_name(connector: str) -> str:
    """`prod.dc1-to-dc2.MirrorSourceConnector.json`: no `>` in file names."""
    return connector.replace("->", "-to-") + ".json"


def connect_json(topology: Topology) -> Export:
    """One JSON body per connector, for `PUT /connectors/<name>/config`."""
    cc = connector_configs(topology)
    export = Export(
        diagnostics=[*cc.diagnostics, *_not_exported(topology)], needs=_needs(cc, workers=True)
    )
    workers = {k: v for fc in cc.flows.values() for k, v in fc.worker.items()}
    if workers:
        export.diagnostics.append(
            _warn(
                topology,
                "worker settings are not a connector's: set "
                + ", ".join(f"{k}={v}" for k, v in sorted(workers.items()))
                + " on the Connect workers",
                path="flows",
            )
        )
    for fc in cc.flows.values():
        for name, config in fc.connectors.items():
            export.files.append(ExportFile(file_name(name), json.dumps(config, indent=2) + "\n"))
    return export


# --- Strimzi -----------------------------------------------------------------------------------

_DNS = re.compile(r"[^a-z0-9-]+")
# Strimzi sets these itself from `tls`/`authentication`, or refuses them in a cluster's config.
_STRIMZI_FORBIDDEN = (
    "ssl.",
    "sasl.",
    "security.",
    "listeners",
    "plugin.path",
    "rest.",
    "bootstrap.servers",
)
_STRIMZI_ALLOWED_SSL = (
    "ssl.endpoint.identification.algorithm",
    "ssl.cipher.suites",
    "ssl.protocol",
    "ssl.enabled.protocols",
)
_STRIMZI_FROM_AUTH = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.jaas.config",
        "ssl.truststore.type",
        "ssl.truststore.location",
    }
)
_SECRET_REF = re.compile(r"^\$\{(env|file|dir):([^}]*)\}$")


def dns_name(*parts: str) -> str:
    """A Kubernetes name (RFC 1123: lower case, digits, '-', at most 63)."""
    text = _DNS.sub("-", "-".join(parts).lower()).strip("-")
    return text[:63].rstrip("-") or "mm2plan"


@dataclass
class _Strimzi:
    topology: Topology
    export: Export
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    """(Secret name, key) -> what it holds."""

    def warn(self, message: str, hint: str = "", path: str = "") -> None:
        self.export.diagnostics.append(_warn(self.topology, message, hint, path))

    def secret_ref(self, alias: str, reference: str, what: str) -> tuple[str, str] | None:
        m = _SECRET_REF.match(reference)
        if m is None:
            return None
        kind, arg = m.group(1), m.group(2)
        key = arg if kind == "env" else arg.rsplit(":", 1)[-1]
        name = dns_name("mm2plan", alias)
        self.secrets[(name, key)] = f"{alias}'s {what} ({reference} in the topology's terms)"
        return name, key

    def cluster(
        self, client: JavaClient, worker: dict[str, str] | None = None
    ) -> dict[str, object]:
        alias = client.alias
        path = f"clusters.{alias}.config"
        spec: dict[str, object] = {"alias": alias, "bootstrapServers": client.bootstrap_servers}
        if client.tls:
            if client.ca_location:
                secret = dns_name("mm2plan", alias, "ca")
                cert = posixpath.basename(client.ca_location)
                self.secrets[(secret, cert)] = f"{alias}'s CA certificates ({client.ca_location})"
                spec["tls"] = {"trustedCertificates": [{"secretName": secret, "certificate": cert}]}
            else:
                spec["tls"] = {}
        if client.login is not None:
            ref = self.secret_ref(alias, client.login.password, "SASL password")
            if ref is None:
                self.warn(f"cluster {alias}: its SASL password is no single reference", path=path)
            else:
                spec["authentication"] = {
                    "type": client.login.mechanism.lower(),
                    "username": client.login.username,
                    "passwordSecret": {"secretName": ref[0], "password": ref[1]},
                }
        elif client.certificate is not None and client.tls:
            secret = dns_name("mm2plan", alias, "tls")
            cert, key = (posixpath.basename(p) for p in client.certificate)
            self.secrets[(secret, cert)] = f"{alias}'s client certificate ({client.certificate[0]})"
            self.secrets[(secret, key)] = f"{alias}'s client key ({client.certificate[1]})"
            spec["authentication"] = {
                "type": "tls",
                "certificateAndKey": {"secretName": secret, "certificate": cert, "key": key},
            }
        config: dict[str, str] = dict(worker or {})
        for k, v in client.shared().items():
            if k in _STRIMZI_FROM_AUTH:
                continue
            if k.startswith(_STRIMZI_FORBIDDEN) and k not in _STRIMZI_ALLOWED_SSL:
                self.warn(
                    f"cluster {alias}: {k} is not exported: Strimzi sets ssl./sasl./security. "
                    "from `tls` and `authentication` only",
                    path=f"{path}.{k}",
                )
            else:
                config[k] = v
        if config:
            spec["config"] = config
        return spec

    def connector(self, fc: FlowConnectors, kind: str) -> dict[str, object] | None:
        name = next((n for n in fc.connectors if n.endswith("." + kind)), None)
        if name is None:
            return None
        config: dict[str, str] = {}
        for k, v in fc.connectors[name].items():
            if (
                k in ("name", "connector.class", "tasks.max", *PATTERN_KEYS)
                or k.startswith(("source.cluster.", "target.cluster."))
                or k.endswith(".converter")
            ):
                continue
            if "${" in v:
                self.warn(
                    f"flow {fc.flow.name}: {k} holds a secret reference, which Strimzi's "
                    "connector config cannot resolve",
                    path=f"flows[{fc.flow.index}]",
                )
                continue
            config[k] = v
        return {"tasksMax": int(fc.connectors[name]["tasks.max"]), "config": config}

    def resource(
        self, target: str, fcs: list[FlowConnectors], cc: Connectors, api_version: str
    ) -> dict[str, object]:
        rf = str(self.topology.defaults.replication_factor)
        worker = {k: rf for k in WORKER_TOPIC_RFS}
        for fc in fcs:
            for k, v in fc.worker.items():
                worker[k] = str(min(int(v), int(worker.get(k, v))))
        group = dns_name("mm2plan", self.topology.name, target)
        names = {
            "groupId": group,
            "configStorageTopic": f"mm2-configs.{group}.internal",
            "offsetStorageTopic": f"mm2-offsets.{group}.internal",
            "statusStorageTopic": f"mm2-status.{group}.internal",
        }
        target_spec = self.cluster(cc.clients[target], worker)
        mirrors = [self.mirror(fc, cc, api_version) for fc in fcs]
        spec: dict[str, object] = {"replicas": 1}
        if api_version == "v1":
            spec["target"] = {**target_spec, **names}
        else:
            config = target_spec.setdefault("config", {})
            assert isinstance(config, dict)
            config.update(
                {
                    "group.id": names["groupId"],
                    "config.storage.topic": names["configStorageTopic"],
                    "offset.storage.topic": names["offsetStorageTopic"],
                    "status.storage.topic": names["statusStorageTopic"],
                }
            )
            spec["connectCluster"] = target
            sources = dict.fromkeys(fc.flow.source for fc in fcs)
            spec["clusters"] = [target_spec, *(self.cluster(cc.clients[a]) for a in sources)]
        spec["mirrors"] = mirrors
        return {
            "apiVersion": f"kafka.strimzi.io/{api_version}",
            "kind": "KafkaMirrorMaker2",
            "metadata": {"name": dns_name("mm2plan", self.topology.name, target)},
            "spec": spec,
        }

    def mirror(self, fc: FlowConnectors, cc: Connectors, api_version: str) -> dict[str, object]:
        out: dict[str, object] = {}
        if api_version == "v1":
            out["source"] = self.cluster(cc.clients[fc.flow.source])
        else:
            out["sourceCluster"] = fc.flow.source
            out["targetCluster"] = fc.flow.target
        for kind, key in (
            (SOURCE, "sourceConnector"),
            (CHECKPOINT, "checkpointConnector"),
            (HEARTBEAT, "heartbeatConnector"),
        ):
            spec = self.connector(fc, kind)
            if spec is None:
                continue
            if kind == HEARTBEAT and api_version == "v1":
                self.warn(
                    f"flow {fc.flow.name}: Strimzi's v1 API runs no heartbeat connector, so "
                    "no heartbeats are emitted",
                    "use --api-version v1beta2 (Strimzi before 1.0), or run "
                    "MirrorHeartbeatConnector as a KafkaConnector of its own",
                    f"flows[{fc.flow.index}].emit_heartbeats",
                )
                continue
            out[key] = spec
        s = fc.settings
        out["topicsPattern"] = s["topics"]
        out["topicsExcludePattern"] = s["topics.exclude"]
        out["groupsPattern"] = s["groups"]
        out["groupsExcludePattern"] = s["groups.exclude"]
        return out


def strimzi(topology: Topology, api_version: str = "v1") -> Export:
    """One `KafkaMirrorMaker2` per target cluster (Connect runs beside its target), as a
    multi-document YAML file. `v1` (Strimzi >= 0.49) has `target` and `mirrors[].source`;
    `v1beta2` is written in its older layout (`connectCluster`, `clusters`, `sourceCluster`,
    `heartbeatConnector`), which every Strimzi serving v1beta2 reads."""
    if api_version not in STRIMZI_VERSIONS:
        raise ValueError(f"api version {api_version!r} is not one of {STRIMZI_VERSIONS}")
    cc = connector_configs(topology)
    export = Export(diagnostics=[*cc.diagnostics, *_not_exported(topology)])
    st = _Strimzi(topology, export)
    by_target: dict[str, list[FlowConnectors]] = defaultdict(list)
    for fc in cc.flows.values():
        by_target[fc.flow.target].append(fc)
    for f in topology.flows:
        if not f.enabled:
            st.warn(f"flow {f.name} is disabled: it is not exported", path=f"flows[{f.index}]")
    docs = [st.resource(target, fcs, cc, api_version) for target, fcs in by_target.items()]
    export.needs = [
        f"Secret {name} key {key}: {what}" for (name, key), what in sorted(st.secrets.items())
    ]
    header = _comment(
        [
            f"Strimzi KafkaMirrorMaker2 ({api_version}), exported by mm2plan from "
            f"{topology.file} (topology '{topology.name}').",
            *(
                ["Create before applying:", *(f"  {n}" for n in export.needs)]
                if export.needs
                else []
            ),
        ]
    )
    body = "".join("---\n" + yaml.safe_dump(d, sort_keys=False, allow_unicode=True) for d in docs)
    export.files.append(ExportFile("kafkamirrormaker2.yaml", "\n".join(header) + "\n" + body))
    return export


RENDERERS: dict[str, Callable[[Topology], Export]] = {
    "mm2-properties": mm2_properties,
    "connect-json": connect_json,
    "strimzi": strimzi,
}
