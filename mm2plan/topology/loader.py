"""Topology file -> `Topology` + diagnostics, with a source position for every node.

The loader never raises for bad input: it reports every problem it can find in one pass (YAML,
schema, unknown keys with "did you mean") and still builds as much of the model as is sound, so
semantic checks can run on the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mm2plan.core.diagnostics import Diagnostic, Diagnostics, SourceRange, did_you_mean, error
from mm2plan.core.model import (
    DEFAULT_TOPOLOGY_NAME,
    MM2_DEFAULT_GROUPS,
    MM2_DEFAULT_GROUPS_EXCLUDE,
    MM2_DEFAULT_TOPICS,
    MM2_DEFAULT_TOPICS_EXCLUDE,
    App,
    Cluster,
    ConnectTls,
    Defaults,
    Flow,
    Runtime,
    Secret,
    Slo,
    TopicSpec,
    Topology,
    config_value,
    has_reference,
    header_value,
    is_sensitive_key,
    join_path,
)
from mm2plan.core.properties import CLIENT_PREFIXES, RUNTIME_PROPERTIES, property_problem
from mm2plan.topology.schema import is_valid_fast, subschema_properties, topology_validator
from mm2plan.topology.yamlmarks import load_yaml

if TYPE_CHECKING:  # jsonschema is imported only when a file is invalid
    from jsonschema import ValidationError

SUPPORTED_VERSIONS = (1,)
LOOP_PREVENTION = ("none", "headers")
MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_FILE = "mm2plan.yaml"


@dataclass(frozen=True)
class LoadResult:
    topology: Topology | None
    diagnostics: Diagnostics


def load_file(path: str | Path) -> LoadResult:
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            return _fail(
                name,
                "yaml-syntax",
                f"file is {size // (1024 * 1024)} MiB; the limit is "
                f"{MAX_FILE_BYTES // (1024 * 1024)} MiB",
                "is this really a topology?",
            )
        data = p.read_bytes()
    except FileNotFoundError:
        return _fail(
            name,
            "file-not-found",
            f"no such file: {name}",
            f"pass the topology path, or create {DEFAULT_FILE} here",
        )
    except IsADirectoryError:
        return _fail(
            name,
            "file-not-found",
            f"{name} is a directory",
            f"pass a topology file, e.g. {Path(name) / DEFAULT_FILE}",
        )
    except OSError as exc:
        return _fail(name, "file-not-found", f"cannot read {name}: {exc.strerror}", "")
    return load_bytes(data, name)


def load_bytes(data: bytes, file: str = "<stdin>") -> LoadResult:
    if b"\x00" in data[:8192]:
        return _fail(file, "yaml-syntax", "file is binary, not YAML", "pass a YAML topology file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _fail(
            file,
            "yaml-syntax",
            f"file is not UTF-8 text (byte {exc.start})",
            "save the file as UTF-8",
        )
    return load_text(text, file)


def load_text(text: str, file: str = "<memory>") -> LoadResult:
    loaded = load_yaml(text, file)
    diags = Diagnostics(loaded.diagnostics)
    if diags.has_errors() and loaded.value is None:
        return LoadResult(None, diags)
    doc = loaded.value
    marks = loaded.marks
    if doc is None:
        diags.append(
            error(
                "schema",
                "the file is empty",
                "start with 'version: 1' and a 'clusters:' mapping",
                source=SourceRange(file, 1, 1),
            )
        )
        return LoadResult(None, diags)
    if not isinstance(doc, dict):
        diags.append(
            error(
                "schema",
                f"the top level must be a mapping, not {_kind(doc)}",
                "start with 'version: 1' and a 'clusters:' mapping",
                source=marks.get(""),
            )
        )
        return LoadResult(None, diags)
    version = doc.get("version")
    if "version" in doc and version not in SUPPORTED_VERSIONS:
        diags.append(
            error(
                "unsupported-version",
                f"topology version {version!r} is not supported",
                "this mm2plan reads 'version: 1'; upgrade mm2plan for newer files",
                source=marks.get("version"),
                path="version",
            )
        )
        return LoadResult(None, diags)
    diags.extend(_schema_diagnostics(doc, marks))
    diags.extend(_property_diagnostics(doc, marks))
    return LoadResult(_build(doc, file, marks), diags)


def _fail(file: str, code: str, message: str, hint: str) -> LoadResult:
    return LoadResult(
        None, Diagnostics([error(code, message, hint, source=SourceRange(file, 1, 1))])
    )


def _kind(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)


def _schema_diagnostics(doc: dict[str, Any], marks: Mapping[str, SourceRange]) -> list[Diagnostic]:
    if is_valid_fast(doc):
        return []
    out: list[Diagnostic] = []
    for err in topology_validator().iter_errors(doc):
        out.extend(_from_validation_error(err, marks))
    return out


def _path_of(parts: Any) -> str:
    path = ""
    for part in parts:
        path = join_path(path, part)
    return path


def _from_validation_error(
    err: ValidationError, marks: Mapping[str, SourceRange]
) -> list[Diagnostic]:
    path = _path_of(err.absolute_path)
    where = path or "top level"
    src = marks.get(path) or marks.get("")
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = subschema_properties(err.schema if isinstance(err.schema, dict) else {})
        out = []
        for key in err.instance:
            if key in allowed:
                continue
            hint = did_you_mean(str(key), allowed) or f"allowed keys here: {', '.join(allowed)}"
            kpath = join_path(path, str(key))
            out.append(
                error(
                    "unknown-key",
                    f"unknown key '{key}' in {where}",
                    hint,
                    source=marks.get(kpath, src),
                    path=kpath,
                )
            )
        return out
    if err.validator in ("anyOf", "oneOf") and err.context:
        # Report the alternative that got furthest, not "is not valid under any of ...".
        deepest = max(err.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        return _from_validation_error(deepest, marks)
    if err.validator == "required":
        missing = str(err.message).split("'")[1] if "'" in err.message else err.message
        return [
            error(
                "schema",
                f"{where}: missing required key '{missing}'",
                f"add '{missing}:' here",
                source=src,
                path=path,
            )
        ]
    if err.validator == "propertyNames":
        bad = err.instance
        return [
            error(
                "schema",
                f"{where}: invalid name {bad!r}",
                "cluster aliases use letters, digits, '.', '_' and '-'",
                source=marks.get(join_path(path, str(bad)), src),
                path=path,
            )
        ]
    if err.validator == "enum":
        choices = ", ".join(repr(c) for c in err.validator_value)  # type: ignore[union-attr]
        return [
            error(
                "schema",
                f"{where}: {err.instance!r} is not one of {choices}",
                f"use one of {choices}",
                source=src,
                path=path,
            )
        ]
    if err.validator == "type":
        expected = err.validator_value
        exp = " or ".join(expected) if isinstance(expected, list) else expected
        return [
            error(
                "schema",
                f"{where}: expected {exp}, got {_kind(err.instance)}",
                "",
                source=src,
                path=path,
            )
        ]
    return [error("schema", f"{where}: {err.message}", "", source=src, path=path)]


# MM2 properties that are keys of their own in a topology, and where they go.
_TOPOLOGY_KEYS = {
    "topics": "the flow's 'topics'",
    "topics.exclude": "the flow's 'topics_exclude'",
    "groups": "the flow's 'groups'",
    "groups.exclude": "the flow's 'groups_exclude'",
    "enabled": "the flow's 'enabled'",
    "sync.group.offsets.enabled": "'sync_group_offsets' (on the flow or in defaults)",
    "sync.topic.configs.enabled": "'sync_topic_configs' (on the flow or in defaults)",
    "emit.heartbeats.enabled": "the flow's 'emit_heartbeats'",
    "emit.checkpoints.enabled": "the flow's 'emit_checkpoints'",
    "exactly.once.support": "the flow's 'exactly_once'",
    "replication.policy.class": "defaults.replication_policy",
    "replication.policy.separator": "defaults.separator",
    "replication.factor": "defaults.replication_factor",
}


def _property_diagnostics(
    doc: dict[str, Any], marks: Mapping[str, SourceRange]
) -> Iterator[Diagnostic]:
    """Each MM2 property a flow or the defaults set, checked by name and value where it is
    written (the schema only says they are scalars)."""
    d = doc.get("defaults")
    if isinstance(d, dict):
        yield from _check_properties(d.get("properties"), "defaults.properties", marks)
    raw_flows = doc.get("flows")
    for i, f in enumerate(raw_flows if isinstance(raw_flows, list) else []):
        if isinstance(f, dict):
            yield from _check_properties(f.get("properties"), f"flows[{i}].properties", marks)


def _check_properties(
    props: Any, base: str, marks: Mapping[str, SourceRange]
) -> Iterator[Diagnostic]:
    for name, value in _mapping(props).items():
        if not _is_scalar(value):
            continue  # the schema said so
        path = join_path(base, str(name))
        issue = _property_issue(
            str(name), _config_text(value), base, marks.get(path) or marks.get(base), path
        )
        if issue is not None:
            yield issue


def _property_issue(
    name: str, text: str, base: str = "", source: SourceRange | None = None, path: str = ""
) -> Diagnostic | None:
    """Why a property cannot be set, at `base` (`flows[0].properties`), or None. Never shows
    the value of a credential."""
    if name.startswith(CLIENT_PREFIXES) and (is_sensitive_key(name) or has_reference(text)):
        return error(
            "invalid-property",
            f"{base}: '{name}' is a credential, and flow properties are shown in plans",
            "put client credentials in clusters.<alias>.config (with ${env:NAME} or "
            "${file:/path}), where they stay secret",
            source=source,
            path=path,
        )
    problem = property_problem(name, text)
    if problem is None:
        return None
    if name in RUNTIME_PROPERTIES:
        return error("invalid-property", f"{base}: {problem}", "", source=source, path=path)
    own_key = _TOPOLOGY_KEYS.get(name)
    hint = (
        f"this is {own_key} in a topology"
        if own_key
        else did_you_mean(name, RUNTIME_PROPERTIES)
        or "the properties mm2plan knows are listed in docs/topology.md; client overrides "
        "start with "
        + ", ".join(CLIENT_PREFIXES)
    )
    return error("unknown-property", f"{base}: {problem}", hint, source=source, path=path)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


# --- building the model, defensively: schema errors are already reported -----------------------


def _str_tuple(value: Any, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    if value is None:
        return default
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, (str, int, float)))
    return default


def _bool(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _topic_spec(name: Any, spec: Any) -> TopicSpec:
    spec = _mapping(spec)
    config = _mapping(spec.get("config"))
    return TopicSpec(
        name=str(name),
        partitions=_int(spec.get("partitions")),
        replication_factor=_int(spec.get("replication_factor")),
        config={str(k): _config_text(v) for k, v in config.items()} if config else {},
    )


def _properties(value: Any) -> dict[str, str]:
    """Scalars as MM2 reads them from its properties file (`true`, `5`): unsound entries are
    left out (reported already), so what runs is only what was checked."""
    out = {}
    for k, v in _mapping(value).items():
        if _is_scalar(v):
            text = _config_text(v)
            if _property_issue(str(k), text) is None:
                out[str(k)] = text
    return out


def _build(doc: dict[str, Any], file: str, marks: Mapping[str, SourceRange]) -> Topology:
    d = _mapping(doc.get("defaults"))
    default_properties = _properties(d.get("properties"))
    defaults = Defaults(
        replication_policy=str(d.get("replication_policy"))
        if d.get("replication_policy") in ("default", "identity")
        else "default",
        separator=d["separator"] if isinstance(d.get("separator"), str) and d["separator"] else ".",
        replication_factor=_int(d.get("replication_factor")) or 3,
        sync_group_offsets=_bool(d.get("sync_group_offsets"), True),
        sync_topic_configs=_bool(d.get("sync_topic_configs"), True),
    )
    clusters: dict[str, Cluster] = {}
    for alias, c in _mapping(doc.get("clusters")).items():
        c = _mapping(c)
        topics = tuple(_topic_spec(name, spec) for name, spec in _mapping(c.get("topics")).items())
        principal = c.get("replicator_principal")
        clusters[str(alias)] = Cluster(
            alias=str(alias),
            bootstrap_servers=str(c.get("bootstrap_servers", "")),
            config={
                str(k): config_value(str(k), _config_text(v))
                for k, v in _mapping(c.get("config")).items()
            },
            replicator_principal=principal if isinstance(principal, str) else None,
            topics=topics,
        )
    flows = []
    raw_flows = doc.get("flows")
    for i, f in enumerate(raw_flows if isinstance(raw_flows, list) else []):
        if (
            not isinstance(f, dict)
            or not isinstance(f.get("source"), str)
            or not isinstance(f.get("target"), str)
        ):
            continue
        flows.append(
            Flow(
                source=f["source"],
                target=f["target"],
                topics=_str_tuple(f.get("topics"), MM2_DEFAULT_TOPICS),
                topics_exclude=_str_tuple(f.get("topics_exclude"), MM2_DEFAULT_TOPICS_EXCLUDE),
                groups=_str_tuple(f.get("groups"), MM2_DEFAULT_GROUPS),
                groups_exclude=_str_tuple(f.get("groups_exclude"), MM2_DEFAULT_GROUPS_EXCLUDE),
                enabled=_bool(f.get("enabled"), True),
                sync_group_offsets=_bool(f.get("sync_group_offsets"), defaults.sync_group_offsets),
                sync_topic_configs=_bool(f.get("sync_topic_configs"), defaults.sync_topic_configs),
                emit_heartbeats=_bool(f.get("emit_heartbeats"), True),
                emit_checkpoints=_bool(f.get("emit_checkpoints"), True),
                exactly_once=_bool(f.get("exactly_once"), False),
                loop_prevention=f["loop_prevention"]
                if f.get("loop_prevention") in LOOP_PREVENTION
                else "none",
                # MM2: 'source->target.name' wins over the top-level 'name'
                properties={**default_properties, **_properties(f.get("properties"))},
                index=i,
            )
        )
    apps = []
    for name, a in _mapping(doc.get("apps")).items():
        a = _mapping(a)
        if not isinstance(a.get("principal"), str):
            continue
        apps.append(
            App(
                name=str(name),
                principal=a["principal"],
                clusters=_str_tuple(a.get("clusters")),
                consumes=_str_tuple(a.get("consumes")),
                produces=_str_tuple(a.get("produces")),
                groups=_str_tuple(a.get("groups")),
            )
        )
    r = _mapping(doc.get("runtime"))
    connect = _mapping(r.get("connect"))
    url = connect.get("url")
    runtime = Runtime(
        engine=str(r.get("engine")) if r.get("engine") in ("bundled", "connect") else "bundled",
        connect_url=url if isinstance(url, str) else Runtime().connect_url,
        connect_headers={
            str(k): header_value(str(k), v)
            for k, v in _mapping(connect.get("headers")).items()
            if isinstance(v, str)
        },
        connect_tls=_connect_tls(_mapping(connect.get("tls"))),
    )
    s = _mapping(doc.get("slo"))
    lag_s = s.get("max_lag_seconds")
    slo = Slo(
        max_lag_records=_int(s.get("max_lag_records")) or Slo().max_lag_records,
        max_lag_seconds=float(lag_s)
        if isinstance(lag_s, (int, float)) and not isinstance(lag_s, bool)
        else Slo().max_lag_seconds,
    )
    topology_name = doc.get("name")
    return Topology(
        version=1,
        name=topology_name
        if isinstance(topology_name, str) and topology_name
        else DEFAULT_TOPOLOGY_NAME,
        clusters=clusters,
        flows=tuple(flows),
        apps=tuple(apps),
        defaults=defaults,
        runtime=runtime,
        slo=slo,
        file=file,
        marks=marks,
    )


def _connect_tls(tls: Mapping[str, Any]) -> ConnectTls:
    def text(key: str) -> str | None:
        v = tls.get(key)
        return v if isinstance(v, str) and v else None

    password = text("key_password")
    return ConnectTls(
        ca_location=text("ca_location"),
        certificate_location=text("certificate_location"),
        key_location=text("key_location"),
        key_password=Secret(password) if password is not None else None,
        verify=_bool(tls.get("verify"), True),
    )


def _runtime_doc(r: Runtime, redact: bool) -> dict[str, Any]:
    """Only what is set beyond the URL: a topology without headers or TLS dumps as before."""
    connect: dict[str, Any] = {"url": r.connect_url}
    if r.connect_headers:
        connect["headers"] = {k: _config_doc(v, redact) for k, v in r.connect_headers.items()}
    tls = r.connect_tls
    if tls != ConnectTls():
        doc: dict[str, Any] = {
            k: getattr(tls, k)
            for k in ("ca_location", "certificate_location", "key_location")
            if getattr(tls, k) is not None
        }
        if tls.key_password is not None:
            doc["key_password"] = _config_doc(tls.key_password, redact)
        if not tls.verify:
            doc["verify"] = False
        connect["tls"] = doc
    return {"engine": r.engine, "connect": connect}


def to_document(t: Topology, redact_secrets: bool = False) -> dict[str, Any]:
    """The topology as a YAML-ready document (inverse of loading). Secrets are kept as written:
    this writes files, never terminals. With `redact_secrets`, each secret is its placeholder
    (its references, or `(sensitive)`): the canonical topology that plans fingerprint."""
    d = Defaults()
    doc: dict[str, Any] = {"version": t.version}
    if t.name != DEFAULT_TOPOLOGY_NAME:
        doc["name"] = t.name
    defaults = {
        k: getattr(t.defaults, k)
        for k in (
            "replication_policy",
            "separator",
            "replication_factor",
            "sync_group_offsets",
            "sync_topic_configs",
        )
        if getattr(t.defaults, k) != getattr(d, k)
    }
    if defaults:
        doc["defaults"] = defaults
    clusters: dict[str, Any] = {}
    for alias, c in t.clusters.items():
        cd: dict[str, Any] = {"bootstrap_servers": c.bootstrap_servers}
        if c.config:
            cd["config"] = {k: _config_doc(v, redact_secrets) for k, v in c.config.items()}
        if c.replicator_principal:
            cd["replicator_principal"] = c.replicator_principal
        if c.topics:
            cd["topics"] = {s.name: _topic_doc(s) for s in c.topics}
        clusters[alias] = cd
    doc["clusters"] = clusters
    if t.flows:
        doc["flows"] = [_flow_doc(f) for f in t.flows]
    if t.apps:
        doc["apps"] = {
            a.name: {
                "principal": a.principal,
                "clusters": list(a.clusters),
                "consumes": list(a.consumes),
                "produces": list(a.produces),
                "groups": list(a.groups),
            }
            for a in t.apps
        }
    if t.runtime != Runtime():
        doc["runtime"] = _runtime_doc(t.runtime, redact_secrets)
    if t.slo != Slo():
        doc["slo"] = {
            "max_lag_records": t.slo.max_lag_records,
            "max_lag_seconds": t.slo.max_lag_seconds,
        }
    return doc


def _config_doc(value: str | Secret, redact: bool) -> str:
    if not isinstance(value, Secret):
        return value
    return value.placeholder if redact else value.raw


def _topic_doc(s: TopicSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.partitions is not None:
        out["partitions"] = s.partitions
    if s.replication_factor is not None:
        out["replication_factor"] = s.replication_factor
    if s.config:
        out["config"] = dict(s.config)
    return out


def _flow_doc(f: Flow) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "source": f.source,
        "target": f.target,
        "topics": list(f.topics),
        "topics_exclude": list(f.topics_exclude),
        "groups": list(f.groups),
        "groups_exclude": list(f.groups_exclude),
        "enabled": f.enabled,
        "sync_group_offsets": f.sync_group_offsets,
        "sync_topic_configs": f.sync_topic_configs,
        "emit_heartbeats": f.emit_heartbeats,
        "emit_checkpoints": f.emit_checkpoints,
    }
    # Only when set, so that a topology without them dumps (and fingerprints) as before.
    if f.exactly_once:
        doc["exactly_once"] = True
    if f.loop_prevention != "none":
        doc["loop_prevention"] = f.loop_prevention
    if f.properties:
        doc["properties"] = dict(f.properties)
    return doc
