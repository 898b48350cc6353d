"""`mm2plan failover` / `failback` on lab brokers of their own (dc1 is SIGKILLed and restarted
here), with sequence-numbered records: the key of record i is i, so what a group reads on each
cluster is checked record by record: nothing lost, nothing read twice."""

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.kafka.dr import dr_factory
from mm2plan.cli import Env, app
from mm2plan.core.model import Cluster
from mm2plan.core.polling import poll
from mm2plan.lab.cluster import KafkaCluster, new_cluster, start_clusters, stop_clusters
from mm2plan.ports.replication import FlowKey
from mm2plan.runtime.engine import BundledEngine

pytestmark = pytest.mark.kafka

TOPIC = "orders"
GROUP = "orders-service"
PARTITIONS = 3


def run(*args: str) -> tuple[int, str]:
    out = Console(file=io.StringIO(), record=True, width=250, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=250, color_system=None)
    result = CliRunner().invoke(
        app, list(args), obj=Env(out=out, err=err, stdin_isatty=lambda: False)
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + err.export_text()


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    out = Console(file=io.StringIO(), record=True, width=250, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=250, color_system=None)
    result = CliRunner().invoke(
        app, list(args), obj=Env(out=out, err=err, stdin_isatty=lambda: False)
    )
    text = out.export_text()
    assert text.strip(), err.export_text()
    return result.exit_code, json.loads(text)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[KafkaCluster, KafkaCluster]]:
    clusters = [new_cluster("dc1", tmp_path / "lab"), new_cluster("dc2", tmp_path / "lab")]
    start_clusters(clusters)
    try:
        yield clusters[0], clusters[1]
    finally:
        stop_clusters(clusters)


def topology(path: Path, dc1: KafkaCluster, dc2: KafkaCluster) -> Path:
    doc = {
        "version": 1,
        "name": f"fo-{uuid.uuid4().hex[:6]}",
        "defaults": {"replication_factor": 1},
        "clusters": {
            "dc1": {
                "bootstrap_servers": dc1.bootstrap_servers,
                "topics": {TOPIC: {"partitions": PARTITIONS}},
            },
            "dc2": {
                "bootstrap_servers": dc2.bootstrap_servers,
                "topics": {TOPIC: {"partitions": PARTITIONS}},
            },
        },
        "flows": [
            {
                "source": "dc1",
                "target": "dc2",
                "topics": [TOPIC],
                "properties": {"offset.flush.interval.ms": "200"},
            }
        ],
        "apps": {
            GROUP: {
                "principal": "User:orders",
                "clusters": ["dc1", "dc2"],
                "consumes": [TOPIC],
                "produces": [TOPIC],
                "groups": [GROUP],
            }
        },
    }
    path.write_text(json.dumps(doc))
    return path


def produce(c: KafkaCluster, first: int, n: int, topic: str = TOPIC) -> None:
    p = Producer({"bootstrap.servers": c.bootstrap_servers, "linger.ms": 5})
    for i in range(first, first + n):
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode(), partition=i % PARTITIONS)
    assert p.flush(30) == 0


def consume(
    c: KafkaCluster, subscription: list[str], limit: int | None = None, idle_s: float = 4.0
) -> list[int]:
    """The app: reads as group GROUP, commits what it read, and stops after `limit` records or
    once nothing arrives for idle_s."""
    consumer = Consumer(
        {
            "bootstrap.servers": c.bootstrap_servers,
            "group.id": GROUP,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe(subscription)
    got: list[int] = []
    last = time.monotonic()
    try:
        while (limit is None or len(got) < limit) and time.monotonic() - last < idle_s:
            want = 500 if limit is None else min(500, limit - len(got))
            msgs = [m for m in consumer.consume(want, 0.5) if m.error() is None]
            if msgs:
                last = time.monotonic()
            got += [int(m.key()) for m in msgs]  # type: ignore[arg-type]
            if msgs:
                consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return got


def ends(c: KafkaCluster, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": "ends"})
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in md.partitions
        )
    finally:
        consumer.close()


def committed(c: KafkaCluster, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": GROUP})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}
    finally:
        consumer.close()


def numbers_out(text: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "N", text)


def sigkill(c: KafkaCluster) -> None:
    assert c.pid is not None
    os.kill(c.pid, signal.SIGKILL)
    c.stop(5)


def await_replicated(dc1: KafkaCluster, dc2: KafkaCluster) -> None:
    want = ends(dc1, TOPIC)
    got = poll(lambda: ends(dc2, f"dc1.{TOPIC}"), lambda n: n >= want, 60)
    assert got == want


def await_checkpoint(path: Path, dc1: KafkaCluster, dc2: KafkaCluster) -> None:
    """Until dc2's checkpoints (what a failover with dc1 gone reads) hold what the group
    committed on dc1."""
    want = committed(dc1, TOPIC)
    dr = dr_factory(Cluster("dc2", dc2.bootstrap_servers))

    def checkpointed() -> dict[int, int]:
        cps = dr.checkpoints("dc1.checkpoints.internal")
        return {p: tc.checkpoint.upstream_offset for (g, _t, p), tc in cps.items() if g == GROUP}

    try:
        got = poll(checkpointed, lambda t: t == want, 30, first_s=0.5, max_s=1.0)
    finally:
        dr.close()
    assert got == want


def setup_half_consumed(
    tmp_path: Path, dc1: KafkaCluster, dc2: KafkaCluster
) -> tuple[Path, list[int]]:
    path = topology(tmp_path / "mm2plan.yaml", dc1, dc2)
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    produce(dc1, 0, 3000)
    processed = consume(dc1, [TOPIC], limit=1500)
    await_replicated(dc1, dc2)
    await_checkpoint(path, dc1, dc2)
    return path, processed


def stop_flow(path: Path) -> None:
    doc = json.loads(path.read_text())
    BundledEngine(path).stop(FlowKey(doc["name"], "dc1", "dc2"))


# --- (1) unplanned, (6) json and human, the client change -------------------------------------


def test_unplanned_failover_moves_the_group_without_loss_or_reread(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster]
) -> None:
    dc1, dc2 = lab
    path, processed = setup_half_consumed(tmp_path, dc1, dc2)
    try:
        sigkill(dc1)
        code, human = run("failover", str(path), "--from", "dc1", "--to", "dc2")
        assert code == 0, human
        code, doc = run_json("failover", str(path), "--from", "dc1", "--to", "dc2", "--json")
        assert code == 0 and doc["format_version"] == 1 and doc["mode"] == "unplanned"
        flat = numbers_out(" ".join(human.split()))  # ages differ between the two runs
        for n, step in enumerate(doc["steps"], 1):  # (6) the same runbook, both ways
            assert f"{n}. {step['title']}" in human, (step, human)
            for check in step["checks"]:
                mark = {"ok": "✓", "fail": "✗", "warn": "!"}[check["status"]]
                assert numbers_out(f"{mark} {' '.join(check['detail'].split())}") in flat, check
            for action in step["actions"]:
                assert numbers_out(" ".join(action.split())) in flat, action
        sub = doc["clients"][0]["subscribe"]
        assert sub == [r"^(dc1\.)?orders$"], sub

        code, out = run_json(
            "failover", str(path), "--from", "dc1", "--to", "dc2", "--execute", "--json"
        )
        assert code == 0, out
        executed = out["executed"]
        assert executed["pending"] == ["fence"], executed
        print(
            f"\nunplanned failover: groups could consume {executed['seconds_to_consume']} s "
            "after --execute"
        )
        print(f"the whole `failover --execute` took {executed['command_seconds']} s")
        assert executed["seconds_to_consume"] < 10, executed

        read = consume(dc2, [sub[0]])
        assert not set(read) & set(processed), "re-read on dc2"
        assert set(read) | set(processed) == set(range(3000)), "lost"
        assert len(read) == len(set(read)) == 1500
    finally:
        stop_flow(path)


# --- (2) planned, with --drain ----------------------------------------------------------------


def test_drained_failover_loses_and_rereads_nothing(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster]
) -> None:
    dc1, dc2 = lab
    path = topology(tmp_path / "mm2plan.yaml", dc1, dc2)
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    try:
        produce(dc1, 0, 4000)
        processed = consume(dc1, [TOPIC], limit=2500)
        # No authorizer on this lab: the fence cannot be set, the test stopped its producer.
        code, doc = run_json(
            "failover",
            str(path),
            "--from",
            "dc1",
            "--to",
            "dc2",
            "--drain",
            "--execute",
            "--json",
            "--force",
            "fence",
        )
        assert code == 0, (doc.get("refused"), doc["steps"])
        took = doc["executed"]["seconds_to_consume"]
        print(f"\ndrained failover: groups could consume {took} s after --execute (drain included)")
        exact = [o for o in doc["executed"]["offsets"] if o["basis"] in ("mapping", "synced")]
        assert exact, doc["executed"]
        code, out = run("plan", str(path))
        assert code == 0 and "replication[" not in out, out  # held: apply does not restart it
        read = consume(dc2, [r"^(dc1\.)?orders$"])
        assert not set(read) & set(processed), "re-read on dc2"
        assert set(read) | set(processed) == set(range(4000)), "lost"
    finally:
        stop_flow(path)


# --- (4) an interrupted --execute, re-run ---------------------------------------------------


def test_an_interrupted_execute_continues_where_it_stopped(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster]
) -> None:
    dc1, dc2 = lab
    path, processed = setup_half_consumed(tmp_path, dc1, dc2)
    try:
        sigkill(dc1)
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mm2plan",
                "failover",
                str(path),
                "--from",
                "dc1",
                "--to",
                "dc2",
                "--execute",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith("[stop-replication]"):
                    proc.kill()  # after the flow stopped, before the offsets are committed
                    break
            proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        code, doc = run_json(
            "failover", str(path), "--from", "dc1", "--to", "dc2", "--execute", "--json"
        )
        assert code == 0, doc
        assert "stop-replication" in doc["executed"]["skipped"], doc["executed"]
        assert "commit-offsets" in doc["executed"]["done"], doc["executed"]
        read = consume(dc2, [r"^(dc1\.)?orders$"])
        assert not set(read) & set(processed)
        assert set(read) | set(processed) == set(range(3000))
        # and once more: everything is done, nothing is repeated
        code, doc = run_json(
            "failover", str(path), "--from", "dc1", "--to", "dc2", "--execute", "--json"
        )
        assert code == 0 and "commit-offsets" in doc["executed"]["skipped"], doc["executed"]
    finally:
        stop_flow(path)


# --- (3) failback after writes on dc2 during the outage ----------------------------------------


def test_failback_brings_the_outage_writes_home_and_the_group_continues(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster]
) -> None:
    dc1, dc2 = lab
    path, processed = setup_half_consumed(tmp_path, dc1, dc2)
    try:
        stop_flow(path)
        produce(dc1, 3000, 90)  # never replicated: divergent once dc1 fails
        sigkill(dc1)
        code, out = run("failover", str(path), "--from", "dc1", "--to", "dc2", "--execute")
        assert code == 0, out
        processed += consume(dc2, [r"^(dc1\.)?orders$"], limit=1000)
        produce(dc2, 10_000, 600)  # the apps write on dc2 during the outage
        processed += consume(dc2, [r"^(dc1\.)?orders$"], limit=900)  # 500 old + 400 new

        start_clusters([dc1])  # dc1 returns, with its 90 divergent records
        code, out = run("failback", str(path), "--to", "dc1")
        assert code == 1 and "divergent" in out and "90" in out, out
        t0 = time.monotonic()
        code, out = run(
            "failback",
            str(path),
            "--to",
            "dc1",
            "--execute",
            "--keep-divergent",
            "--force",
            "fence",
        )
        assert code == 0, out
        print(
            f"\nfailback took {time.monotonic() - t0:.1f} s (the reverse flow's catch-up included)"
        )

        read = consume(dc1, [r"^(dc2\.)?orders$"])
        assert not set(read) & set(processed), "re-read on dc1"
        every = set(range(3090)) | set(range(10_000, 10_600))
        assert set(read) | set(processed) == every, sorted(every - set(read) - set(processed))[:20]

        code, out = run("plan", str(path))
        assert code == 0 and "replication[" not in out, out  # the original direction runs again
    finally:
        stop_flow(path)
