"""TopologyGraph: topics expanded hop by hop as MM2 copies them; cycles and clashes found on
the topic graph (not the cluster graph)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.cli import Env, app
from mm2plan.core.graph import TopologyGraph
from mm2plan.core.naming import ReplicationTraits, is_cycle, policy_for, replication_traits
from mm2plan.topology.loader import load_text
from mm2plan.views.graph import RENDERERS


def graph(
    clusters: dict[str, list[str]], flows: list[tuple[str, str, list[str]]], policy: str = "default"
) -> TopologyGraph:
    doc = {
        "version": 1,
        "defaults": {"replication_policy": policy},
        "clusters": {
            c: {"bootstrap_servers": f"{c}:9092", "topics": {t: {} for t in ts}}
            for c, ts in clusters.items()
        },
        "flows": [{"source": s, "target": t, "topics": p} for s, t, p in flows],
    }
    t = load_text(yaml.safe_dump(doc), "g.yaml").topology
    assert t is not None
    return TopologyGraph(t)


def names(g: TopologyGraph, cluster: str) -> set[str]:
    """User topics only; heartbeats have their own test."""
    return {n for n, arrivals in g.topics_on(cluster).items() if not arrivals[0].heartbeats}


def test_active_active_default_naming_has_no_cycle() -> None:
    g = graph({"a": ["orders"], "b": ["orders"]}, [("a", "b", [".*"]), ("b", "a", [".*"])])
    assert names(g, "a") == {"orders", "b.orders"}
    assert names(g, "b") == {"orders", "a.orders"}
    assert g.replication_cycles() == []
    assert g.clashes() == []


def test_chain_prefixes_each_hop_and_stops_before_home() -> None:
    g = graph(
        {"a": ["t"], "b": [], "c": []}, [("a", "b", [".*"]), ("b", "c", [".*"]), ("c", "a", [".*"])]
    )
    assert names(g, "c") == {"b.a.t"}
    assert "c.b.a.t" not in names(g, "a")  # MM2's isCycle: the name says it came from a
    assert g.dependents("a", "t") == {("b", "a.t"), ("c", "b.a.t")}


def test_identity_active_active_is_a_cycle_naming_the_ring() -> None:
    g = graph(
        {"a": ["orders"], "b": []}, [("a", "b", ["orders"]), ("b", "a", ["orders"])], "identity"
    )
    (cycle,) = g.replication_cycles()
    assert cycle.clusters == ("a", "b", "a")
    assert cycle.topics == ("orders",)


def test_identity_fan_in_clashes_with_both_origins() -> None:
    g = graph(
        {"e1": ["orders"], "e2": ["orders"], "hub": []},
        [("e1", "hub", ["orders"]), ("e2", "hub", ["orders"])],
        "identity",
    )
    (clash,) = g.clashes()
    assert {p.origin for p in clash} == {("e1", "orders"), ("e2", "orders")}


def test_redundant_paths() -> None:
    g = graph(
        {"a": ["t"], "b": [], "c": []}, [("a", "b", [".*"]), ("b", "c", [".*"]), ("a", "c", [".*"])]
    )
    (paths,) = g.redundant_paths()
    assert sorted(p.topic for p in paths) == ["a.t", "b.a.t"]


def test_filters_are_full_matches_and_internal_topics_stay_home() -> None:
    g = graph(
        {"a": ["orders", "orders-eu", "__x", "c.internal"], "b": []}, [("a", "b", ["orders"])]
    )
    assert names(g, "b") == {"a.orders"}
    # Kafka 4.x (KIP-1074): a user's "c.internal" is replicated; MM2's own topics are not.
    g = graph(
        {"a": ["orders", "__x", "c.internal", "mm2-offsets.a.internal"], "b": []},
        [("a", "b", [".*"])],
    )
    assert names(g, "b") == {"a.orders", "a.c.internal"}


def test_failover_targets_nearest_first() -> None:
    g = graph({"a": ["t"], "b": [], "c": []}, [("a", "b", [".*"]), ("b", "c", [".*"])])
    assert g.failover_targets("a") == ["b", "c"]


def test_heartbeats_are_replicated_along_every_flow_whatever_the_patterns() -> None:
    g = graph({"a": ["t"], "b": [], "c": []}, [("a", "b", ["t"]), ("b", "c", ["nothing"])])
    beats = {c: {n for n, arr in g.topics_on(c).items() if arr[0].heartbeats} for c in "abc"}
    assert beats == {"a": set(), "b": {"heartbeats"}, "c": {"heartbeats", "b.heartbeats"}}
    assert g.redundant_paths() == []  # heartbeats take every path by design


_names = st.lists(st.sampled_from(["a", "b", "", "heartbeats", "x-y", "mm2", "__z"]), max_size=5)


@settings(max_examples=300, deadline=None)
@given(_names, st.sampled_from([".", "_", "--"]), st.sampled_from(["default", "identity"]))
def test_replication_traits_read_names_as_mm2_does(
    parts: list[str], sep: str, policy_name: str
) -> None:
    """The graph works a copy's traits out from its upstream's (`known`); the answer must be
    MM2's own: isCycle for every alias, isHeartbeatsTopic, isInternalTopic."""
    policy = policy_for(policy_name, sep)
    topic = sep.join(parts)
    known: dict[str, ReplicationTraits] = {}
    upstream = policy.upstream_topic(topic)
    if upstream is not None and upstream != topic:
        known[upstream] = replication_traits(policy, upstream)
    for traits in (replication_traits(policy, topic), replication_traits(policy, topic, known)):
        assert traits.heartbeats == policy.is_heartbeats_topic(topic)
        assert traits.internal == policy.is_internal_topic(topic)
        for alias in {"a", "b", "x-y", "mm2", "__z", "heartbeats", ""}:
            assert (alias in traits.sources) == is_cycle(policy, topic, alias)


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
@pytest.mark.parametrize("topics", [False, True])
def test_graph_output_ends_with_one_newline(fmt: str, topics: bool) -> None:
    """Each format is a text file (`graph -f dot > topology.dot`): it ends with a newline."""
    g = graph({"a": ["t"], "b": []}, [("a", "b", ["t"])])
    text = RENDERERS[fmt](g, topics)
    assert text.endswith("\n") and not text.endswith("\n\n")
    out = Console(file=io.StringIO(), record=True, width=100, color_system=None)
    path = Path(__file__).parents[2] / "examples" / "active-passive.yaml"
    result = CliRunner().invoke(app, ["graph", str(path), "-f", fmt], obj=Env(out=out))
    assert result.exit_code == 0
    printed = out.export_text()
    assert printed.endswith("\n") and not printed.endswith("\n\n")
