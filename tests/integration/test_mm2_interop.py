"""MM2's own Java client reads mm2plan's checkpoints: `RemoteClusterUtils.translateOffsets`, from
the lab's jars, run as a small program (java/TranslateOffsets.java, compiled here with javac),
returns exactly the downstream offsets mm2plan wrote, so a team's MM2 failover tooling works
against the bundled runtime unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from mm2plan.core.naming import DefaultReplicationPolicy
from mm2plan.lab.cluster import KafkaCluster, classpath, write_log4j
from mm2plan.lab.jars import ensure_kafka, require_java
from mm2plan.runtime.records import Checkpoint

pytestmark = pytest.mark.kafka

JAVA_SOURCE = Path(__file__).parent / "java" / "TranslateOffsets.java"
RESULT_PREFIX = "TRANSLATED "
POLICY = DefaultReplicationPolicy()

Translated = dict[tuple[str, int], tuple[int, str]]
"""(downstream topic, partition) -> (downstream offset, metadata), as MM2's client returns it."""
TranslateOffsets = Callable[[KafkaCluster, str, str], Translated]


@pytest.fixture(scope="module")
def translate_offsets(tmp_path_factory: pytest.TempPathFactory) -> TranslateOffsets:
    """Compile TranslateOffsets.java against the lab's jars; a function running it."""
    javac = shutil.which("javac")
    if javac is None:
        pytest.fail("the interop tests compile a Java program: they need a JDK's javac on PATH")
    libs = ensure_kafka()
    out = tmp_path_factory.mktemp("translate-offsets")
    built = subprocess.run(
        [javac, "-cp", classpath(libs), "-d", str(out), str(JAVA_SOURCE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    log4j = write_log4j(out / "log4j2.properties", "WARN")

    def run(cluster: KafkaCluster, remote_alias: str, group: str) -> Translated:
        cmd = [
            require_java(),
            "-XX:TieredStopAtLevel=1",
            "-cp",
            f"{out}{os.pathsep}{classpath(libs)}",
            f"-Dlog4j2.configurationFile={log4j}",
            "TranslateOffsets",
            cluster.bootstrap_servers,
            remote_alias,
            group,
            "30000",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        lines = [x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
        assert len(lines) == 1, done.stdout[-3000:]
        return {
            (e["topic"], e["partition"]): (e["offset"], e["metadata"])
            for e in json.loads(lines[0][len(RESULT_PREFIX) :])
        }

    return run


def ensure_checkpoints_topic(target: KafkaCluster, source_alias: str) -> str:
    """`<source>.checkpoints.internal` as MM2 creates it (one partition, compacted): MM2's
    client reads partition 0 only. Kept if another test (or real MM2) made it first."""
    name = POLICY.checkpoints_topic(source_alias)
    admin = AdminClient(target.admin_config())
    if name not in admin.list_topics(timeout=30).topics:
        fut = admin.create_topics([NewTopic(name, 1, 1, config={"cleanup.policy": "compact"})])
        try:
            fut[name].result(30)
        except Exception as exc:  # created meanwhile by a concurrent writer
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    return name


def test_java_translate_offsets_reads_mm2plan_checkpoints(
    kafka_clusters: dict[str, KafkaCluster],
    translate_offsets: TranslateOffsets,
    unique_topic: Callable[[str], str],
) -> None:
    dc2 = kafka_clusters["dc2"]
    topic = ensure_checkpoints_topic(dc2, "dc1")
    group, other = f"g-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    orders = POLICY.format_remote_topic("dc1", unique_topic("orders"))
    audit = POLICY.format_remote_topic("dc1", unique_topic("audit"))
    written = [
        Checkpoint(group, orders, 0, 1000, 937, "first"),
        Checkpoint(group, orders, 2, 7, 3, 'with "quotes" and \\ backslash'),
        Checkpoint(other, orders, 1, 50, 41),
        Checkpoint(group, audit, 0, 2**40, 2**40 - 5),
        # A later checkpoint of the same partition wins, as it would after compaction.
        Checkpoint(group, orders, 0, 1500, 1436),
    ]
    p = Producer(dc2.client_config())
    for cp in written:
        p.produce(topic, cp.value_bytes(), cp.key_bytes(), partition=0)
    assert p.flush(30) == 0

    assert translate_offsets(dc2, "dc1", group) == {
        (orders, 0): (1436, ""),
        (orders, 2): (3, 'with "quotes" and \\ backslash'),
        (audit, 0): (2**40 - 5, ""),
    }
    assert translate_offsets(dc2, "dc1", other) == {(orders, 1): (41, "")}


def data_records(
    cluster: KafkaCluster, topic: str, partition: int, start: int
) -> Iterator[Message]:
    """The committed records of one partition from `start` on, until its end offset."""
    c = Consumer(
        {
            **cluster.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    c.assign([TopicPartition(topic, partition, start)])
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            msg = c.poll(1)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    return
                raise AssertionError(msg.error())
            yield msg
        raise AssertionError(f"{topic}[{partition}] not read to its end in 60 s")
    finally:
        c.close()


def record_at(cluster: KafkaCluster, topic: str, partition: int, offset: int) -> Message:
    """The first committed record of the partition at or after `offset`."""
    with closing(data_records(cluster, topic, partition, offset)) as msgs:
        return next(msgs)


def wait_for(what: str, probe: Callable[[], bool], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def checkpoints_for(cluster: KafkaCluster, source_alias: str, group: str) -> dict[int, Checkpoint]:
    """The latest checkpoint of `group` per partition (any topic) on the checkpoints topic."""
    got: dict[int, Checkpoint] = {}
    topic = POLICY.checkpoints_topic(source_alias)
    for msg in data_records(cluster, topic, 0, 0):
        cp = Checkpoint.parse(msg.key(), msg.value())
        if cp.group == group:
            got[cp.partition] = cp
    return got


def test_translated_offsets_of_bundled_runtime_reread_nothing(
    kafka_clusters: dict[str, KafkaCluster],
    translate_offsets: TranslateOffsets,
    unique_topic: Callable[[str], str],
) -> None:
    replicator = pytest.importorskip("mm2plan.runtime.replicator")
    from mm2plan.runtime.config import flow_config
    from mm2plan.topology.loader import load_text

    dc1, dc2 = kafka_clusters["dc1"], kafka_clusters["dc2"]
    topic, group = unique_topic("interop"), f"g-{uuid.uuid4().hex[:8]}"
    remote = POLICY.format_remote_topic("dc1", topic)
    admin = AdminClient(dc1.admin_config())  # must outlive its future
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    # Written in transactions: each commit marker takes an offset upstream that has no copy
    # downstream, so the exact translation is not the identity (MM2's is conservative there).
    tx = Producer({**dc1.client_config(), "transactional.id": f"tx-{uuid.uuid4().hex[:8]}"})
    tx.init_transactions(30)
    per_txn, txns = 10, 8
    for t in range(txns):
        tx.begin_transaction()
        for part in (0, 1):
            for i in range(per_txn):
                n = t * per_txn + i
                tx.produce(topic, f"v-{part}-{n}".encode(), f"k-{part}-{n}".encode(), part)
        tx.commit_transaction(30)
    total = per_txn * txns

    text = (
        "version: 1\n"
        "defaults: {replication_factor: 1}\n"
        "clusters:\n"
        f"  dc1: {{bootstrap_servers: '{dc1.bootstrap_servers}'}}\n"
        f"  dc2: {{bootstrap_servers: '{dc2.bootstrap_servers}'}}\n"
        "flows:\n"
        f"  - source: dc1\n    target: dc2\n    topics: ['{topic}']\n    groups: ['{group}']\n"
        "    properties:\n"
        "      emit.checkpoints.interval.seconds: 1\n"
        "      refresh.groups.interval.seconds: 1\n"
    )
    topology = load_text(text, "interop.yaml").topology
    assert topology is not None
    config = flow_config(topology, topology.flows[0])
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            replicator.Replicator(config).run(stop)
        except BaseException as exc:  # surfaced by the waits below
            failure.append(exc)

    worker = threading.Thread(target=run, name="replicator", daemon=True)
    worker.start()
    try:

        def copied() -> bool:
            assert not failure, failure
            md = AdminClient(dc2.admin_config()).list_topics(remote, timeout=10)
            if md.topics[remote].error is not None:
                return False
            return all(sum(1 for _ in data_records(dc2, remote, p, 0)) == total for p in (0, 1))

        wait_for(f"{remote} to hold {total} records per partition", copied)

        # The group reads part of each partition on dc1 and commits where it stopped.
        read = {0: 37, 1: 55}
        committed: dict[int, int] = {}
        for part, count in read.items():
            with closing(data_records(dc1, topic, part, 0)) as msgs:
                for _ in range(count):
                    last = next(msgs)
            committed[part] = last.offset() + 1
        c = Consumer({**dc1.client_config(), "group.id": group, "enable.auto.commit": False})
        c.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in committed.items()], asynchronous=False
        )
        c.close()
        assert committed[1] > read[1], "transaction markers should leave gaps upstream"

        def checkpointed() -> bool:
            assert not failure, failure
            cps = checkpoints_for(dc2, "dc1", group)
            return all(p in cps and cps[p].upstream_offset == o for p, o in committed.items())

        wait_for(f"the runtime's checkpoints of {group}", checkpointed)
    finally:
        stop.set()
        worker.join(60)
    assert not failure, failure

    translated = translate_offsets(dc2, "dc1", group)
    assert set(translated) == {(remote, 0), (remote, 1)}, translated
    for part, upstream in committed.items():
        downstream = translated[(remote, part)][0]
        # Exact: the downstream offset of the next record the group had not read, no re-read.
        assert downstream == read[part]
        source_next = record_at(dc1, topic, part, upstream)
        target_at = record_at(dc2, remote, part, downstream)
        assert (target_at.key(), target_at.value()) == (source_next.key(), source_next.value())
