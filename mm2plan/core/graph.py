"""The topology as graphs, with domain verbs; the only module that imports networkx.

Two graphs: clusters (nodes) joined by flows (edges), and topics: a node per (cluster, name) a
cluster will hold, an edge per copy a flow makes. Replication cycles live on the topic graph, not
the cluster graph: with prefixed names A<->B is ordinary active/active, because MM2 refuses to send
a topic back to a cluster its name says it came from (`MirrorSourceConnector.isCycle`). Only when
names carry no origin (identity policy) can a topic come home, which is a cycle here.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from mm2plan.core.filters import NameFilter, PatternError, topic_filter
from mm2plan.core.model import Flow, Topology
from mm2plan.core.naming import (
    ReplicationPolicy,
    policy_for,
    should_replicate_topic,
    topic_name_problem,
)

MAX_PLACEMENTS = 2_000_000
"""Stops expansion of dense meshes replicating `.*`: MM2 would copy along every simple path."""

TopicNode = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Placement:
    """One topic a cluster will hold, and how it gets there."""

    cluster: str
    topic: str
    origin_cluster: str
    origin_topic: str
    hops: tuple[str, ...]
    """Clusters from the origin to here, both included."""
    source_topic: str | None = None
    """The topic's name on the previous hop; `None` for a declared local topic."""
    flow_index: int | None = None
    heartbeats: bool = False
    """MM2's heartbeats (or a copy): replicated along every flow, whatever its patterns."""

    @property
    def is_remote(self) -> bool:
        return self.source_topic is not None

    @property
    def origin(self) -> TopicNode:
        return (self.origin_cluster, self.origin_topic)

    @property
    def source_cluster(self) -> str | None:
        return self.hops[-2] if len(self.hops) > 1 else None

    def describe(self) -> str:
        """`dc1:orders` for a local topic, `dc1:orders via dc2` for a multi-hop copy."""
        via = f" via {'->'.join(self.hops[1:-1])}" if len(self.hops) > 2 else ""
        return f"{self.origin_cluster}:{self.origin_topic}{via}"


@dataclass(frozen=True, slots=True)
class Cycle:
    clusters: tuple[str, ...]
    topics: tuple[str, ...]
    flow_indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BadName:
    placement: Placement
    problem: str


class TopologyGraph:
    """Built once per topology; every query is read-only."""

    def __init__(self, topology: Topology, policy: ReplicationPolicy | None = None) -> None:
        self.topology = topology
        self.policy = policy or policy_for(
            topology.defaults.replication_policy, topology.defaults.separator
        )
        self.clusters: nx.DiGraph[str] = nx.DiGraph()
        self.topics: nx.DiGraph[TopicNode] = nx.DiGraph()
        self._arrivals: dict[TopicNode, list[Placement]] = defaultdict(list)
        self.bad_names: list[BadName] = []
        self.truncated = False
        self.clusters.add_nodes_from(topology.clusters)
        for flow in self.usable_flows():
            self.clusters.add_edge(flow.source, flow.target, flow=flow)
        self._expand()

    # --- clusters and flows --------------------------------------------------------------------

    def usable_flows(self) -> list[Flow]:
        """Enabled flows that replication could run: known clusters, valid patterns, first of
        duplicates. The validator reports why the others are not usable."""
        seen: set[tuple[str, str]] = set()
        out = []
        for f in self.topology.enabled_flows():
            pair = (f.source, f.target)
            if (
                f.source not in self.topology.clusters
                or f.target not in self.topology.clusters
                or f.source == f.target
                or pair in seen
            ):
                continue
            try:
                topic_filter(f)
            except PatternError:
                continue
            seen.add(pair)
            out.append(f)
        return out

    def flows_into(self, cluster: str) -> list[Flow]:
        return [d["flow"] for _, _, d in self.clusters.in_edges(cluster, data=True)]

    def flows_out_of(self, cluster: str) -> list[Flow]:
        return [d["flow"] for _, _, d in self.clusters.out_edges(cluster, data=True)]

    def isolated_clusters(self) -> list[str]:
        return [c for c in self.clusters.nodes if self.clusters.degree(c) == 0]

    def failover_targets(self, cluster: str) -> list[str]:
        """Clusters that hold copies of this cluster's topics, nearest first."""
        lengths = nx.single_source_shortest_path_length(self.clusters, cluster)
        return sorted((c for c in lengths if c != cluster), key=lambda c: (lengths[c], c))

    # --- topics ---------------------------------------------------------------------------------

    def _expand(self) -> None:
        """Breadth-first, hop by hop, as MM2 would copy: each flow takes the topics its source
        holds (local or remote) that its filter matches, skips internal topics and cycles, and
        names the copy by the replication policy."""
        filters: dict[int, NameFilter] = {}
        out_flows: dict[str, list[Flow]] = defaultdict(list)
        for f in self.usable_flows():
            filters[f.index] = topic_filter(f)
            out_flows[f.source].append(f)
        queue: deque[Placement] = deque()
        for alias, cluster in self.topology.clusters.items():
            for spec in cluster.topics:
                p = Placement(alias, spec.name, alias, spec.name, (alias,))
                if self._place(p):
                    queue.append(p)
        # MirrorHeartbeatConnector writes `heartbeats` on each flow's target; MirrorSource
        # replicates heartbeats topics along every flow out of there (isHeartbeatsTopic).
        beat = self.policy.heartbeats_topic()
        for alias in sorted({f.target for f in self.usable_flows() if f.emit_heartbeats}):
            if (alias, beat) not in self._arrivals:
                p = Placement(alias, beat, alias, beat, (alias,), heartbeats=True)
                if self._place(p):
                    queue.append(p)
        count = len(queue)
        while queue:
            p = queue.popleft()
            for flow in out_flows.get(p.cluster, ()):
                if not should_replicate_topic(
                    self.policy, p.topic, flow.target, filters[flow.index].matches
                ):
                    continue
                remote = self.policy.format_remote_topic(flow.source, p.topic)
                copy = Placement(
                    flow.target,
                    remote,
                    p.origin_cluster,
                    p.origin_topic,
                    (*p.hops, flow.target),
                    p.topic,
                    flow.index,
                    p.heartbeats,
                )
                self.topics.add_edge((p.cluster, p.topic), (flow.target, remote), flow=flow.index)
                problem = topic_name_problem(remote)
                if problem:
                    self.bad_names.append(BadName(copy, problem))
                    continue
                if self._place(copy):
                    count += 1
                    if count > MAX_PLACEMENTS:
                        self.truncated = True
                        return
                    queue.append(copy)

    def _place(self, p: Placement) -> bool:
        """Record an arrival; True when the node is new and must be expanded further."""
        node = (p.cluster, p.topic)
        arrivals = self._arrivals[node]
        arrivals.append(p)
        if len(arrivals) == 1:
            self.topics.add_node(node)
            return True
        return False

    def placements(self) -> Iterable[Placement]:
        for arrivals in self._arrivals.values():
            yield from arrivals

    def topics_on(self, cluster: str) -> dict[str, list[Placement]]:
        """Every topic name the cluster will hold, with each way it arrives."""
        return {name: arr for (c, name), arr in self._arrivals.items() if c == cluster}

    def remote_topics_on(self, cluster: str) -> list[Placement]:
        return [
            arr[0] for (c, _), arr in self._arrivals.items() if c == cluster and arr[0].is_remote
        ]

    def clashes(self) -> list[list[Placement]]:
        """Names one cluster would hold for two different topics (distinct origins)."""
        out = []
        for arrivals in self._arrivals.values():
            origins = {p.origin for p in arrivals}
            if len(origins) > 1:
                firsts: dict[TopicNode, Placement] = {}
                for p in arrivals:
                    firsts.setdefault(p.origin, p)
                out.append(list(firsts.values()))
        return out

    def redundant_paths(self) -> list[list[Placement]]:
        """The same origin topic reaching one cluster along more than one path."""
        by_origin: dict[tuple[str, TopicNode], list[Placement]] = defaultdict(list)
        for p in self.placements():
            if p.is_remote and p.cluster != p.origin_cluster and not p.heartbeats:
                by_origin[(p.cluster, p.origin)].append(p)
        return [ps for ps in by_origin.values() if len(ps) > 1]

    def replication_cycles(self) -> list[Cycle]:
        """Topic loops (identity naming), grouped by the clusters they go round."""
        grouped: dict[tuple[str, ...], tuple[set[str], set[int]]] = {}
        for component in nx.strongly_connected_components(self.topics):
            nodes = sorted(component)
            if len(nodes) == 1 and not self.topics.has_edge(nodes[0], nodes[0]):
                continue
            sub = self.topics.subgraph(nodes)
            cycle_edges = nx.find_cycle(sub, nodes[0])
            ring = tuple(u[0] for u, _ in cycle_edges)
            start = ring.index(min(ring))
            ring = ring[start:] + ring[:start] + (ring[start],)
            topics, flows = grouped.setdefault(ring, (set(), set()))
            topics.update(n[1] for n in nodes)
            flows.update(d["flow"] for _, _, d in sub.edges(data=True))
        return [
            Cycle(ring, tuple(sorted(t)), tuple(sorted(f)))
            for ring, (t, f) in sorted(grouped.items())
        ]

    def dependents(self, cluster: str, topic: str) -> set[TopicNode]:
        """Copies downstream of a topic: what breaks if it is not there."""
        node = (cluster, topic)
        return set(nx.descendants(self.topics, node)) if node in self.topics else set()
