"""`import_properties`: an MM2 dedicated-mode file read as `MirrorMakerConfig` reads it, into a
topology that runs what MM2 ran, with every property it cannot represent at its line."""

from __future__ import annotations

from typing import Any

import yaml

from mm2plan.core.model import Secret, Topology
from mm2plan.planning.desired import effective_properties
from mm2plan.topology.importer import import_properties, masked_lines
from mm2plan.topology.loader import load_text
from mm2plan.topology.validate import validate_loaded


def imported(text: str) -> tuple[dict[str, Any], Topology, list[tuple[str, int, str]]]:
    result = import_properties(text, "mm2.properties")
    assert result.text is not None and result.document is not None
    checked = validate_loaded(load_text(result.text, "imported.yaml"))
    assert checked.valid, [d.message for d in checked.diagnostics]
    assert checked.topology is not None
    warnings = [(d.code, d.source.line if d.source else 0, d.message) for d in result.diagnostics]
    return result.document, checked.topology, warnings


BASE = """\
clusters = east, west
east.bootstrap.servers = e1:9092, e2:9092
west.bootstrap.servers = w1:9092
sync.topic.acls.enabled = false
"""


def test_flows_take_top_level_settings_under_their_own() -> None:
    _, t, warnings = imported(
        BASE
        + "\n".join(
            [
                "topics = orders, pay\\\\..*",
                "groups.exclude =",
                "east->west.enabled = true",
                "east->west.groups = billing-.*",
                "east->west.sync.group.offsets.enabled = true",
                "west->east.enabled = true",
                "west->east.topics = audit",
                "west->east.emit.checkpoints.enabled = false",
                "west->east.tasks.max = 4",
            ]
        )
    )
    assert warnings == []
    east, west = t.flows
    assert (east.source, east.target, west.source, west.target) == ("east", "west", "west", "east")
    assert east.topics == ("orders", r"pay\..*") and west.topics == ("audit",)
    assert east.groups == ("billing-.*",) and east.groups_exclude == ()
    assert east.sync_group_offsets is True and west.sync_group_offsets is False  # MM2's default
    assert west.emit_checkpoints is False and east.emit_checkpoints is True
    assert effective_properties(t, west)["tasks.max"] == "4"
    assert effective_properties(t, east)["tasks.max"] == "1"
    assert t.clusters["east"].bootstrap_servers == "e1:9092,e2:9092"


def test_mm2s_defaults_are_written_where_mm2plans_differ() -> None:
    doc, t, _ = imported(BASE + "east->west.enabled = true\n")
    assert doc["defaults"]["sync_group_offsets"] is False
    assert doc["defaults"]["replication_factor"] == 2
    props = effective_properties(t, t.flows[0])
    assert props["refresh.topics.interval.seconds"] == "600"
    assert props["emit.checkpoints.interval.seconds"] == "60"
    assert props["offset.flush.interval.ms"] == "60000"  # Connect's default
    assert props["heartbeats.topic.replication.factor"] == "3"  # MM2's 3, not the topology's 2
    assert t.flows[0].topics_exclude == (r"mm2.*\.internal", r".*\.replica", "__.*")


def test_a_flow_is_a_pair_enabled_or_with_settings_of_its_own() -> None:
    _, t, warnings = imported(
        BASE
        + "\n".join(
            [
                "east->west.enabled = true",
                "west->east.enabled = false",
                "west->east.emit.heartbeats.enabled = false",
            ]
        )
    )
    assert [f.name for f in t.flows] == ["east->west"] and warnings == []
    _, t2, _ = imported(
        BASE + "east->west.enabled = true\nwest->east.enabled = false\n"
        "west->east.emit.heartbeats.enabled = false\nwest->east.topics = x\n"
    )
    assert [(f.name, f.enabled) for f in t2.flows] == [("east->west", True), ("west->east", False)]


def test_heartbeat_connectors_mm2_would_start_without_a_flow_are_reported() -> None:
    _, t, warnings = imported(BASE + "east->west.enabled = true\n")
    assert [f.name for f in t.flows] == ["east->west"]
    ((code, line, message),) = warnings
    assert code == "not-representable" and line == 1 and "west->east" in message
    assert "KAFKA-10710" in message


def test_client_configs_in_librdkafkas_names_and_secrets_as_references() -> None:
    text = BASE + "\n".join(
        [
            "east.security.protocol = SASL_SSL",
            "east.sasl.mechanism = SCRAM-SHA-512",
            "east.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule \\",
            '    required username="mirror" password="lit-pw-1";',
            "east.ssl.truststore.type = PEM",
            "east.ssl.truststore.location = /etc/ca.pem",
            "east.ssl.endpoint.identification.algorithm =",
            "east.consumer.client.id = mm2",
            "east.producer.client.id = mm2",
            "east.admin.client.id = mm2",
            "east.consumer.fetch.max.bytes = 1048576",
            "west.sasl.mechanism = PLAIN",
            "west.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
            'required username="u" password="${env:WEST_PW}";',
            "west.ssl.keystore.type = PKCS12",
            "west.ssl.keystore.location = /etc/w.p12",
            "west.ssl.keystore.password = ${dir:/run/secrets:west-keystore}",
            "east->west.enabled = true",
        ]
    )
    result = import_properties(text, "mm2.properties")
    assert result.text is not None
    assert "lit-pw-1" not in result.text
    assert "MM2PLAN_EAST_SASL_PASSWORD" in result.text.split("version:")[0]  # the header says
    _, t, warnings = imported(text)
    east = dict(t.clusters["east"].config)
    assert {k: v.raw if isinstance(v, Secret) else v for k, v in east.items()} == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "mirror",
        "sasl.password": "${env:MM2PLAN_EAST_SASL_PASSWORD}",
        "ssl.ca.location": "/etc/ca.pem",
        "ssl.endpoint.identification.algorithm": "none",
        "client.id": "mm2",
    }
    west = {k: v.raw if isinstance(v, Secret) else v for k, v in t.clusters["west"].config.items()}
    assert west["sasl.password"] == "${env:WEST_PW}"
    assert west["ssl.keystore.password"] == "${file:/run/secrets/west-keystore}"
    assert west["ssl.keystore.location"] == "/etc/w.p12"
    # A per-client override not given to every client stays the flow's.
    assert t.flows[0].properties["source.consumer.fetch.max.bytes"] == "1048576"
    invented = [w for w in warnings if w[0] == "invented-reference"]
    assert [(line, "MM2PLAN_EAST_SASL_PASSWORD" in m) for _, line, m in invented] == [(7, True)]
    assert all("lit-pw-1" not in m for _, _, m in warnings)


def test_what_cannot_be_represented_is_a_warning_at_its_line() -> None:
    text = BASE + "\n".join(
        [
            "east->west.enabled = true",  # 5
            "east->west.exactly.once.support = required",  # 6
            "replication.policy.class = com.example.MyPolicy",  # 7
            "east.ssl.truststore.location = /etc/ts.jks",  # 8
            "dedicated.mode.enable.internal.rest = true",  # 9
            "offset.flush.interval.ms = 5000",  # 10
            "east->west.sync.topic.configs.enabled = maybe",  # 11
            "north->west.enabled = true",  # 12
            "source.consumer.fetch.max.bytes = 1",  # 13
            "east.sasl.jaas.config = com.example.Login required token=abc;",  # 14
            "west.request.timeout.ms = 1000",  # 15
        ]
    )
    _, t, warnings = imported(text)
    lines = {line for _, line, _ in warnings}
    # Line 1: the heartbeat connector west->east that MM2 would run without a flow.
    assert lines == {1, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, warnings
    assert t.defaults.replication_policy == "default"
    assert t.flows[0].sync_topic_configs is True  # MM2 would refuse 'maybe'; the default stays
    assert dict(t.clusters["west"].config) == {"request.timeout.ms": "1000"}
    assert all("abc" not in m for _, _, m in warnings)


def test_properties_syntax_as_java_reads_it() -> None:
    _, t, _ = imported(
        "\n".join(
            [
                "! a comment",
                "clusters : a, \\",
                "           b",
                "a.bootstrap.servers a:9092",
                "b.bootstrap.servers=b:9092",
                "sync.topic.acls.enabled false",
                "a->b.enabled = tr\\u0075e",
                "a->b.topics = x\\,y",  # Java's escape keeps the comma; MM2 splits on it
            ]
        )
    )
    assert list(t.clusters) == ["a", "b"]
    assert t.flows[0].enabled and t.flows[0].topics == ("x", "y")


def test_aliases_with_dots_and_dashes_are_matched_as_mm2_matches_them() -> None:
    _, t, warnings = imported(
        "\n".join(
            [
                "clusters = us, us.east, a-b",
                "us.bootstrap.servers = us:9092",
                "us.east.bootstrap.servers = use:9092",
                "a-b.bootstrap.servers = ab:9092",
                "sync.topic.acls.enabled = false",
                "us.east->a-b.enabled = true",
                "us->us.east.enabled = true",
                "emit.heartbeats.enabled = false",
                "replication.policy.class = "
                "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
            ]
        )
    )
    assert warnings == []
    assert t.clusters["us.east"].bootstrap_servers == "use:9092"
    assert [f.name for f in t.flows] == ["us.east->a-b", "us->us.east"]


def test_not_an_mm2_file() -> None:
    result = import_properties("bootstrap.servers = x:9092\n", "connect.properties")
    assert result.text is None
    assert [d.code for d in result.diagnostics] == ["mm2-config"]
    missing = import_properties("clusters = a\n", "x.properties")
    assert missing.text is None and "a.bootstrap.servers" in missing.diagnostics[0].message


def test_masked_lines_hide_every_secret_value() -> None:
    text = (
        "clusters = a\n"
        'a.sasl.jaas.config = x required \\\n  password="p1";\n'
        "a.ssl.key.password = p2\n"
    )
    lines = masked_lines(text)
    assert not any("p1" in line or "p2" in line for line in lines)
    assert lines[0] == "clusters = a"
    assert lines[1] == "a.sasl.jaas.config = (sensitive)"


def test_the_document_is_yaml_the_loader_takes_without_a_word() -> None:
    result = import_properties(BASE + "east->west.enabled = true\n", "mm2.properties")
    assert result.text is not None
    assert yaml.safe_load(result.text) == result.document
    assert not load_text(result.text, "x.yaml").diagnostics.has_errors()


def test_client_overrides_by_role_go_where_mm2_gives_them() -> None:
    _, t, warnings = imported(
        BASE
        + "\n".join(
            [
                "east->west.enabled = true",  # 5
                "west->east.enabled = false",  # 6
                "west->east.emit.heartbeats.enabled = false",  # 7
                "west.producer.linger.ms = 5",  # 8: the flow's target producer
                "east.admin.request.timeout.ms = 9000",  # 9: the flow's source admin
                "east.producer.batch.size = 1",  # 10: MM2's offset-syncs producer only
            ]
        )
    )
    props = t.flows[0].properties
    assert props["target.producer.linger.ms"] == "5"
    assert props["source.admin.request.timeout.ms"] == "9000"
    assert not any("batch.size" in k for k in props)
    assert [(line, "east.producer.batch.size" in m) for _, line, m in warnings] == [(10, True)]
