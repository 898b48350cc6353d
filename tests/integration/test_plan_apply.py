"""plan/apply/destroy against real KRaft brokers: convergence, edits, a killed apply, stale
plans, the lock, and least-privilege ACLs enforced by the real authorizer."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.kafka.confluent import confluent_admin_factory
from mm2plan.adapters.memory import MemoryEngine
from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.lab.cluster import KafkaCluster
from mm2plan.topology.loader import load_text

pytestmark = pytest.mark.kafka

ENGINE = MemoryEngine()
"""These tests are about topics and ACLs: their flows run on the fake engine (flow keys carry
each test's topology name). tests/integration/test_runtime_apply.py runs the bundled one."""


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    the_env = Env(out=out, err=err, stdin_isatty=lambda: False, engine_factory=lambda _t: ENGINE)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        result = CliRunner().invoke(app, list(args), obj=the_env)
    finally:
        os.environ.clear()
        os.environ.update(old)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + err.export_text()


def topology(
    tmp_path: Path,
    clusters: dict[str, KafkaCluster],
    topic: str,
    partitions: int = 2,
    extra_topics: int = 0,
) -> Path:
    name = f"t-{uuid.uuid4().hex[:8]}"  # ownership is scoped: tests share the clusters
    topics = {topic: {"partitions": partitions, "config": {"retention.ms": "3600000"}}}
    topics.update({f"{topic}-{i}": {"partitions": 1} for i in range(extra_topics)})
    doc = {
        "version": 1,
        "name": name,
        "defaults": {"replication_factor": 1},
        "clusters": {
            "dc1": {"bootstrap_servers": clusters["dc1"].bootstrap_servers, "topics": topics},
            "dc2": {"bootstrap_servers": clusters["dc2"].bootstrap_servers},
        },
        "flows": [{"source": "dc1", "target": "dc2", "topics": [f"{topic}.*"]}],
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def test_apply_converges_and_edits_reapply(
    tmp_path: Path,
    kafka_clusters,
    unique_topic,  # type: ignore[no-untyped-def]
) -> None:
    topic = unique_topic("orders")
    path = topology(tmp_path, kafka_clusters, topic)
    code, out = run("plan", str(path), "--detailed-exitcode")
    assert code == ExitCode.CHANGES, out
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    code, out = run("plan", str(path), "--detailed-exitcode")
    assert code == 0 and "No changes" in out, out
    # Edit: more partitions on the source; the remote copy must follow.
    path.write_text(path.read_text().replace('"partitions": 2', '"partitions": 5'))
    code, out = run("plan", str(path))
    assert f'dc2.topic["dc1.{topic}"]' in out and "2 -> 5" in out, out
    assert run("apply", str(path), "--auto-approve")[0] == 0
    assert run("plan", str(path), "--detailed-exitcode")[0] == 0
    live = confluent_admin_factory(
        load_text(path.read_text(), "x").topology.clusters["dc2"]
    ).read_state()  # type: ignore[union-attr]
    assert live.topics[f"dc1.{topic}"].partitions == 5
    assert live.topics[f"dc1.{topic}"].config["retention.ms"] == "3600000"


def test_stale_plan_is_refused(tmp_path: Path, kafka_clusters, unique_topic) -> None:  # type: ignore[no-untyped-def]
    path = topology(tmp_path, kafka_clusters, unique_topic("stale"))
    planfile = tmp_path / "p.plan"
    assert run("plan", str(path), "-o", str(planfile))[0] == 0
    path.write_text(path.read_text().replace('"partitions": 2', '"partitions": 3'))
    code, out = run("apply", str(planfile))
    assert code == 1 and "stale" in out
    assert run("plan", str(path), "-o", str(planfile))[0] == 0
    code, out = run("apply", str(planfile))
    assert code == 0, out


def test_second_apply_is_refused_while_one_holds_the_lock(
    tmp_path: Path,
    kafka_clusters,  # type: ignore[no-untyped-def]
    unique_topic,
) -> None:
    path = topology(tmp_path, kafka_clusters, unique_topic("locked"))
    t = load_text(path.read_text(), "x").topology
    assert t is not None
    holder = confluent_admin_factory(t.clusters["dc1"])
    holder.acquire_lock({"host": "other-host", "pid": 4242})
    try:
        code, out = run("apply", str(path), "--auto-approve")
        assert code == 1 and "another apply holds the lock" in out and "other-host" in out
    finally:
        holder.release_lock()
    assert run("apply", str(path), "--auto-approve")[0] == 0


def test_killed_apply_is_finished_by_the_next_one(
    tmp_path: Path,
    kafka_clusters,  # type: ignore[no-untyped-def]
    unique_topic,
) -> None:
    path = topology(tmp_path, kafka_clusters, unique_topic("killed"), extra_topics=300)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mm2plan.cli", "apply", str(path), "--auto-approve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it once it has started changing things
        line = proc.stdout.readline()
        if b"applied" in line or not line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 1 and "--force-unlock" in out  # the dead apply's lock is still there
    code, out = run("apply", str(path), "--auto-approve", "--force-unlock")
    assert code == 0, out
    code, out = run("plan", str(path), "--detailed-exitcode")
    assert code == 0, out


def test_destroy_removes_what_was_created(
    tmp_path: Path,
    kafka_clusters,
    unique_topic,  # type: ignore[no-untyped-def]
) -> None:
    topic = unique_topic("gone")
    path = topology(tmp_path, kafka_clusters, topic)
    assert run("apply", str(path), "--auto-approve")[0] == 0
    code, out = run("destroy", str(path), "--auto-approve")
    assert code == 0, out
    t = load_text(path.read_text(), "x").topology
    assert t is not None
    live = confluent_admin_factory(t.clusters["dc2"]).read_state()
    assert f"dc1.{topic}" not in live.topics


def test_unreachable_cluster_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "down.yaml"
    path.write_text(
        "version: 1\nclusters:\n  dc1: {bootstrap_servers: '127.0.0.1:1', config: "
        "{sasl.password: '${env:PW}', security.protocol: SASL_PLAINTEXT, "
        "sasl.mechanism: PLAIN, sasl.username: u}}\n"
    )
    t0 = time.monotonic()
    code, out = run("plan", str(path), env={"PW": "very-secret-pw"})
    assert code == 1
    assert "cluster dc1: cannot reach bootstrap servers 127.0.0.1:1" in out
    assert "very-secret-pw" not in out and "Traceback" not in out
    assert time.monotonic() - t0 < 40


PROBE = """
import json, sys, time
from confluent_kafka import Consumer, Producer
conf, action, topic, group = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if action == "produce":
    errors = []
    p = Producer({**conf, "message.timeout.ms": 8000})
    p.produce(topic, b"v", on_delivery=lambda err, _m: errors.append(err))
    p.flush(15)
    sys.exit(0 if errors == [None] else 1)
c = Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest"})
c.subscribe([topic])
deadline = time.monotonic() + 20
code = 1
while time.monotonic() < deadline:
    msg = c.poll(1)
    if msg is None:
        continue
    code = 0 if msg.error() is None else 1
    break
c.close()
sys.exit(code)
"""


def _can(conf: dict[str, str], action: str, topic: str, group: str = "") -> bool:
    """Each probe runs in its own process: a refused client leaves librdkafka state (and, now
    and then, a pending C-level error) behind that must not leak into the next probe."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(conf), action, topic, group],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0


def test_generated_acls_allow_what_apps_declare_and_nothing_else(  # type: ignore[no-untyped-def]
    tmp_path: Path, scram_cluster: KafkaCluster, unique_topic
) -> None:
    topic = unique_topic("acl")
    pw_file = tmp_path / "admin.pw"
    pw_file.write_text(scram_cluster.users["admin"])
    doc = {
        "version": 1,
        "name": f"acl-{uuid.uuid4().hex[:6]}",
        "defaults": {"replication_factor": 1},
        "clusters": {
            "sec": {
                "bootstrap_servers": scram_cluster.bootstrap_servers,
                "config": {
                    "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": "SCRAM-SHA-512",
                    "sasl.username": "admin",
                    "sasl.password": f"${{file:{pw_file}}}",
                },
                "topics": {topic: {"partitions": 1}},
            }
        },
        "apps": {
            "writer": {"principal": "User:alice", "clusters": ["sec"], "produces": [topic]},
            "reader": {
                "principal": "User:bob",
                "clusters": ["sec"],
                "consumes": [topic],
                "groups": [f"{topic}-readers"],
            },
        },
    }
    path = tmp_path / "acl.yaml"
    path.write_text(json.dumps(doc))
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    assert scram_cluster.users["admin"] not in out
    assert run("plan", str(path), "--detailed-exitcode")[0] == 0
    alice, bob = scram_cluster.client_config("alice"), scram_cluster.client_config("bob")
    assert _can(alice, "produce", topic)
    assert _can(bob, "consume", topic, f"{topic}-readers")
    assert not _can(bob, "produce", topic)  # the consumer cannot produce
    assert not _can(alice, "consume", topic, f"{topic}-readers")  # nor the producer read
    assert not _can(bob, "consume", topic, "some-other-group")  # only its own group
