"""`export --format mm2-properties`: MM2's dedicated mode runs exactly the topology's flows.

The herders MM2 would start are computed from the exported file as `MirrorMakerConfig
.clusterPairs` does (a pair runs if it is enabled or its heartbeats are on, KAFKA-10710), and the
file is read back with the same `Properties` rules MM2 uses."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from mm2plan.core.javaprops import format_entry, parse
from mm2plan.core.model import Topology
from mm2plan.core.properties import RUNTIME_PROPERTIES
from mm2plan.planning.export import mm2_properties
from mm2plan.topology.loader import load_text


def topology(doc: dict[str, Any]) -> Topology:
    result = load_text(yaml.safe_dump(doc), "t.yaml")
    assert not result.diagnostics.has_errors(), [d.message for d in result.diagnostics]
    assert result.topology is not None
    return result.topology


def three_clusters(**flow: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "clusters": {a: {"bootstrap_servers": f"{a}:9092"} for a in ("dc1", "dc2", "dc3")},
        "flows": [{"source": "dc1", "target": "dc2", **flow}],
    }


def exported(doc: dict[str, Any]) -> dict[str, str]:
    text = mm2_properties(topology(doc)).files[0].text
    return {e.key: e.value for e in parse(text)}


def herders(props: dict[str, str]) -> set[tuple[str, str]]:
    """`MirrorMakerConfig.clusterPairs()` (Kafka 4.x), on the parsed file."""
    clusters = [c.strip() for c in props["clusters"].split(",")]
    global_beats = props.get("emit.heartbeats.enabled", "true").lower() == "true"
    out = set()
    for s in clusters:
        for t in clusters:
            if s == t:
                continue
            enabled = props.get(f"{s}->{t}.enabled", "").lower() == "true"
            beats = props.get(f"{s}->{t}.emit.heartbeats.enabled")
            if enabled or (global_beats if beats is None else beats.lower() == "true"):
                out.add((s, t))
    return out


def test_only_the_flows_pairs_run_and_every_other_pair_has_its_heartbeats_off() -> None:
    props = exported(three_clusters())
    assert herders(props) == {("dc1", "dc2")}
    assert props["dc1->dc2.enabled"] == "true"
    others = [(a, b) for a in ("dc1", "dc2", "dc3") for b in ("dc1", "dc2", "dc3") if a != b]
    for a, b in others:
        if (a, b) != ("dc1", "dc2"):
            assert props[f"{a}->{b}.enabled"] == "false"
            assert props[f"{a}->{b}.emit.heartbeats.enabled"] == "false"


def test_a_disabled_flow_runs_no_herder_either() -> None:
    doc = three_clusters()
    doc["flows"].append({"source": "dc2", "target": "dc3", "enabled": False})
    props = exported(doc)
    assert herders(props) == {("dc1", "dc2")}
    assert props["dc2->dc3.enabled"] == "false"
    assert props["dc2->dc3.emit.heartbeats.enabled"] == "false"


def test_mm2plans_defaults_are_written_where_mm2s_differ() -> None:
    props = exported(three_clusters())
    # MM2 would not sync group offsets, and would refresh every 10 minutes.
    assert props["sync.group.offsets.enabled"] == "true"
    assert props["sync.topic.acls.enabled"] == "false"
    for name, p in RUNTIME_PROPERTIES.items():
        if p.default and p.default != p.mm2_default:
            key = "dc2." + name if name == "offset.flush.interval.ms" else name
            assert props[key] == p.default, name
    # The topology's replication factor for remote, internal and Connect's own topics.
    for name in (
        "replication.factor",
        "heartbeats.topic.replication.factor",
        "checkpoints.topic.replication.factor",
        "offset-syncs.topic.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
        "config.storage.replication.factor",
    ):
        assert props[name] == "3", name
    assert props["dc1->dc2.topics.exclude"] == r"mm2.*\.internal,.*\.replica,__.*"


def test_settings_shared_by_every_flow_are_top_level_the_others_per_flow() -> None:
    doc = three_clusters(topics=["orders", r"pay\..*"], properties={"tasks.max": "4"})
    doc["flows"].append({"source": "dc2", "target": "dc1", "emit_checkpoints": False})
    props = exported(doc)
    assert props["dc1->dc2.topics"] == r"orders,pay\..*"
    assert props["dc2->dc1.topics"] == ".*"
    assert props["dc1->dc2.tasks.max"] == "4" and props["dc2->dc1.tasks.max"] == "1"
    assert "tasks.max" not in props
    assert props["dc2->dc1.emit.checkpoints.enabled"] == "false"
    assert props["dc1->dc2.emit.checkpoints.enabled"] == "true"
    assert props["refresh.topics.interval.seconds"] == "5"
    assert "dc1->dc2.refresh.topics.interval.seconds" not in props
    assert herders(props) == {("dc1", "dc2"), ("dc2", "dc1")}


def test_policy_separator_and_client_overrides() -> None:
    doc = three_clusters(properties={"source.consumer.fetch.max.bytes": "1048576"})
    doc["defaults"] = {"replication_policy": "identity", "separator": "_"}
    doc["clusters"]["dc1"]["config"] = {"client.id": "mirror", "security.protocol": "ssl"}
    props = exported(doc)
    assert props["replication.policy.class"] == (
        "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
    )
    assert props["replication.policy.separator"] == "_"
    # Only top-level-known MM2 names are read at the top: client overrides stay per flow.
    assert props["dc1->dc2.source.consumer.fetch.max.bytes"] == "1048576"
    # MM2 gives <alias>.<key> to every client only for security keys; the rest per client.
    assert props["dc1.security.protocol"] == "SSL"
    for role in ("consumer", "producer", "admin"):
        assert props[f"dc1.{role}.client.id"] == "mirror"
    assert "dc1.client.id" not in props


def test_secret_references_configure_the_providers_and_literals_are_never_written() -> None:
    doc = three_clusters()
    doc["clusters"]["dc1"]["config"] = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "mirror",
        "sasl.password": "${env:DC1_PW}",
        "ssl.keystore.location": "/etc/kafka/dc1.p12",
        "ssl.keystore.password": "${file:/etc/kafka/secrets.properties:keystore}",
        "ssl.key.password": "hunter2-literal",
    }
    doc["clusters"]["dc2"]["config"] = {"ssl.ca.location": "/etc/kafka/ca.pem"}
    export = mm2_properties(topology(doc))
    text = export.files[0].text
    props = {e.key: e.value for e in parse(text)}
    assert "hunter2-literal" not in text
    assert props["dc1.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="mirror" password="${env:DC1_PW}";'
    )
    assert props["dc1.ssl.keystore.password"] == "${file:/etc/kafka/secrets.properties:keystore}"
    assert props["dc1.ssl.key.password"] == "${env:MM2PLAN_DC1_SSL_KEY_PASSWORD}"
    assert props["dc1.ssl.keystore.type"] == "PKCS12"
    assert props["dc2.ssl.truststore.type"] == "PEM"
    assert props["dc2.ssl.truststore.location"] == "/etc/kafka/ca.pem"
    assert set(props["config.providers"].split(",")) == {"env", "file"}
    assert props["config.providers.env.class"].endswith(".EnvVarConfigProvider")
    assert props["config.providers.file.class"].endswith(".FileConfigProvider")
    codes = [d.code for d in export.diagnostics]
    assert codes.count("invented-reference") == 1
    invented = next(d for d in export.diagnostics if d.code == "invented-reference")
    assert invented.path == 'clusters.dc1.config["ssl.key.password"]'
    assert invented.source is not None and invented.source.line > 0
    assert any("MM2PLAN_DC1_SSL_KEY_PASSWORD" in n for n in export.needs)
    assert "# " in text and "MM2PLAN_DC1_SSL_KEY_PASSWORD" in text.split("clusters =")[0]


def test_a_whole_file_reference_is_kafkas_directory_provider() -> None:
    doc = three_clusters()
    doc["clusters"]["dc1"]["config"] = {
        "sasl.mechanism": "PLAIN",
        "sasl.username": "u",
        "sasl.password": "${file:/run/secrets/dc1-password}",
    }
    props = exported(doc)
    assert 'password="${dir:/run/secrets:dc1-password}"' in props["dc1.sasl.jaas.config"]
    assert props["config.providers"] == "dir"


def test_what_mm2_cannot_run_is_a_warning_at_its_line() -> None:
    doc = three_clusters(exactly_once=True, properties={"emit.checkpoints.interval.seconds": 2.5})
    doc["clusters"]["dc1"]["config"] = {"enable.ssl.certificate.verification": "false"}
    export = mm2_properties(topology(doc))
    by_path = {d.path: d for d in export.diagnostics}
    assert {d.code for d in export.diagnostics} == {"not-representable"}
    assert "flows[0].exactly_once" in by_path
    assert by_path["flows[0].exactly_once"].source is not None
    props = {e.key: e.value for e in parse(export.files[0].text)}
    assert props["emit.checkpoints.interval.seconds"] == "3"  # whole seconds, rounded up
    assert any("emit.checkpoints.interval.seconds" in p for p in by_path)
    assert any("enable.ssl.certificate.verification" in p for p in by_path)
    assert not any(k.endswith("enable.ssl.certificate.verification") for k in props)


# --- the .properties format ------------------------------------------------------------------


def test_properties_are_read_as_java_reads_them() -> None:
    text = "\n".join(
        [
            "# comment",
            "  ! another",
            "a = 1",
            "b:2",
            "c 3",
            "d\t=\t  spaced value  ",
            "e = first \\",
            "    second \\",
            "  third",
            r"f\ key = x\ty\u0041\\",
            "g=",
            "h = a\\\\",
            "i = last\\",
        ]
    )
    got = [(e.key, e.value, e.line) for e in parse(text)]
    assert got == [
        ("a", "1", 3),
        ("b", "2", 4),
        ("c", "3", 5),
        ("d", "spaced value  ", 6),
        ("e", "first second third", 7),
        ("f key", "x\tyA\\", 10),
        ("g", "", 11),
        ("h", "a\\", 12),
        ("i", "last", 13),
    ]


@given(st.text(min_size=1), st.text())
def test_a_written_entry_reads_back_exactly(key: str, value: str) -> None:
    line = format_entry(key, value)
    assert line.isascii() and "\n" not in line
    entries = parse(line)
    assert [(e.key, e.value) for e in entries] == [(key, value)]
