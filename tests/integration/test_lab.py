"""The lab itself: real brokers come up, serve clients, enforce ACLs, and go away cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Callable
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

from mm2plan.cli.sandbox import sandbox_app
from mm2plan.lab import cluster as lab_cluster
from mm2plan.lab.cluster import (
    KafkaCluster,
    new_cluster,
    pid_alive,
    port_open,
    start_clusters,
    stop_clusters,
)
from mm2plan.lab.connect import MM2_CONNECTORS, ConnectWorker
from mm2plan.lab.jars import LabError
from mm2plan.lab.sandbox import PASSWORD_ENV, Sandbox
from mm2plan.topology.loader import load_text

Names = Callable[[str], str]


def create_topic(conf: dict[str, str], name: str, partitions: int = 1) -> None:
    admin = AdminClient(conf)  # must outlive the future
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def produce(conf: dict[str, str], topic: str, value: bytes) -> str | None:
    """The delivery error's name, or None when the broker acknowledged the record."""
    p = Producer({**conf, "acks": "all", "message.timeout.ms": 10000})
    outcome: list[str | None] = []
    p.produce(topic, value, on_delivery=lambda err, _msg: outcome.append(err and err.name()))
    assert p.flush(20) == 0
    return outcome[0]


def consume_one(conf: dict[str, str], topic: str) -> bytes:
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


def assert_gone(clusters: list[KafkaCluster]) -> None:
    for c in clusters:
        assert c.pid is not None and not pid_alive(c.pid), f"{c.name} still runs"
        assert not port_open(c.port) and not port_open(c.controller_port), f"{c.name} port open"


@pytest.mark.kafka
def test_two_clusters_serve_clients_and_stop_without_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One generated id in ~90 starts with '-': storage formatting must not read it as a flag.
    ids = iter(["-" + "A" * 20 + "w", lab_cluster.random_cluster_id()])
    monkeypatch.setattr(lab_cluster, "random_cluster_id", lambda: next(ids))
    clusters = [new_cluster("a", tmp_path), new_cluster("b", tmp_path)]
    start_clusters(clusters)
    try:
        for c in clusters:
            create_topic(c.admin_config(), "hello")
            assert produce(c.client_config(), "hello", c.name.encode()) is None
            assert consume_one(c.client_config(), "hello") == c.name.encode()
    finally:
        stop_clusters(clusters)
    assert_gone(clusters)
    assert "-" + "A" * 20 + "w" in (clusters[0].data_dir / "meta.properties").read_text()
    assert all(c.log_path.stat().st_size > 0 for c in clusters)
    assert clusters[0].data_dir != clusters[1].data_dir


@pytest.mark.kafka
def test_broker_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    c = new_cluster("broken", tmp_path)
    with socket.socket() as squatter:  # the broker's port is taken: it cannot bind
        squatter.bind(("127.0.0.1", c.port))
        squatter.listen()
        with pytest.raises(LabError) as exc:
            start_clusters([c], timeout_s=60)
    assert "exited while starting" in str(exc.value)
    assert "Address already in use" in str(exc.value)  # the tail of the broker's log
    assert not pid_alive(c.pid)


@pytest.mark.kafka
def test_scram_cluster_enforces_authentication_and_acls(
    scram_cluster: KafkaCluster, unique_topic: Names
) -> None:
    topic = unique_topic("secure")
    create_topic(scram_cluster.admin_config(), topic)
    # No credentials: the SASL listener does not let a plaintext client in.
    anonymous = AdminClient(
        {"bootstrap.servers": scram_cluster.bootstrap_servers, "socket.timeout.ms": 3000}
    )
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=5)
    del anonymous
    # Wrong password: authentication fails.
    wrong = AdminClient({**scram_cluster.client_config("bob"), "sasl.password": "nope"})
    with pytest.raises(KafkaException):
        wrong.list_topics(timeout=5)
    del wrong
    # Authenticated but without ACLs: the authorizer refuses, and hides the topic.
    alice = scram_cluster.client_config("alice")
    assert produce(alice, topic, b"x") == "TOPIC_AUTHORIZATION_FAILED"
    assert topic not in AdminClient(alice).list_topics(timeout=10).topics
    # After an ACL is added, the same client may write; bob still may not.
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
    assert produce(alice, topic, b"y") is None
    assert produce(scram_cluster.client_config("bob"), topic, b"z") == (
        "TOPIC_AUTHORIZATION_FAILED"
    )


@pytest.mark.kafka
@pytest.mark.connect
def test_connect_worker_has_mm2_connectors(connect_worker: ConnectWorker) -> None:
    plugins = {p["class"].rsplit(".", 1)[-1] for p in connect_worker.get("/connector-plugins")}
    assert set(MM2_CONNECTORS) <= plugins
    assert connect_worker.get("/health")["status"] == "healthy"  # joined: connectors can be made


@pytest.mark.kafka
def test_sandbox_cli_up_status_env_down(tmp_path: Path) -> None:
    runner = CliRunner()
    d = str(tmp_path / "sbx")
    r = runner.invoke(sandbox_app, ["up", "--clusters", "east,west", "--dir", d])
    assert r.exit_code == 0, r.output
    box = Sandbox.load(Path(d))
    assert box is not None
    clusters = box.clusters
    try:
        assert "Sandbox up in" in r.output
        assert all(pid_alive(c.pid) for c in clusters)
        # The brokers are detached: their own session, not the test's process group.
        assert all(os.getsid(c.pid or 0) == c.pid for c in clusters)
        again = runner.invoke(sandbox_app, ["up", "--clusters", "east,west", "--dir", d])
        assert again.exit_code == 0 and "already running" in again.output
        status = runner.invoke(sandbox_app, ["status", "--dir", d])
        assert status.exit_code == 0 and status.output.count("yes") == 2, status.output
        env = runner.invoke(sandbox_app, ["env", "--dir", d])
        assert env.exit_code == 0
        assert f"export MM2PLAN_EAST_BOOTSTRAP={clusters[0].bootstrap_servers}" in env.output
        topo = runner.invoke(sandbox_app, ["env", "--topology", "--dir", d])
        loaded = load_text(topo.output)
        assert not loaded.diagnostics.has_errors(), topo.output
        assert "orders" in topo.output and "source: east" in topo.output
    finally:
        down = runner.invoke(sandbox_app, ["down", "--dir", d])
    assert down.exit_code == 0 and "Sandbox down" in down.output
    assert_gone(clusters)
    assert all(c.log_path.exists() and not c.data_dir.exists() for c in clusters)
    status = runner.invoke(sandbox_app, ["status", "--dir", d])
    assert status.exit_code == 1 and "No sandbox" in status.output


@pytest.mark.kafka
@pytest.mark.connect
def test_sandbox_scram_users_and_connect(tmp_path: Path) -> None:
    runner = CliRunner()
    d = str(tmp_path / "secure")
    args = ["up", "--clusters", "s1", "--security", "scram", "--user", "carol:carol-pw"]
    r = runner.invoke(sandbox_app, [*args, "--connect", "--dir", d])
    assert r.exit_code == 0, r.output
    try:
        assert "Kafka Connect" in r.output
        env = runner.invoke(sandbox_app, ["env", "--dir", d])
        assert (
            f"${{env:{PASSWORD_ENV}}}" in env.output and "export MM2PLAN_CONNECT_URL" in env.output
        )
        (export,) = [
            ln for ln in env.output.splitlines() if ln.startswith(f"export {PASSWORD_ENV}=")
        ]
        password = subprocess.run(
            ["bash", "-c", f'{export} && printf %s "${PASSWORD_ENV}"'],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert password.startswith("admin-") and password not in env.output
        assert "carol-pw" not in env.output
        port = env.output.split("bootstrap_servers: 127.0.0.1:", 1)[1].split()[0]
        sasl = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512"}
        for user, secret in (("admin", password), ("carol", "carol-pw")):
            client = AdminClient(
                {
                    "bootstrap.servers": f"127.0.0.1:{port}",
                    **sasl,
                    "sasl.username": user,
                    "sasl.password": secret,
                }
            )
            assert client.list_topics(timeout=15).brokers
        status = runner.invoke(sandbox_app, ["status", "--dir", d])
        assert status.exit_code == 0 and "connect" in status.output
    finally:
        assert runner.invoke(sandbox_app, ["down", "--dir", d]).exit_code == 0


def test_sandbox_without_java_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java here
    monkeypatch.setenv("MM2PLAN_KAFKA_HOME", str(tmp_path / "nokafka"))
    for args in (["up", "--dir", str(tmp_path / "sbx")], ["fetch"]):
        r = CliRunner().invoke(sandbox_app, args)
        assert r.exit_code == 1, r.output
        assert "Java is not on PATH" in r.output and "openjdk-17" in r.output
        assert "Traceback" not in r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert r.output.count("error[lab]") == 1
    assert not (tmp_path / "sbx").exists()  # nothing half-made to clean up


def test_sandbox_usage_errors_exit_64(tmp_path: Path) -> None:
    from mm2plan.cli import app  # its import maps click's usage errors to 64

    d = str(tmp_path / "sbx")
    for args in (
        ["--clusters", "../escape", "--dir", d],
        ["--clusters", "a,a", "--dir", d],
        ["--user", "carol", "--security", "scram", "--dir", d],
        ["--user", "carol:pw", "--dir", d],
        ["--security", "tls", "--dir", d],
    ):
        r = CliRunner().invoke(app, ["sandbox", "up", *args])
        assert r.exit_code == 64, (args, r.output)
    assert not Path(d).exists()
