"""Replication side by side: mm2plan's bundled runtime, real MM2 and a plain confluent-kafka loop,
on the same two lab clusters, in the same run, taking turns.

    flock /tmp/mm2plan-kafka.lock python benchmarks/replication.py      # the full run (~10 min)
    python benchmarks/replication.py --records 50000 --rounds 1 --latency-seconds 10  # a look
    python benchmarks/replication.py --help                              # every knob

It starts two single-node lab clusters (dc1, dc2) in a temporary directory, writes a backlog of
incompressible records (200,000 of 1 KiB over 8 partitions by default; key = sequence number,
explicit partition and timestamp) to dc1, then runs each contender, in turns over `--rounds`
rounds (the order reversed every other round), each into a fresh target topic:

- plain loop: confluent-kafka consume -> produce in one Python process (all partitions
  assigned, batch consume, produce with key, value, timestamp, headers and partition, flush at
  the end), its clients tuned as the runtime tunes its own; no bookkeeping, no delivery
  reports, no idempotence: the ceiling for a Python replicator;
- MM2: MirrorMaker 2's dedicated mode from the lab's jars (tasks.max 4, the target producer's
  linger.ms and batch.size raised, only the backlog topic, checkpoints and heartbeats as MM2
  emits them by default), in the JVM that Kafka's connect-mirror-maker.sh starts (2 GiB heap,
  G1); `--mm2-jvm shipped,lab` adds a run in the lab's smaller JVM (512 MiB, serial GC);
- bundled: `mm2plan replicate` as a subprocess (or, in a tree without that command yet,
  mm2plan.runtime.replicator.Replicator in processes of this script), tasks.max 1 and 2.

Each contender gets fresh cluster aliases, so its remote topic, its internal topics and its
progress are new: nothing resumes from an earlier run. Measured for each run:

- records/s once started: backlog size / (last record at the target - first record at the
  target), both seen by polling the target's end offsets every 50 ms;
- first record: launch of the process -> first record at the target;
- peak RSS: the most resident memory of the whole process tree at once (psutil, every poll);
- CPU s: user + system seconds of the process tree when the last record arrived;
- copied: every target record read back and checked against the backlog (partition, key,
  timestamp and a CRC of the value); a contender that lost, changed or did not finish copying
  within `--timeout` is marked failed and left out of the ratios.

A second phase measures end-to-end latency: for each contender, a fresh source topic, the
contender started and warmed up, a producer (a subprocess) writing 1 KiB records at a fixed
rate, half of MM2's best throughput of phase one unless `--latency-rate` says otherwise, and a
consumer on the target; latency = the consumer's receive time - the record's create timestamp
(the producer's clock: LogAppendTime is not available, the copies keep the source timestamp).
p50/p99/max over the records of the measured window (after `--warmup`); a record that never
arrives counts as infinitely late.

The table compares the bundled runtime against the goals of issue 8 (>= 2x MM2's throughput,
>= 85% of the plain loop, peak RSS <= 20% of MM2's, CPU s per record <= 25% of MM2's, first
record within 2 s, p99 no worse than MM2's), on the means over the rounds; a JSON file keeps
every run (`--json`, default in the temp dir). Figures go in docs/performance.md; tests never
assert them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil  # the dev extra
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from mm2plan.lab.cluster import JVM_OPTS, KafkaCluster, spawn, stop_pid  # noqa: E402

POLL_S = 0.05
KEY = struct.Struct(">Q")
LOAD_KEY = struct.Struct(">cQ")
"""Latency records: b"w" (warm-up) or b"m" (measured), then the sequence number."""
MiB = 1024 * 1024


# --- the lab and the backlog ------------------------------------------------------------


@dataclass
class Lab:
    dc1: KafkaCluster
    dc2: KafkaCluster
    work: Path
    admin1: Any = None
    admin2: Any = None
    runs: int = 0

    def __post_init__(self) -> None:
        self.admin1 = AdminClient(self.dc1.admin_config())
        self.admin2 = AdminClient(self.dc2.admin_config())

    def next_id(self) -> int:
        self.runs += 1
        return self.runs


def create_topic(admin: Any, name: str, partitions: int, timeout_s: float = 60) -> None:
    """Create and wait until every partition has a leader (CreateTopics returns before)."""
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        t = admin.list_topics(name, timeout=10).topics.get(name)
        ready = t is not None and t.error is None and len(t.partitions) == partitions
        if ready and all(p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topic {name} not usable after {timeout_s:.0f} s")


def delete_topics(admin: Any, names: list[str]) -> None:
    """Best effort: frees the brokers' disk and page cache between runs."""
    if not names:
        return
    for fut in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            fut.result(60)


@dataclass
class Backlog:
    topic: str
    records: int
    partitions: int
    size: int
    base_ts: int
    crcs: list[int] = field(repr=False)

    def partition_of(self, seq: int) -> int:
        return seq % self.partitions

    def timestamp_of(self, seq: int) -> int:
        return self.base_ts + seq


def produce_backlog(lab: Lab, topic: str, records: int, partitions: int, size: int) -> Backlog:
    create_topic(lab.admin1, topic, partitions)
    base_ts = int(time.time() * 1000) - records
    crcs: list[int] = []
    p = Producer({**lab.dc1.client_config(), "linger.ms": 50, "batch.size": 1_000_000})
    for seq in range(records):
        value = os.urandom(size)
        crcs.append(zlib.crc32(value))
        while True:
            try:
                p.produce(topic, value, KEY.pack(seq), seq % partitions, timestamp=base_ts + seq)
                break
            except BufferError:
                p.poll(0.05)
        if seq % 10_000 == 0:
            p.poll(0)
    if p.flush(120):
        raise RuntimeError("backlog: records not acknowledged in 120 s")
    got = end_offsets(lab.admin1, topic, partitions)
    if sum(got) != records:
        raise RuntimeError(f"backlog: {sum(got)} records on {topic}, not {records}")
    return Backlog(topic, records, partitions, size, base_ts, crcs)


def end_offsets(admin: Any, topic: str, partitions: int) -> list[int]:
    req = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(partitions)}
    futs = admin.list_offsets(req, request_timeout=10)
    return [futs[tp].result(15).offset for tp in req]


class TargetCount:
    """Records at the target so far (sum of its end offsets); 0 while the topic is not there
    with all its partitions yet. Metadata is asked only until it is."""

    def __init__(self, admin: Any, topic: str, partitions: int) -> None:
        self.admin, self.topic, self.partitions = admin, topic, partitions
        self.exists = False

    def __call__(self) -> int:
        try:
            if not self.exists:
                md = self.admin.list_topics(self.topic, timeout=5).topics.get(self.topic)
                if md is None or md.error is not None or len(md.partitions) < self.partitions:
                    return 0
                self.exists = True
            return sum(end_offsets(self.admin, self.topic, self.partitions))
        except Exception:  # being created, a leader settling: not there yet
            return 0


@dataclass
class Verified:
    read: int = 0
    unique: int = 0
    duplicates: int = 0
    wrong: int = 0
    """Records whose partition, timestamp or value differs from the backlog's, or unknown keys."""

    def ok(self, want: int) -> bool:
        return self.unique == want and self.wrong == 0


def verify(cluster: KafkaCluster, topic: str, backlog: Backlog) -> Verified:
    """Read the target topic to its end and check every record against the backlog."""
    c = Consumer(
        {
            **cluster.client_config(),
            "group.id": "mm2plan-bench-verify",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    seen = bytearray(backlog.records)
    v = Verified()
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(backlog.partitions)])
        open_parts = set(range(backlog.partitions))
        deadline = time.monotonic() + 120
        while open_parts and time.monotonic() < deadline:
            for m in c.consume(10_000, 1.0):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        open_parts.discard(m.partition())
                    continue
                v.read += 1
                key = m.key()
                seq = KEY.unpack(key)[0] if key is not None and len(key) == 8 else -1
                if not 0 <= seq < backlog.records:
                    v.wrong += 1
                    continue
                if (
                    m.partition() != backlog.partition_of(seq)
                    or m.timestamp()[1] != backlog.timestamp_of(seq)
                    or zlib.crc32(m.value()) != backlog.crcs[seq]
                ):
                    v.wrong += 1
                elif seen[seq]:
                    v.duplicates += 1
                else:
                    seen[seq] = 1
                    v.unique += 1
    finally:
        c.close()
    return v


# --- processes --------------------------------------------------------------------------


def tree_usage(proc: psutil.Process) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) of a process and all its descendants, now."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0.0
    rss, cpu = 0, 0.0
    for p in procs:
        try:
            with p.oneshot():
                mem, t = p.memory_info().rss, p.cpu_times()
        except psutil.Error:  # exited meanwhile
            continue
        rss += mem
        cpu += t.user + t.system + t.children_user + t.children_system
    return rss, cpu


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_tree(pid: int, timeout_s: float = 20) -> None:
    """SIGTERM the process (it stops its own children), then whatever of its tree is left."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        children = []
    stop_pid(pid, timeout_s)
    _, alive = psutil.wait_procs(children, timeout=timeout_s)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


@dataclass
class Launched:
    pid: int
    target_topic: str
    log: Path
    launched_at: float
    """time.monotonic() just before the process was started."""
    cleanup: list[tuple[str, str]] = field(default_factory=list)
    """(cluster, topic) to delete after the run."""


class Contender:
    name: str = ""

    def available(self) -> str | None:
        """Why this contender cannot run in this tree, or None."""
        return None

    def launch(self, lab: Lab, topic: str, partitions: int, follow: bool) -> Launched:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


def _script(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


class PlainLoop(Contender):
    name = "plain loop"

    def launch(self, lab: Lab, topic: str, partitions: int, follow: bool) -> Launched:
        run = lab.next_id()
        target = f"plain{run}.{topic}"
        create_topic(lab.admin2, target, partitions)
        cmd = _script(
            "_plain",
            "--source",
            lab.dc1.bootstrap_servers,
            "--target",
            lab.dc2.bootstrap_servers,
            "--topic",
            topic,
            "--to",
            target,
            *(["--follow"] if follow else []),
        )
        log = lab.work / f"plain{run}.log"
        t0 = time.monotonic()
        return Launched(spawn(cmd, log, False), target, log, t0, [("dc2", target)])


SHIPPED_JVM = (
    "-Xms256M",
    "-Xmx2G",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
)
"""The JVM options Kafka's own `connect-mirror-maker.sh` starts MM2 with (its KAFKA_HEAP_OPTS,
and kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS): MM2 as teams run it. `lab` keeps the lab's
options instead (a 512 MiB heap, serial GC: sized to fit many JVMs on a 2-core machine)."""


class MirrorMaker(Contender):
    def __init__(self, tasks: int, linger_ms: int, batch_size: int, jvm: str) -> None:
        self.tasks, self.linger_ms, self.batch_size = tasks, linger_ms, batch_size
        self.jvm = jvm
        self.name = f"MM2 dedicated (tasks {tasks}" + (", lab JVM)" if jvm == "lab" else ")")

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tasks.max": self.tasks,
            "producer.linger.ms": self.linger_ms,
            "producer.batch.size": self.batch_size,
            "jvm": list(SHIPPED_JVM) if self.jvm == "shipped" else list(JVM_OPTS),
        }

    def command(self, props: Path, dst: str, lab: Lab) -> list[str]:
        from mm2plan.lab.connect import mirror_maker_command

        cmd = mirror_maker_command(props, {dst: lab.dc2})
        if self.jvm == "lab":
            return cmd
        lab_opts = cmd[1 : 1 + len(JVM_OPTS)]
        if lab_opts != list(JVM_OPTS):
            raise RuntimeError(f"the lab's MM2 command changed shape: {cmd[:8]}")
        return [cmd[0], *SHIPPED_JVM, *cmd[1 + len(JVM_OPTS) :]]

    def launch(self, lab: Lab, topic: str, partitions: int, follow: bool) -> Launched:
        run = lab.next_id()
        src, dst = f"m{run}s", f"m{run}t"
        work = lab.work / f"mm2-{run}"
        work.mkdir()
        rf = (
            "replication.factor",
            "checkpoints.topic.replication.factor",
            "heartbeats.topic.replication.factor",
            "offset-syncs.topic.replication.factor",
            "offset.storage.replication.factor",
            "status.storage.replication.factor",
            "config.storage.replication.factor",
        )
        props = work / "mm2.properties"
        props.write_text(
            "\n".join(
                [
                    f"clusters = {src}, {dst}",
                    f"{src}.bootstrap.servers = {lab.dc1.bootstrap_servers}",
                    f"{dst}.bootstrap.servers = {lab.dc2.bootstrap_servers}",
                    f"{src}->{dst}.enabled = true",
                    f"{src}->{dst}.topics = {topic}",
                    f"{dst}->{src}.enabled = false",
                    f"{dst}->{src}.emit.heartbeats.enabled = false",
                    f"tasks.max = {self.tasks}",
                    f"{dst}.producer.linger.ms = {self.linger_ms}",
                    f"{dst}.producer.batch.size = {self.batch_size}",
                    *(f"{k} = 1" for k in rf),
                ]
            )
            + "\n"
        )
        cmd = self.command(props, dst, lab)
        log = work / "mirror-maker.log"
        t0 = time.monotonic()
        return Launched(
            spawn(cmd, log, False), f"{src}.{topic}", log, t0, [("dc2", f"{src}.{topic}")]
        )


def replicate_command_exists() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "mm2plan", "replicate", "--help"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


class Bundled(Contender):
    def __init__(self, tasks: int, use_command: bool) -> None:
        self.tasks, self.use_command = tasks, use_command
        how = "mm2plan replicate" if use_command else "Replicator"
        self.name = f"bundled (tasks {tasks}, {how})"

    def available(self) -> str | None:
        if self.use_command:
            return None
        import importlib.util

        if importlib.util.find_spec("mm2plan.runtime.replicator") is None:
            return "no bundled runtime in this tree yet (mm2plan.runtime.replicator)"
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "tasks.max": self.tasks, "command": self.use_command}

    def launch(self, lab: Lab, topic: str, partitions: int, follow: bool) -> Launched:
        run = lab.next_id()
        src, dst = f"b{run}s", f"b{run}t"
        work = lab.work / f"bundled-{run}"
        work.mkdir()
        path = work / "mm2plan.yaml"
        path.write_text(
            f"version: 1\nname: bench-{run}\ndefaults: {{replication_factor: 1}}\nclusters:\n"
            f"  {src}: {{bootstrap_servers: '{lab.dc1.bootstrap_servers}'}}\n"
            f"  {dst}: {{bootstrap_servers: '{lab.dc2.bootstrap_servers}'}}\n"
            f"flows:\n  - source: {src}\n    target: {dst}\n    topics: ['{topic}']\n"
            f"    properties: {{tasks.max: {self.tasks}}}\n"
        )
        flow = f"{src}->{dst}"
        if self.use_command:
            cmd = [sys.executable, "-m", "mm2plan", "replicate", str(path), "--flow", flow]
            cmd += ["--processes", str(self.tasks)]
        else:
            cmd = _script("_bundled", str(path), "--flow", flow, "--processes", str(self.tasks))
        log = work / "replicate.log"
        t0 = time.monotonic()
        pid = spawn_in(cmd, log, work)
        return Launched(pid, f"{src}.{topic}", log, t0, [("dc2", f"{src}.{topic}")])


def spawn_in(cmd: list[str], log: Path, cwd: Path) -> int:
    """`spawn` (parent-death signal, reaped by the lab) with another working directory: the
    runtime keeps its status and logs under `.mm2plan/` beside where it runs."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return spawn(cmd, log, False)
    finally:
        os.chdir(old)


# --- phase 1: throughput ----------------------------------------------------------------


@dataclass
class CopyRun:
    contender: str
    round: int
    ok: bool
    why: str = ""
    records_per_s: float | None = None
    first_record_s: float | None = None
    copy_s: float | None = None
    peak_rss_mib: float | None = None
    cpu_s: float | None = None
    cpu_us_per_record: float | None = None
    verified: dict[str, int] = field(default_factory=dict)
    monitor_cpu_s: float = 0.0
    """CPU this script spent watching (polling the target, sampling the tree): load it adds."""


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def copy_run(lab: Lab, backlog: Backlog, c: Contender, rnd: int, timeout_s: float) -> CopyRun:
    run = CopyRun(c.name, rnd, False)
    launched = c.launch(lab, backlog.topic, backlog.partitions, follow=False)
    proc = psutil.Process(launched.pid)
    count_now = TargetCount(lab.admin2, launched.target_topic, backlog.partitions)
    peak, first, cpu_done = 0, None, 0.0
    own_cpu = time.process_time()
    try:
        while True:
            now = time.monotonic()
            rss, cpu = tree_usage(proc)
            peak, cpu_done = max(peak, rss), max(cpu_done, cpu)  # an exited one reads as 0
            count = count_now()
            if count and first is None:
                first = now
            if count >= backlog.records:
                break
            if now - launched.launched_at > timeout_s:
                run.why = f"timed out after {timeout_s:.0f} s with {count:,} records copied"
                break
            if not alive(proc):
                # the plain loop exits by itself once done; anything else exiting is a failure
                if (count := count_now()) >= backlog.records:
                    now = time.monotonic()
                    first = first or now
                    break
                run.why = f"exited with {count:,} records copied: {log_tail(launched.log)}"
                break
            time.sleep(POLL_S)
    finally:
        run.monitor_cpu_s = time.process_time() - own_cpu
        stop_tree(launched.pid)
    if first is not None:
        run.first_record_s = first - launched.launched_at
    if not run.why:
        assert first is not None
        run.copy_s = now - first
        run.records_per_s = backlog.records / max(run.copy_s, POLL_S)
        run.peak_rss_mib = peak / MiB
        run.cpu_s = cpu_done
        run.cpu_us_per_record = cpu_done / backlog.records * 1e6
        v = verify(lab.dc2, launched.target_topic, backlog)
        run.verified = asdict(v)
        run.ok = v.ok(backlog.records)
        if not run.ok:
            run.why = (
                f"copied wrongly: {v.unique:,} of {backlog.records:,} records, "
                f"{v.wrong:,} wrong, {v.duplicates:,} duplicates"
            )
    delete_topics(lab.admin2, [t for _, t in launched.cleanup])
    return run


# --- phase 2: latency -------------------------------------------------------------------


@dataclass
class LatencyRun:
    contender: str
    round: int
    ok: bool
    rate: float
    why: str = ""
    measured: int = 0
    received: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


def percentile(sorted_values: list[float], q: float, total: int) -> float:
    """The q-quantile of `total` values of which `sorted_values` arrived (the rest: infinite)."""
    i = min(total - 1, int(q * total))
    return sorted_values[i] if i < len(sorted_values) else float("inf")


def latency_run(
    lab: Lab, c: Contender, rnd: int, rate: float, args: argparse.Namespace
) -> LatencyRun:
    run = LatencyRun(c.name, rnd, False, rate)
    topic = f"lat{lab.runs + 1}"
    create_topic(lab.admin1, topic, args.partitions)
    launched = c.launch(lab, topic, args.partitions, follow=True)
    probe = Producer({**lab.dc1.client_config(), "linger.ms": 0})
    consumer: Any = None
    load: subprocess.Popen[str] | None = None
    try:
        deadline = launched.launched_at + args.timeout
        arrived = TargetCount(lab.admin2, launched.target_topic, args.partitions)
        while arrived() == 0:
            if time.monotonic() > deadline or not psutil.pid_exists(launched.pid):
                run.why = f"no probe record arrived in {args.timeout:.0f} s: " + log_tail(
                    launched.log
                )
                return run
            probe.produce(topic, b"probe", b"probe", 0)
            probe.poll(0.2)
        consumer = Consumer(
            {
                **lab.dc2.client_config(),
                "group.id": "mm2plan-bench-latency",
                "enable.auto.commit": False,
            }
        )
        starts = end_offsets(lab.admin2, launched.target_topic, args.partitions)
        consumer.assign([TopicPartition(launched.target_topic, p, o) for p, o in enumerate(starts)])
        consumer.consume(1, 0.5)  # fetching before the load begins
        load = subprocess.Popen(
            _script(
                "_load",
                "--bootstrap",
                lab.dc1.bootstrap_servers,
                "--topic",
                topic,
                "--partitions",
                str(args.partitions),
                "--size",
                str(args.size),
                "--rate",
                str(rate),
                "--warmup",
                str(args.warmup),
                "--seconds",
                str(args.latency_seconds),
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
        latencies: list[float] = []
        seen: set[int] = set()
        load_done: dict[str, int] | None = None
        drain_until = time.monotonic() + args.warmup + args.latency_seconds + 60 + args.drain
        while True:
            msgs = consumer.consume(10_000, 0.1)
            now_ms = time.time() * 1000
            for m in msgs:
                key = m.key()
                if m.error() is not None or key is None or len(key) != LOAD_KEY.size:
                    continue
                phase, seq = LOAD_KEY.unpack(key)
                if phase == b"m" and seq not in seen:
                    seen.add(seq)
                    latencies.append(now_ms - m.timestamp()[1])
            if load_done is None and load.poll() is not None:
                out = load.stdout.read() if load.stdout else ""
                if load.returncode != 0:
                    run.why = f"the load producer failed ({load.returncode})"
                    return run
                load_done = json.loads(out.strip().splitlines()[-1])
                drain_until = time.monotonic() + args.drain
            if load_done is None and time.monotonic() > drain_until:
                run.why = "the load producer did not finish"
                return run
            if load_done is not None and (
                len(seen) >= load_done["measured"] or time.monotonic() > drain_until
            ):
                break
        assert load_done is not None
        run.measured, run.received = load_done["measured"], len(seen)
        latencies.sort()
        run.p50_ms = percentile(latencies, 0.50, run.measured)
        run.p99_ms = percentile(latencies, 0.99, run.measured)
        run.max_ms = latencies[-1] if run.received == run.measured else float("inf")
        run.ok = run.measured > 0 and run.p99_ms != float("inf")
        if not run.ok:
            run.why = f"{run.measured - run.received:,} of {run.measured:,} records never arrived"
        return run
    finally:
        if load is not None and load.poll() is None:
            load.kill()
            load.wait()
        if consumer is not None:
            consumer.close()
        probe.flush(5)
        stop_tree(launched.pid)
        delete_topics(lab.admin2, [t for _, t in launched.cleanup])
        delete_topics(lab.admin1, [topic])


# --- the report -------------------------------------------------------------------------


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def span(values: list[float], fmt: Callable[[float], str], unit: str = "") -> str:
    """`lo-hi unit` over the rounds (one figure when they round alike)."""
    if not values:
        return "-"
    lo, hi = fmt(min(values)), fmt(max(values))
    return (lo if lo == hi else f"{lo}-{hi}") + unit


@dataclass
class Summary:
    name: str
    runs: int
    ok_runs: int
    records_per_s: list[float]
    first_record_s: list[float]
    peak_rss_mib: list[float]
    cpu_s: list[float]
    cpu_us_per_record: list[float]
    p99_ms: list[float]
    latency_ok: bool
    failures: list[str]

    def m(self, what: str) -> float | None:
        values: list[float] = getattr(self, what)
        return mean(values)


def summarize(name: str, copies: list[CopyRun], lats: list[LatencyRun]) -> Summary:
    ok = [r for r in copies if r.ok]

    def col(attr: str) -> list[float]:
        return [v for r in ok if (v := getattr(r, attr)) is not None]

    failures = [f"round {r.round}: {r.why}" for r in copies if not r.ok]
    failures += [f"latency round {r.round}: {r.why}" for r in lats if not r.ok]
    return Summary(
        name,
        len(copies),
        len(ok),
        col("records_per_s"),
        col("first_record_s"),
        col("peak_rss_mib"),
        col("cpu_s"),
        col("cpu_us_per_record"),
        [r.p99_ms for r in lats if r.ok and r.p99_ms is not None],
        bool(lats) and all(r.ok for r in lats),
        failures,
    )


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def goals(b: Summary, mm2: Summary | None, plain: Summary | None) -> list[dict[str, Any]]:
    """Issue 8's goals for one bundled contender, on the means of its rounds."""

    def of(s: Summary | None, what: str) -> float | None:
        return s.m(what) if s is not None else None

    rows: list[tuple[str, float | None, str, Callable[[float], bool]]] = [
        (
            "throughput >= 2x MM2",
            ratio(b.m("records_per_s"), of(mm2, "records_per_s")),
            "x",
            lambda r: r >= 2,
        ),
        (
            "throughput >= 85% of the plain loop",
            ratio(b.m("records_per_s"), of(plain, "records_per_s")),
            "%",
            lambda r: r >= 0.85,
        ),
        (
            "peak RSS <= 20% of MM2",
            ratio(b.m("peak_rss_mib"), of(mm2, "peak_rss_mib")),
            "%",
            lambda r: r <= 0.20,
        ),
        (
            "CPU s/record <= 25% of MM2",
            ratio(b.m("cpu_us_per_record"), of(mm2, "cpu_us_per_record")),
            "%",
            lambda r: r <= 0.25,
        ),
        ("first record within 2 s", b.m("first_record_s"), "s", lambda v: v <= 2),
        (
            "p99 latency no worse than MM2",
            ratio(b.m("p99_ms"), of(mm2, "p99_ms")),
            "x",
            lambda r: r <= 1,
        ),
    ]
    out = []
    for label, value, unit, met in rows:
        if value is None:
            shown = "n/a"
        elif unit == "%":
            shown = f"{value:.0%}"
        elif unit == "x":
            shown = f"{value:.2f}x"
        else:
            shown = f"{value:.2f} s"
        out.append(
            {
                "goal": label,
                "value": value,
                "shown": shown,
                "met": None if value is None else met(value),
            }
        )
    return out


def render(summaries: list[Summary], goal_rows: dict[str, list[dict[str, Any]]], head: str) -> str:
    lines = [head, ""]
    lines.append(
        f"{'contender':36} {'records/s':>13} {'first record':>12} {'peak RSS':>13} "
        f"{'CPU s':>9} {'CPU us/rec':>11} {'p99 latency':>11}  copied"
    )
    for s in summaries:
        copied = f"{s.ok_runs}/{s.runs} ok" if s.runs else "not run"
        lines.append(
            f"{s.name:36} "
            f"{span(s.records_per_s, lambda v: f'{v / 1000:.1f}', 'k'):>13} "
            f"{span(s.first_record_s, lambda v: f'{v:.1f}', ' s'):>12} "
            f"{span(s.peak_rss_mib, lambda v: f'{v:.0f}', ' MiB'):>13} "
            f"{span(s.cpu_s, lambda v: f'{v:.1f}'):>9} "
            f"{span(s.cpu_us_per_record, lambda v: f'{v:.0f}'):>11} "
            f"{span(s.p99_ms, lambda v: f'{v:.0f}', ' ms'):>11}  {copied}"
        )
    for name, rows in goal_rows.items():
        lines += ["", f"goals for {name} (means of rounds):"]
        for r in rows:
            verdict = {True: "met", False: "MISSED", None: "-"}[r["met"]]
            lines.append(f"  {r['goal']:40} {r['shown']:>10}  {verdict}")
    failures = [(s.name, f) for s in summaries for f in s.failures]
    if failures:
        lines += ["", "failures:"]
        lines += [f"  {name}: {f}" for name, f in failures]
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------


def contenders(args: argparse.Namespace) -> tuple[list[Contender], list[str]]:
    chosen = set(args.only.split(","))
    out: list[Contender] = []
    skipped: list[str] = []
    if "plain" in chosen:
        out.append(PlainLoop())
    if "mm2" in chosen:
        for jvm in args.mm2_jvm.split(","):
            out.append(MirrorMaker(args.mm2_tasks, args.mm2_linger_ms, args.mm2_batch_size, jvm))
    if "bundled" in chosen:
        command = replicate_command_exists()
        for tasks in (int(t) for t in args.bundled_tasks.split(",")):
            b = Bundled(tasks, command)
            why = b.available()
            if why is None:
                out.append(b)
            else:
                skipped.append(f"{b.name}: {why}")
    return out, skipped


def run(args: argparse.Namespace) -> dict[str, Any]:
    from mm2plan.lab.cluster import new_cluster, start_clusters, stop_clusters

    chosen, skipped = contenders(args)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with contextlib.ExitStack() as stack:
        if args.workdir:
            base = args.workdir.resolve()
            base.mkdir(parents=True, exist_ok=False)
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mm2plan-bench-")))
        clusters = [new_cluster("dc1", base), new_cluster("dc2", base)]
        start_clusters(clusters)
        lab = Lab(clusters[0], clusters[1], base)
        try:
            t0 = time.monotonic()
            backlog = produce_backlog(lab, "backlog", args.records, args.partitions, args.size)
            print(f"backlog: {args.records:,} records on dc1 in {time.monotonic() - t0:.1f} s")
            copies: list[CopyRun] = []
            for rnd in range(1, args.rounds + 1):
                order = chosen if rnd % 2 else chosen[::-1]
                for c in order:
                    r = copy_run(lab, backlog, c, rnd, args.timeout)
                    copies.append(r)
                    print(f"round {rnd}: {c.name}: " + _copy_line(r), flush=True)
            first_mm2 = next((c.name for c in chosen if isinstance(c, MirrorMaker)), None)
            mm2_rates = [r.records_per_s for r in copies if r.ok and r.contender == first_mm2]
            rate = args.latency_rate or (max(mm2_rates) / 2 if mm2_rates else 10_000.0)
            lats: list[LatencyRun] = []
            for rnd in range(1, args.latency_rounds + 1):
                order = chosen if rnd % 2 else chosen[::-1]
                for c in order:
                    lr = latency_run(lab, c, rnd, rate, args)
                    lats.append(lr)
                    print(f"latency round {rnd}: {c.name}: " + _latency_line(lr), flush=True)
        finally:
            lab.admin1 = lab.admin2 = None  # clients die before brokers
            gc.collect()
            stop_clusters(clusters)
    summaries = [
        summarize(
            c.name,
            [r for r in copies if r.contender == c.name],
            [r for r in lats if r.contender == c.name],
        )
        for c in chosen
    ]
    by_name = {s.name: s for s in summaries}
    mm2 = next((s for s in summaries if s.name.startswith("MM2")), None)
    plain = by_name.get(PlainLoop.name)
    goal_rows = {s.name: goals(s, mm2, plain) for s in summaries if s.name.startswith("bundled")}
    head = (
        f"Replication, {started}: {args.records:,} records of {args.size} B (incompressible) "
        f"over {args.partitions} partitions, {args.rounds} round(s), contenders taking turns; "
        f"latency at {rate:,.0f} records/s "
        f"({'given' if args.latency_rate else 'half of MM2s best'})"
        f", {args.latency_seconds:.0f} s measured after {args.warmup:.0f} s warm-up; "
        f"MM2's JVM: {args.mm2_jvm}"
    )
    text = render(summaries, goal_rows, head)
    if skipped:
        text += "\n\nnot run:\n" + "\n".join(f"  {s}" for s in skipped)
    return {
        "started": started,
        "host": {
            "cpus": os.cpu_count(),
            "memory_mib": psutil.virtual_memory().total // MiB,
            "python": platform.python_version(),
        },
        "params": vars(args),
        "latency_rate": rate,
        "contenders": [c.describe() for c in chosen],
        "not_run": skipped,
        "copies": [asdict(r) for r in copies],
        "latency": [asdict(r) for r in lats],
        "summary": [asdict(s) for s in summaries],
        "goals": goal_rows,
        "table": text,
    }


def _copy_line(r: CopyRun) -> str:
    if not r.ok:
        return f"FAILED: {r.why}"
    return (
        f"{r.records_per_s or 0:,.0f} records/s, first record after {r.first_record_s or 0:.1f} s, "
        f"peak RSS {r.peak_rss_mib or 0:.0f} MiB, {r.cpu_s or 0:.1f} CPU s"
    )


def _latency_line(r: LatencyRun) -> str:
    if not r.ok:
        return f"FAILED: {r.why}"
    return (
        f"p50 {r.p50_ms:.0f} ms, p99 {r.p99_ms:.0f} ms, max {r.max_ms:.0f} ms "
        f"({r.measured:,} records)"
    )


# --- the processes this script starts ---------------------------------------------------


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: stop.set())
    return stop


PLAIN_CONSUMER = {
    "fetch.max.bytes": 64 * MiB,
    "queued.max.messages.kbytes": 256 * 1024,
    "fetch.wait.max.ms": 100,
}
PLAIN_PRODUCER = {
    "acks": "all",
    "linger.ms": 10,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 1024 * 1024,
}
"""The plain loop's clients, tuned as the bundled runtime tunes its own (large fetches, a
producer queue that holds a whole batch of batches): librdkafka's default queue of 100,000
messages makes the loop stall on BufferError and would understate the ceiling. Unlike the
runtime it has no idempotence, no delivery reports and no bookkeeping."""


def plain_main(argv: list[str]) -> None:
    """The plain loop: assign every partition, consume batches, produce each record as it came."""
    ap = argparse.ArgumentParser(prog="replication.py _plain")
    ap.add_argument("--source", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--follow", action="store_true", help="until SIGTERM, not the end offsets")
    a = ap.parse_args(argv)
    stop = _stop_event()
    consumer = Consumer(
        {
            "bootstrap.servers": a.source,
            "group.id": "mm2plan-bench-plain",
            "enable.auto.commit": False,
            **PLAIN_CONSUMER,
        }
    )
    producer = Producer({"bootstrap.servers": a.target, **PLAIN_PRODUCER})
    parts = sorted(consumer.list_topics(a.topic, timeout=30).topics[a.topic].partitions)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(a.topic, p), 10)[1] for p in parts}
    consumer.assign([TopicPartition(a.topic, p, OFFSET_BEGINNING) for p in parts])
    todo = {p for p, end in ends.items() if end > 0}
    produce, poll = producer.produce, producer.poll
    while not stop.is_set() and (a.follow or todo):
        msgs = consumer.consume(10_000, 0.05 if a.follow else 1.0)
        for m in msgs:
            if m.error() is not None:
                continue
            while True:
                try:
                    produce(
                        a.to,
                        m.value(),
                        m.key(),
                        m.partition(),
                        timestamp=m.timestamp()[1],
                        headers=m.headers(),
                    )
                    break
                except BufferError:
                    poll(0.05)
            if not a.follow and m.offset() + 1 >= ends[m.partition()]:
                todo.discard(m.partition())
        poll(0)
    producer.flush(60)
    consumer.close()


def load_main(argv: list[str]) -> None:
    """A producer at a fixed rate; prints {"sent", "measured"} as its last line."""
    ap = argparse.ArgumentParser(prog="replication.py _load")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--warmup", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    a = ap.parse_args(argv)
    p = Producer({"bootstrap.servers": a.bootstrap, "linger.ms": 5})
    sent = measured = 0
    start = time.monotonic()
    end = start + a.warmup + a.seconds
    while (now := time.monotonic()) < end:
        phase = b"w" if now - start < a.warmup else b"m"
        due = int((now - start) * a.rate)
        while sent < due:
            p.produce(a.topic, os.urandom(a.size), LOAD_KEY.pack(phase, sent), sent % a.partitions)
            sent += 1
            measured += phase == b"m"
        p.poll(0)
        time.sleep(0.002)
    if p.flush(60):
        raise SystemExit("load: records not acknowledged in 60 s")
    print(json.dumps({"sent": sent, "measured": measured}))


def bundled_main(argv: list[str]) -> None:
    """The bundled Replicator, one process per share, where `mm2plan replicate` is not there."""
    ap = argparse.ArgumentParser(prog="replication.py _bundled")
    ap.add_argument("topology", type=Path)
    ap.add_argument("--flow", required=True)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--share", type=int)
    a = ap.parse_args(argv)
    stop = _stop_event()
    if a.share is None and a.processes > 1:
        here = Path(__file__).resolve()
        base = [sys.executable, str(here), "_bundled", str(a.topology), "--flow", a.flow]
        base += ["--processes", str(a.processes)]
        children = [subprocess.Popen([*base, "--share", str(i)]) for i in range(a.processes)]
        while not stop.wait(0.2):
            if any(c.poll() is not None for c in children):
                break
        for c in children:
            with contextlib.suppress(ProcessLookupError):
                c.send_signal(signal.SIGTERM)
        codes = [c.wait() for c in children]
        raise SystemExit(max(codes))
    from mm2plan.runtime.config import flow_config
    from mm2plan.runtime.replicator import Replicator
    from mm2plan.topology.loader import load_text

    topology = load_text(a.topology.read_text(), str(a.topology)).topology
    assert topology is not None
    flow = next(f for f in topology.flows if f.name == a.flow)
    parent = os.getppid()

    def orphaned() -> None:  # the benchmark (or the share's parent) died: stop copying
        while not stop.wait(1):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=orphaned, daemon=True).start()
    Replicator(flow_config(topology, flow), a.share or 0, a.processes).run(stop)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description="Replication throughput, memory, CPU and latency: mm2plan's bundled "
        "runtime against MM2 and a plain confluent-kafka loop (module docstring).",
    )
    ap.add_argument("--records", type=int, default=200_000, help="backlog size")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--size", type=int, default=1024, help="value bytes per record")
    ap.add_argument("--rounds", type=int, default=2, help="throughput rounds")
    ap.add_argument("--latency-rounds", type=int, default=1, help="0: no latency phase")
    ap.add_argument("--latency-rate", type=float, help="records/s; default: half of MM2's best")
    ap.add_argument("--warmup", type=float, default=5.0, help="latency warm-up seconds")
    ap.add_argument("--latency-seconds", type=float, default=20.0, help="measured seconds")
    ap.add_argument("--drain", type=float, default=30.0, help="seconds to wait for stragglers")
    ap.add_argument("--timeout", type=float, default=240.0, help="per contender and run")
    ap.add_argument("--only", default="plain,mm2,bundled", help="contenders, comma-separated")
    ap.add_argument("--bundled-tasks", default="1,2", help="tasks.max values to try")
    ap.add_argument("--mm2-tasks", type=int, default=4)
    ap.add_argument(
        "--mm2-jvm",
        default="shipped",
        help="shipped (connect-mirror-maker.sh's heap and GC) and/or lab; the first is compared",
    )
    ap.add_argument("--mm2-linger-ms", type=int, default=20)
    ap.add_argument("--mm2-batch-size", type=int, default=524_288)
    ap.add_argument("--json", type=Path, help="result file (default: in the temp dir)")
    ap.add_argument(
        "--workdir", type=Path, help="a new directory for brokers and logs, kept (default: temp)"
    )
    return ap


INTERNAL: dict[str, Callable[[list[str]], None]] = {
    "_plain": plain_main,
    "_load": load_main,
    "_bundled": bundled_main,
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in INTERNAL:
        INTERNAL[argv[0]](argv[1:])
        return
    args = parser().parse_args(argv)
    result = run(args)
    path = args.json or Path(tempfile.gettempdir()) / (
        "mm2plan-replication-" + time.strftime("%Y%m%d-%H%M%S") + ".json"
    )
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    print(result["table"])
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
