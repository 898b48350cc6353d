"""`mm2plan apply` runs the flows on the bundled engine, on real brokers: records arrive, plan is
empty afterwards, `runtime status` exits 0, a killed supervisor makes plan restart the flow, and
destroy stops it."""

from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.polling import poll
from mm2plan.lab.cluster import KafkaCluster
from mm2plan.ports.replication import FlowKey, FlowState
from mm2plan.runtime.engine import BundledEngine, read_pid_file

pytestmark = pytest.mark.kafka


def run(*args: str) -> tuple[int, str]:
    """The CLI as users get it (the default Env: the bundled engine, real clusters)."""
    out = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    result = CliRunner().invoke(
        app, list(args), obj=Env(out=out, err=err, stdin_isatty=lambda: False)
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + err.export_text()


@pytest.fixture
def lab_topology(
    tmp_path: Path,
    kafka_clusters: dict[str, KafkaCluster],
    unique_topic,  # type: ignore[no-untyped-def]
) -> Iterator[tuple[Path, str, FlowKey]]:
    name = f"rt-{uuid.uuid4().hex[:8]}"
    topic = unique_topic("orders")
    doc = {
        "version": 1,
        "name": name,
        "defaults": {"replication_factor": 1},
        "clusters": {
            "dc1": {
                "bootstrap_servers": kafka_clusters["dc1"].bootstrap_servers,
                "topics": {topic: {"partitions": 3}},
            },
            "dc2": {"bootstrap_servers": kafka_clusters["dc2"].bootstrap_servers},
        },
        "flows": [{"source": "dc1", "target": "dc2", "topics": [topic]}],
    }
    path = tmp_path / "mm2plan.yaml"
    path.write_text(json.dumps(doc))
    key = FlowKey(name, "dc1", "dc2")
    try:
        yield path, topic, key
    finally:
        BundledEngine(path).stop(key)


def produce(c: KafkaCluster, topic: str, first: int, n: int) -> None:
    p = Producer({"bootstrap.servers": c.bootstrap_servers})
    for i in range(first, first + n):
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode(), partition=i % 3)
    assert p.flush(30) == 0


def keys_on(c: KafkaCluster, topic: str, want: int, timeout_s: float = 60) -> set[int]:
    consumer = Consumer(
        {
            "bootstrap.servers": c.bootstrap_servers,
            "group.id": f"check-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < want and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None and m.key() is not None:
                    seen.add(int(m.key()))  # type: ignore[arg-type]
    finally:
        consumer.close()
    return seen


def test_apply_runs_the_flow_plan_restarts_a_dead_one_and_destroy_stops_it(
    kafka_clusters: dict[str, KafkaCluster], lab_topology: tuple[Path, str, FlowKey]
) -> None:
    path, topic, key = lab_topology
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    assert f'dc2.replication["{key.topology}/dc1->dc2"]: create applied' in out
    engine = BundledEngine(path)
    assert engine.describe(key).state is FlowState.RUNNING, engine.inspect(key).log.read_text()

    produce(kafka_clusters["dc1"], topic, 0, 300)
    assert keys_on(kafka_clusters["dc2"], f"dc1.{topic}", 300) == set(range(300))
    code, out = run("plan", str(path), "--detailed-exitcode")
    assert code == 0 and "No changes" in out, out
    code, out = run("runtime", "status", str(path), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["running"], out
    # The topic's 3, and dc1's heartbeats partition when another test's flow into dc1 wrote
    # them there (MM2 copies heartbeats topics whatever the flow's filter).
    assert doc["flows"][0]["partitions"] in (3, 4), out

    # The supervisor dies (kill -9): its workers stop by themselves, plan says so, apply restarts.
    supervisor = read_pid_file(engine.directory(key))
    assert supervisor is not None
    os.kill(supervisor.pid, signal.SIGKILL)
    assert poll(lambda: engine.describe(key).state, lambda s: s is FlowState.FAILED, 10)
    code, out = run("plan", str(path), "--detailed-exitcode")
    assert code == ExitCode.CHANGES, out
    assert f"(flow is failed: its supervisor (pid {supervisor.pid}) is gone" in out
    assert "apply restarts it" in out
    assert run("runtime", "status", str(path))[0] == ExitCode.ERROR
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0 and "update applied" in out, out
    produce(kafka_clusters["dc1"], topic, 300, 200)
    assert keys_on(kafka_clusters["dc2"], f"dc1.{topic}", 500) == set(range(500))
    assert run("plan", str(path), "--detailed-exitcode")[0] == 0

    code, out = run("destroy", str(path), "--auto-approve")
    assert code == 0, out
    status = engine.inspect(key)
    assert status.status.state is FlowState.STOPPED and status.supervisor is None
    assert [r.state for r in status.reports] == ["stopped"]
