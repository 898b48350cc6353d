"""Two topologies on the same clusters: each plans only what it owns."""

from __future__ import annotations

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.core.model import Topology
from mm2plan.execution.apply import Applier
from mm2plan.execution.live import read_live
from mm2plan.planning.planner import make_plan
from mm2plan.topology.loader import load_text

TEAM = """version: 1
name: {name}
defaults: {{replication_factor: 1}}
clusters:
  dc1: {{bootstrap_servers: "dc1:9092", topics: {{{topic}: {{partitions: 2}}}}}}
  dc2: {{bootstrap_servers: "dc2:9092"}}
flows:
  - {{source: dc1, target: dc2, topics: ["{topic}"]}}
"""


def topo(name: str, topic: str) -> Topology:
    t = load_text(TEAM.format(name=name, topic=topic), f"{name}.yaml").topology
    assert t is not None
    return t


def test_topologies_share_clusters_without_touching_each_other() -> None:
    clusters = {a: MemoryCluster(a) for a in ("dc1", "dc2")}
    admins = {a: MemoryAdmin(c) for a, c in clusters.items()}
    a, b = topo("team-a", "orders"), topo("team-b", "payments")
    for t in (a, b):
        plan = make_plan(t, read_live(admins))
        assert not plan.has_errors
        assert Applier(admins, owner=t.name).run(plan.effective).complete
    for t in (a, b):
        assert make_plan(t, read_live(admins)).effective == ()
    assert {"orders", "payments"} <= set(clusters["dc1"].topics)


def test_a_topic_owned_by_another_topology_is_an_error() -> None:
    clusters = {a: MemoryCluster(a) for a in ("dc1", "dc2")}
    admins = {a: MemoryAdmin(c) for a, c in clusters.items()}
    a = topo("team-a", "orders")
    Applier(admins, owner=a.name).run(make_plan(a, read_live(admins)).effective)
    plan = make_plan(topo("team-b", "orders"), read_live(admins))
    assert "owned-elsewhere" in [d.code for d in plan.diagnostics]


def test_data_in_an_unowned_topic_does_not_make_a_plan_stale() -> None:
    from dataclasses import replace

    from mm2plan.core.resources import LiveCluster, LiveState, LiveTopic

    t = topo("team-a", "orders")
    empty = LiveState(
        {
            "dc1": LiveCluster("dc1", {"other": LiveTopic("other", 1, 1, {}, False)}),
            "dc2": LiveCluster("dc2"),
        }
    )
    busy = replace(
        empty,
        clusters={
            **empty.clusters,
            "dc1": LiveCluster("dc1", {"other": LiveTopic("other", 1, 1, {}, True)}),
        },
    )
    assert make_plan(t, empty).fingerprint == make_plan(t, busy).fingerprint
