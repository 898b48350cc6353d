"""`TopologyGraph.with_local_topics` (the planner adds live topics no cluster declares to the graph
validate built) gives the graph a build with those topics declared would give."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from mm2plan.core.graph import TopologyGraph
from mm2plan.core.model import Cluster, Flow, TopicSpec, Topology

ALIASES = ["a", "b", "c"]
NAMES = ["orders", "pay.card", "x", "heartbeats", "a.orders"]


@st.composite
def cases(draw: st.DrawFn) -> tuple[Topology, dict[str, list[str]]]:
    declared = {a: draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)) for a in ALIASES}
    extra = {
        a: [
            n for n in draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True)) if n not in d
        ]
        for a, d in declared.items()
    }
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(ALIASES), st.sampled_from(ALIASES)), max_size=4)
    )
    flows = tuple(
        Flow(s, t, topics=(draw(st.sampled_from([".*", "orders", "pay\\..*"])),), index=i)
        for i, (s, t) in enumerate(pairs)
    )
    policy = draw(st.sampled_from(["default", "identity"]))
    topology = Topology(
        1,
        {
            a: Cluster(a, f"{a}:9092", topics=tuple(TopicSpec(n) for n in declared[a]))
            for a in ALIASES
        },
        flows,
    )
    topology = replace(topology, defaults=replace(topology.defaults, replication_policy=policy))
    return topology, {a: names for a, names in extra.items() if names}


def declared_too(topology: Topology, extra: dict[str, list[str]]) -> Topology:
    clusters = dict(topology.clusters)
    for alias, names in extra.items():
        more = tuple(TopicSpec(n) for n in sorted(names))
        clusters[alias] = replace(clusters[alias], topics=clusters[alias].topics + more)
    return replace(topology, clusters=clusters)


def clashes(graph: TopologyGraph) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    return {(c[0].cluster, c[0].topic, frozenset(p.origin for p in c)) for c in graph.clashes()}


@settings(max_examples=200, deadline=None)
@given(cases())
def test_extending_equals_building_with_the_topics_declared(
    case: tuple[Topology, dict[str, list[str]]],
) -> None:
    topology, drawn = case
    first = TopologyGraph(topology)
    # As the planner's: live topics the graph does not hold already.
    extra = {a: [n for n in names if n not in first.topics_on(a)] for a, names in drawn.items()}
    before = Counter(first.placements())
    extended = first.with_local_topics(extra)
    rebuilt = TopologyGraph(declared_too(topology, extra))
    assert Counter(extended.placements()) == Counter(rebuilt.placements())
    assert extended.topology == rebuilt.topology
    assert set(extended.topics.edges) == set(rebuilt.topics.edges)
    assert Counter(b.placement for b in extended.bad_names) == Counter(
        b.placement for b in rebuilt.bad_names
    )
    assert clashes(extended) == clashes(rebuilt)
    assert Counter(first.placements()) == before  # the graph validate built is left as it was
