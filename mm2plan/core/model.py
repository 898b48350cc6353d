"""The topology model: frozen values the loader builds and every other part reads.

Nothing here talks to Kafka or to the terminal. Secrets are a type of their own so that no code
path can print, plan or fingerprint one by accident.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mm2plan.core.diagnostics import SourceRange

# MM2's own defaults (MirrorSourceConfig / MirrorCheckpointConfig, Kafka 4.x): used when a flow
# leaves `topics_exclude` / `groups_exclude` out, so a flow means what the same MM2 config means.
MM2_DEFAULT_TOPICS = (".*",)
MM2_DEFAULT_TOPICS_EXCLUDE = (r"mm2.*\.internal", r".*\.replica", "__.*")  # Kafka 4.x (KIP-1074)
MM2_DEFAULT_GROUPS = (".*",)
MM2_DEFAULT_GROUPS_EXCLUDE = ("console-consumer-.*", "connect-.*", "__.*")

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_REFERENCE = re.compile(r"\$\{(env|file):([^}]*)\}")
_SENSITIVE_KEY = re.compile(
    r"(password|secret|jaas|token|credential|api\.?key|private\.key|"
    r"user\.info|\.key$)",
    re.IGNORECASE,
)


def is_sensitive_key(key: str) -> bool:
    """Kafka marks these config types PASSWORD; librdkafka's equivalents follow the same words."""
    return bool(_SENSITIVE_KEY.search(key))


def has_reference(value: str) -> bool:
    return bool(_REFERENCE.search(value))


class SecretResolutionError(Exception):
    """A `${env:..}`/`${file:..}` reference could not be resolved at connection time."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A config value that must never be shown: a literal under a sensitive key, or a reference.

    `repr`/`str` print ``(sensitive)``; only `resolve()` gives the value, and only adapters that
    open connections call it.
    """

    raw: str = field(repr=False)

    def __repr__(self) -> str:
        return "(sensitive)"

    __str__ = __repr__

    @property
    def is_reference(self) -> bool:
        return has_reference(self.raw)

    @property
    def placeholder(self) -> str:
        """What may stand for the secret in a plan or its fingerprint: the references as written
        (`${env:KAFKA_PW}`), or `(sensitive)` for a literal; never a byte of the value itself."""
        refs = [m.group(0) for m in _REFERENCE.finditer(self.raw)]
        return "".join(refs) if refs else repr(self)

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ

        def substitute(m: re.Match[str]) -> str:
            kind, arg = m.group(1), m.group(2)
            if kind == "env":
                if arg not in env:
                    raise SecretResolutionError(f"environment variable {arg} is not set")
                return env[arg]
            return _read_file_reference(arg)

        return _REFERENCE.sub(substitute, self.raw)


def _read_file_reference(arg: str) -> str:
    """`${file:/path}` is the whole file; `${file:/path:key}` a key of a properties file (Kafka's
    FileConfigProvider form)."""
    path, _, key = arg.partition(":") if not Path(arg).exists() else (arg, "", "")
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SecretResolutionError(f"cannot read secret file {path}: {exc.strerror}") from None
    if not key:
        return text.strip()
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    raise SecretResolutionError(f"key {key} not found in secret file {path}")


ConfigValue = str | Secret


def config_value(key: str, value: str) -> ConfigValue:
    return Secret(value) if is_sensitive_key(key) or has_reference(value) else value


def reveal(
    config: Mapping[str, ConfigValue],
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Client properties with secrets resolved: for adapters opening a connection, nothing else."""
    return {k: v.resolve(environ) if isinstance(v, Secret) else v for k, v in config.items()}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int | None = None
    replication_factor: int | None = None
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cluster:
    alias: str
    bootstrap_servers: str
    config: Mapping[str, ConfigValue] = field(default_factory=dict)
    replicator_principal: str | None = None
    topics: tuple[TopicSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    source: str
    target: str
    topics: tuple[str, ...] = MM2_DEFAULT_TOPICS
    topics_exclude: tuple[str, ...] = MM2_DEFAULT_TOPICS_EXCLUDE
    groups: tuple[str, ...] = MM2_DEFAULT_GROUPS
    groups_exclude: tuple[str, ...] = MM2_DEFAULT_GROUPS_EXCLUDE
    enabled: bool = True
    sync_group_offsets: bool = True
    sync_topic_configs: bool = True
    emit_heartbeats: bool = True
    emit_checkpoints: bool = True
    exactly_once: bool = False
    """Bundled engine: records and progress in one transaction on the target."""
    loop_prevention: str = "none"
    """`headers`: the bundled engine marks each copy with its provenance and never copies a
    record into a cluster it has been in (identity active-active without loops)."""
    properties: Mapping[str, str] = field(default_factory=dict)
    """MM2 property overrides for this flow (`core.properties.RUNTIME_PROPERTIES`)."""
    index: int = 0
    """Position in the file's `flows` list, to point diagnostics at it."""

    @property
    def name(self) -> str:
        """MM2's name for a flow (`source->target`, as in `dc1->dc2.enabled`)."""
        return f"{self.source}->{self.target}"


@dataclass(frozen=True, slots=True)
class App:
    name: str
    principal: str
    clusters: tuple[str, ...]
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def home(self) -> str | None:
        return self.clusters[0] if self.clusters else None


@dataclass(frozen=True, slots=True)
class Defaults:
    replication_policy: str = "default"
    separator: str = "."
    replication_factor: int = 3
    sync_group_offsets: bool = True
    sync_topic_configs: bool = True


CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
"""HTTP headers that carry credentials whatever their value looks like."""


def header_value(name: str, value: str) -> ConfigValue:
    """A Connect REST header's value: a Secret where it may carry a credential."""
    if name.lower() in CREDENTIAL_HEADERS:
        return Secret(value)
    return config_value(name, value)


@dataclass(frozen=True, slots=True)
class ConnectTls:
    """How mm2plan talks TLS to the Connect REST API (`runtime.connect.tls`): PEM files."""

    ca_location: str | None = None
    """CA bundle the worker's certificate is checked against (default: the system's)."""
    certificate_location: str | None = None
    """Client certificate, for a worker that asks for one (`listeners.https.ssl.client.auth`)."""
    key_location: str | None = None
    key_password: Secret | None = None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class Runtime:
    engine: str = "bundled"
    connect_url: str = "http://localhost:8083"
    connect_headers: Mapping[str, ConfigValue] = field(default_factory=dict)
    """Sent with every Connect REST request (e.g. `Authorization`); credentials are Secrets."""
    connect_tls: ConnectTls = field(default_factory=ConnectTls)


@dataclass(frozen=True, slots=True)
class Slo:
    max_lag_records: int = 10_000
    max_lag_seconds: float = 60.0


DEFAULT_TOPOLOGY_NAME = "default"


@dataclass(frozen=True)
class Topology:
    version: int
    clusters: Mapping[str, Cluster]
    flows: tuple[Flow, ...] = ()
    apps: tuple[App, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    runtime: Runtime = field(default_factory=Runtime)
    slo: Slo = field(default_factory=Slo)
    name: str = DEFAULT_TOPOLOGY_NAME
    """Scopes ownership: several topologies can manage resources on the same clusters."""
    file: str = "<memory>"
    marks: Mapping[str, SourceRange] = field(default_factory=dict, repr=False, compare=False)
    """Source position of every node by dotted path (``clusters.dc1.topics.orders``)."""

    def mark(self, *paths: str) -> SourceRange | None:
        """The position of the first path that has one: callers pass the most precise first."""
        for p in paths:
            while p:
                if p in self.marks:
                    return self.marks[p]
                p = _parent_path(p)
        return self.marks.get("")

    def enabled_flows(self) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.enabled)


def join_path(parent: str, key: str | int) -> str:
    """`clusters.dc1.topics["payments.eu"]`: dotted where unambiguous, quoted otherwise."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    part = key if _PLAIN_KEY.match(key) else '"' + key.replace('"', '\\"') + '"'
    if part.startswith('"'):
        return f"{parent}[{part}]"
    return f"{parent}.{part}" if parent else part


def _parent_path(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""
