"""An update's reason names what changes and why, as far as the ownership record can tell: the
topology (or a copy's source) asked for it, the live topic drifted, or both."""

from __future__ import annotations

from dataclasses import replace

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.core.model import Topology
from mm2plan.execution.apply import Applier
from mm2plan.execution.live import read_live
from mm2plan.planning.plan import Action
from mm2plan.planning.planner import make_plan
from mm2plan.topology.loader import load_text

TOPOLOGY = """version: 1
defaults: {{replication_factor: 1}}
clusters:
  dc1:
    bootstrap_servers: "dc1:9092"
    topics: {{orders: {{partitions: {partitions}, config: {{retention.ms: "{retention}"}}}}}}
  dc2: {{bootstrap_servers: "dc2:9092"}}
flows:
  - {{source: dc1, target: dc2, topics: [orders]}}
"""


def topology(partitions: int = 2, retention: str = "1000") -> Topology:
    t = load_text(TOPOLOGY.format(partitions=partitions, retention=retention), "t.yaml").topology
    assert t is not None
    return t


def applied() -> dict[str, MemoryCluster]:
    clusters = {a: MemoryCluster(a) for a in ("dc1", "dc2")}
    admins = {a: MemoryAdmin(c) for a, c in clusters.items()}
    assert Applier(admins).run(make_plan(topology(), read_live(admins)).effective).complete
    return clusters


def reasons(clusters: dict[str, MemoryCluster], t: Topology) -> dict[str, str]:
    plan = make_plan(t, read_live({a: MemoryAdmin(c) for a, c in clusters.items()}))
    return {c.address: c.reason for c in plan.effective if c.action is Action.UPDATE}


def set_config(cluster: MemoryCluster, topic: str, **config: str) -> None:
    t = cluster.topics[topic]
    cluster.topics[topic] = replace(t, config={**t.config, **config})


def test_a_topology_change_is_told_apart_from_drift() -> None:
    clusters = applied()
    got = reasons(clusters, topology(partitions=4, retention="2000"))
    assert got['dc1.topic["orders"]'] == (
        "partitions 2 -> 4, sets retention.ms: the topology changed since the last apply"
    )
    assert got['dc2.topic["dc1.orders"]'] == (
        "partitions 2 -> 4, sets retention.ms: the source dc1:orders changed since the last apply"
    )


def test_drift_on_the_cluster() -> None:
    clusters = applied()
    set_config(clusters["dc1"], "orders", **{"retention.ms": "5", "segment.bytes": "1048576"})
    got = reasons(clusters, topology())
    assert got == {
        'dc1.topic["orders"]': "sets retention.ms, removes segment.bytes: "
        "the topic drifted from what the last apply set"
    }


def test_both_changed() -> None:
    clusters = applied()
    set_config(clusters["dc2"], "dc1.orders", **{"retention.ms": "5"})
    got = reasons(clusters, topology(retention="2000"))
    assert got['dc2.topic["dc1.orders"]'] == (
        "sets retention.ms: the source dc1:orders and the topic both changed since the last apply"
    )


def test_a_record_without_applied_values_does_not_guess() -> None:
    clusters = applied()
    for c in clusters.values():
        for record in c.owned.values():
            record.pop("applied", None)  # as written by versions before it was recorded
    got = reasons(clusters, topology(partitions=4))
    assert got['dc1.topic["orders"]'] == (
        "partitions 2 -> 4: to match the topology - a change there or drift: "
        "the ownership record holds no applied values to tell"
    )
