"""`export --format strimzi`: KafkaMirrorMaker2 resources that validate against Strimzi's own CRD
schemas (tests/data/strimzi, with their origin): v1 (the only version Strimzi 1.x serves) and
v1beta2 in its older layout (0.51's schema, and 0.45's, which predates `target`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from topology_strategies import topologies

from mm2plan.core.model import Topology
from mm2plan.planning.export import strimzi
from mm2plan.topology.loader import load_text

DATA = Path(__file__).parents[1] / "data" / "strimzi"
SCHEMAS = {
    "v1": ["kafkamirrormaker2-v1.schema.json"],
    "v1beta2": [
        "kafkamirrormaker2-v1beta2.schema.json",
        "kafkamirrormaker2-v1beta2-0.45.schema.json",
    ],
}


def validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / name).read_text())
    return jsonschema.Draft7Validator(schema)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def topology(doc: dict[str, Any]) -> Topology:
    result = load_text(yaml.safe_dump(doc), "t.yaml")
    assert not result.diagnostics.has_errors(), [d.message for d in result.diagnostics]
    assert result.topology is not None
    return result.topology


SECURE: dict[str, Any] = {
    "version": 1,
    "name": "prod",
    "clusters": {
        "dc1": {
            "bootstrap_servers": "dc1:9093",
            "config": {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "mirror",
                "sasl.password": "${env:DC1_PW}",
                "ssl.ca.location": "/etc/kafka/dc1-ca.crt",
            },
        },
        "dc2": {
            "bootstrap_servers": "dc2:9093",
            "config": {
                "security.protocol": "SSL",
                "ssl.certificate.location": "/etc/kafka/user.crt",
                "ssl.key.location": "/etc/kafka/user.key",
            },
        },
        "dc3": {"bootstrap_servers": "dc3:9092"},
    },
    "flows": [
        {"source": "dc1", "target": "dc2", "topics": ["orders", "pay-.*"]},
        {"source": "dc3", "target": "dc2", "emit_heartbeats": False},
        {"source": "dc2", "target": "dc3", "properties": {"tasks.max": "3"}},
    ],
}


@pytest.mark.parametrize("api", ["v1", "v1beta2"])
def test_the_export_validates_against_strimzis_crd(api: str) -> None:
    export = strimzi(topology(SECURE), api)
    docs = documents(export.files[0].text)
    assert [d["metadata"]["name"] for d in docs] == ["mm2plan-prod-dc2", "mm2plan-prod-dc3"]
    for name in SCHEMAS[api]:
        v = validator(name)
        for d in docs:
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(d)]
            assert errors == [], (name, errors)


def test_the_schemas_are_not_vacuous() -> None:
    v1 = documents(strimzi(topology(SECURE)).files[0].text)[0]
    del v1["spec"]["target"]["groupId"]
    assert not validator(SCHEMAS["v1"][0]).is_valid(v1)
    old = documents(strimzi(topology(SECURE), "v1beta2").files[0].text)[0]
    old["spec"]["mirrors"][0]["sourceConnector"]["tasksMax"] = "one"
    assert not validator(SCHEMAS["v1beta2"][1]).is_valid(old)
    # v1's layout is not the v1beta2 of Strimzi 0.45: the versions really differ.
    assert not validator(SCHEMAS["v1beta2"][1]).is_valid(
        documents(strimzi(topology(SECURE)).files[0].text)[0]
    )


def test_v1_layout_and_secret_refs() -> None:
    export = strimzi(topology(SECURE))
    kmm2 = documents(export.files[0].text)[0]
    assert kmm2["apiVersion"] == "kafka.strimzi.io/v1"
    target = kmm2["spec"]["target"]
    assert target["alias"] == "dc2" and target["bootstrapServers"] == "dc2:9093"
    assert target["authentication"] == {
        "type": "tls",
        "certificateAndKey": {
            "secretName": "mm2plan-dc2-tls",
            "certificate": "user.crt",
            "key": "user.key",
        },
    }
    assert target["config"]["offset.flush.interval.ms"] == "1000"
    assert target["config"]["config.storage.replication.factor"] == "3"
    sources = [m["source"]["alias"] for m in kmm2["spec"]["mirrors"]]
    assert sources == ["dc1", "dc3"]
    dc1 = kmm2["spec"]["mirrors"][0]
    assert dc1["source"]["authentication"] == {
        "type": "scram-sha-512",
        "username": "mirror",
        "passwordSecret": {"secretName": "mm2plan-dc1", "password": "DC1_PW"},
    }
    assert dc1["source"]["tls"] == {
        "trustedCertificates": [{"secretName": "mm2plan-dc1-ca", "certificate": "dc1-ca.crt"}]
    }
    assert "config" not in dc1["source"]  # no sasl./ssl./security. keys: Strimzi sets them
    assert dc1["topicsPattern"] == "orders,pay-.*"
    assert dc1["sourceConnector"]["tasksMax"] == 1
    connector = dc1["sourceConnector"]["config"]
    assert connector["replication.policy.class"].endswith("DefaultReplicationPolicy")
    assert not any(k in connector for k in ("name", "connector.class", "tasks.max", "topics"))
    assert not any(k.startswith(("source.cluster.", "target.cluster.")) for k in connector)
    assert "heartbeatConnector" not in dc1  # v1 has none: a warning says so
    assert any("heartbeat" in d.message for d in export.diagnostics)
    assert any("Secret mm2plan-dc1 key DC1_PW" in n for n in export.needs)
    assert "mm2plan-dc1-ca" in export.files[0].text.split("---")[0]  # listed in the header


def test_v1beta2_uses_the_older_layout_with_heartbeats() -> None:
    kmm2 = documents(strimzi(topology(SECURE), "v1beta2").files[0].text)[0]
    spec = kmm2["spec"]
    assert kmm2["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert spec["connectCluster"] == "dc2"
    assert [c["alias"] for c in spec["clusters"]] == ["dc2", "dc1", "dc3"]
    assert spec["clusters"][0]["config"]["group.id"] == "mm2plan-prod-dc2"
    first, second = spec["mirrors"]
    assert (first["sourceCluster"], first["targetCluster"]) == ("dc1", "dc2")
    assert "heartbeatConnector" in first and "heartbeatConnector" not in second


@settings(max_examples=40, deadline=None)
@given(topologies())
def test_every_generated_topology_exports_to_a_valid_resource(doc: dict[str, Any]) -> None:
    t = topology(doc)
    for api, names in SCHEMAS.items():
        for d in documents(strimzi(t, api).files[0].text):
            for name in names:
                assert validator(name).is_valid(d), (api, name, d)
