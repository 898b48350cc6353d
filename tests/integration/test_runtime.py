"""The bundled replicator on real brokers: what it copies, what it creates, what it never does.

Each test runs Replicator threads in this process (one per flow) against the session's dc1 and
dc2, on topics no other test uses.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from mm2plan.adapters.kafka.confluent import confluent_admin_factory
from mm2plan.core.bookkeeping import PROVENANCE_HEADER
from mm2plan.core.model import Topology
from mm2plan.core.resources import LiveState
from mm2plan.lab.cluster import KafkaCluster
from mm2plan.planning.plan import Action
from mm2plan.planning.planner import make_plan
from mm2plan.runtime.config import flow_config
from mm2plan.runtime.records import Checkpoint
from mm2plan.runtime.replicator import Replicator
from mm2plan.runtime.status import ProcessReport
from mm2plan.topology.loader import load_text

pytestmark = pytest.mark.kafka

FAST = {
    "refresh.topics.interval.seconds": 1,
    "emit.checkpoints.interval.seconds": 1,
    "sync.group.offsets.interval.seconds": 1,
    "sync.topic.configs.interval.seconds": 1,
    "offset.flush.interval.ms": 200,
}


def topology(
    clusters: dict[str, KafkaCluster],
    flows: list[dict[str, Any]],
    policy: str = "default",
) -> Topology:
    doc = {
        "version": 1,
        "name": f"rt-{uuid.uuid4().hex[:8]}",
        "defaults": {"replication_factor": 1, "replication_policy": policy},
        "clusters": {
            n: {"bootstrap_servers": clusters[n].bootstrap_servers} for n in ("dc1", "dc2")
        },
        "flows": [{"properties": FAST, **f} for f in flows],
    }
    result = load_text(json.dumps(doc), "runtime-test.yaml")
    assert result.topology is not None, result.diagnostics
    return result.topology


@contextmanager
def replicating(t: Topology) -> Iterator[dict[str, ProcessReport]]:
    """Every flow of `t` replicating in a thread; their latest reports by flow name."""
    reports: dict[str, ProcessReport] = {}
    stop = threading.Event()
    errors: list[BaseException] = []
    threads = []
    for flow in t.flows:
        rep = Replicator(flow_config(t, flow), report=lambda r: reports.__setitem__(r.flow, r))

        def run(rep: Replicator = rep) -> None:
            try:
                rep.run(stop)
            except BaseException as exc:  # surfaced by the test
                logging.getLogger(__name__).exception("replicator %s died", rep.cfg.name)
                errors.append(exc)

        th = threading.Thread(target=run, daemon=True)
        th.start()
        threads.append(th)
    try:
        yield reports
    finally:
        stop.set()
        for th in threads:
            th.join(60)
    assert not errors, errors


_ADMINS: dict[str, AdminClient] = {}


def admin(c: KafkaCluster) -> AdminClient:
    """One per cluster, kept: a client dropped before its future resolves cancels it."""
    if c.bootstrap_servers not in _ADMINS:
        _ADMINS[c.bootstrap_servers] = AdminClient(c.admin_config())
    return _ADMINS[c.bootstrap_servers]


def create(c: KafkaCluster, topic: str, partitions: int = 1, **config: str) -> None:
    admin(c).create_topics([NewTopic(topic, partitions, 1, config=config)])[topic].result(30)


def read_all(
    c: KafkaCluster, topic: str, count: int, timeout_s: float = 60, committed: bool = False
) -> list[Any]:
    """The first `count` records of `topic` (every partition from its start), in partition
    order, or fewer at the deadline."""
    consumer = Consumer(
        {
            **c.client_config(),
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
        }
    )
    deadline = time.monotonic() + timeout_s
    out: list[Any] = []
    try:
        while time.monotonic() < deadline:
            md = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if md is not None and md.error is None and md.partitions:
                break
            time.sleep(0.2)
        assert md is not None and md.partitions, f"{topic} never appeared on {c.name}"
        consumer.assign([TopicPartition(topic, p, 0) for p in md.partitions])
        while len(out) < count and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None:
                    out.append(m)
    finally:
        consumer.close()
    return sorted(out, key=lambda m: (m.partition(), m.offset()))


def eventually(check: Callable[[], bool], timeout_s: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except KafkaException as exc:  # a topic created a moment ago: no leader yet
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout_s}s: {what} (last error: {last})")


def count(c: KafkaCluster, topic: str) -> int:
    consumer = Consumer({**c.client_config(), "group.id": "count"})
    try:
        md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return 0
        total = 0
        for p in md.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def test_records_are_copied_exactly(kafka_clusters, unique_topic) -> None:  # type: ignore[no-untyped-def]
    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    topic = unique_topic("exact")
    create(dc1, topic, 3)
    p = Producer(dc1.client_config())
    sent = []
    for i in range(300):
        key = None if i % 7 == 0 else f"k{i}".encode()
        value = None if i % 11 == 0 else f"v{i}".encode() * (i % 5 + 1)
        headers = (
            [("h", f"x{i}".encode()), ("h", None), ("seq", str(i).encode())] if i % 3 else None
        )
        ts = 1_700_000_000_000 + i * 1000
        p.produce(topic, value, key, partition=i % 3, timestamp=ts, headers=headers)
        sent.append((i % 3, key, value, ts, headers or []))
    assert p.flush(30) == 0
    t = topology(kafka_clusters, [{"source": "dc1", "target": "dc2", "topics": [topic]}])
    with replicating(t):
        got = read_all(dc2, f"dc1.{topic}", 300)
    want = sorted(sent, key=lambda r: r[0])  # partition order; within one, send order
    assert len(got) == 300
    for m, (part, key, value, ts, headers) in zip(got, want, strict=True):
        assert m.partition() == part
        assert m.key() == key and m.value() == value
        assert m.timestamp() == (1, ts)  # CreateTime, the source's
        assert (m.headers() or []) == headers


def test_new_topic_partition_growth_and_configs_are_mirrored(kafka_clusters, unique_topic) -> None:  # type: ignore[no-untyped-def]
    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    prefix = unique_topic("later")
    t = topology(kafka_clusters, [{"source": "dc1", "target": "dc2", "topics": [f"{prefix}.*"]}])
    with replicating(t) as reports:
        eventually(lambda: "dc1->dc2" in reports and reports["dc1->dc2"].state == "running")
        topic = f"{prefix}-a"
        create(dc1, topic, 2, **{"retention.ms": "7200000", "min.insync.replicas": "1"})
        p = Producer(dc1.client_config())
        for i in range(10):
            p.produce(topic, b"x", partition=i % 2)
        p.flush(30)
        remote = f"dc1.{topic}"
        eventually(lambda: count(dc2, remote) == 10, what="new topic copied")
        cfg = _configs(dc2, remote)
        assert cfg.get("retention.ms") == "7200000"
        assert "min.insync.replicas" not in cfg  # MM2's DefaultConfigPropertyFilter
        # Growth and a changed config follow.
        admin(dc1).create_partitions([NewPartitions(topic, 4)])[topic].result(30)
        admin(dc1).incremental_alter_configs([_set(topic, "retention.ms", "3600000")])[
            ConfigResource("TOPIC", topic)
        ].result(30)
        p = Producer(dc1.client_config())  # one that knows the new partitions
        for _ in range(4):
            p.produce(topic, b"y", partition=3)
        p.flush(30)
        eventually(lambda: count(dc2, remote) == 14, what="records of the new partition")
        eventually(lambda: _configs(dc2, remote).get("retention.ms") == "3600000", what="config")
        md = admin(dc2).list_topics(remote, timeout=10).topics[remote]
        assert len(md.partitions) == 4
    # What the runtime created is mm2plan's: the plan of the same topology shows no change.
    live = LiveState(
        {n: confluent_admin_factory(t.clusters[n]).read_state(data="owned") for n in ("dc1", "dc2")}
    )
    plan = make_plan(t, live, ["dc1", "dc2"])
    changes = [c for c in plan.changes if c.action is not Action.NOOP and c.address.name == remote]
    assert not changes, [c.to_json() for c in changes]


def _set(topic: str, key: str, value: str) -> ConfigResource:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

    entry = ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
    return ConfigResource("TOPIC", topic, incremental_configs=[entry])


def _configs(c: KafkaCluster, topic: str) -> dict[str, str]:
    res = ConfigResource("TOPIC", topic)
    entries = admin(c).describe_configs([res])[res].result(30)
    return {k: e.value for k, e in entries.items() if e.source == 1}


def test_default_policy_active_active_does_not_loop(kafka_clusters, unique_topic) -> None:  # type: ignore[no-untyped-def]
    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    topic = unique_topic("aa")
    both = [rf"(dc1\.|dc2\.)*{topic}"]
    for c in (dc1, dc2):
        create(c, topic)
    t = topology(
        kafka_clusters,
        [
            {"source": "dc1", "target": "dc2", "topics": both},
            {"source": "dc2", "target": "dc1", "topics": both},
        ],
    )
    for c, n in ((dc1, 5), (dc2, 7)):
        p = Producer(c.client_config())
        for _ in range(n):
            p.produce(topic, b"r")
        p.flush(30)
    with replicating(t):
        eventually(lambda: count(dc2, f"dc1.{topic}") == 5 and count(dc1, f"dc2.{topic}") == 7)
        time.sleep(3)  # three topic refreshes: a loop would have made its copy by now
    for c in (dc1, dc2):
        names = set(admin(c).list_topics(timeout=10).topics)
        assert not {n for n in names if n.endswith(topic) and n.count(".") > 1}, names


def test_identity_active_active_with_provenance_headers_does_not_loop(
    kafka_clusters, unique_topic
) -> None:  # type: ignore[no-untyped-def]
    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    topic = unique_topic("id")
    for c in (dc1, dc2):
        create(c, topic)
    flow = {"topics": [topic], "loop_prevention": "headers", "emit_heartbeats": False}
    t = topology(
        kafka_clusters,
        [{"source": "dc1", "target": "dc2", **flow}, {"source": "dc2", "target": "dc1", **flow}],
        policy="identity",
    )
    for c, n in ((dc1, 5), (dc2, 7)):
        p = Producer(c.client_config())
        for i in range(n):
            p.produce(topic, f"{c.name}-{i}".encode())
        p.flush(30)
    with replicating(t) as reports:
        eventually(lambda: count(dc1, topic) == 12 and count(dc2, topic) == 12, what="12 each")
        time.sleep(3)
        assert count(dc1, topic) == 12 and count(dc2, topic) == 12
        assert sum(r.skipped_loops for r in reports.values()) == 12  # each copy, not re-copied
    on_dc2 = read_all(dc2, topic, 12)
    chains = [dict(m.headers() or []).get(PROVENANCE_HEADER) for m in on_dc2]
    assert sorted(chains, key=lambda c: c or b"") == [None] * 7 + [b"dc1"] * 5


def test_failed_over_group_rereads_nothing(kafka_clusters, unique_topic) -> None:  # type: ignore[no-untyped-def]
    """A group halfway through on dc1; its checkpoint and synced offset on dc2 put it on the
    very next record: MM2's translation would put it up to offset.lag.max records back."""
    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    topic = unique_topic("fo")
    create(dc1, topic, 2)
    p = Producer(dc1.client_config())
    for i in range(1000):
        p.produce(topic, str(i).encode(), partition=i % 2)
    p.flush(30)
    group = f"app-{uuid.uuid4().hex[:6]}"
    c = Consumer({**dc1.client_config(), "group.id": group, "enable.auto.commit": False})
    seen: set[int] = set()
    for part, n in ((0, 219), (1, 218)):  # 437 of 1000 processed, on both partitions
        c.assign([TopicPartition(topic, part, 0)])
        got = 0
        while got < n:
            for m in c.consume(n - got, 5):
                seen.add(int(m.value()))
                got += 1
        c.commit(asynchronous=False)
    c.close()
    committed = {0: 219, 1: 218}
    t = topology(
        kafka_clusters, [{"source": "dc1", "target": "dc2", "topics": [topic], "groups": [group]}]
    )
    remote = f"dc1.{topic}"
    with replicating(t):
        eventually(lambda: count(dc2, remote) == 1000)

        def synced() -> bool:
            tps = [TopicPartition(remote, 0), TopicPartition(remote, 1)]
            res = (
                admin(dc2)
                .list_consumer_group_offsets([_group_tps(group, tps)], request_timeout=10)[group]
                .result()
            )
            return all(tp.offset >= 0 for tp in res.topic_partitions)

        eventually(synced, what="group offsets synced to dc2")
    checkpoints = [
        Checkpoint.parse(m.key(), m.value())
        for m in read_all(dc2, "dc1.checkpoints.internal", 10_000, timeout_s=5)
        if m.key() and m.value()
    ]
    mine = {cp.partition: cp for cp in checkpoints if cp.group == group}
    assert {p: cp.upstream_offset for p, cp in mine.items()} == committed
    # The group on dc2 reads exactly what it had not read on dc1.
    c = Consumer({**dc2.client_config(), "group.id": group, "enable.auto.commit": False})
    c.subscribe([remote])
    rest: list[int] = []
    deadline = time.monotonic() + 60
    while len(rest) < 1000 - 437 and time.monotonic() < deadline:
        rest += [int(m.value()) for m in c.consume(1000, 1) if m.error() is None]
    c.close()
    assert not set(rest) & seen, "re-read records the group had processed on dc1"
    assert set(rest) | seen == set(range(1000)) and len(rest) == 1000 - 437


def _group_tps(group: str, tps: list[TopicPartition]) -> Any:
    from confluent_kafka import ConsumerGroupTopicPartitions

    return ConsumerGroupTopicPartitions(group, tps)
