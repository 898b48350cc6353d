"""`mm2plan status` on real brokers: a flow applied on the bundled runtime is running with lag 0
within the SLO (exit 0); after `runtime stop` and more records, Kafka still gives the exact lag
(the source's end offsets minus the runtime's progress on the target), over the topology's low
SLO, and status exits 1."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.lab.cluster import KafkaCluster
from mm2plan.ports.replication import FlowKey
from mm2plan.runtime.engine import BundledEngine

pytestmark = pytest.mark.kafka


def run(*args: str) -> tuple[int, str]:
    out = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    result = CliRunner().invoke(
        app, list(args), obj=Env(out=out, err=err, stdin_isatty=lambda: False)
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + err.export_text()


def status(path: Path) -> tuple[int, dict[str, Any]]:
    code, out = run("status", str(path), "--json")
    try:
        return code, json.loads(out)
    except ValueError:
        raise AssertionError(out) from None


@pytest.fixture
def lab_topology(
    tmp_path: Path,
    kafka_clusters: dict[str, KafkaCluster],
    unique_topic,  # type: ignore[no-untyped-def]
) -> Iterator[tuple[Path, str, FlowKey]]:
    name = f"st-{uuid.uuid4().hex[:8]}"
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
        "slo": {"max_lag_records": 50, "max_lag_seconds": 120},
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


def orders_of(doc: dict[str, Any], topic: str) -> dict[str, Any]:
    [flow] = doc["flows"]
    return next(t for t in flow["topics"] if t["topic"] == topic)


def test_status_is_within_the_slo_while_copying_and_outside_once_stopped_and_behind(
    kafka_clusters: dict[str, KafkaCluster], lab_topology: tuple[Path, str, FlowKey]
) -> None:
    path, topic, _key = lab_topology
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    produce(kafka_clusters["dc1"], topic, 0, 100)

    deadline = time.monotonic() + 60
    while True:
        code, doc = status(path)
        [flow] = doc["flows"]
        caught_up = flow["lag_records"]["value"] == 0 and flow["heartbeat_age_s"]["value"]
        if (code == 0 and caught_up) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert code == ExitCode.OK, json.dumps(doc, indent=2)
    assert doc["format_version"] == 1 and doc["within_slo"] and flow["within_slo"]
    assert flow["state"] == "running" and flow["engine"] == "bundled"
    assert flow["lag_records"] == {"value": 0, "verdict": "ok", "basis": "kafka", "limit": 50}
    assert flow["lag_seconds"]["value"] == 0 and flow["lag_seconds"]["verdict"] == "ok"
    heartbeat = flow["heartbeat_age_s"]
    assert heartbeat["verdict"] == "ok" and heartbeat["basis"] == "kafka"
    orders = orders_of(doc, topic)
    assert orders["remote_topic"] == f"dc1.{topic}"
    assert sorted(p["end_offset"] for p in orders["partitions"]) == [33, 33, 34]
    assert all(p["next_offset"] == p["end_offset"] for p in orders["partitions"])
    assert doc["clusters"]["dc1"]["reachable"] and doc["clusters"]["dc2"]["reachable"]
    code, out = run("status", str(path))
    assert code == 0 and "1 flow running within the SLO" in out, out

    code, out = run("runtime", "stop", str(path))
    assert code == 0, out
    produce(kafka_clusters["dc1"], topic, 100, 200)
    code, doc = status(path)
    [flow] = doc["flows"]
    assert code == ExitCode.ERROR, json.dumps(doc, indent=2)
    assert not doc["within_slo"] and flow["state"] == "stopped"
    orders = orders_of(doc, topic)
    # exact even with the runtime down: 200 records produced after it stopped
    assert orders["lag_records"]["value"] == 200 and orders["lag_records"]["basis"] == "kafka"
    assert flow["lag_records"]["value"] >= 200 and flow["lag_records"]["verdict"] == "breach"
    assert flow["lag_seconds"]["value"] > 0
    assert flow["problems"][0] == "stopped"
    assert any("(slo.max_lag_records)" in p for p in flow["problems"]), flow["problems"]
    code, out = run("status", str(path), "-v")
    assert code == 1 and "outside the SLO" in out and f"{topic} -> dc1.{topic}" in out, out
