"""Failover side by side: what a consumer group gets when moved from dc1 to dc2 by `mm2plan
failover` and by MirrorMaker 2's own offset translation, in the same scenario, in the same run.

    flock /tmp/mm2plan-kafka.lock python benchmarks/failover.py      # burst, 1 round (~3.5 min)
    python benchmarks/failover.py --scenario both --rounds 2         # the documented figures
    python benchmarks/failover.py --records 6000 --json              # a quick look, as JSON

Each run starts two fresh single-node lab clusters (dc1, dc2) and replicates topic `orders`
(3 partitions) dc1 -> dc2 with one contender:

- mm2plan: `mm2plan apply` of a topology with that flow and the app `orders-service` (as in
  tests/integration/test_failover.py), which starts the bundled runtime with its defaults;
- MM2: MirrorMaker 2's dedicated mode from the lab's jars (`--clusters dc2`, as a DR site runs
  it), MM2's defaults except emit.checkpoints.interval.seconds = 5, sync.group.offsets.enabled =
  true with sync.group.offsets.interval.seconds = 5 (mm2plan's cadence for both) and
  refresh.groups.interval.seconds = 5 (mm2plan's; MM2's 600 s would not see the group, created
  after MM2 starts, for 10 minutes); replication factors 1 (single-node clusters).

Then, with sequence-numbered records (the key of record i is i):

1. `--records` records are produced to dc1 (scenario `burst`: all at once before the group
   reads, as in the integration test; scenario `steady`: at `--rate` records/s while the group
   reads, and on after its last commit);
2. the group `orders-service` reads and commits half of them on dc1, a commit per poll batch
   of at most 500 (some 30 commits at the defaults);
3. until the group's checkpoint on dc2 holds its last commit (upstream offset = committed
   offset on every partition; at most 30 s), then until dc2 holds every record of dc1, then
   dc1 is SIGKILLed;
4. the failover: mm2plan: `mm2plan failover PATH --from dc1 --to dc2 --execute --json`, its
   `executed.seconds_to_consume` (from the start of --execute until the offsets are committed:
   its start recorded, replication stopped, offsets translated); MM2: what a runbook does: stop MM2
   (SIGTERM, until it exits), read the checkpoints in `dc1.checkpoints.internal` on dc2 (the
   last per group/partition: what RemoteClusterUtils.translateOffsets returns) and commit their
   downstream offsets to the group on dc2, timed from the SIGTERM to the commit's answer;
5. the group reads on dc2 (`^(dc1\\.)?orders$`) until nothing arrives for 5 s. Lost: a record
   read on neither cluster; re-read: a record read on dc1 and again on dc2.

Contenders alternate over `--rounds` rounds (the order reversed every other round). The
figures go in README.md and docs/performance.md; tests never assert them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mm2plan.adapters.kafka.dr import dr_factory  # noqa: E402
from mm2plan.core.model import Cluster  # noqa: E402
from mm2plan.core.polling import poll  # noqa: E402
from mm2plan.lab.cluster import (  # noqa: E402
    KafkaCluster,
    new_cluster,
    start_clusters,
    stop_clusters,
    stop_pid,
)
from mm2plan.lab.connect import start_mirror_maker  # noqa: E402
from mm2plan.lab.jars import KAFKA_VERSION  # noqa: E402
from mm2plan.ports.replication import FlowKey  # noqa: E402
from mm2plan.runtime.engine import BundledEngine  # noqa: E402

FORMAT_VERSION = 1
TOPIC = "orders"
REMOTE = f"dc1.{TOPIC}"
GROUP = "orders-service"
PARTITIONS = 3
SUBSCRIPTION = r"^(dc1\.)?orders$"
CONTENDERS = ("mm2plan", "mm2")
LABELS = {"mm2plan": "mm2plan failover", "mm2": "MM2 checkpoints (translateOffsets)"}
CHECKPOINT_WAIT_S = 30.0
MM2_CHANGED = {
    "emit.checkpoints.interval.seconds": "5",
    "sync.group.offsets.enabled": "true",
    "sync.group.offsets.interval.seconds": "5",
    "refresh.groups.interval.seconds": "5",
}
"""MM2's settings that differ from its defaults (besides replication factors and the flow)."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the app and the clusters -----------------------------------------------------------------


class SeqProducer(threading.Thread):
    """Records `first`..`first + n - 1` to dc1's `orders`, key = value = the number, partition
    = number % 3; at `rate` records/s (0: as fast as it can)."""

    def __init__(self, c: KafkaCluster, n: int, rate: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.c, self.n, self.rate = c, n, rate
        self.error: str | None = None

    def run(self) -> None:
        p = Producer({"bootstrap.servers": self.c.bootstrap_servers, "linger.ms": 5})
        started = time.monotonic()
        for i in range(self.n):
            if self.rate and i % 100 == 0:
                ahead = started + i / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            while True:
                try:
                    p.produce(TOPIC, key=str(i).encode(), value=str(i).encode(), partition=i % 3)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        if p.flush(60) != 0:
            self.error = "the producer could not deliver every record"


def group_consumer(c: KafkaCluster) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": c.bootstrap_servers,
            "group.id": GROUP,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )


def consume(
    c: KafkaCluster, subscription: str, limit: int | None, idle_s: float = 5.0
) -> tuple[list[int], int]:
    """The app: reads as the group, commits each batch it read (synchronously), and stops after
    `limit` records or once nothing arrived for idle_s (30 s before the first record). The
    numbers it read and how many commits it made."""
    consumer = group_consumer(c)
    consumer.subscribe([subscription])
    got: list[int] = []
    commits = 0
    last = time.monotonic()
    first_wait = 30.0
    try:
        while limit is None or len(got) < limit:
            wait = idle_s if got else first_wait
            if time.monotonic() - last > wait:
                break
            want = 500 if limit is None else min(500, limit - len(got))
            msgs = [m for m in consumer.consume(want, 0.5) if m.error() is None]
            if not msgs:
                continue
            last = time.monotonic()
            got += [int(m.key()) for m in msgs]  # type: ignore[arg-type]
            consumer.commit(asynchronous=False)
            commits += 1
    finally:
        consumer.close()
    return got, commits


def admin(c: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": c.bootstrap_servers})


def create_topic(c: KafkaCluster, name: str) -> None:
    a = admin(c)
    futures = a.create_topics([NewTopic(name, PARTITIONS, 1)])
    futures[name].result(30)
    poll(
        lambda: name in a.list_topics(timeout=10).topics,
        bool,
        30,
        first_s=0.1,
    )


def end_offsets(c: KafkaCluster, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": "bench-ends"})
    try:
        md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return {}
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in md.partitions
        }
    finally:
        consumer.close()


def committed_on(c: KafkaCluster, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": GROUP})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}
    finally:
        consumer.close()


def checkpoints_on(dc2: KafkaCluster) -> dict[int, tuple[int, int]]:
    """The group's last checkpoint per partition of dc1.orders: (upstream, downstream)."""
    dr = dr_factory(Cluster("dc2", dc2.bootstrap_servers))
    try:
        cps = dr.checkpoints("dc1.checkpoints.internal")
    finally:
        dr.close()
    return {
        p: (tc.checkpoint.upstream_offset, tc.checkpoint.downstream_offset)
        for (g, t, p), tc in cps.items()
        if g == GROUP and t == REMOTE
    }


def sigkill(c: KafkaCluster) -> None:
    assert c.pid is not None
    os.kill(c.pid, signal.SIGKILL)
    c.stop(5)


# --- the contenders ---------------------------------------------------------------------------


def mm2plan_topology(path: Path, dc1: KafkaCluster, dc2: KafkaCluster) -> Path:
    """test_failover.py's topology, with the runtime's defaults (no property set)."""
    doc = {
        "version": 1,
        "name": f"bench-fo-{uuid.uuid4().hex[:6]}",
        "defaults": {"replication_factor": 1},
        "clusters": {
            name: {
                "bootstrap_servers": c.bootstrap_servers,
                "topics": {TOPIC: {"partitions": PARTITIONS}},
            }
            for name, c in (("dc1", dc1), ("dc2", dc2))
        },
        "flows": [{"source": "dc1", "target": "dc2", "topics": [TOPIC]}],
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


def mm2plan_cli(*args: str, timeout_s: float = 180.0) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "mm2plan", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def mm2_properties(path: Path, dc1: KafkaCluster, dc2: KafkaCluster) -> Path:
    rf = (
        "replication.factor",
        "checkpoints.topic.replication.factor",
        "heartbeats.topic.replication.factor",
        "offset-syncs.topic.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
        "config.storage.replication.factor",
    )
    lines = [
        "clusters = dc1, dc2",
        f"dc1.bootstrap.servers = {dc1.bootstrap_servers}",
        f"dc2.bootstrap.servers = {dc2.bootstrap_servers}",
        "dc1->dc2.enabled = true",
        f"dc1->dc2.topics = {TOPIC}",
        "dc2->dc1.enabled = false",
        *(f"{k} = {v}" for k, v in MM2_CHANGED.items()),
        *(f"{k} = 1" for k in rf),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Replication:
    """One contender's dc1 -> dc2 replication, started, failed over and stopped."""

    name = ""

    def start(self) -> None:
        raise NotImplementedError

    def failover(self) -> dict[str, Any]:
        """Move the group to dc2 (dc1 is dead); the figures, `seconds` among them."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class Mm2planReplication(Replication):
    name = "mm2plan"

    def __init__(self, work: Path, dc1: KafkaCluster, dc2: KafkaCluster) -> None:
        self.path = mm2plan_topology(work / "mm2plan.yaml", dc1, dc2)
        self.doc = json.loads(self.path.read_text())

    def start(self) -> None:
        code, out, err, _ = mm2plan_cli("apply", str(self.path), "--auto-approve")
        if code != 0:
            raise RuntimeError(f"mm2plan apply failed ({code}):\n{out}\n{err}")

    def failover(self) -> dict[str, Any]:
        code, out, err, wall = mm2plan_cli(
            "failover", str(self.path), "--from", "dc1", "--to", "dc2", "--execute", "--json"
        )
        try:
            doc = json.loads(out)
        except ValueError:
            raise RuntimeError(f"failover printed no JSON ({code}):\n{out}\n{err}") from None
        executed = doc.get("executed") or {}
        if code != 0 or executed.get("seconds_to_consume") is None:
            raise RuntimeError(f"mm2plan failover failed ({code}): {json.dumps(doc)[:3000]}")
        return {
            "seconds": executed["seconds_to_consume"],
            "command_wall_seconds": round(wall, 3),
            "pending": executed.get("pending"),
            "bases": sorted({o["basis"] for o in executed.get("offsets", [])}),
            "committed": {
                f"{o['topic']}-{o['partition']}": o["offset"] for o in executed.get("offsets", [])
            },
        }

    def stop(self) -> None:
        BundledEngine(self.path).stop(FlowKey(self.doc["name"], "dc1", "dc2"))


class Mm2Replication(Replication):
    name = "mm2"

    def __init__(self, work: Path, dc1: KafkaCluster, dc2: KafkaCluster) -> None:
        self.work, self.dc1, self.dc2 = work, dc1, dc2
        self.props = mm2_properties(work / "mm2.properties", dc1, dc2)
        self.log_path = work / "mirror-maker.log"
        self.pid: int | None = None

    def start(self) -> None:
        create_topic(self.dc1, TOPIC)
        create_topic(self.dc2, TOPIC)  # as mm2plan's topology declares it on dc2 (stays empty)
        self.pid = start_mirror_maker(self.props, {"dc2": self.dc2}, self.log_path)
        got = poll(
            lambda: len(end_offsets(self.dc2, REMOTE)),
            lambda n: n == PARTITIONS,
            180,
            first_s=0.5,
            max_s=1.0,
        )
        if got != PARTITIONS:
            raise RuntimeError(
                f"MM2 did not create {REMOTE} on dc2 in 180 s; see {self.log_path}:\n"
                + self.log_path.read_text(errors="replace")[-3000:]
            )

    def failover(self) -> dict[str, Any]:
        synced = committed_on(self.dc2, REMOTE)  # what MM2's sync.group.offsets committed
        started = time.monotonic()
        stop_pid(self.pid, 60)
        stopped = time.monotonic()
        dr = dr_factory(Cluster("dc2", self.dc2.bootstrap_servers))
        try:
            cps = dr.checkpoints("dc1.checkpoints.internal")
            offsets = {
                (t, p): tc.checkpoint.downstream_offset
                for (g, t, p), tc in cps.items()
                if g == GROUP
            }
            dr.commit(GROUP, offsets)
        finally:
            dr.close()
        done = time.monotonic()
        self.pid = None
        return {
            "seconds": round(done - started, 3),
            "stop_seconds": round(stopped - started, 3),
            "translate_commit_seconds": round(done - stopped, 3),
            "synced_by_mm2": {f"{REMOTE}-{p}": o for p, o in sorted(synced.items())},
            "committed": {f"{t}-{p}": o for (t, p), o in sorted(offsets.items())},
        }

    def stop(self) -> None:
        stop_pid(self.pid, 30)


# --- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    contender: str
    scenario: str
    round: int
    records: int
    lost: int = -1
    reread: int = -1
    seconds: float = -1.0
    dc1_read: int = 0
    dc1_commits: int = 0
    dc2_read: int = 0
    dc2_duplicates: int = 0
    committed_dc1: dict[str, int] = field(default_factory=dict)
    checkpoint: dict[str, list[int]] = field(default_factory=dict)
    checkpoint_wait_s: float = 0.0
    checkpoint_reached: bool = False
    reread_by_partition: dict[str, int] = field(default_factory=dict)
    failover: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def one_run(
    contender: str, scenario: str, rnd: int, n: int, rate: float, settle: float, base: Path
) -> Run:
    run = Run(contender, scenario, rnd, n)
    work = base / f"{scenario}-{rnd}-{contender}"
    work.mkdir(parents=True)
    dc1, dc2 = new_cluster("dc1", work / "lab"), new_cluster("dc2", work / "lab")
    log(f"{scenario} round {rnd}, {contender}: starting dc1 and dc2")
    start_clusters([dc1, dc2])
    rep: Replication | None = None
    try:
        cls = Mm2planReplication if contender == "mm2plan" else Mm2Replication
        rep = cls(work, dc1, dc2)
        rep.start()
        log(f"{contender}: replicating dc1 -> dc2; producing {n} records ({scenario})")
        producer = SeqProducer(dc1, n, rate if scenario == "steady" else 0.0)
        producer.start()
        if scenario == "burst":
            producer.join()
        processed, run.dc1_commits = consume(dc1, TOPIC, n // 2)
        run.dc1_read = len(processed)
        want = committed_on(dc1, TOPIC)
        run.committed_dc1 = {f"{TOPIC}-{p}": o for p, o in sorted(want.items())}
        log(f"group read {len(processed)} on dc1 in {run.dc1_commits} commits: {want}")

        t0 = time.monotonic()
        cps = poll(
            lambda: checkpoints_on(dc2),
            lambda got: {p: u for p, (u, _d) in got.items()} == want,
            CHECKPOINT_WAIT_S,
            first_s=0.5,
            max_s=1.0,
        )
        run.checkpoint_wait_s = round(time.monotonic() - t0, 1)
        run.checkpoint_reached = {p: u for p, (u, _d) in cps.items()} == want
        log(f"checkpoint (upstream, downstream) after {run.checkpoint_wait_s} s: {cps}")
        producer.join()
        if producer.error:
            raise RuntimeError(producer.error)
        total = sum(end_offsets(dc1, TOPIC).values())
        copied = poll(
            lambda: sum(end_offsets(dc2, REMOTE).values()), lambda c: c >= total, 120, max_s=1.0
        )
        if copied < total:
            raise RuntimeError(f"dc2 holds {copied} of dc1's {total} records after 120 s")
        if settle:
            log(f"settling {settle:g} s before the kill")
            time.sleep(settle)
        cps = checkpoints_on(dc2)
        run.checkpoint = {f"{REMOTE}-{p}": list(v) for p, v in sorted(cps.items())}
        sigkill(dc1)
        log(f"dc2 holds all {total} records; dc1 SIGKILLed; failing over with {contender}")
        run.failover = rep.failover()
        run.seconds = float(run.failover["seconds"])
        log(f"failed over in {run.seconds} s: {run.failover.get('committed')}")

        read, _ = consume(dc2, SUBSCRIPTION, None)
        run.dc2_read = len(read)
        run.dc2_duplicates = len(read) - len(set(read))
        done, again = set(processed), set(read)
        run.lost = n - len(done | again)
        rereads = done & again
        run.reread = len(rereads)
        run.reread_by_partition = {
            f"{REMOTE}-{p}": sum(1 for i in rereads if i % PARTITIONS == p)
            for p in range(PARTITIONS)
        }
        log(f"{contender}: read {len(read)} on dc2: lost {run.lost}, re-read {run.reread}")
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        log(f"{contender} failed: {run.error}")
    finally:
        if rep is not None:
            with contextlib.suppress(Exception):
                rep.stop()
        stop_clusters([dc1, dc2])
    return run


# --- report -----------------------------------------------------------------------------------


def span(values: list[float], fmt: str = "{:,.0f}") -> str:
    if not values:
        return "-"
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def detail(runs: list[Run]) -> str:
    """Where the failover's time went, or what else the command took."""
    f = [r.failover for r in runs]
    if runs[0].contender == "mm2plan":
        wall = [float(x["command_wall_seconds"]) for x in f]
        return f"the whole `failover` command: {span(wall, '{:.1f}')} s"
    stop = [float(x["stop_seconds"]) for x in f]
    rest = [float(x["translate_commit_seconds"]) for x in f]
    return f"stopping MM2 {span(stop, '{:.1f}')} s + translate, commit {span(rest, '{:.2f}')} s"


def summarize(runs: list[Run]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scenario in sorted({r.scenario for r in runs}):
        rows: dict[str, Any] = {}
        for c in CONTENDERS:
            ok = [r for r in runs if r.scenario == scenario and r.contender == c and not r.error]
            if not ok:
                continue
            rows[c] = {
                "runs": len(ok),
                "lost": [r.lost for r in ok],
                "reread": [r.reread for r in ok],
                "seconds": [r.seconds for r in ok],
                "seconds_mean": round(statistics.mean(r.seconds for r in ok), 3),
                "detail": detail(ok),
            }
        if "mm2plan" in rows and "mm2" in rows:
            a, b = rows["mm2plan"], rows["mm2"]
            rows["ratio"] = {
                "seconds": round(a["seconds_mean"] / b["seconds_mean"], 3),
                "reread": (
                    round(statistics.mean(a["reread"]) / statistics.mean(b["reread"]), 3)
                    if statistics.mean(b["reread"])
                    else None
                ),
            }
        out[scenario] = rows
    return out


def table(runs: list[Run], summary: dict[str, Any], n: int) -> str:
    lines = []
    for scenario, rows in summary.items():
        lines.append(f"\nscenario {scenario}: {n:,} records, the group read {n // 2:,} on dc1")
        lines.append(f"{'contender':36} {'lost':>8} {'re-read':>10} {'s to fail over':>16}  detail")
        for c in CONTENDERS:
            if c not in rows:
                continue
            row = rows[c]
            lines.append(
                f"{LABELS[c]:36} {span(row['lost']):>8} {span(row['reread']):>10} "
                f"{span(row['seconds'], '{:.2f}'):>16}  {row['detail']}"
            )
        ratio = rows.get("ratio")
        if ratio:
            rr = ratio["reread"]
            means = [statistics.mean(rows[c]["reread"]) for c in CONTENDERS]
            lines.append(
                f"mm2plan / MM2: seconds {ratio['seconds']:.2f}x, re-reads "
                + (f"{rr:.3f}x" if rr is not None else "n/a (MM2 re-read none)")
                + f" ({means[0]:,.0f} vs {means[1]:,.0f} on average)"
            )
    for r in runs:
        if r.error:
            lines.append(f"FAILED {r.scenario} round {r.round} {r.contender}: {r.error}")
        elif not r.checkpoint_reached:
            lines.append(
                f"{r.scenario} round {r.round} {r.contender}: the checkpoint did not hold the "
                f"last commit {r.committed_dc1} after {CHECKPOINT_WAIT_S:g} s: {r.checkpoint}"
            )
    lines.append(
        "MM2: defaults except "
        + ", ".join(f"{k}={v}" for k, v in MM2_CHANGED.items())
        + "; mm2plan: the runtime's defaults (checkpoints and group sync every 5 s)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=30_000, help="records produced (default 30000)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of each contender (default 1)")
    ap.add_argument(
        "--scenario",
        choices=("burst", "steady", "both"),
        default="burst",
        help="burst: all records before the group reads (the integration test's; the "
        "default); steady: produced at --rate while it reads and after its last commit",
    )
    ap.add_argument("--contender", choices=("both", *CONTENDERS), default="both", help="(both)")
    ap.add_argument("--rate", type=float, default=2000.0, help="steady's records/s (2000)")
    ap.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds more before the kill, once dc2 holds everything (0; MM2 fires its "
        "delayed offset syncs on its offset flush, every offset.flush.interval.ms = 60 s)",
    )
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--workdir", type=Path, help="keep the clusters' and contenders' logs here")
    args = ap.parse_args(argv)
    scenarios = ("burst", "steady") if args.scenario == "both" else (args.scenario,)

    base = args.workdir or Path(tempfile.mkdtemp(prefix="mm2plan-failover-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    started = datetime.datetime.now(datetime.UTC)
    for rnd in range(1, args.rounds + 1):
        chosen = CONTENDERS if args.contender == "both" else (args.contender,)
        order = chosen if rnd % 2 else tuple(reversed(chosen))
        for scenario in scenarios:
            for c in order:
                runs.append(one_run(c, scenario, rnd, args.records, args.rate, args.settle, base))
    summary = summarize(runs)
    doc = {
        "format_version": FORMAT_VERSION,
        "benchmark": "failover",
        "date": started.isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "kafka": KAFKA_VERSION,
        },
        "records": args.records,
        "rounds": args.rounds,
        "rate": args.rate,
        "settle_seconds": args.settle,
        "scenarios": list(scenarios),
        "mm2_changed": MM2_CHANGED,
        "summary": summary,
        "runs": [asdict(r) for r in runs],
        "workdir": str(base),
    }
    (base / "failover.json").write_text(json.dumps(doc, indent=2))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(table(runs, summary, args.records))
        print(f"(logs and every figure, as JSON, in {base})")
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
