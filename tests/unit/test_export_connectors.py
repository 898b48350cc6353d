"""`connector_configs`: MM2's connectors per enabled flow, the `connect` engine's desired state
and the body of `export --format connect-json`."""

from __future__ import annotations

import json
from typing import Any

import yaml

from mm2plan.core.model import Topology
from mm2plan.planning.connectors import connector_configs, connector_name
from mm2plan.planning.export import connect_json, file_name
from mm2plan.topology.loader import load_text

MIRROR = "org.apache.kafka.connect.mirror."


def topology(doc: dict[str, Any]) -> Topology:
    result = load_text(yaml.safe_dump(doc), "t.yaml")
    assert not result.diagnostics.has_errors(), [d.message for d in result.diagnostics]
    assert result.topology is not None
    return result.topology


def two(**flow: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "prod",
        "clusters": {
            "dc1": {
                "bootstrap_servers": "a:9092,b:9092",
                "config": {
                    "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "SCRAM-SHA-256",
                    "sasl.username": "mirror",
                    "sasl.password": "${env:DC1_PW}",
                    "client.id": "mm2",
                },
            },
            "dc2": {"bootstrap_servers": "c:9092"},
        },
        "flows": [{"source": "dc1", "target": "dc2", **flow}],
    }


def test_each_enabled_flow_has_its_three_connectors_named_after_topology_and_flow() -> None:
    doc = two(topics=["orders"], groups=["billing-.*"])
    doc["flows"].append({"source": "dc2", "target": "dc1", "enabled": False})
    cc = connector_configs(topology(doc))
    assert list(cc.flows) == ["dc1->dc2"]
    fc = cc.flows["dc1->dc2"]
    assert list(fc.connectors) == [
        "prod.dc1->dc2.MirrorSourceConnector",
        "prod.dc1->dc2.MirrorCheckpointConnector",
        "prod.dc1->dc2.MirrorHeartbeatConnector",
    ]
    source = fc.connectors["prod.dc1->dc2.MirrorSourceConnector"]
    assert source["name"] == "prod.dc1->dc2.MirrorSourceConnector"
    assert source["connector.class"] == MIRROR + "MirrorSourceConnector"
    assert source["source.cluster.alias"] == "dc1" and source["target.cluster.alias"] == "dc2"
    assert source["source.cluster.bootstrap.servers"] == "a:9092,b:9092"
    assert source["target.cluster.bootstrap.servers"] == "c:9092"
    assert source["topics"] == "orders"
    assert source["replication.policy.class"] == MIRROR + "DefaultReplicationPolicy"
    assert source["replication.policy.separator"] == "."
    assert source["tasks.max"] == "1"
    assert source["sync.topic.acls.enabled"] == "false"
    assert source["key.converter"].endswith("ByteArrayConverter")
    checkpoint = fc.connectors["prod.dc1->dc2.MirrorCheckpointConnector"]
    assert checkpoint["groups"] == "billing-.*"
    assert checkpoint["topics"] == "orders"  # checkpoints only the flow's topics
    assert checkpoint["sync.group.offsets.enabled"] == "true"
    assert checkpoint["emit.checkpoints.interval.seconds"] == "5"
    assert (
        "groups" not in source
        and "topics" not in fc.connectors["prod.dc1->dc2.MirrorHeartbeatConnector"]
    )
    every = json.dumps(fc.connectors)
    assert all(isinstance(v, str) for c in fc.connectors.values() for v in c.values())
    assert "offset.flush.interval.ms" not in every  # the worker's, not a connector's
    assert fc.worker == {"offset.flush.interval.ms": "1000"}


def test_security_keys_go_to_every_client_the_rest_to_each_client_by_role() -> None:
    cc = connector_configs(topology(two(properties={"source.consumer.client.id": "mine"})))
    source = cc.flows["dc1->dc2"].connectors["prod.dc1->dc2.MirrorSourceConnector"]
    assert source["source.cluster.security.protocol"] == "SASL_SSL"
    assert source["source.cluster.sasl.mechanism"] == "SCRAM-SHA-256"
    assert source["source.cluster.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="mirror" password="${env:DC1_PW}";'
    )
    # MirrorConnectorConfig keeps only bootstrap/security keys of source.cluster.*.
    assert "source.cluster.client.id" not in source
    assert source["source.producer.client.id"] == "mm2"
    assert source["source.admin.client.id"] == "mm2"
    assert source["source.consumer.client.id"] == "mine"  # the flow's override wins
    assert cc.providers == {"env"} and cc.invented == []


def test_connectors_that_would_do_nothing_are_left_out() -> None:
    off = two(emit_heartbeats=False, emit_checkpoints=False, sync_group_offsets=False)
    fc = connector_configs(topology(off)).flows["dc1->dc2"]
    assert fc.kinds() == ["MirrorSourceConnector"]
    only_sync = two(emit_heartbeats=False, emit_checkpoints=False)
    assert connector_configs(topology(only_sync)).flows["dc1->dc2"].kinds() == [
        "MirrorSourceConnector",
        "MirrorCheckpointConnector",
    ]


def test_names_keep_flows_apart_when_aliases_hold_dashes() -> None:
    doc = {
        "version": 1,
        "defaults": {"replication_policy": "identity"},
        "clusters": {a: {"bootstrap_servers": f"{a}:9092"} for a in ("a-b", "c", "a", "b-c")},
        "flows": [{"source": "a-b", "target": "c"}, {"source": "a", "target": "b-c"}],
    }
    cc = connector_configs(topology(doc))
    names = [n for fc in cc.flows.values() for n in fc.connectors]
    assert len(set(names)) == len(names) == 6
    flow = topology(doc).flows[0]
    assert connector_name("t", flow, "MirrorSourceConnector") == "t.a-b->c.MirrorSourceConnector"


def test_connect_json_is_one_put_body_per_connector() -> None:
    export = connect_json(topology(two()))
    assert [f.name for f in export.files] == [
        "prod.dc1-to-dc2.MirrorSourceConnector.json",
        "prod.dc1-to-dc2.MirrorCheckpointConnector.json",
        "prod.dc1-to-dc2.MirrorHeartbeatConnector.json",
    ]
    body = json.loads(export.files[0].text)
    assert body["name"] == "prod.dc1->dc2.MirrorSourceConnector"
    assert file_name(body["name"]) == export.files[0].name
    assert any("offset.flush.interval.ms=1000" in d.message for d in export.diagnostics)
    assert any("config.providers=env" in n for n in export.needs)
