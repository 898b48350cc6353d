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
from mm2plan.core import graph as graph_module
from mm2plan.core.graph import TopologyGraph
from mm2plan.core.naming import ReplicationTraits, is_cycle, policy_for, replication_traits
from mm2plan.topology.loader import load_text
from mm2plan.topology.validate import validate_loaded
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


def ring(n: int, hops: int, heartbeats: bool = True, pattern: str = "{}-.*") -> str:
    """n clusters, each flowing to its `hops` next ones; by default with a narrow pattern (the
    source's own topics)."""
    names = [f"c{i:02d}" for i in range(n)]
    doc = {
        "version": 1,
        "clusters": {
            c: {"bootstrap_servers": f"{c}:9092", "topics": {f"{c}-t": {}}} for c in names
        },
        "flows": [
            {
                "source": s,
                "target": names[(i + k) % n],
                "topics": [pattern.format(s)],
                "emit_heartbeats": heartbeats,
            }
            for i, s in enumerate(names)
            for k in range(1, hops + 1)
        ],
    }
    return yaml.safe_dump(doc)


def built(text: str) -> TopologyGraph:
    t = load_text(text, "ring.yaml").topology
    assert t is not None
    return TopologyGraph(t)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 6),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=14),
    st.sampled_from([2, 40, 90]),
    st.lists(st.booleans(), min_size=14, max_size=14),
    st.sampled_from([("default", "."), ("identity", "."), ("default", "_")]),
)
def test_heartbeat_count_is_what_the_expansion_builds(
    n: int,
    pairs: list[tuple[int, int]],
    alias_len: int,
    emit: list[bool],
    naming: tuple[str, str],
) -> None:
    """Counted over the cluster graph (simple paths, cut where a name passes 249 characters)
    before anything is built, the heartbeats copies are exactly those the expansion makes."""
    names = [f"{'c' * (alias_len - 1)}{i}" for i in range(n)]
    flows = [
        {"source": names[s % n], "target": names[t % n], "topics": ["none"], "emit_heartbeats": e}
        for (s, t), e in zip(pairs, emit, strict=False)
        if s % n != t % n
    ]
    doc = {
        "version": 1,
        "defaults": {"replication_policy": naming[0], "separator": naming[1]},
        "clusters": {c: {"bootstrap_servers": "x:1"} for c in names},
        "flows": flows,
    }
    g = built(yaml.safe_dump(doc))
    counted = graph_module._heartbeat_copies(g, 10**9)
    assert counted is not None
    made = sum(1 for p in g.placements() if p.heartbeats and p.is_remote) + len(g.bad_names)
    assert counted == made


def test_heartbeat_mesh_is_refused_before_anything_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ring where each cluster flows to its 4 next ones: MM2 would copy heartbeats along
    ~10^14 paths. The count says so before one copy is made, and names heartbeats as the cause
    (the topic patterns are narrow: narrowing them cannot help)."""

    def no_expansion(self: TopologyGraph, queue: object) -> None:
        raise AssertionError("copies were materialised")

    monkeypatch.setattr(TopologyGraph, "_spread", no_expansion)
    text = ring(50, 4)
    g = built(text)
    assert g.overflow is not None and g.overflow.cause == "heartbeats"
    assert g.overflow.heartbeat_flows == 200 and g.overflow.heartbeat_clusters == 50
    assert not any(p.is_remote for p in g.placements())
    (d,) = validate_loaded(load_text(text, "ring.yaml")).diagnostics
    assert d.code == "heartbeat-expansion" and "heartbeats" in d.message
    assert "emit_heartbeats: false" in d.hint


def test_the_same_mesh_without_heartbeats_is_valid() -> None:
    result = validate_loaded(load_text(ring(50, 4, heartbeats=False), "ring.yaml"))
    assert list(result.diagnostics) == []
    assert result.graph is not None
    assert sum(1 for p in result.graph.placements() if p.is_remote) == 200  # a copy per flow


def test_copies_of_copies_past_the_limit_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """`.*` everywhere copies copies along every path: refused as `expansion-limit`, keeping
    only the declared topics (the partial copies would mislead the other checks)."""
    monkeypatch.setattr(graph_module, "MAX_PLACEMENTS", 1_000)
    text = ring(8, 7, heartbeats=False, pattern=".*")
    g = built(text)
    assert g.overflow is not None and g.overflow.cause == "topics" and g.overflow.copies_of_copies
    assert not any(p.is_remote for p in g.placements()) and g.bad_names == []
    codes = [d.code for d in validate_loaded(load_text(text, "ring.yaml")).diagnostics]
    assert codes == ["expansion-limit"]


def test_too_many_filter_tests_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many topics times many flows whose patterns match little: bounded by tests, not copies."""
    monkeypatch.setattr(graph_module, "MAX_FILTER_TESTS", 50)
    doc = {
        "version": 1,
        "clusters": {
            "a": {"bootstrap_servers": "a:1", "topics": {f"t{i}": {} for i in range(30)}},
            **{f"b{j}": {"bootstrap_servers": "b:1"} for j in range(5)},
        },
        "flows": [{"source": "a", "target": f"b{j}", "topics": [f"none{j}"]} for j in range(5)],
    }
    g = built(yaml.safe_dump(doc))
    assert g.overflow is not None and g.overflow.cause == "filter-tests"
