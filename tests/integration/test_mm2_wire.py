"""Real MirrorMaker 2 (dedicated mode, from the lab's jars) names and places topics exactly as
mm2plan plans them: the remote copy, heartbeats, checkpoints and offset-syncs topics."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from mm2plan.core.naming import DefaultReplicationPolicy
from mm2plan.core.resources import LiveState
from mm2plan.lab.cluster import KafkaCluster, stop_pid
from mm2plan.lab.connect import mirror_maker_command
from mm2plan.planning.planner import make_plan
from mm2plan.runtime.records import Checkpoint, Heartbeat, OffsetSync
from mm2plan.topology.loader import load_text

pytestmark = pytest.mark.kafka

T = TypeVar("T")


def topics_of(c: KafkaCluster) -> set[str]:
    return set(AdminClient(c.admin_config()).list_topics(timeout=10).topics)


def read_until(
    c: KafkaCluster,
    topic: str,
    decode: Callable[[bytes, bytes], T],
    wanted: Callable[[T], bool],
    timeout_s: float = 60,
) -> list[T]:
    """Every record of `topic` from the start, decoded, once one of them is `wanted`."""
    consumer = Consumer(
        {
            **c.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[T] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not any(wanted(r) for r in out):
            for msg in consumer.consume(100, 1.0):
                if msg.error() is None and msg.key() is not None and msg.value() is not None:
                    out.append(decode(msg.key(), msg.value()))
    finally:
        consumer.close()
    return out


def test_mm2_writes_where_mm2plan_plans(
    tmp_path: Path, kafka_clusters: dict[str, KafkaCluster], unique_topic
) -> None:  # type: ignore[no-untyped-def]
    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    topic = unique_topic("wire")
    admin = AdminClient(dc1.admin_config())
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    p = Producer(dc1.client_config())
    for i in range(10):
        p.produce(topic, f"v{i}".encode(), key=b"k")
    assert p.flush(30) == 0
    # A consumer group with a committed offset, for MM2 to checkpoint.
    group = f"g-{uuid.uuid4().hex[:6]}"
    c = Consumer(
        {
            **dc1.client_config(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 30
    while got < 5 and time.monotonic() < deadline:
        msg = c.poll(1)
        if msg is not None and msg.error() is None:
            got += 1
    c.commit(asynchronous=False)
    c.close()

    props = tmp_path / "mm2.properties"
    rf = (
        "replication.factor",
        "checkpoints.topic.replication.factor",
        "heartbeats.topic.replication.factor",
        "offset-syncs.topic.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
        "config.storage.replication.factor",
    )
    props.write_text(
        "\n".join(
            [
                "clusters = dc1, dc2",
                f"dc1.bootstrap.servers = {dc1.bootstrap_servers}",
                f"dc2.bootstrap.servers = {dc2.bootstrap_servers}",
                "dc1->dc2.enabled = true",
                f"dc1->dc2.topics = {topic}",
                f"dc1->dc2.groups = {group}",
                "dc2->dc1.enabled = false",
                "emit.checkpoints.interval.seconds = 1",
                "emit.heartbeats.interval.seconds = 1",
                "refresh.topics.interval.seconds = 1",
                "refresh.groups.interval.seconds = 1",
                *(f"{k} = 1" for k in rf),
            ]
        )
        + "\n"
    )
    log = (tmp_path / "mm2.log").open("wb")
    proc = subprocess.Popen(mirror_maker_command(props), stdout=log, stderr=subprocess.STDOUT)
    try:
        policy = DefaultReplicationPolicy()
        remote = policy.format_remote_topic("dc1", topic)
        wanted_dc2 = {remote, policy.heartbeats_topic(), policy.checkpoints_topic("dc1")}
        wanted_dc1 = {policy.offset_syncs_topic("dc2")}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if wanted_dc2 <= topics_of(dc2) and wanted_dc1 <= topics_of(dc1):
                break
            assert proc.poll() is None, (tmp_path / "mm2.log").read_text()[-3000:]
            time.sleep(1)
        assert wanted_dc2 <= topics_of(dc2), sorted(topics_of(dc2))
        assert wanted_dc1 <= topics_of(dc1), sorted(topics_of(dc1))

        # Real MM2's records decode with mm2plan's formats and say what MM2 did.
        beats = read_until(dc2, policy.heartbeats_topic(), Heartbeat.parse, lambda r: True)
        assert any((b.source, b.target) == ("dc1", "dc2") for b in beats), beats
        # Epoch milliseconds, and this MM2's newest one is now. Not every record: the session's
        # dc2 `heartbeats` also holds records other tests' flows wrote minutes earlier.
        assert all(b.timestamp_ms > 1_577_836_800_000 for b in beats), beats  # after 2020
        ours = max(b.timestamp_ms for b in beats if (b.source, b.target) == ("dc1", "dc2"))
        assert abs(ours - time.time() * 1000) < 300_000, ours
        checkpoints = read_until(
            dc2,
            policy.checkpoints_topic("dc1"),
            Checkpoint.parse,
            lambda r: r.group == group,
        )
        ours = [cp for cp in checkpoints if cp.group == group]
        assert ours and {cp.topic for cp in ours} == {remote}, checkpoints
        assert sum(cp.upstream_offset for cp in ours) >= 5  # the group read 5 and committed
        assert all(0 <= cp.downstream_offset <= cp.upstream_offset for cp in ours)
        syncs = read_until(
            dc1, policy.offset_syncs_topic("dc2"), OffsetSync.parse, lambda r: r.topic == topic
        )
        mine = [s for s in syncs if s.topic == topic]
        assert mine and all(s.partition in (0, 1) and s.downstream_offset >= 0 for s in mine)
    finally:
        stop_pid(proc.pid, 20)
        proc.wait()
        log.close()

    # mm2plan plans the same names in the same places for the same flow.
    text = (
        f"version: 1\ndefaults: {{replication_factor: 1}}\nclusters:\n"
        f"  dc1: {{bootstrap_servers: '{dc1.bootstrap_servers}', topics: {{{topic}: {{}}}}}}\n"
        f"  dc2: {{bootstrap_servers: '{dc2.bootstrap_servers}'}}\n"
        f"flows: [{{source: dc1, target: dc2, topics: ['{topic}']}}]\n"
    )
    t = load_text(text, "t.yaml").topology
    assert t is not None
    planned = {c.address for c in make_plan(t, LiveState({})).changes}
    for name in wanted_dc2:
        assert any(a.startswith("dc2.") and f'["{name}"]' in a for a in planned), name
    for name in wanted_dc1:
        assert any(a.startswith("dc1.") and f'["{name}"]' in a for a in planned), name
