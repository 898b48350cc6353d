"""`mm2plan apply` with `runtime.engine: connect` on the lab's real Kafka Connect worker and MM2's
own connectors (no mock REST server): records replicate, plan is then empty, a connector changed
by hand is a change, a new topic pattern updates the connectors, removing the flow deletes them
and re-adding it resumes from the offsets Connect kept; a worker killed mid-apply is a clear
error, and the next apply once it is back finishes the job."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from confluent_kafka import Consumer, Producer
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.connect.engine import ConnectEngine
from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.polling import poll
from mm2plan.lab.cluster import KafkaCluster
from mm2plan.lab.connect import ConnectWorker, new_worker, start_worker
from mm2plan.ports.replication import FlowKey, FlowState
from mm2plan.topology.loader import load_file

pytestmark = [pytest.mark.kafka, pytest.mark.connect]
KINDS = ("MirrorSourceConnector", "MirrorCheckpointConnector", "MirrorHeartbeatConnector")


def run(*args: str) -> tuple[int, str]:
    """The CLI as users get it (the default Env: the engine the topology names, real clusters)."""
    out = Console(file=io.StringIO(), record=True, width=400, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=400, color_system=None)
    result = CliRunner().invoke(
        app, list(args), obj=Env(out=out, err=err, stdin_isatty=lambda: False)
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + err.export_text()


def topology_doc(
    name: str,
    clusters: dict[str, KafkaCluster],
    url: str,
    topics: dict[str, int],
    patterns: list[str],
) -> dict[str, Any]:
    return {
        "version": 1,
        "name": name,
        "defaults": {"replication_factor": 1},
        "clusters": {
            "dc1": {
                "bootstrap_servers": clusters["dc1"].bootstrap_servers,
                "topics": {t: {"partitions": n} for t, n in topics.items()},
            },
            "dc2": {"bootstrap_servers": clusters["dc2"].bootstrap_servers},
        },
        "flows": [{"source": "dc1", "target": "dc2", "topics": patterns}] if patterns else [],
        "runtime": {"engine": "connect", "connect": {"url": url}},
    }


def write(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc))


def engine_of(path: Path) -> ConnectEngine:
    t = load_file(path).topology
    assert t is not None
    return ConnectEngine(t)


def connectors(worker: ConnectWorker) -> set[str]:
    return set(worker.get("/connectors"))


def config_of(worker: ConnectWorker, name: str) -> dict[str, str]:
    doc: dict[str, str] = worker.get(f"/connectors/{quote(name, safe='')}/config")
    return doc


def produce(c: KafkaCluster, topic: str, first: int, n: int) -> None:
    p = Producer({"bootstrap.servers": c.bootstrap_servers})
    for i in range(first, first + n):
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode(), partition=i % 3)
    assert p.flush(30) == 0


def keys_on(c: KafkaCluster, topic: str, want: int, timeout_s: float = 90) -> list[int]:
    """Every key read from the topic (duplicates kept), until `want` distinct or the timeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": c.bootstrap_servers,
            "group.id": f"check-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[int] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(set(seen)) < want and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None and m.key() is not None:
                    seen.append(int(m.key()))  # type: ignore[arg-type]
        for m in consumer.consume(1000, 1.0):  # anything beyond: duplicates, or too much
            if m.error() is None and m.key() is not None:
                seen.append(int(m.key()))  # type: ignore[arg-type]
    finally:
        consumer.close()
    return seen


@pytest.fixture
def names(unique_topic: Callable[[str], str]) -> tuple[str, str, str]:
    return f"ce-{uuid.uuid4().hex[:8]}", unique_topic("orders"), unique_topic("payments")


def test_apply_plan_update_remove_and_resume_on_the_connect_engine(
    tmp_path: Path,
    kafka_clusters: dict[str, KafkaCluster],
    connect_worker: ConnectWorker,
    names: tuple[str, str, str],
) -> None:
    name, orders, payments = names
    key = FlowKey(name, "dc1", "dc2")
    path = tmp_path / "mm2plan.yaml"
    url = connect_worker.url
    topics = {orders: 3, payments: 3}
    write(path, topology_doc(name, kafka_clusters, url, topics, [orders]))
    connector = {k: f"{name}.dc1->dc2.{k}" for k in KINDS}
    try:
        # apply: the three connectors, running, and the records arrive
        code, out = run("apply", str(path), "--auto-approve")
        assert code == 0, out
        assert f'dc2.replication["{name}/dc1->dc2"]: create applied' in out, out
        assert set(connector.values()) <= connectors(connect_worker)
        status = engine_of(path).describe(key)
        assert status.state is FlowState.RUNNING, status
        produce(kafka_clusters["dc1"], orders, 0, 300)
        assert set(keys_on(kafka_clusters["dc2"], f"dc1.{orders}", 300)) == set(range(300))
        code, out = run("plan", str(path), "--detailed-exitcode")
        assert code == 0 and "No changes" in out, out

        # a connector changed on the worker by hand: plan says so, with the live value
        source = connector["MirrorSourceConnector"]
        by_hand = {**config_of(connect_worker, source), "offset.lag.max": "500"}
        r = httpx.put(f"{url}/connectors/{quote(source, safe='')}/config", json=by_hand)
        assert r.status_code == 200, r.text
        code, out = run("plan", str(path), "--detailed-exitcode")
        assert code == ExitCode.CHANGES, out
        assert "config differs" in out, out
        assert re.search(r'~ offset\.lag\.max\s+= "500" -> "100"', out), out
        code, out = run("apply", str(path), "--auto-approve")
        assert code == 0 and "update applied" in out, out
        assert config_of(connect_worker, source)["offset.lag.max"] == "100"
        assert run("plan", str(path), "--detailed-exitcode")[0] == 0

        # a second topic pattern: the connectors are updated, the new topic replicates
        write(path, topology_doc(name, kafka_clusters, url, topics, [orders, payments]))
        code, out = run("plan", str(path))
        assert re.search(rf'~ topics\s+= \["{orders}"\] -> \["{orders}", "{payments}"\]', out), out
        code, out = run("apply", str(path), "--auto-approve")
        assert code == 0 and "update applied" in out, out
        assert config_of(connect_worker, source)["topics"] == f"{orders},{payments}"
        assert engine_of(path).describe(key).state is FlowState.RUNNING
        produce(kafka_clusters["dc1"], payments, 0, 200)
        assert set(keys_on(kafka_clusters["dc2"], f"dc1.{payments}", 200)) == set(range(200))
        assert run("plan", str(path), "--detailed-exitcode")[0] == 0

        # the flow removed: its connectors go (and the copies, which only it filled)
        write(path, topology_doc(name, kafka_clusters, url, topics, []))
        code, out = run("apply", str(path), "--auto-approve", "--allow-destroy")
        assert code == 0 and f'dc2.replication["{name}/dc1->dc2"]: delete applied' in out, out
        assert not set(connector.values()) & connectors(connect_worker)
        assert engine_of(path).describe(key).state is FlowState.ABSENT
        assert run("plan", str(path), "--detailed-exitcode")[0] == 0

        # back again: Connect kept the source offsets by connector name, so the new (empty)
        # copy gets what was written meanwhile and after, and nothing from before
        produce(kafka_clusters["dc1"], orders, 300, 100)
        write(path, topology_doc(name, kafka_clusters, url, topics, [orders]))
        code, out = run("apply", str(path), "--auto-approve")
        assert code == 0 and "create applied" in out, out
        produce(kafka_clusters["dc1"], orders, 400, 100)
        got = keys_on(kafka_clusters["dc2"], f"dc1.{orders}", 200)
        assert sorted(got) == list(range(300, 500)), (len(got), min(got, default=None))
    finally:
        engine_of(path).stop(key)


@pytest.fixture
def own_worker(lab_dir: Path, kafka_clusters: dict[str, KafkaCluster]) -> Iterator[ConnectWorker]:
    """A worker of its own, to kill without harming the session's."""
    worker = new_worker(f"connect-kill-{uuid.uuid4().hex[:6]}", lab_dir, kafka_clusters["dc2"])
    start_worker(worker)
    try:
        yield worker
    finally:
        worker.stop()


def test_a_worker_killed_mid_apply_is_a_clear_error_and_the_next_apply_finishes(
    tmp_path: Path,
    kafka_clusters: dict[str, KafkaCluster],
    own_worker: ConnectWorker,
    names: tuple[str, str, str],
) -> None:
    name, orders, _ = names
    key = FlowKey(name, "dc1", "dc2")
    path = tmp_path / "mm2plan.yaml"
    write(path, topology_doc(name, kafka_clusters, own_worker.url, {orders: 3}, [orders]))
    wanted = {f"{name}.dc1->dc2.{k}" for k in KINDS}
    apply = subprocess.Popen(
        [sys.executable, "-m", "mm2plan", "apply", str(path), "--auto-approve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    try:
        # killed as soon as it has the flow's first connector: mid-apply
        assert poll(
            lambda: bool(wanted & connectors(own_worker)) or apply.poll() is not None,
            bool,
            120,
            first_s=0.01,
            max_s=0.02,
        )
        assert apply.poll() is None, apply.communicate()[0]
        assert own_worker.pid is not None
        os.kill(own_worker.pid, signal.SIGKILL)
        out, _ = apply.communicate(timeout=120)
    finally:
        if apply.poll() is None:
            apply.kill()
    assert apply.returncode in (ExitCode.ERROR, ExitCode.PARTIAL), out
    assert f'dc2.replication["{name}/dc1->dc2"]: create failed (connect: flow {key}:' in out, out
    assert f"Kafka Connect worker at {own_worker.url}" in out, out
    assert "MirrorSourceConnector's config" in out, out  # taken, or unknown whether
    assert "hint:" in out and "PARTLY DONE" in out, out

    # while it is down, plan says so and stops
    code, out = run("plan", str(path))
    assert code == ExitCode.ERROR, out
    assert f"error[connect]: flow {key}: cannot reach the Kafka Connect worker at" in out, out
    assert "runtime.connect.url" in out, out

    # back up: the flow was not recorded, so plan still creates it, and apply finishes
    start_worker(own_worker)
    code, out = run("plan", str(path), "--detailed-exitcode")
    assert code == ExitCode.CHANGES and "dc1->dc2" in out, out
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    assert engine_of(path).describe(key).state is FlowState.RUNNING
    assert run("plan", str(path), "--detailed-exitcode")[0] == 0
    engine_of(path).stop(key)
    assert not wanted & connectors(own_worker)
