"""The bundled replicator under faults, on lab brokers of its own per test (brokers are killed
and restarted here): kill -9 of the replicator during a produce, a target broker restart, and
taking over a flow that real MirrorMaker 2 was replicating. Every record carries a sequence
number (in its key, and its partition is seq % partitions), so the target is checked record by
record: none lost, duplicates counted (and printed: `pytest -s` shows them)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from mm2plan.lab.cluster import KafkaCluster, new_cluster, start_clusters, stop_clusters, stop_pid
from mm2plan.lab.connect import mirror_maker_command

pytestmark = pytest.mark.kafka

RUNNER = Path(__file__).with_name("run_replicator.py")
FLUSH_MS = 200
"""offset.flush.interval.ms of the flows here: progress is recorded this often."""


# --- lab, topology, processes ---------------------------------------------------------------


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[KafkaCluster, KafkaCluster]]:
    """dc1 and dc2, this test's own: it may stop and restart them."""
    clusters = [new_cluster("dc1", tmp_path / "lab"), new_cluster("dc2", tmp_path / "lab")]
    start_clusters(clusters)
    try:
        yield clusters[0], clusters[1]
    finally:
        stop_clusters(clusters)


def topology_file(
    path: Path, dc1: KafkaCluster, dc2: KafkaCluster, topic: str, exactly_once: bool = False
) -> Path:
    eos = "    exactly_once: true\n" if exactly_once else ""
    path.write_text(
        "version: 1\n"
        "defaults: {replication_factor: 1}\n"
        "clusters:\n"
        f"  dc1: {{bootstrap_servers: '{dc1.bootstrap_servers}'}}\n"
        f"  dc2: {{bootstrap_servers: '{dc2.bootstrap_servers}'}}\n"
        "flows:\n"
        "  - source: dc1\n"
        "    target: dc2\n"
        f"    topics: ['{topic}']\n"
        f"{eos}"
        "    properties:\n"
        "      refresh.topics.interval.seconds: 1\n"
        "      emit.checkpoints.interval.seconds: 1\n"
        f"      offset.flush.interval.ms: {FLUSH_MS}\n"
    )
    return path


class ReplicatorProcess:
    """tests/integration/run_replicator.py in a subprocess, its log appended across restarts."""

    def __init__(self, topology: Path, directory: Path) -> None:
        self.topology = topology
        self.report_path = directory / "report.json"
        self.log_path = directory / "replicator.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.report_path.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, str(RUNNER), str(self.topology), "0", str(self.report_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1

    def report(self) -> dict[str, Any] | None:
        """This process's last report (None before its first)."""
        try:
            r: dict[str, Any] = json.loads(self.report_path.read_text())
        except (OSError, ValueError):
            return None
        return r if self.proc is not None and r.get("pid") == self.proc.pid else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM: a clean stop records everything acknowledged; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"replicator ignored SIGTERM for {timeout_s}s\n{self.tail()}"
            ) from None

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def wait_copied(self, ends: dict[int, int], topic: str, timeout_s: float) -> None:
        """Until the report says every source partition is acknowledged up to `ends`."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            assert self.alive(), f"replicator exited\n{self.tail()}"
            r = self.report()
            if r is not None:
                last = r
                got = {p["partition"]: p["next_offset"] for p in r["partitions"]}
                failed = [p["failed"] for p in r["partitions"] if p["failed"]]
                assert not failed, failed
                if all(got.get(p, -1) >= end for p, end in ends.items()):
                    return
            time.sleep(0.2)
        raise AssertionError(f"not caught up in {timeout_s}s: ends {ends}, last {last}")

    def wait_copying(self, timeout_s: float = 60) -> None:
        """Until this process reports records copied."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.alive(), f"replicator exited\n{self.tail()}"
            r = self.report()
            if r is not None and r["records"] > 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"replicator copied nothing in {timeout_s}s\n{self.tail()}")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# --- records with sequence numbers ----------------------------------------------------------


def create_topic(c: KafkaCluster, topic: str, partitions: int, **config: str) -> None:
    admin = AdminClient(c.admin_config())
    admin.create_topics([NewTopic(topic, partitions, 1, config=config)])[topic].result(30)


def seq_key(seq: int) -> bytes:
    return f"seq-{seq:09d}".encode()


@dataclass
class SeqProducer:
    """Writes seqs [first, first + count) into `topic` at about `rate` records/s from a thread:
    seq s goes to partition s % partitions, idempotently (the source holds each seq once)."""

    cluster: KafkaCluster
    topic: str
    partitions: int
    first: int
    count: int
    rate: float
    transactional_batch: int = 0
    """When > 0, written in transactions of this many records per partition (offset gaps)."""
    produced: int = 0
    error: BaseException | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def run(self) -> None:
        conf: dict[str, Any] = {
            **self.cluster.client_config(),
            "enable.idempotence": True,
            "linger.ms": 5,
        }
        if self.transactional_batch:
            conf["transactional.id"] = f"seq-{uuid.uuid4().hex[:8]}"
        p = Producer(conf)
        pad = b"x" * 100
        chunk = self.transactional_batch * self.partitions or 1000
        t0 = time.monotonic()
        if self.transactional_batch:
            p.init_transactions(30)
        for start in range(self.first, self.first + self.count, chunk):
            if self.transactional_batch:
                p.begin_transaction()
            for seq in range(start, min(start + chunk, self.first + self.count)):
                while True:
                    try:
                        p.produce(self.topic, pad, seq_key(seq), seq % self.partitions)
                        break
                    except BufferError:
                        p.poll(0.05)
            if self.transactional_batch:
                p.commit_transaction(30)
            p.poll(0)
            self.produced = min(start + chunk, self.first + self.count) - self.first
            ahead = self.produced / self.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        left = p.flush(60)
        if left:
            raise AssertionError(f"{left} source records not acknowledged")

    def start(self) -> SeqProducer:
        def target() -> None:
            try:
                self.run()
            except BaseException as exc:  # reported by join()
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True, name="seq-producer")
        self.thread.start()
        return self

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def join(self, timeout_s: float = 120) -> None:
        assert self.thread is not None
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "the producer did not finish"
        if self.error is not None:
            raise self.error


def end_offsets(c: KafkaCluster, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({**c.client_config(), "group.id": "ends", "enable.auto.commit": False})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def record_ends(c: KafkaCluster, topic: str, partitions: int) -> dict[int, int]:
    """Per partition, the offset after its last record (its end, unless a transaction marker
    comes last), read from the partition itself."""
    ends = end_offsets(c, topic, partitions)
    consumer = Consumer(
        {**c.client_config(), "group.id": "record-ends", "enable.auto.commit": False}
    )
    out = dict.fromkeys(range(partitions), 0)
    try:
        for p, end in ends.items():
            consumer.assign([TopicPartition(topic, p, max(0, end - 100))])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                msgs = consumer.consume(1000, 0.5)
                for m in msgs:
                    if m.error() is None:
                        out[p] = max(out[p], (m.offset() or 0) + 1)
                if not msgs and out[p]:
                    break
    finally:
        consumer.close()
    return out


def read_seqs(
    c: KafkaCluster, topic: str, partitions: int, read_committed: bool, timeout_s: float = 60
) -> list[tuple[int, int]]:
    """(partition, seq) of every record in `topic`, read to its end."""
    ends = end_offsets(c, topic, partitions)
    consumer = Consumer(
        {
            **c.client_config(),
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    todo = {p for p, end in ends.items() if end > 0}
    out: list[tuple[int, int]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while todo and time.monotonic() < deadline:
            for m in consumer.consume(10_000, 0.5):
                err = m.error()
                if err is not None:
                    # read_committed stops at the last stable offset: with no open
                    # transaction that is the end.
                    eof = err.code() == KafkaError._PARTITION_EOF
                    if eof and (m.offset() or 0) >= ends[m.partition() or 0]:
                        todo.discard(m.partition() or 0)
                    continue
                key = m.key() or b""
                assert key.startswith(b"seq-"), key
                out.append((m.partition() or 0, int(key[4:])))
                if (m.offset() or 0) + 1 >= ends[m.partition() or 0]:
                    todo.discard(m.partition() or 0)
    finally:
        consumer.close()
    assert not todo, f"could not read partitions {sorted(todo)} of {topic} to their ends"
    return out


@dataclass(frozen=True)
class Tally:
    records: int
    missing: list[int]
    duplicates: int
    """Records beyond the first copy of their seq."""
    misplaced: int
    """Records in another partition than their seq's."""
    strangers: int
    """Seqs never produced."""


def tally(got: list[tuple[int, int]], expected: range, partitions: int) -> Tally:
    counts = Counter(seq for _p, seq in got)
    wanted = set(expected)
    return Tally(
        records=len(got),
        missing=sorted(wanted - counts.keys())[:20],
        duplicates=sum(n - 1 for n in counts.values()),
        misplaced=sum(1 for p, seq in got if p != seq % partitions),
        strangers=sum(1 for seq in counts if seq not in wanted),
    )


# --- 1. kill -9 of the replicator, five times during a produce -----------------------------

KILL_RECORDS = 200_000
KILL_PARTITIONS = 8
KILL_RATE = 5_000.0
"""Records/s of the source producer: the produce lasts about 40 s, the five kills fit in it."""
KILL_DELAYS_S = (0.3, 1.7, 0.9, 2.6, 1.2)
"""After each restart copies its first records, when to kill it: spread, not periodic."""


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_kill9_five_times_during_produce_loses_nothing(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster], exactly_once: bool
) -> None:
    dc1, dc2 = lab
    topic = "seq"
    create_topic(dc1, topic, KILL_PARTITIONS)
    topo = topology_file(tmp_path / "t.yaml", dc1, dc2, topic, exactly_once)
    rep = ReplicatorProcess(topo, tmp_path)
    producer = SeqProducer(dc1, topic, KILL_PARTITIONS, 0, KILL_RECORDS, KILL_RATE)
    kills: list[tuple[float, int]] = []
    """(seconds since the produce started, records produced by then) at each kill."""
    try:
        rep.start()
        t0 = time.monotonic()
        producer.start()
        for delay in KILL_DELAYS_S:
            rep.wait_copying(60)
            time.sleep(delay)
            assert rep.alive(), rep.tail()
            kills.append((round(time.monotonic() - t0, 1), producer.produced))
            rep.kill9()
            rep.start()
        producer.join(180)
        produce_s = time.monotonic() - t0
        ends = end_offsets(dc1, topic, KILL_PARTITIONS)
        assert sum(ends.values()) == KILL_RECORDS
        rep.wait_copied(ends, topic, 90)
        assert rep.stop() == 0, rep.tail()
    finally:
        rep.close()
    print(f"\nkills at (s, records produced): {kills}; produce took {produce_s:.0f} s")
    assert all(n < KILL_RECORDS for _t, n in kills), f"a kill came after the produce: {kills}"

    got = read_seqs(dc2, f"dc1.{topic}", KILL_PARTITIONS, read_committed=exactly_once)
    t = tally(got, range(KILL_RECORDS), KILL_PARTITIONS)
    mode = "exactly_once" if exactly_once else "at-least-once"
    print(
        f"{mode}: {t.records} records on the target for {KILL_RECORDS} seqs, "
        f"{t.duplicates} duplicates after 5 kill -9 (offset.flush.interval.ms {FLUSH_MS})"
    )
    assert not t.missing, f"seqs lost: {t.missing}"
    assert t.misplaced == 0 and t.strangers == 0, t
    if exactly_once:
        assert t.duplicates == 0, t
        everything = read_seqs(dc2, f"dc1.{topic}", KILL_PARTITIONS, read_committed=False)
        print(f"exactly_once: {len(everything) - t.records} records of aborted transactions")
    else:
        # Each kill re-copies what the target acknowledged after the last recorded progress:
        # about two flush intervals at the produce rate here (~2,000 records a kill); the bound
        # allows five times that, for a copy catching up (faster than the producer) when killed.
        assert t.duplicates <= len(KILL_DELAYS_S) * 10_000, t


# --- 2. the target broker restarts mid-run ------------------------------------------------

RESTART_RECORDS = 100_000
RESTART_PARTITIONS = 8
RESTART_RATE = 3_000.0
"""The produce lasts about 33 s: the target's stop and restart (10-15 s here) fit in it."""


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_target_broker_restart_mid_run_loses_nothing(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster], exactly_once: bool
) -> None:
    dc1, dc2 = lab
    topic = "seq"
    create_topic(dc1, topic, RESTART_PARTITIONS)
    topo = topology_file(tmp_path / "t.yaml", dc1, dc2, topic, exactly_once)
    rep = ReplicatorProcess(topo, tmp_path)
    producer = SeqProducer(dc1, topic, RESTART_PARTITIONS, 0, RESTART_RECORDS, RESTART_RATE)
    try:
        rep.start()
        producer.start()
        rep.wait_copying(60)
        time.sleep(3)
        before = (rep.report() or {}).get("records", 0)
        t_stop = time.monotonic()
        dc2.stop()  # SIGTERM: a clean broker shutdown
        time.sleep(3)
        start_clusters([dc2])  # same port, same data directory: its topics are kept
        down_s = time.monotonic() - t_stop
        produced_then = producer.produced
        assert producer.running(), "the produce ended before the target came back"
        producer.join(180)
        ends = end_offsets(dc1, topic, RESTART_PARTITIONS)
        assert sum(ends.values()) == RESTART_RECORDS
        rep.wait_copied(ends, topic, 120)
        assert rep.stop() == 0, rep.tail()
    finally:
        rep.close()
    got = read_seqs(dc2, f"dc1.{topic}", RESTART_PARTITIONS, read_committed=exactly_once)
    t = tally(got, range(RESTART_RECORDS), RESTART_PARTITIONS)
    mode = "exactly_once" if exactly_once else "at-least-once"
    print(
        f"\n{mode}: target down {down_s:.1f} s after {before} records copied "
        f"({produced_then} produced when it was back); "
        f"{t.records} records on the target for {RESTART_RECORDS} seqs, {t.duplicates} duplicates"
    )
    assert not t.missing, f"seqs lost: {t.missing}"
    assert t.misplaced == 0 and t.strangers == 0, t
    if exactly_once:
        assert t.duplicates == 0, t


# --- 3. taking over from real MirrorMaker 2 -------------------------------------------------

MM2_RECORDS = 5_000
"""Copied by MM2, then as many again by the bundled replicator after it."""
MM2_PARTITIONS = 4


def mm2_properties(path: Path, dc1: KafkaCluster, dc2: KafkaCluster, topic: str) -> Path:
    rf = (
        "replication.factor",
        "checkpoints.topic.replication.factor",
        "heartbeats.topic.replication.factor",
        "offset-syncs.topic.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
        "config.storage.replication.factor",
    )
    path.write_text(
        "\n".join(
            [
                "clusters = dc1, dc2",
                f"dc1.bootstrap.servers = {dc1.bootstrap_servers}",
                f"dc2.bootstrap.servers = {dc2.bootstrap_servers}",
                "dc1->dc2.enabled = true",
                f"dc1->dc2.topics = {topic}",
                "dc2->dc1.enabled = false",
                "refresh.topics.interval.seconds = 1",
                "sync.topic.acls.enabled = false",
                *(f"{k} = 1" for k in rf),
            ]
        )
        + "\n"
    )
    return path


def wait_records(c: KafkaCluster, topic: str, partitions: int, n: int, timeout_s: float) -> None:
    """Until `topic` on `c` holds `n` records (an uncommitted-free, gapless copy: its ends)."""
    deadline = time.monotonic() + timeout_s
    have = -1
    while time.monotonic() < deadline:
        md = AdminClient(c.admin_config()).list_topics(timeout=10)
        if topic in md.topics and len(md.topics[topic].partitions) == partitions:
            have = sum(end_offsets(c, topic, partitions).values())
            if have >= n:
                return
        time.sleep(1)
    raise AssertionError(f"{topic} on {c.name} holds {have} of {n} records after {timeout_s}s")


@pytest.mark.parametrize("gaps", [False, True], ids=["gapless-source", "transaction-markers"])
def test_takeover_from_real_mm2(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster], gaps: bool
) -> None:
    dc1, dc2 = lab
    topic = "orders"
    remote = f"dc1.{topic}"
    create_topic(dc1, topic, MM2_PARTITIONS)
    batch = 5 if gaps else 0  # transactions of 5 records a partition: a marker every 6 offsets
    SeqProducer(dc1, topic, MM2_PARTITIONS, 0, MM2_RECORDS, 1e9, batch).start().join(120)

    props = mm2_properties(tmp_path / "mm2.properties", dc1, dc2, topic)
    mm2_log = tmp_path / "mm2.log"
    with mm2_log.open("wb") as log:
        mm2 = subprocess.Popen(mirror_maker_command(props), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_records(dc2, remote, MM2_PARTITIONS, MM2_RECORDS, 120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{mm2_log.read_text(errors='replace')[-3000:]}") from None
    finally:
        stop_pid(mm2.pid, 30)
        mm2.wait()
    by_mm2 = end_offsets(dc2, remote, MM2_PARTITIONS)

    SeqProducer(dc1, topic, MM2_PARTITIONS, MM2_RECORDS, MM2_RECORDS, 1e9, batch).start().join(120)
    # A transactional source ends with a commit marker: copied means past the last record.
    ends = record_ends(dc1, topic, MM2_PARTITIONS)
    topo = topology_file(tmp_path / "t.yaml", dc1, dc2, topic)
    rep = ReplicatorProcess(topo, tmp_path)
    try:
        rep.start()
        rep.wait_copied(ends, topic, 90)
        assert rep.stop() == 0, rep.tail()
    finally:
        rep.close()
    log_text = rep.log_path.read_text(errors="replace")
    takeovers = [
        line for line in log_text.splitlines() if f" {topic}-" in line and "taking over" in line
    ]
    assert len(takeovers) == MM2_PARTITIONS, log_text[-3000:]

    got = read_seqs(dc2, remote, MM2_PARTITIONS, read_committed=False)
    t = tally(got, range(2 * MM2_RECORDS), MM2_PARTITIONS)
    kind = "with transaction markers" if gaps else "without gaps"
    print(
        f"\ntake-over from MM2, source {kind}: MM2 wrote {sum(by_mm2.values())} records, "
        f"the target holds {t.records} for {2 * MM2_RECORDS} seqs: {t.duplicates} duplicates"
    )
    for line in takeovers:
        print("  ", line.split("mm2plan.replicator: ", 1)[-1])
    assert not t.missing, f"seqs lost: {t.missing}"
    assert t.misplaced == 0 and t.strangers == 0, t
    if not gaps:
        assert t.duplicates == 0, t
