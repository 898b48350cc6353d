"""Client configs between librdkafka's names and the Java clients' that MM2 and Connect run.

A topology's `clusters.<alias>.config` is what mm2plan connects with (confluent-kafka, so
librdkafka's names: `sasl.username`, `ssl.ca.location`); MM2's files and connector configs take
the Java client's (`sasl.jaas.config`, `ssl.truststore.location`). Export and import translate
here, both ways, and say what has no counterpart instead of guessing.

Secrets never pass through as literals: a `${env:X}` or `${file:/p:k}` reference stays as
written (Kafka's EnvVarConfigProvider and FileConfigProvider read the same syntax), mm2plan's
whole-file `${file:/dir/name}` is Kafka's DirectoryConfigProvider `${dir:/dir:name}`, and a
literal becomes a reference to an environment variable the caller is told to set.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mm2plan.core.model import ConfigValue, Secret, has_reference, is_sensitive_key

PROVIDER_CLASSES = {
    "env": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
    "file": "org.apache.kafka.common.config.provider.FileConfigProvider",
    "dir": "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
}
"""Kafka's config providers a reference may need (`config.providers.<name>.class`)."""

LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}

# librdkafka properties with no Java counterpart under any name: reported, never passed on.
LIBRDKAFKA_ONLY = frozenset(
    {
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.certificate.pem",
        "ssl.key.pem",
        "ssl.ca.pem",
        "ssl.crl.location",
        "ssl.engine.location",
        "ssl.providers",
        "enable.ssl.certificate.verification",
        "sasl.kerberos.keytab",
        "sasl.kerberos.principal",
        "sasl.kerberos.kinit.cmd",
        "sasl.oauthbearer.config",
        "sasl.oauthbearer.method",
        "enable.sasl.oauthbearer.unsecure.jwt",
        "api.version.request",
        "broker.version.fallback",
        "debug",
        "log_level",
    }
)
# Java ssl./sasl. properties librdkafka reads under the same name.
SHARED_SECURITY = frozenset(
    {
        "ssl.key.password",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.cipher.suites",
        "ssl.endpoint.identification.algorithm",
        "sasl.mechanism",
        "sasl.kerberos.service.name",
    }
)

_REF = re.compile(r"\$\{([^}:]*):([^}]*)\}")
_ENV_NAME = re.compile(r"[^A-Za-z0-9]+")


def is_mirror_client_key(key: str) -> bool:
    """MM2's `MirrorClientConfig.CLIENT_CONFIG_DEF`: the keys that `<alias>.` (dedicated mode)
    and `source.cluster.`/`target.cluster.` (connectors) give every client MM2 makes. Any other
    client property reaches MM2's clients only under `consumer.`, `producer.`, `admin.`."""
    return key in ("bootstrap.servers", "security.protocol") or key.startswith(("ssl.", "sasl."))


def invented_env(alias: str, key: str) -> str:
    """`MM2PLAN_DC1_SASL_PASSWORD`: the variable that stands for a secret written in plain text."""
    return "_".join(_ENV_NAME.sub("_", part).strip("_").upper() for part in ("mm2plan", alias, key))


@dataclass(frozen=True, slots=True)
class Invented:
    """A literal secret replaced by a reference to an environment variable the user sets."""

    alias: str
    key: str
    """mm2plan's (librdkafka's) name of the property, e.g. `sasl.password`."""
    env: str

    @property
    def reference(self) -> str:
        return "${env:" + self.env + "}"


@dataclass(frozen=True, slots=True)
class Untranslated:
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class Login:
    """SASL PLAIN/SCRAM credentials: `sasl.jaas.config` for Java, a Strimzi secret ref."""

    mechanism: str
    username: str
    password: str
    """A reference (`${env:X}`, `${file:/p:k}`, `${dir:/d:f}`), never a literal."""

    def jaas(self) -> str:
        return (
            f"{LOGIN_MODULES[self.mechanism]} required "
            f'username="{_jaas_quote(self.username)}" password="{_jaas_quote(self.password)}";'
        )


def _jaas_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass
class JavaClient:
    """One cluster's client config in the Java clients' names, every secret a reference."""

    alias: str
    bootstrap_servers: str
    config: dict[str, str] = field(default_factory=dict)
    """Without bootstrap.servers."""
    login: Login | None = None
    ca_location: str | None = None
    """A PEM file of CAs (librdkafka's `ssl.ca.location`)."""
    certificate: tuple[str, str] | None = None
    """(certificate, key) PEM files for mutual TLS: Java has no two-file form, Strimzi has."""
    tls: bool = False
    untranslated: list[Untranslated] = field(default_factory=list)
    invented: list[Invented] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)
    """(mm2plan's key, the reference in Kafka's syntax) of every secret the topology refers to."""
    providers: set[str] = field(default_factory=set)

    def shared(self) -> dict[str, str]:
        """What `<alias>.`/`source.cluster.` give every client."""
        return {k: v for k, v in self.config.items() if is_mirror_client_key(k)}

    def per_client(self) -> dict[str, str]:
        """What MM2 passes only as `consumer.`/`producer.`/`admin.` overrides."""
        return {k: v for k, v in self.config.items() if not is_mirror_client_key(k)}

    def secret_keys(self) -> set[str]:
        return {k for k, v in self.config.items() if is_sensitive_key(k) or has_reference(v)}


def kafka_reference(raw: str, providers: set[str]) -> str:
    """mm2plan's references in Kafka's provider syntax; `providers` collects those used."""

    def convert(m: re.Match[str]) -> str:
        kind, arg = m.group(1), m.group(2)
        if kind == "file" and ":" not in arg:  # the whole file: DirectoryConfigProvider
            directory, name = posixpath.split(arg)
            providers.add("dir")
            return "${dir:" + (directory or ".") + ":" + name + "}"
        providers.add(kind)
        return m.group(0)

    return _REF.sub(convert, raw)


def _secret_text(alias: str, key: str, value: ConfigValue, out: JavaClient) -> str:
    if not isinstance(value, Secret):
        return value
    if value.is_reference:
        text = kafka_reference(value.raw, out.providers)
        out.references.extend((key, m.group(0)) for m in _REF.finditer(text))
        return text
    invented = Invented(alias, key, invented_env(alias, key))
    out.invented.append(invented)
    out.providers.add("env")
    return invented.reference


def to_java(alias: str, bootstrap_servers: str, config: Mapping[str, ConfigValue]) -> JavaClient:
    """A cluster's librdkafka config as Java client properties."""
    out = JavaClient(alias, bootstrap_servers)
    conf = dict(config)
    conf.pop("bootstrap.servers", None)  # the cluster's bootstrap_servers is the one used
    chosen = conf.pop("sasl.mechanism", None)
    alias_form = conf.pop("sasl.mechanisms", None)  # librdkafka's older name
    mech_value = chosen if chosen is not None else alias_form
    mechanism = _secret_text(alias, "sasl.mechanism", mech_value, out).upper() if mech_value else ""
    if mechanism:
        out.config["sasl.mechanism"] = mechanism
    username, password = conf.pop("sasl.username", None), conf.pop("sasl.password", None)
    if username is not None or password is not None:
        if mechanism in LOGIN_MODULES and username is not None and password is not None:
            out.login = Login(
                mechanism,
                _secret_text(alias, "sasl.username", username, out),
                _secret_text(alias, "sasl.password", password, out),
            )
            out.config["sasl.jaas.config"] = out.login.jaas()
        else:
            out.untranslated.append(
                Untranslated(
                    "sasl.username",
                    "sasl.username/sasl.password become a JAAS login only for "
                    f"{', '.join(LOGIN_MODULES)} (sasl.mechanism is {mechanism or 'unset'})",
                )
            )
    cert, key = conf.get("ssl.certificate.location"), conf.get("ssl.key.location")
    if cert is not None and key is not None:
        out.certificate = (
            _secret_text(alias, "ssl.certificate.location", cert, out),
            _secret_text(alias, "ssl.key.location", key, out),
        )
    for k, v in conf.items():
        text = _secret_text(alias, k, v, out) if k not in LIBRDKAFKA_ONLY else ""
        if k == "security.protocol":
            out.config[k] = text.upper()
            out.tls = "SSL" in text.upper()
        elif k == "ssl.ca.location":
            out.ca_location = text
            out.config["ssl.truststore.type"] = "PEM"
            out.config["ssl.truststore.location"] = text
        elif k == "ssl.endpoint.identification.algorithm":
            out.config[k] = "" if text.lower() == "none" else text
        elif k in ("ssl.keystore.location", "ssl.keystore.password"):
            out.config.setdefault("ssl.keystore.type", "PKCS12")  # librdkafka reads PKCS#12
            out.config[k] = text
        elif k in ("ssl.certificate.location", "ssl.key.location") and out.certificate:
            if k == "ssl.certificate.location":
                out.untranslated.append(
                    Untranslated(
                        k,
                        "Java clients take no separate certificate and key files: put both "
                        "in one PKCS#12 keystore (ssl.keystore.location)",
                    )
                )
        elif k in LIBRDKAFKA_ONLY:
            out.untranslated.append(Untranslated(k, "a librdkafka property Java clients lack"))
        else:
            out.config[k] = text
    return out


# --- Java -> librdkafka (import) -----------------------------------------------------------

_JAAS = re.compile(r"^\s*(?P<module>[\w.$]+)\s+(?P<flag>\w+)(?P<options>.*?);?\s*$", re.DOTALL)
_JAAS_OPTION = re.compile(r'\s*([\w.\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S+?))(?=\s|;|$)')


def parse_jaas(text: str) -> tuple[str, dict[str, str]] | None:
    """(login module, options) of a one-module `sasl.jaas.config`, or None."""
    m = _JAAS.match(text)
    if m is None:
        return None
    options: dict[str, str] = {}
    rest = m.group("options").strip().rstrip(";")
    pos = 0
    while pos < len(rest):
        o = _JAAS_OPTION.match(rest, pos)
        if o is None:
            return None
        quoted = o.group(2)
        options[o.group(1)] = (
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else o.group(3) or ""
        )
        pos = o.end()
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
    return m.group("module"), options


@dataclass
class Imported:
    """A cluster's Java client properties in librdkafka's names, for a topology."""

    config: dict[str, str] = field(default_factory=dict)
    untranslated: list[Untranslated] = field(default_factory=list)
    invented: list[Invented] = field(default_factory=list)


def mm2plan_reference(alias: str, key: str, value: str, out: Imported) -> str:
    """A secret from an MM2 file as mm2plan writes secrets: `${env:X}` and `${file:/p:k}` as
    they are, `${dir:/d:f}` as `${file:/d/f}`; a literal, or a provider mm2plan cannot read,
    becomes a reference to an invented environment variable."""
    refs = list(_REF.finditer(value))
    if refs and all(m.group(1) in ("env", "file", "dir") for m in refs):
        return _REF.sub(
            lambda m: (
                "${file:" + posixpath.join(*m.group(2).split(":", 1)) + "}"
                if m.group(1) == "dir"
                else m.group(0)
            ),
            value,
        )
    if refs:
        out.untranslated.append(
            Untranslated(
                key,
                "mm2plan resolves only ${env:..} and ${file:..} references; "
                f"{', '.join(sorted({m.group(1) for m in refs}))} is a Kafka config provider",
            )
        )
    invented = Invented(alias, key, invented_env(alias, key))
    out.invented.append(invented)
    return invented.reference


def from_java(alias: str, props: Mapping[str, str]) -> Imported:
    """Java client properties (`<alias>.` keys of an MM2 file) in librdkafka's names."""
    out = Imported()
    conf = dict(props)
    truststore_type = conf.pop("ssl.truststore.type", "JKS").upper()
    keystore_type = conf.pop("ssl.keystore.type", "JKS").upper()
    jaas = conf.pop("sasl.jaas.config", None)
    if jaas is not None:
        parsed = parse_jaas(jaas)
        module, options = parsed if parsed else ("", {})
        if module.endswith(("ScramLoginModule", "PlainLoginModule")) and "username" in options:
            out.config["sasl.username"] = options.pop("username")
            if "password" in options:
                out.config["sasl.password"] = mm2plan_reference(
                    alias, "sasl.password", options.pop("password"), out
                )
            if options:
                out.untranslated.append(
                    Untranslated(
                        "sasl.jaas.config",
                        f"login options {', '.join(sorted(options))} have no librdkafka property",
                    )
                )
        else:
            out.untranslated.append(
                Untranslated(
                    "sasl.jaas.config",
                    "only PLAIN/SCRAM logins (username, password) become librdkafka properties"
                    + (f"; this one is {module.rsplit('.', 1)[-1]}" if module else ""),
                )
            )
    for k, v in conf.items():
        if k == "ssl.truststore.location" and truststore_type == "PEM":
            out.config["ssl.ca.location"] = v
        elif k.startswith("ssl.truststore."):
            out.untranslated.append(
                Untranslated(
                    k,
                    f"librdkafka reads no {truststore_type} truststore: export its CAs to a PEM "
                    "file and set ssl.ca.location",
                )
            )
        elif k.startswith("ssl.keystore.") and keystore_type != "PKCS12":
            out.untranslated.append(
                Untranslated(k, f"librdkafka reads PKCS#12 keystores only, not {keystore_type}")
            )
        elif k == "ssl.endpoint.identification.algorithm":
            out.config[k] = v if v else "none"
        elif k == "security.protocol" or k == "sasl.mechanism":
            out.config[k] = v.strip().upper()
        elif k.startswith(("ssl.", "sasl.")) and k not in SHARED_SECURITY:
            out.untranslated.append(Untranslated(k, "a Java client property librdkafka lacks"))
        elif is_sensitive_key(k) or has_reference(v):
            out.config[k] = mm2plan_reference(alias, k, v, out)
        else:
            out.config[k] = v
    return out
