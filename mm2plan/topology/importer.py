"""An MM2 dedicated-mode properties file as a topology (`mm2plan import`).

The topology runs what MM2 ran: every key is read as `MirrorMakerConfig` reads it (`<alias>.`
cluster properties, `<src>-><dst>.` flow overrides on top-level ones, `<alias>.consumer.`
client overrides), MM2's defaults are written where mm2plan's differ (`sync.group.offsets.enabled`
is false in MM2, and its intervals are minutes), and every property the topology cannot say is
a warning at its line rather than a silent loss. Client configs become librdkafka's names
(`core.javaclient`); a secret is never written as a literal: a literal password becomes a
`${env:MM2PLAN_<ALIAS>_<KEY>}` reference and a warning names the variable to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from mm2plan.core.diagnostics import Diagnostic, SourceRange, error, warning
from mm2plan.core.javaclient import from_java, is_mirror_client_key
from mm2plan.core.javaprops import Entry, parse
from mm2plan.core.model import (
    MM2_DEFAULT_GROUPS,
    MM2_DEFAULT_GROUPS_EXCLUDE,
    MM2_DEFAULT_TOPICS,
    MM2_DEFAULT_TOPICS_EXCLUDE,
    has_reference,
    is_sensitive_key,
)
from mm2plan.core.properties import CLIENT_PREFIXES, RUNTIME_PROPERTIES, property_problem
from mm2plan.topology.loader import load_text

NOT_REPRESENTABLE = "not-representable"
INVENTED_REFERENCE = "invented-reference"
MM2_CONFIG = "mm2-config"

POLICIES = {
    "org.apache.kafka.connect.mirror.DefaultReplicationPolicy": "default",
    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy": "identity",
}
BYTE_ARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
MM2_REPLICATION_FACTOR = 2
"""MirrorSourceConfig's `replication.factor` default (remote topics)."""
CONNECT_OFFSET_FLUSH_MS = "60000"
"""Connect's `offset.flush.interval.ms` default: MM2's workers commit source offsets so often."""
WORKER_TOPIC_RFS = (
    "offset.storage.replication.factor",
    "status.storage.replication.factor",
    "config.storage.replication.factor",
)
PATTERNS = {
    "topics": ("topics", MM2_DEFAULT_TOPICS),
    "topics.exclude": ("topics_exclude", MM2_DEFAULT_TOPICS_EXCLUDE),
    "groups": ("groups", MM2_DEFAULT_GROUPS),
    "groups.exclude": ("groups_exclude", MM2_DEFAULT_GROUPS_EXCLUDE),
}
BOOLS = {
    "sync.group.offsets.enabled": ("sync_group_offsets", False),
    "sync.topic.configs.enabled": ("sync_topic_configs", True),
    "emit.heartbeats.enabled": ("emit_heartbeats", True),
    "emit.checkpoints.enabled": ("emit_checkpoints", True),
}
"""MM2 property -> (topology key, MM2's default)."""
FIXED = {
    "heartbeats.replication.enabled": "true",
    "offset-syncs.topic.location": "source",
    "replication.policy.internal.topic.separator.enabled": "true",
    "refresh.topics.enabled": "true",
    "refresh.groups.enabled": "true",
}
"""Properties mm2plan does not vary: accepted at these values (MM2's defaults too)."""
WORKER_PROPERTIES = ("offset.flush.interval.ms",)
CONNECTOR_RUNTIME = tuple(p for p in RUNTIME_PROPERTIES if p not in WORKER_PROPERTIES)
FLOW_SETTINGS = frozenset(
    {
        *PATTERNS,
        *BOOLS,
        *CONNECTOR_RUNTIME,
        *FIXED,
        "replication.policy.class",
        "replication.policy.separator",
        "replication.factor",
        "sync.topic.acls.enabled",
    }
)
"""Top-level properties every flow inherits (MM2's connector settings mm2plan knows)."""


@dataclass
class ImportResult:
    text: str | None
    """The topology YAML, or None when the file is no MM2 config at all."""
    document: dict[str, Any] | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class _Pair:
    source: str
    target: str
    props: dict[str, Entry] = field(default_factory=dict)

    @property
    def first_line(self) -> int:
        return min(e.line for e in self.props.values())


@dataclass
class _Importer:
    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    """`MM2PLAN_DC1_SASL_PASSWORD (dc1's sasl.password)`: what the user must set."""

    def at(self, line: int) -> SourceRange:
        return SourceRange(self.file, line, 1)

    def warn(self, entry: Entry | int, message: str, hint: str = "", code: str = "") -> None:
        line = entry if isinstance(entry, int) else entry.line
        self.diagnostics.append(
            warning(code or NOT_REPRESENTABLE, message, hint, source=self.at(line))
        )

    def unsupported(self, e: Entry, why: str, hint: str = "") -> None:
        self.warn(e, f"{e.key} is not imported: {why}", hint)


def _bool(text: str) -> bool | None:
    low = text.strip().lower()
    return True if low == "true" else False if low == "false" else None


def _list(text: str) -> list[str]:
    """MM2's LIST type: comma-separated, each item trimmed, empty items dropped."""
    return [p.strip() for p in text.split(",") if p.strip()]


def _match_prefix(key: str, aliases: list[str], sep: str) -> tuple[str, str] | None:
    """(alias, rest) for the longest alias that `key` starts with, followed by `sep`."""
    for alias in sorted(aliases, key=len, reverse=True):
        if key.startswith(alias + sep):
            return alias, key[len(alias) + len(sep) :]
    return None


def masked_lines(text: str) -> list[str]:
    """The file's lines with every secret's value replaced, for diagnostics' excerpts."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for e in parse(text):
        if (is_sensitive_key(e.key) or has_reference(e.value)) and e.value:
            lines[e.line - 1] = f"{e.key} = (sensitive)"
            for i in range(e.line, e.last_line):
                lines[i] = ""
    return lines


def import_properties(text: str, file: str = "<stdin>", name: str | None = None) -> ImportResult:
    imp = _Importer(file)
    entries: dict[str, Entry] = {}
    for e in parse(text):
        if e.key in entries:
            imp.warn(
                entries[e.key],
                f"{e.key} is set again on line {e.line}; MM2 takes the last",
                code=MM2_CONFIG,
            )
        entries[e.key] = e
    clusters_entry = entries.pop("clusters", None)
    if clusters_entry is None or not _list(clusters_entry.value):
        imp.diagnostics.append(
            error(
                MM2_CONFIG,
                "no 'clusters' list: this is not an MM2 dedicated-mode file",
                "MM2's file starts with e.g. 'clusters = A, B'",
                source=imp.at(clusters_entry.line if clusters_entry else 1),
            )
        )
        return ImportResult(None, None, imp.diagnostics)
    aliases = list(dict.fromkeys(_list(clusters_entry.value)))
    top: dict[str, Entry] = {}
    per_cluster: dict[str, dict[str, Entry]] = {a: {} for a in aliases}
    pairs: dict[tuple[str, str], _Pair] = {}
    for key, e in entries.items():
        if "->" in key:
            src = _match_prefix(key, aliases, "->")
            dst = _match_prefix(src[1], aliases, ".") if src else None
            if src is None or dst is None or src[0] == dst[0]:
                imp.unsupported(e, "it names no pair of two of the file's clusters")
                continue
            pair = pairs.setdefault((src[0], dst[0]), _Pair(src[0], dst[0]))
            pair.props[dst[1]] = e
            continue
        in_cluster = _match_prefix(key, aliases, ".")
        if in_cluster:
            per_cluster[in_cluster[0]][in_cluster[1]] = e
        else:
            top[key] = e
    doc = _build(imp, aliases, top, per_cluster, pairs, clusters_entry, name)
    if doc is None:
        return ImportResult(None, None, imp.diagnostics)
    yaml_text = _render(doc, file, imp.invented)
    loaded = load_text(yaml_text, "<import>")
    for d in loaded.diagnostics:  # a bug if any: the importer writes only what the schema takes
        imp.diagnostics.append(error(d.code, f"the imported topology: {d.message}", d.hint))
    return ImportResult(yaml_text, doc, imp.diagnostics)


def _render(doc: dict[str, Any], file: str, invented: list[str]) -> str:
    header = [
        f"Imported by mm2plan from {file}.",
        "MM2's defaults are written where mm2plan's differ, so the flows run as MM2 ran them:",
        "delete a setting to take mm2plan's default (docs/topology.md lists both).",
    ]
    if invented:
        header.append("Secrets written in plain text there are references here; set:")
        header += [f"  {i}" for i in invented]
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"# {h}".rstrip() + "\n" for h in header) + body


# --- the pieces -------------------------------------------------------------------------------


def _top_level(
    imp: _Importer, top: dict[str, Entry]
) -> tuple[dict[str, Entry], dict[str, Entry], dict[str, Entry]]:
    """(flow settings every flow inherits, Java client properties of every cluster, worker
    topics' replication factors), warning about the rest."""
    settings: dict[str, Entry] = {}
    clients: dict[str, Entry] = {}
    worker_rfs: dict[str, Entry] = {}
    for key, e in top.items():
        if key in FLOW_SETTINGS:
            settings[key] = e
        elif key in WORKER_TOPIC_RFS:
            worker_rfs[key] = e
        elif key == "config.providers" or key.startswith("config.providers."):
            continue  # references are kept as written; mm2plan resolves env and file itself
        elif key in ("key.converter", "value.converter", "header.converter"):
            if e.value.strip() != BYTE_ARRAY_CONVERTER:
                imp.unsupported(e, "MM2 copies bytes; mm2plan has no converters")
        elif key in WORKER_PROPERTIES:
            imp.unsupported(
                e,
                "MM2 reads it only per target cluster, as <alias>.offset.flush.interval.ms",
                "move it to the target's properties",
            )
        elif key == "bootstrap.servers":
            imp.unsupported(e, "each cluster has its own (<alias>.bootstrap.servers)")
        elif is_mirror_client_key(key):
            clients[key] = e
        elif key.startswith(CLIENT_PREFIXES) or key.startswith(
            ("consumer.", "producer.", "admin.")
        ):
            imp.unsupported(
                e,
                "MM2 ignores client overrides at the top level",
                "write <src>-><dst>." + key + " or <alias>." + key,
            )
        elif key == "enabled":
            imp.unsupported(e, "flows are enabled one by one (<src>-><dst>.enabled)")
        else:
            imp.unsupported(e, "mm2plan has no such setting")
    return settings, clients, worker_rfs


@dataclass
class _ClusterImport:
    bootstrap: str
    config: dict[str, str]
    roles: dict[str, dict[str, Entry]]
    """consumer/producer/admin -> overrides that differ by client: given to flows."""
    offset_flush: Entry | None


def _cluster(
    imp: _Importer, alias: str, props: dict[str, Entry], global_clients: dict[str, Entry]
) -> _ClusterImport | None:
    bootstrap = props.pop("bootstrap.servers", None)
    if bootstrap is None or not bootstrap.value.strip():
        imp.diagnostics.append(
            error(
                MM2_CONFIG,
                f"cluster {alias} has no {alias}.bootstrap.servers",
                f"add '{alias}.bootstrap.servers = host:9092'",
                source=imp.at(bootstrap.line if bootstrap else 1),
            )
        )
        return None
    java: dict[str, Entry] = dict(global_clients)
    roles: dict[str, dict[str, Entry]] = {"consumer": {}, "producer": {}, "admin": {}}
    offset_flush = None
    for key, e in props.items():
        role, _, rest = key.partition(".")
        if role in roles and rest:
            roles[role][rest] = e
        elif key in WORKER_PROPERTIES:
            offset_flush = e
        elif key in WORKER_TOPIC_RFS:
            imp.unsupported(
                e, "mm2plan gives Connect's own topics the topology's replication_factor"
            )
        else:
            if not is_mirror_client_key(key):
                imp.warn(
                    e,
                    f"{key}: MM2 gives it to {alias}'s Connect worker only, not to the "
                    f"connectors' clients; mm2plan gives it to every client of {alias}",
                    f"write {alias}.consumer.{key} (producer, admin) for MM2's clients",
                )
            java[key] = e
    # An override every client has alike is a cluster property.
    for key in set(roles["consumer"]) & set(roles["producer"]) & set(roles["admin"]):
        values = {roles[r][key].value for r in roles}
        if len(values) == 1:
            java[key] = roles["consumer"][key]
            for r in roles:
                del roles[r][key]
    imported = from_java(alias, {k: e.value for k, e in java.items()})
    for u in imported.untranslated:
        origin = java.get(u.key)
        imp.warn(
            origin.line if origin else 1,
            f"{alias}.{u.key} is not imported: {u.reason}",
        )
    for i in imported.invented:
        imp.invented.append(f"{i.env} ({alias}'s {i.key})")
        origin = java.get(i.key) or java.get("sasl.jaas.config")
        imp.warn(
            origin.line if origin else 1,
            f"{alias}'s {i.key} is a literal secret; the topology refers to {i.reference}",
            f"set {i.env} where mm2plan runs (or write your own ${{env:..}} reference)",
            code=INVENTED_REFERENCE,
        )
    servers = ",".join(_list(bootstrap.value))  # MM2 trims each; librdkafka may not
    return _ClusterImport(servers, imported.config, roles, offset_flush)


def side_of(key: str, pair: _Pair) -> str:
    return pair.source if key.startswith("source.") else pair.target


def _flow_value(key: str, pair: _Pair, settings: Mapping[str, Entry]) -> Entry | None:
    return pair.props.get(key) or settings.get(key)


def _flow(
    imp: _Importer,
    pair: _Pair,
    settings: Mapping[str, Entry],
    clusters: Mapping[str, _ClusterImport],
    policy: str,
    rf: int,
) -> dict[str, Any]:
    """The flow's effective values (MM2 semantics) as topology keys, `properties` complete."""
    flow: dict[str, Any] = {"source": pair.source, "target": pair.target}
    enabled = pair.props.get("enabled")
    flow["enabled"] = bool(enabled and _bool(enabled.value))
    for key, (tkey, default) in PATTERNS.items():
        e = _flow_value(key, pair, settings)
        flow[tkey] = _list(e.value) if e else list(default)
    for key, (tkey, bdefault) in BOOLS.items():
        e = _flow_value(key, pair, settings)
        flag = _bool(e.value) if e else bdefault
        if flag is None and e is not None:
            imp.warn(
                e, f"{e.key} is {e.value!r}, not true or false; MM2 refuses it", code=MM2_CONFIG
            )
        flow[tkey] = bdefault if flag is None else flag
    props: dict[str, str] = {}
    for name in CONNECTOR_RUNTIME:
        e = _flow_value(name, pair, settings)
        value = e.value.strip() if e else RUNTIME_PROPERTIES[name].mm2_default
        if name.endswith(".topic.replication.factor") and value == str(rf):
            value = ""  # the topology's replication_factor
        problem = property_problem(name, value)
        if problem and e is not None:
            imp.warn(e, f"{e.key}: {problem}", code=MM2_CONFIG)
            value = RUNTIME_PROPERTIES[name].mm2_default
        props[name] = value
    flush = clusters[pair.target].offset_flush
    props["offset.flush.interval.ms"] = flush.value.strip() if flush else CONNECT_OFFSET_FLUSH_MS
    # Client overrides given per cluster and role, then the pair's own.
    for role, side, k_side in (
        ("consumer", pair.source, "source.consumer."),
        ("admin", pair.source, "source.admin."),
        ("producer", pair.target, "target.producer."),
        ("admin", pair.target, "target.admin."),
    ):
        for key, e in clusters[side].roles[role].items():
            props[k_side + key] = e.value
    for key, e in pair.props.items():
        if key in ("enabled", *PATTERNS, *BOOLS, *CONNECTOR_RUNTIME):
            continue
        if key in FIXED:
            if e.value.strip().lower() != FIXED[key]:
                imp.unsupported(e, f"mm2plan runs MM2's {FIXED[key]}")
        elif key.startswith(CLIENT_PREFIXES) and len(key.split(".", 2)) == 3:
            if is_sensitive_key(key) or has_reference(e.value):
                imp.unsupported(
                    e,
                    "a credential in a client override, where plans would show it",
                    f"put it in clusters.{side_of(key, pair)}.config",
                )
            else:
                props[key] = e.value
        elif key == "replication.policy.class":
            if POLICIES.get(e.value.strip()) != policy:
                imp.unsupported(e, "mm2plan has one replication policy for every flow")
        elif key == "replication.factor":
            if e.value.strip() != str(rf):
                imp.unsupported(e, "mm2plan has one replication_factor for every flow")
        elif key == "replication.policy.separator":
            glob = settings.get(key)
            if e.value != (glob.value if glob else "."):
                imp.unsupported(e, "mm2plan has one separator for every flow")
        elif key == "sync.topic.acls.enabled":
            continue  # reported once, with the top-level value
        elif key in WORKER_PROPERTIES:
            imp.unsupported(
                e,
                "MM2 reads it only per target cluster",
                f"write {pair.target}.offset.flush.interval.ms",
            )
        elif key == "exactly.once.support":
            imp.unsupported(
                e, "mm2plan's exactly_once is its bundled engine's transactions, not KIP-618"
            )
        else:
            imp.unsupported(e, "mm2plan has no such flow setting")
    flow["properties"] = props
    return flow


def _build(
    imp: _Importer,
    aliases: list[str],
    top: dict[str, Entry],
    per_cluster: dict[str, dict[str, Entry]],
    pairs: dict[tuple[str, str], _Pair],
    clusters_entry: Entry,
    name: str | None,
) -> dict[str, Any] | None:
    settings, global_clients, worker_rfs = _top_level(imp, top)
    clusters: dict[str, _ClusterImport] = {}
    for alias in aliases:
        c = _cluster(imp, alias, per_cluster[alias], global_clients)
        if c is not None:
            clusters[alias] = c
    if len(clusters) < len(aliases):
        return None
    policy_e = settings.get("replication.policy.class")
    policy = POLICIES.get(policy_e.value.strip(), "") if policy_e else "default"
    if policy_e is not None and not policy:
        imp.unsupported(
            policy_e,
            "mm2plan knows MM2's DefaultReplicationPolicy and IdentityReplicationPolicy only",
            "the topology uses the default policy",
        )
        policy = "default"
    separator_e = settings.get("replication.policy.separator")
    separator = separator_e.value if separator_e else "."
    rf_e = settings.get("replication.factor")
    rf = MM2_REPLICATION_FACTOR
    if rf_e is not None:
        try:
            rf = int(rf_e.value.strip())
        except ValueError:
            imp.warn(rf_e, f"replication.factor is {rf_e.value!r}, not a number", code=MM2_CONFIG)
    for e in worker_rfs.values():
        if e.value.strip() != str(rf):
            imp.unsupported(
                e, f"mm2plan gives Connect's own topics the topology's replication_factor ({rf})"
            )
    acls = settings.get("sync.topic.acls.enabled")
    if acls is None or _bool(acls.value) is not False:
        imp.warn(
            acls or clusters_entry,
            "MM2 copies topic ACLs (sync.topic.acls.enabled is "
            f"{'true' if acls else 'unset, true by default'}); mm2plan does not",
            "mm2plan plans ACLs from the topology's apps instead",
        )
    for key in FIXED:
        fixed = settings.get(key)
        if fixed is not None and fixed.value.strip().lower() != FIXED[key]:
            imp.unsupported(fixed, f"mm2plan runs MM2's {FIXED[key]}")
    flow_pairs = [
        p
        for p in pairs.values()
        if (p.props.get("enabled") and _bool(p.props["enabled"].value))
        or set(p.props) - {"enabled", "emit.heartbeats.enabled"}
    ]
    flow_pairs.sort(key=lambda p: p.first_line)
    flows = [_flow(imp, p, settings, clusters, policy, rf) for p in flow_pairs]
    _unused_client_overrides(imp, clusters, flow_pairs)
    _heartbeat_only(imp, aliases, pairs, flow_pairs, settings, clusters_entry)
    return _document(aliases, clusters, flows, policy, separator, rf, settings, name)


def _unused_client_overrides(
    imp: _Importer, clusters: Mapping[str, _ClusterImport], flow_pairs: list[_Pair]
) -> None:
    """`<alias>.consumer.*` reaches flows from the alias, `<alias>.producer.*` flows into it,
    `admin.*` both; MM2 also gives them to clients mm2plan's flow overrides cannot name (the
    checkpoint connector's target consumer, the offset-syncs producer on the source)."""
    sources = {p.source for p in flow_pairs}
    targets = {p.target for p in flow_pairs}
    for alias, c in clusters.items():
        for role, used_as, lost_as in (
            ("consumer", alias in sources, alias in targets),
            ("producer", alias in targets, alias in sources),
        ):
            for e in c.roles[role].values():
                if lost_as or not used_as:
                    imp.warn(
                        e,
                        f"{e.key} is only partly imported: mm2plan's flow properties have no "
                        f"{'target.consumer.' if role == 'consumer' else 'source.producer.'} "
                        "override"
                        if used_as
                        else f"{e.key} is not imported: no flow uses {alias} for a {role}",
                    )
        if c.roles["admin"] and alias not in sources | targets:
            for e in c.roles["admin"].values():
                imp.warn(e, f"{e.key} is not imported: {alias} takes part in no flow")


def _heartbeat_only(
    imp: _Importer,
    aliases: list[str],
    pairs: dict[tuple[str, str], _Pair],
    flow_pairs: list[_Pair],
    settings: Mapping[str, Entry],
    clusters_entry: Entry,
) -> None:
    """KAFKA-10710: dedicated mode runs a heartbeat connector for every pair that does not
    switch heartbeats off, flow or not. mm2plan runs none there."""
    flows = {(p.source, p.target) for p in flow_pairs}
    glob = settings.get("emit.heartbeats.enabled")
    default = _bool(glob.value) is not False if glob else True
    idle = []
    for a in aliases:
        for b in aliases:
            if a == b or (a, b) in flows:
                continue
            own = pairs.get((a, b))
            e = own.props.get("emit.heartbeats.enabled") if own else None
            if (_bool(e.value) is not False) if e else default:
                idle.append(f"{a}->{b}")
    if idle:
        imp.warn(
            clusters_entry,
            f"MM2 runs a heartbeat connector for {', '.join(idle)} without a flow there "
            "(KAFKA-10710); the topology runs nothing there",
            "that is what '<a>-><b>.emit.heartbeats.enabled = false' asks of MM2 too",
        )


def _shared(values: list[Any], fallback: Any) -> Any:
    """The value every flow has, else `fallback`."""
    first = values[0] if values else fallback
    return first if all(v == first for v in values) else fallback


def _document(
    aliases: list[str],
    clusters: Mapping[str, _ClusterImport],
    flows: list[dict[str, Any]],
    policy: str,
    separator: str,
    rf: int,
    settings: Mapping[str, Entry],
    name: str | None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": 1}
    if name:
        doc["name"] = name
    defaults: dict[str, Any] = {}
    if policy != "default":
        defaults["replication_policy"] = policy
    if separator != ".":
        defaults["separator"] = separator
    if rf != 3:
        defaults["replication_factor"] = rf
    enabled = [f for f in flows if f["enabled"]] or flows
    for tkey, mm2_default in (("sync_group_offsets", False), ("sync_topic_configs", True)):
        glob = settings.get(next(k for k, v in BOOLS.items() if v[0] == tkey))
        fallback = _bool(glob.value) if glob and _bool(glob.value) is not None else mm2_default
        value = _shared([f[tkey] for f in enabled], fallback)
        if value is not True:
            defaults[tkey] = value
        for f in flows:
            if f[tkey] == value:
                del f[tkey]
    default_props: dict[str, str] = {}
    for prop in RUNTIME_PROPERTIES.values():
        value = _shared([f["properties"][prop.name] for f in enabled], None)
        if value is None:
            continue
        if value != prop.default:
            default_props[prop.name] = value
        for f in flows:
            if f["properties"][prop.name] == value:
                del f["properties"][prop.name]
    for f in flows:
        for prop in RUNTIME_PROPERTIES.values():  # flows beyond the shared ones, at its default
            if f["properties"].get(prop.name) == prop.default and prop.name not in default_props:
                del f["properties"][prop.name]
    if default_props:
        defaults["properties"] = default_props
    if defaults:
        doc["defaults"] = defaults
    doc["clusters"] = {
        alias: {"bootstrap_servers": c.bootstrap, **({"config": c.config} if c.config else {})}
        for alias, c in clusters.items()
        if alias in aliases
    }
    out_flows = []
    for f in flows:
        out: dict[str, Any] = {"source": f["source"], "target": f["target"]}
        for tkey, default in PATTERNS.values():
            if f[tkey] != list(default):
                out[tkey] = f[tkey]
        if not f["enabled"]:
            out["enabled"] = False
        for tkey in ("sync_group_offsets", "sync_topic_configs"):
            if tkey in f:
                out[tkey] = f[tkey]
        for tkey in ("emit_heartbeats", "emit_checkpoints"):
            if f[tkey] is False:
                out[tkey] = False
        if f["properties"]:
            out["properties"] = f["properties"]
        out_flows.append(out)
    if out_flows:
        doc["flows"] = out_flows
    return doc
