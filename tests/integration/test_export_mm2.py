"""`mm2plan export --format mm2-properties` runs on real MirrorMaker 2 (dedicated mode from the
lab's jars) and replicates exactly the topology's flows: the flow's records arrive in the
remote topic, and nothing runs the other way (no herder, so no remote topics, no Connect topics
and no heartbeats on the source; KAFKA-10710 would start a heartbeat connector there).

Aliases are fresh per test: the session's clusters are shared, and other tests run MM2 between
them as dc1/dc2, so `heartbeats` on dc1 may hold their records but never ours."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from mm2plan.core.javaprops import parse
from mm2plan.core.mm2_records import Heartbeat
from mm2plan.lab.cluster import SCRAM_MECHANISM, KafkaCluster, stop_pid
from mm2plan.lab.connect import mirror_maker_command
from mm2plan.planning.export import mm2_properties
from mm2plan.topology.loader import load_text

pytestmark = pytest.mark.kafka

RECORDS = 50


def topics_of(c: KafkaCluster) -> set[str]:
    admin = AdminClient(c.admin_config())
    return set(admin.list_topics(timeout=10).topics)


def create_topic(c: KafkaCluster, name: str, partitions: int) -> None:
    admin = AdminClient(c.admin_config())  # must outlive its future
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def produce(c: KafkaCluster, topic: str, n: int) -> None:
    p = Producer(c.client_config())
    for i in range(n):
        p.produce(topic, f"value-{i}".encode(), key=f"key-{i}".encode())
    assert p.flush(30) == 0


def read_all(c: KafkaCluster, topic: str, want: int, timeout_s: float) -> list[tuple[bytes, bytes]]:
    """Records of `topic` from the start until `want` have come (or the time is up)."""
    consumer = Consumer(
        {
            **c.admin_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < want and time.monotonic() < deadline:
            for msg in consumer.consume(100, 1.0):
                if msg.error() is None:
                    got.append((msg.key() or b"", msg.value() or b""))
    finally:
        consumer.close()
    return got


def heartbeats_on(c: KafkaCluster) -> list[Heartbeat]:
    if "heartbeats" not in topics_of(c):
        return []
    out = []
    for key, value in read_all(c, "heartbeats", 10**9, 8):
        out.append(Heartbeat.parse(key, value))
    return out


def export(tmp_path: Path, doc: dict[str, Any]) -> Path:
    loaded = load_text(yaml.safe_dump(doc), str(tmp_path / "mm2plan.yaml"))
    assert loaded.topology is not None and not loaded.diagnostics.has_errors()
    props = tmp_path / "mm2.properties"
    props.write_text(mm2_properties(loaded.topology).files[0].text)
    return props


def run_mm2(
    tmp_path: Path, props: Path, until: Callable[[], bool], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log_path = tmp_path / "mm2.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            mirror_maker_command(props),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + 150
    while not until():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_pid(proc.pid, 20)
            proc.wait()
            raise AssertionError(
                "MM2 did not replicate in time; its log ends with:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        time.sleep(1)
    return proc


def test_exported_properties_run_exactly_the_topologys_flow(
    tmp_path: Path, kafka_clusters: dict[str, KafkaCluster], unique_topic: Callable[[str], str]
) -> None:
    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    run = uuid.uuid4().hex[:6]
    src, dst = f"east{run}", f"west{run}"
    topic, decoy = unique_topic("export"), unique_topic("decoy")
    create_topic(dc1, topic, 2)
    create_topic(dc2, decoy, 1)  # what a dst->src flow would copy back, were one running
    produce(dc2, decoy, 5)
    props = export(
        tmp_path,
        {
            "version": 1,
            "defaults": {
                "replication_factor": 1,
                "properties": {"refresh.topics.interval.seconds": 1},
            },
            "clusters": {
                src: {"bootstrap_servers": dc1.bootstrap_servers},
                dst: {"bootstrap_servers": dc2.bootstrap_servers},
            },
            "flows": [{"source": src, "target": dst, "topics": [topic, decoy]}],
        },
    )
    entries = {e.key: e.value for e in parse(props.read_text())}
    assert entries[f"{dst}->{src}.enabled"] == "false"
    assert entries[f"{dst}->{src}.emit.heartbeats.enabled"] == "false"
    remote = f"{src}.{topic}"
    produce(dc1, topic, RECORDS)

    def copied() -> bool:
        return remote in topics_of(dc2) and len(read_all(dc2, remote, RECORDS, 5)) >= RECORDS

    proc = run_mm2(tmp_path, props, copied)
    try:
        got = sorted(read_all(dc2, remote, RECORDS, 30))
        assert got == sorted((f"key-{i}".encode(), f"value-{i}".encode()) for i in range(RECORDS))
        # The flow's own heartbeat connector writes to its target, as mm2plan plans.
        assert any((b.source, b.target) == (src, dst) for b in heartbeats_on(dc2)), (
            "no heartbeats from the flow's connector on its target"
        )
        time.sleep(5)  # every herder starts at once; give a wrong one time to show itself
        on_dc1 = topics_of(dc1)
        assert not [t for t in on_dc1 if t.startswith(f"{dst}.")], sorted(on_dc1)
        # No herder dst->src at all: its Connect topics would be on dc1. (dc1 does hold the
        # flow's own mm2-offset-syncs.<dst>.internal: offset syncs live on the source.)
        herder_topics = {f"mm2-{k}.{dst}.internal" for k in ("offsets", "configs", "status")}
        assert not herder_topics & on_dc1, sorted(on_dc1)
        assert f"mm2-offset-syncs.{dst}.internal" in on_dc1
        assert f"mm2-offsets.{src}.internal" in topics_of(dc2)
        assert not [b for b in heartbeats_on(dc1) if {b.source, b.target} == {src, dst}]
        assert f"{dst}.{decoy}" not in on_dc1
    finally:
        stop_pid(proc.pid, 20)
        proc.wait()


def test_secrets_by_reference_reach_real_mm2_through_its_env_provider(
    tmp_path: Path,
    kafka_clusters: dict[str, KafkaCluster],
    scram_cluster: KafkaCluster,
    unique_topic: Callable[[str], str],
) -> None:
    """A SCRAM target whose password is `${env:..}` in the topology: the export writes a JAAS
    login referring to it and configures EnvVarConfigProvider, and MM2 authenticates with it."""
    dc1, secure = kafka_clusters["dc1"], scram_cluster
    admin = secure.admin_config()
    password_var = f"MM2PLAN_IT_{uuid.uuid4().hex[:6].upper()}"
    run = uuid.uuid4().hex[:6]
    src, dst = f"plain{run}", f"scram{run}"
    topic = unique_topic("secret")
    create_topic(dc1, topic, 1)
    props = export(
        tmp_path,
        {
            "version": 1,
            "defaults": {"replication_factor": 1},
            "clusters": {
                src: {"bootstrap_servers": dc1.bootstrap_servers},
                dst: {
                    "bootstrap_servers": secure.bootstrap_servers,
                    "config": {
                        "security.protocol": "SASL_PLAINTEXT",
                        "sasl.mechanism": SCRAM_MECHANISM,
                        "sasl.username": admin["sasl.username"],
                        "sasl.password": "${env:" + password_var + "}",
                    },
                },
            },
            "flows": [{"source": src, "target": dst, "topics": [topic], "emit_checkpoints": False}],
        },
    )
    text = props.read_text()
    assert admin["sasl.password"] not in text
    assert "${env:" + password_var + "}" in text
    produce(dc1, topic, 10)
    remote = f"{src}.{topic}"

    def copied() -> bool:
        return remote in topics_of(secure) and len(read_all(secure, remote, 10, 5)) >= 10

    proc = run_mm2(tmp_path, props, copied, {password_var: admin["sasl.password"]})
    stop_pid(proc.pid, 20)
    proc.wait()
