"""mm2plan benchmarks, each a ratio against a baseline measured in the same run.

    python benchmarks/run.py            # offline: validate at small/big/huge sizes
    python benchmarks/run.py --kafka    # also plan on 10,000 live topics and apply 1,000

validate is compared with a bare `yaml.safe_load` of the same file (the least any YAML tool
must do). plan/apply against real brokers are compared with confluent-kafka doing the bare
minimum by hand (one list_topics; one CreateTopics request). Figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
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

SIZES = {"small": (5, 10, 100), "big": (20, 60, 2_000), "huge": (50, 200, 10_000)}


def best_of(fn: Callable[[], object], n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def synthetic_topology(clusters: int, flows: int, topics: int) -> dict[str, object]:
    """Regions of active/active pairs plus edge->hub aggregation, as large estates look:
    every cluster owns topics; flows replicate a prefix of them (not `.*` everywhere)."""
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
    flow_list: list[dict[str, object]] = []
    pairs = set()
    i = 0
    while len(flow_list) < flows:
        s, t = names[i % clusters], names[(i * 7 + 1 + i // clusters) % clusters]
        i += 1
        if s == t or (s, t) in pairs:
            continue
        pairs.add((s, t))
        flow_list.append({"source": s, "target": t, "topics": [f"{s}-svc{i % 40}\\..*"]})
    return {
        "version": 1,
        "defaults": {"replication_factor": 3},
        "clusters": doc_clusters,
        "flows": flow_list,
    }


def bench_validate() -> list[tuple[str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for size, (c, f, t) in SIZES.items():
            path = Path(d) / f"{size}.yaml"
            path.write_text(yaml.safe_dump(synthetic_topology(c, f, t)))
            result = validate_file(str(path))
            assert result.valid, [str(x) for x in result.diagnostics][:3]
            ours = best_of(lambda p=path: validate_file(str(p)))
            base = best_of(lambda p=path: yaml.safe_load(p.read_text()))
            rows.append((f"validate {size} ({c} clusters, {f} flows, {t} topics)", ours, base))
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
            plan_s = best_of(lambda: make_plan(topology, read_live(admins)), 2)
            plan = make_plan(topology, read_live(admins))
            base_s = best_of(lambda: raw.list_topics(timeout=60), 2)
            rows.append((f"plan: {n} live topics -> {len(plan.effective)} changes", plan_s, base_s))

            from mm2plan.execution.apply import Applier

            # Apply 1,000 remote topics on dc2; the baseline creates 1,000 on the equally fresh
            # dc3. Both clocks stop when every partition has a leader (the topics are usable).
            subset = [c for c in plan.effective if "bulk-0" in c.address][:1000]
            created = [c.address.split('["', 1)[1][:-2] for c in subset]
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
    print(f"{'benchmark':62} {'mm2plan':>9} {'baseline':>9} {'ratio':>7}")
    for name, ours, base in rows:
        print(f"{name:62} {ours:8.3f}s {base:8.3f}s {ours / base:6.2f}x")


if __name__ == "__main__":
    main()
