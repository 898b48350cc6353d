"""Apply, then plan again: nothing is left to do, for any valid topology (black's
`assert_stable`, for infrastructure)."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.execution.apply import Applier
from mm2plan.execution.live import read_live
from mm2plan.planning.planner import make_plan
from mm2plan.topology.loader import load_text
from mm2plan.topology.validate import validate_loaded

aliases = st.sampled_from(["a", "b", "c", "d"])
topic_names = st.sampled_from(["orders", "payments", "events.click", "audit_log", "x"])


@st.composite
def topologies(draw: st.DrawFn) -> str:
    clusters = draw(st.lists(aliases, min_size=2, max_size=4, unique=True))
    doc_clusters = {}
    for c in clusters:
        names = draw(st.lists(topic_names, max_size=3, unique=True))
        doc_clusters[c] = {
            "bootstrap_servers": f"{c}:9092",
            "topics": {
                n: {
                    "partitions": draw(st.integers(1, 8)),
                    "config": draw(
                        st.sampled_from(
                            [{}, {"retention.ms": "1000"}, {"cleanup.policy": "compact"}]
                        )
                    ),
                }
                for n in names
            },
        }
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(clusters), st.sampled_from(clusters)), max_size=5, unique=True
        )
    )
    flows = [
        {
            "source": s,
            "target": t,
            "topics": [draw(st.sampled_from([".*", "orders", "payments|events\\..*"]))],
            "sync_topic_configs": draw(st.booleans()),
        }
        for s, t in pairs
        if s != t
    ]
    apps = {
        "app": {
            "principal": "User:app",
            "clusters": [clusters[0]],
            "consumes": sorted(doc_clusters[clusters[0]]["topics"])[:1],
        }
    }
    return yaml.safe_dump(
        {
            "version": 1,
            "defaults": {"replication_factor": 1},
            "clusters": doc_clusters,
            "flows": flows,
            "apps": apps,
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies(), st.booleans())
def test_apply_then_replan_is_empty(text: str, with_authorizer: bool) -> None:
    result = validate_loaded(load_text(text, "t.yaml"))
    assume(result.valid)
    topology = result.topology
    assert topology is not None
    clusters = {
        a: MemoryCluster(a, acls=set() if with_authorizer else None) for a in topology.clusters
    }
    admins = {a: MemoryAdmin(c) for a, c in clusters.items()}
    plan = make_plan(topology, read_live(admins))
    assert not plan.has_errors, [d.message for d in plan.diagnostics]
    assert Applier(admins).run(plan.effective).complete
    replan = make_plan(topology, read_live(admins))
    assert [(c.address, c.action.value) for c in replan.effective] == []
