"""The lab itself: real brokers come up, serve clients, enforce ACLs, and go away cleanly."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)
from typer.testing import CliRunner

from mm2plan.lab.cli import sandbox_app
from mm2plan.lab.cluster import (
    KafkaCluster,
    new_cluster,
    pid_alive,
    port_open,
    start_clusters,
    stop_clusters,
)
from mm2plan.lab.connect import MM2_CONNECTORS, ConnectWorker

pytestmark = pytest.mark.kafka


def create_topic(conf: dict[str, str], name: str, partitions: int = 1) -> None:
    admin = AdminClient(conf)  # must outlive the future
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def roundtrip(conf: dict[str, str], topic: str, value: bytes) -> bytes:
    p = Producer({**conf, "acks": "all"})
    p.produce(topic, value)
    assert p.flush(30) == 0
    c = Consumer({**conf, "group.id": f"g-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    try:
        for _ in range(60):
            msg = c.poll(1)
            if msg is not None and msg.error() is None:
                got: bytes = msg.value()
                return got
        raise AssertionError("no record consumed")
    finally:
        c.close()


def test_two_clusters_serve_clients_and_stop_without_leftovers(tmp_path: Path) -> None:
    clusters = [new_cluster("a", tmp_path), new_cluster("b", tmp_path)]
    start_clusters(clusters)
    try:
        for c in clusters:
            create_topic(c.client_config(), "hello")
            assert roundtrip(c.client_config(), "hello", c.name.encode()) == c.name.encode()
    finally:
        stop_clusters(clusters)
    for c in clusters:
        assert not pid_alive(c.pid)
        assert not port_open(c.port) and not port_open(c.controller_port)


def test_broker_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    from mm2plan.lab.jars import LabError

    c = new_cluster("broken", tmp_path)
    with socket.socket() as squatter:  # the broker's port is taken: it cannot bind
        squatter.bind(("127.0.0.1", c.port))
        squatter.listen()
        with pytest.raises(LabError) as exc:
            start_clusters([c], timeout_s=60)
    assert "exited while starting" in str(exc.value)
    assert "Address already in use" in str(exc.value)  # the tail of the broker's log
    assert not pid_alive(c.pid)


def test_scram_cluster_enforces_authentication_and_acls(
    scram_cluster: KafkaCluster, unique_topic
) -> None:  # type: ignore[no-untyped-def]
    topic = unique_topic("secure")
    create_topic(scram_cluster.admin_config(), topic)
    # No credentials: the SASL listener does not let a plaintext client in.
    anonymous = AdminClient(
        {"bootstrap.servers": scram_cluster.bootstrap_servers, "socket.timeout.ms": 3000}
    )
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=5)
    # Authenticated but without ACLs: the authorizer refuses.
    alice = scram_cluster.client_config("alice")
    p = Producer({**alice, "message.timeout.ms": 5000})
    errors: list[str] = []
    p.produce(topic, b"x", on_delivery=lambda err, msg: errors.append(err.name()) if err else None)
    p.flush(15)
    assert errors == ["TOPIC_AUTHORIZATION_FAILED"]
    # After an ACL is added, the same client may write.
    admin = AdminClient(scram_cluster.admin_config())
    acl = AclBinding(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.WRITE,
        AclPermissionType.ALLOW,
    )
    for f in admin.create_acls([acl]).values():
        f.result(30)
    p2 = Producer({**alice, "message.timeout.ms": 10000})
    delivered: list[object] = []
    p2.produce(topic, b"y", on_delivery=lambda err, msg: delivered.append(err))
    p2.flush(20)
    assert delivered == [None]


@pytest.mark.connect
def test_connect_worker_has_mm2_connectors(connect_worker: ConnectWorker) -> None:
    plugins = {p["class"].rsplit(".", 1)[-1] for p in connect_worker.get("/connector-plugins")}
    assert set(MM2_CONNECTORS) <= plugins


def test_sandbox_cli_up_status_env_down(tmp_path: Path) -> None:
    runner = CliRunner()
    d = str(tmp_path / "sbx")
    r = runner.invoke(sandbox_app, ["up", "--clusters", "east,west", "--dir", d])
    assert r.exit_code == 0, r.output
    try:
        assert "Sandbox up" in r.output
        again = runner.invoke(sandbox_app, ["up", "--clusters", "east,west", "--dir", d])
        assert again.exit_code == 0 and "already running" in again.output
        status = runner.invoke(sandbox_app, ["status", "--dir", d])
        assert status.exit_code == 0 and status.output.count("yes") == 2
        env = runner.invoke(sandbox_app, ["env", "--topology", "--dir", d])
        assert env.exit_code == 0 and "east:" in env.output and "bootstrap_servers" in env.output
    finally:
        down = runner.invoke(sandbox_app, ["down", "--dir", d])
    assert down.exit_code == 0 and "Sandbox down" in down.output
    status = runner.invoke(sandbox_app, ["status", "--dir", d])
    assert status.exit_code == 1 and "No sandbox" in status.output


def test_sandbox_without_java_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java here
    monkeypatch.setenv("MM2PLAN_KAFKA_HOME", str(tmp_path / "nokafka"))
    r = CliRunner().invoke(sandbox_app, ["up", "--dir", str(tmp_path / "sbx")])
    assert r.exit_code == 1
    assert "Java is not on PATH" in r.output and "openjdk-17" in r.output
    assert "Traceback" not in r.output
    assert os.environ["PATH"] == str(tmp_path)


def test_cluster_id_starting_with_a_dash_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One generated id in ~90 starts with '-': storage formatting must not read it as a flag."""
    from mm2plan.lab import cluster as lab_cluster

    monkeypatch.setattr(lab_cluster, "random_cluster_id", lambda: "-" + "A" * 20 + "w")
    c = new_cluster("dash", tmp_path)
    start_clusters([c])
    stop_clusters([c])
    assert "-" + "A" * 20 + "w" in (c.data_dir / "meta.properties").read_text()


def test_sandbox_scram_users(tmp_path: Path) -> None:
    runner = CliRunner()
    d = str(tmp_path / "secure")
    r = runner.invoke(
        sandbox_app,
        ["up", "--clusters", "s1", "--security", "scram", "--user", "carol:carol-pw", "--dir", d],
    )
    assert r.exit_code == 0, r.output
    try:
        env = runner.invoke(sandbox_app, ["env", "--topology", "--dir", d])
        assert "${file:" in env.output and "carol-pw" not in env.output
        port = env.output.split("bootstrap_servers: 127.0.0.1:", 1)[1].split()[0]
        carol = AdminClient(
            {
                "bootstrap.servers": f"127.0.0.1:{port}",
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "carol",
                "sasl.password": "carol-pw",
            }
        )
        assert carol.list_topics(timeout=15).brokers
    finally:
        assert runner.invoke(sandbox_app, ["down", "--dir", d]).exit_code == 0
