"""mm2plan benchmarks, each a ratio against a baseline measured in the same run.

    python benchmarks/run.py            # offline: validate at small/big/huge sizes
    python benchmarks/run.py --kafka    # also plan on 10,000 live topics and apply 1,000

validate is compared with `yaml.load(text, Loader=yaml.CSafeLoader)` of the same file, the
collector paused: libyaml's C parser, the fastest read any Python tool can do (validate reads
it with the same parser, keeping every node's position, then checks the schema, expands the
copies and runs every check). plan/apply against real brokers are compared with confluent-kafka
doing the bare minimum by hand (one list_topics; one CreateTopics request). Figures go in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mm2plan.topology.validate import validate_file  # noqa: E402

# name: (clusters, next clusters each flows to, topics, heartbeats)
SIZES = {
    "small": (5, 2, 100, True),
    "big": (20, 3, 2_000, False),
    "huge": (50, 4, 10_000, False),
}
HEARTBEAT_MESH = (50, 4, 10_000, True)


def best_of(fn: Callable[[], object], n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def ring_topology(clusters: int, hops: int, topics: int, heartbeats: bool) -> dict[str, object]:
    """A mesh as a large estate has it: every cluster owns topics and flows its own topics
    (a narrow `<alias>-.*` pattern, so copies are not copied again) to its `hops` next clusters
    on a ring, for DR copies in more than one place. With heartbeats on, MM2 would copy them
    along every path of such a mesh (10^14 copies for 50 clusters and 4 hops): that one is its
    own benchmark, where validate must refuse fast."""
    names = [f"c{i:02d}" for i in range(clusters)]
    per = topics // clusters
    doc_clusters = {
        n: {
            "bootstrap_servers": f"{n}.kafka.internal:9092",
            "topics": {
                f"{n}-svc{j % 40}.events-{j}": {
                    "partitions": 1 + j % 12,
                    "config": {"retention.ms": "604800000"},
                }
                for j in range(per)
            },
        }
        for n in names
    }
    flows: list[dict[str, object]] = []
    for i, s in enumerate(names):
        for k in range(1, hops + 1):
            flow: dict[str, object] = {
                "source": s,
                "target": names[(i + k) % clusters],
                "topics": [f"{s}-.*"],
            }
            if not heartbeats:
                flow["emit_heartbeats"] = False
            flows.append(flow)
    return {
        "version": 1,
        "defaults": {"replication_factor": 3},
        "clusters": doc_clusters,
        "flows": flows,
    }


def c_load(path: Path) -> object:
    """libyaml's C SafeLoader, with the cycle collector paused as validate pauses it: the
    fastest read of the file (as usually called, with the collector on, it is ~2.5x slower)."""
    gc.disable()
    try:
        return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    finally:
        gc.enable()


def c_load_time(path: Path) -> float:
    return best_of(lambda: c_load(path))


def bench_validate() -> list[tuple[str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        cases = [(size, spec, True) for size, spec in SIZES.items()]
        cases.append(("heartbeat mesh", HEARTBEAT_MESH, False))
        for size, (c, hops, t, beats), valid in cases:
            path = Path(d) / f"{size.replace(' ', '-')}.yaml"
            path.write_text(yaml.safe_dump(ring_topology(c, hops, t, beats)))
            result = validate_file(str(path))
            codes = [x.code for x in result.diagnostics]
            if valid:
                assert result.valid, codes[:3]
            else:
                assert codes == ["heartbeat-expansion"], codes[:3]
            ours = best_of(lambda p=path: validate_file(str(p)))
            base = c_load_time(path)
            what = "refused: heartbeat-expansion" if not valid else f"{c * hops} flows"
            rows.append((f"validate {size} ({c} clusters, {what}, {t:,} topics)", ours, base))
        for name, exit_code in (("huge", 0), ("heartbeat-mesh", 1)):
            path = Path(d) / f"{name}.yaml"
            argv = [sys.executable, "-m", "mm2plan", "validate", str(path)]

            def command(argv: list[str] = argv, exit_code: int = exit_code) -> None:
                done = subprocess.run(argv, cwd=ROOT, check=False, capture_output=True)
                assert done.returncode == exit_code, done.stderr[-500:]

            rows.append(
                (
                    f"mm2plan validate {name}.yaml, as a command (wall clock)",
                    best_of(command, 5),
                    c_load_time(path),
                )
            )

        def python() -> None:
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        huge = Path(d) / "huge.yaml"
        rows.append(
            ("  Python start-up alone (python -c pass)", best_of(python, 5), c_load_time(huge))
        )
    return rows


def wait_usable(admin: Any, names: list[str], timeout_s: float = 300) -> None:
    """Until every partition of every named topic has a leader."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=60)
        if all(
            n in md.topics
            and md.topics[n].partitions
            and all(p.leader >= 0 for p in md.topics[n].partitions.values())
            for n in names
        ):
            return
        time.sleep(0.2)
    raise TimeoutError("topics did not become usable")


def plan_command(path: Path) -> None:
    """`mm2plan plan` as people run it: a new process (start-up and imports included) whose
    output is rendered into a pipe."""
    result = subprocess.run(
        [sys.executable, "-m", "mm2plan", "plan", str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or "Plan:" not in result.stdout:
        raise RuntimeError(f"mm2plan plan failed ({result.returncode}): {result.stderr[-500:]}")


def bench_kafka() -> list[tuple[str, float, float]]:
    from confluent_kafka.admin import AdminClient, NewTopic

    from mm2plan.adapters.kafka.confluent import confluent_admin_factory
    from mm2plan.execution.live import read_live
    from mm2plan.lab.cluster import new_cluster, start_clusters, stop_clusters
    from mm2plan.planning.planner import make_plan
    from mm2plan.topology.loader import load_text

    rows = []
    with tempfile.TemporaryDirectory() as d:
        clusters = [new_cluster(name, Path(d)) for name in ("dc1", "dc2", "dc3")]
        start_clusters(clusters)
        try:
            raw = AdminClient(clusters[0].admin_config())
            n = 10_000
            for i in range(0, n, 1000):
                futures = raw.create_topics(
                    [NewTopic(f"bulk-{j:05d}", 1, 1) for j in range(i, i + 1000)]
                )
                for fut in futures.values():
                    fut.result(120)
            deadline = time.monotonic() + 600  # CreateTopics returns before brokers catch up
            while len(raw.list_topics(timeout=60).topics) < n and time.monotonic() < deadline:
                time.sleep(2)
            text = yaml.safe_dump(
                {
                    "version": 1,
                    "defaults": {"replication_factor": 1},
                    "clusters": {
                        c.name: {"bootstrap_servers": c.bootstrap_servers} for c in clusters
                    },
                    "flows": [{"source": "dc1", "target": "dc2", "topics": ["bulk-.*"]}],
                }
            )
            topology = load_text(text, "bench.yaml").topology
            assert topology is not None
            admins = {a: confluent_admin_factory(c) for a, c in topology.clusters.items()}
            plan_s = best_of(lambda: make_plan(topology, read_live(admins, data="owned")), 2)
            plan = make_plan(topology, read_live(admins))
            base_s = best_of(lambda: raw.list_topics(timeout=60), 2)
            rows.append((f"plan: {n} live topics -> {len(plan.effective)} changes", plan_s, base_s))
            path = Path(d) / "bench.yaml"
            path.write_text(text)
            command_s = best_of(lambda: plan_command(path), 3)
            rows.append((f"plan as a command: {n} live topics, output rendered", command_s, base_s))

            from mm2plan.execution.apply import Applier

            # Apply 1,000 remote topics on dc2; the baseline creates 1,000 on the equally fresh
            # dc3. Both clocks stop when every partition has a leader (the topics are usable).
            subset = [c for c in plan.effective if "bulk-0" in c.address][:1000]
            created = [c.address.name for c in subset]
            raw2 = AdminClient(clusters[1].admin_config())
            t0 = time.perf_counter()
            admins["dc2"].acquire_lock({"command": "benchmark"})  # as `mm2plan apply` does
            report = Applier(admins).run(subset)
            admins["dc2"].release_lock()
            wait_usable(raw2, created)
            apply_s = time.perf_counter() - t0
            assert report.complete
            raw3 = AdminClient(clusters[2].admin_config())
            t0 = time.perf_counter()
            names = [f"raw-{j:05d}" for j in range(1000)]
            futs = raw3.create_topics([NewTopic(name, 1, 1) for name in names])
            for fut in futs.values():
                fut.result(120)
            wait_usable(raw3, names)
            rows.append(
                (
                    f"apply: create {len(subset)} topics (until usable)",
                    apply_s,
                    time.perf_counter() - t0,
                )
            )
            raw = raw2 = raw3 = admins = None  # clients must die before brokers
            gc.collect()
        finally:
            stop_clusters(clusters)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kafka", action="store_true", help="also run the real-broker benchmarks")
    args = ap.parse_args()
    rows = bench_validate()
    if args.kafka:
        rows += bench_kafka()
    print(f"{'benchmark':72} {'mm2plan':>9} {'baseline':>9} {'ratio':>7}")
    for name, ours, base in rows:
        print(f"{name:72} {ours:8.3f}s {base:8.3f}s {ours / base:6.2f}x")


if __name__ == "__main__":
    main()
