"""The topology as graphs, with domain verbs; the only module that imports networkx.

Two graphs: clusters (nodes) joined by flows (edges), and topics: a node per (cluster, name) a
cluster will hold, an edge per copy a flow makes. Replication cycles live on the topic graph, not
the cluster graph: with prefixed names A<->B is ordinary active/active, because MM2 refuses to send
a topic back to a cluster its name says it came from (`MirrorSourceConnector.isCycle`). Only when
names carry no origin (identity policy) can a topic come home, which is a cycle here.

What the flows would create is counted before it is built: MM2 copies heartbeats along every
path of the cluster graph, so a dense mesh asks for astronomically many copies, and a `.*` flow
copies copies again. Both are refused past `MAX_PLACEMENTS` (see `Overflow`). networkx is
imported only by the queries that need it (cycles under identity naming, `dependents`,
`failover_targets`), not by `validate` of a prefixed topology.
"""

from __future__ import annotations

import copy
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from mm2plan.core.filters import PatternError, topic_filter
from mm2plan.core.model import Flow, TopicSpec, Topology
from mm2plan.core.naming import (
    MAX_TOPIC_NAME_LENGTH,
    ReplicationPolicy,
    ReplicationTraits,
    policy_for,
    replication_traits,
    topic_name_problem,
)

if TYPE_CHECKING:
    import networkx as nx

MAX_PLACEMENTS = 2_000_000
"""Topics (local, copies and misnamed copies) one topology may make the clusters hold."""
MAX_FILTER_TESTS = 20_000_000
"""(topic, flow) pairs the expansion may test: ~10 s; bounds a file of many topics and flows
whose patterns match little, which the placement count alone would not."""

TopicNode = tuple[str, str]


class Placement(NamedTuple):
    """One topic a cluster will hold, and how it gets there. (A named tuple: a big topology has
    hundreds of thousands, and a frozen dataclass costs three times as much to make.)"""

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


@dataclass(frozen=True, slots=True)
class Overflow:
    """Why the expansion was refused, counted before anything was built."""

    cause: Literal["heartbeats", "topics", "filter-tests"]
    count: int
    """Past the limit: the counting stopped there, so MM2 would make at least this many."""
    limit: int
    heartbeat_clusters: int = 0
    """Clusters MM2 writes `heartbeats` on (the targets of flows with emit_heartbeats on)."""
    heartbeat_flows: int = 0
    """Flows with emit_heartbeats on."""
    copies_of_copies: bool = False
    """Most of the count is copies of copies (patterns that match remote names), not copies of
    declared topics."""


class TopologyGraph:
    """Built once per topology; every query is read-only."""

    def __init__(self, topology: Topology, policy: ReplicationPolicy | None = None) -> None:
        self.topology = topology
        self.policy = policy or policy_for(
            topology.defaults.replication_policy, topology.defaults.separator
        )
        self._arrivals: dict[TopicNode, list[Placement]] = defaultdict(list)
        self._copies: list[tuple[TopicNode, TopicNode, int]] = []
        """Every copy a flow makes, misnamed ones included: the topic graph's edges."""
        self._traits: dict[str, ReplicationTraits] = {}
        self.bad_names: list[BadName] = []
        self.overflow: Overflow | None = None
        self._usable = self._usable_flows()
        self._out: dict[str, list[Flow]] = defaultdict(list)
        self._in: dict[str, list[Flow]] = defaultdict(list)
        for flow in self._usable:
            self._out[flow.source].append(flow)
            self._in[flow.target].append(flow)
        self._expand()

    @property
    def truncated(self) -> bool:
        """The flows would create too much: only the declared topics were placed."""
        return self.overflow is not None

    # --- clusters and flows --------------------------------------------------------------------

    def _usable_flows(self) -> list[Flow]:
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

    def usable_flows(self) -> list[Flow]:
        """Enabled flows that replication could run: known clusters, valid patterns, first of
        duplicates. The validator reports why the others are not usable."""
        return list(self._usable)

    def cluster_aliases(self) -> list[str]:
        return sorted(self.topology.clusters)

    def flow(self, source: str, target: str) -> Flow | None:
        return next((f for f in self._out.get(source, ()) if f.target == target), None)

    def flows_into(self, cluster: str) -> list[Flow]:
        return list(self._in.get(cluster, ()))

    def flows_out_of(self, cluster: str) -> list[Flow]:
        return list(self._out.get(cluster, ()))

    def isolated_clusters(self) -> list[str]:
        return [c for c in self.topology.clusters if not self._in.get(c) and not self._out.get(c)]

    @cached_property
    def clusters(self) -> nx.DiGraph[str]:
        """The cluster graph: an edge per usable flow, carrying it as `flow`."""
        import networkx as nx

        g: nx.DiGraph[str] = nx.DiGraph()
        g.add_nodes_from(self.topology.clusters)
        for f in self._usable:
            g.add_edge(f.source, f.target, flow=f)
        return g

    def failover_targets(self, cluster: str) -> list[str]:
        """Clusters that hold copies of this cluster's topics, nearest first."""
        import networkx as nx

        lengths = nx.single_source_shortest_path_length(self.clusters, cluster)
        return sorted((c for c in lengths if c != cluster), key=lambda c: (lengths[c], c))

    # --- topics ---------------------------------------------------------------------------------

    def _expand(self) -> None:
        """Breadth-first, hop by hop, as MM2 would copy: each flow takes the topics its source
        holds (local or remote) that its filter matches, skips internal topics and cycles, and
        names the copy by the replication policy."""
        queue: deque[Placement] = deque()
        for alias, cluster in self.topology.clusters.items():
            for spec in cluster.topics:
                p = Placement(alias, spec.name, alias, spec.name, (alias,))
                if self._place(p):
                    queue.append(p)
        # MirrorHeartbeatConnector writes `heartbeats` on each flow's target; MirrorSource
        # replicates heartbeats topics along every flow out of there (isHeartbeatsTopic).
        beat = self.policy.heartbeats_topic()
        for alias in sorted({f.target for f in self._usable if f.emit_heartbeats}):
            if (alias, beat) not in self._arrivals:
                p = Placement(alias, beat, alias, beat, (alias,), heartbeats=True)
                if self._place(p):
                    queue.append(p)
        held = len(self._arrivals)
        beats = _heartbeat_copies(self, max(0, MAX_PLACEMENTS - held))
        if beats is not None and held + beats > MAX_PLACEMENTS:
            self._overflow("heartbeats" if beats > held else "topics", held + beats)
            return
        self._spread(queue)

    def _overflow(
        self,
        cause: Literal["heartbeats", "topics", "filter-tests"],
        n: int,
        copies_of_copies: bool = False,
    ) -> None:
        emitting = [f for f in self._usable if f.emit_heartbeats]
        limit = MAX_FILTER_TESTS if cause == "filter-tests" else MAX_PLACEMENTS
        self.overflow = Overflow(
            cause, n, limit, len({f.target for f in emitting}), len(emitting), copies_of_copies
        )

    def with_local_topics(self, topics: Mapping[str, Iterable[str]]) -> TopologyGraph:
        """This graph plus local topics it does not hold yet (live ones no cluster declares: MM2
        copies them all the same) and their copies, as if declared after the others. The planner
        extends the graph validate built instead of building another; this one stays as it was."""
        graph = copy.copy(self)
        graph.__dict__.pop("topics", None)  # the cached networkx view of the copies
        graph._copies = list(self._copies)
        graph._arrivals = defaultdict(list, {n: list(a) for n, a in self._arrivals.items()})
        graph._traits = dict(self._traits)
        graph.bad_names = list(self.bad_names)
        clusters = dict(self.topology.clusters)
        queue: deque[Placement] = deque()
        for alias, names in topics.items():
            extra = tuple(TopicSpec(n) for n in sorted(names))
            clusters[alias] = replace(clusters[alias], topics=clusters[alias].topics + extra)
            for spec in extra:
                p = Placement(alias, spec.name, alias, spec.name, (alias,))
                if graph._place(p):
                    queue.append(p)
        graph.topology = replace(self.topology, clusters=clusters)
        if not graph.truncated:
            graph._spread(queue)
        return graph

    def _spread(self, queue: deque[Placement]) -> None:
        """Copies of what `queue` holds, and of their copies, until nothing new arrives.

        Counted first, as (topic, copy, flow) records; only once the count is within the
        limits are they made placements. Past a limit nothing is made and only the declared
        topics stay: a dense mesh asks for millions, and building them was minutes and GBs."""
        roots = list(queue)
        counted = self._count_copies(roots)
        if counted is None:
            return
        nodes, parents, flow_of, problems = counted
        arrivals = self._arrivals
        copies = self._copies
        new_placement = tuple.__new__  # Placement(...) without its Python-level __new__
        made: list[Placement] = roots
        for j in range(len(roots), len(nodes)):
            p = made[parents[j]]
            dest = nodes[j]
            index = flow_of[j]
            copy_ = new_placement(
                Placement,
                (
                    dest[0],
                    dest[1],
                    p.origin_cluster,
                    p.origin_topic,
                    (*p.hops, dest[0]),
                    p.topic,
                    index,
                    p.heartbeats,
                ),
            )
            made.append(copy_)
            copies.append(((p.cluster, p.topic), dest, index))
            problem = problems.get(j)
            if problem is not None:
                self.bad_names.append(BadName(copy_, problem))
            else:
                arrivals[dest].append(copy_)

    def _count_copies(
        self, roots: list[Placement]
    ) -> tuple[list[TopicNode], list[int], list[int], dict[int, str]] | None:
        """Breadth-first as MM2 copies: each flow takes the topics its source holds that its
        filter matches, skipping internal topics and cycles; each copy is named by the policy.
        Returns every copy as (where it lands, the record it copies, the flow, a naming problem),
        or None, having said why, once past `MAX_PLACEMENTS` or `MAX_FILTER_TESTS`."""
        policy = self.policy
        traits = self._traits
        fmt = policy.format_remote_topic
        # Flows out of a cluster grouped by filter (a mesh's flows often share their patterns):
        # each topic is matched once per group.
        out: dict[str, list[tuple[Callable[[str], bool], list[tuple[str, str, int]]]]] = {}
        for alias, flows in self._out.items():
            groups: dict[tuple[object, object], tuple[Callable[[str], bool], list[Any]]] = {}
            for f in flows:
                nf = topic_filter(f)
                group = groups.setdefault((nf.include, nf.exclude), (nf.matches, []))
                group[1].append((f.target, f.source, f.index))
            out[alias] = list(groups.values())
        nodes: list[TopicNode] = [(p.cluster, p.topic) for p in roots]
        parents = [-1] * len(roots)
        flow_of = [-1] * len(roots)
        problems: dict[int, str] = {}
        held = set(self._arrivals)
        count = len(held)
        tests = beats = deep = 0
        todo = deque(range(len(roots)))
        while todo:
            i = todo.popleft()
            cluster, name = nodes[i]
            groups_out = out.get(cluster)
            if not groups_out:
                continue
            tr = traits.get(name)
            if tr is None:
                tr = traits[name] = replication_traits(policy, name, traits)
            if tr.internal:
                continue
            tests += len(groups_out)
            if tests > MAX_FILTER_TESTS:
                self._drop_copies()
                self._overflow("filter-tests", tests)
                return None
            for matches, targets in groups_out:
                # ReplicationTraits.replicated, with the filter tried only when it decides
                if not (tr.heartbeats or matches(name)):
                    continue
                for target, source, index in targets:
                    if target in tr.sources:
                        continue
                    remote = fmt(source, name)
                    dest = (target, remote)
                    j = len(nodes)
                    nodes.append(dest)
                    parents.append(i)
                    flow_of.append(index)
                    problem = topic_name_problem(remote)
                    if problem:
                        problems[j] = problem
                    elif dest in held:
                        continue  # one more way to a topic already there: not copied on
                    else:
                        held.add(dest)
                        todo.append(j)
                        beats += tr.heartbeats
                        deep += i >= len(roots)
                    count += 1
                    if count > MAX_PLACEMENTS:
                        self._drop_copies()
                        self._overflow(
                            "heartbeats" if 2 * beats > count else "topics",
                            count,
                            2 * deep > count,
                        )
                        return None
        return nodes, parents, flow_of, problems

    def _drop_copies(self) -> None:
        """Drop every copy: what was built past a limit would only mislead the other checks."""
        local = {
            node: [a for a in arr if not a.is_remote]
            for node, arr in self._arrivals.items()
            if not arr[0].is_remote
        }
        self._arrivals = defaultdict(list, local)
        self._copies = []
        self.bad_names = []

    def _place(self, p: Placement) -> bool:
        """Record an arrival; True when the node is new and must be expanded further."""
        arrivals = self._arrivals[(p.cluster, p.topic)]
        arrivals.append(p)
        return len(arrivals) == 1

    @cached_property
    def topics(self) -> nx.DiGraph[TopicNode]:
        """The topic graph (networkx): a node per topic a cluster holds, an edge per copy."""
        import networkx as nx

        g: nx.DiGraph[TopicNode] = nx.DiGraph()
        g.add_nodes_from(self._arrivals)
        for u, v, index in self._copies:
            g.add_edge(u, v, flow=index)
        return g

    def placements(self) -> Iterable[Placement]:
        for arrivals in self._arrivals.values():
            yield from arrivals

    def held(self) -> Collection[TopicNode]:
        """Every (cluster, topic) the clusters will hold."""
        return self._arrivals.keys()

    def first_arrivals(self) -> Iterable[Placement]:
        """One placement per topic a cluster holds: the first way it arrives."""
        return (arrivals[0] for arrivals in self._arrivals.values())

    def topics_on(self, cluster: str) -> dict[str, list[Placement]]:
        """Every topic name the cluster will hold, with each way it arrives."""
        return {name: arr for (c, name), arr in self._arrivals.items() if c == cluster}

    def clashes(self) -> list[list[Placement]]:
        """Names one cluster would hold for two different topics (distinct origins)."""
        out = []
        for arrivals in self._arrivals.values():
            if len(arrivals) < 2:
                continue
            origins = {p.origin for p in arrivals}
            if len(origins) > 1:
                firsts: dict[TopicNode, Placement] = {}
                for p in arrivals:
                    firsts.setdefault(p.origin, p)
                out.append(list(firsts.values()))
        return out

    def redundant_paths(self) -> list[list[Placement]]:
        """The same origin topic reaching one cluster along more than one path."""
        copies = [
            p
            for p in self.placements()
            if p.source_topic is not None and p.cluster != p.origin_cluster and not p.heartbeats
        ]
        keys = [(p.cluster, p.origin_cluster, p.origin_topic) for p in copies]
        if len(set(keys)) == len(keys):
            return []  # every copy its own path: the common case, in one pass
        first: dict[tuple[str, str, str], Placement] = {}
        more: dict[tuple[str, str, str], list[Placement]] = {}
        for key, p in zip(keys, copies, strict=True):
            seen = first.setdefault(key, p)
            if seen is not p:
                more.setdefault(key, [seen]).append(p)
        return [more[key] for key in first if key in more]

    def replication_cycles(self) -> list[Cycle]:
        """Topic loops (identity naming), grouped by the clusters they go round.

        A copy's name is never shorter than its source's, so a loop can only run along copies
        that keep the name: the others are left out, and a prefixing policy has none to search
        (nor imports networkx to find that out)."""
        same = [(u, v, i) for u, v, i in self._copies if len(u[1]) == len(v[1])]
        if not same:
            return []
        import networkx as nx

        loops: nx.DiGraph[TopicNode] = nx.DiGraph()
        for u, v, index in same:
            loops.add_edge(u, v, flow=index)
        grouped: dict[tuple[str, ...], tuple[set[str], set[int]]] = {}
        for component in nx.strongly_connected_components(loops):
            nodes = sorted(component)
            if len(nodes) == 1 and not loops.has_edge(nodes[0], nodes[0]):
                continue
            sub = loops.subgraph(nodes)
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
        import networkx as nx

        node = (cluster, topic)
        return set(nx.descendants(self.topics, node)) if node in self.topics else set()


def _heartbeat_copies(graph: TopologyGraph, limit: int) -> int | None:
    """How many heartbeats copies (and misnamed ones) MM2 would make, stopping past `limit`;
    None where names alone could change the answer, which the expansion then counts instead.

    A heartbeats copy passes every flow's filter, so the count needs no names: a copy of
    `heartbeats` from cluster X goes to Y unless Y is in its name's sources (MM2's cycle rule),
    so copies are the simple paths of the cluster graph from each cluster holding `heartbeats`,
    cut where the name would pass 249 characters. That holds when every alias reads back from
    the name it prefixes (no separator inside) and prefixes no internal name, and no declared
    topic looks like a heartbeats copy."""
    policy, topology = graph.policy, graph.topology
    beat, sep = policy.heartbeats_topic(), policy.separator
    if not sep or not sep.isascii() or not policy.is_heartbeats_topic(beat):
        return None
    aliases = list(topology.clusters)
    for alias in aliases:
        remote = policy.format_remote_topic(alias, beat)
        if (
            not alias.isascii()
            or sep in alias
            or topic_name_problem(alias) is not None
            or policy.topic_source(remote) != alias
            or policy.upstream_topic(remote) != beat
            or policy.is_internal_topic(remote)
        ):
            return None
    holders = []
    for alias, cluster in topology.clusters.items():
        for spec in cluster.topics:
            # Both policies read a heartbeats topic as a name ending with `heartbeats`.
            name = spec.name
            if name.endswith(beat) and name != beat and policy.is_heartbeats_topic(name):
                return None
        if (alias, beat) in graph._arrivals:
            holders.append(alias)
    bit = {alias: 1 << i for i, alias in enumerate(aliases)}
    out_mask = [0] * len(aliases)
    for f in graph._usable:
        out_mask[aliases.index(f.source)] |= bit[f.target]
    grow = [len(alias) + len(sep) for alias in aliases]
    made = 0
    for holder in holders:
        h = aliases.index(holder)
        # (cluster, clusters its copy's name already names, length of that name)
        stack = [(h, bit[holder], len(beat))]
        while stack:
            v, seen, length = stack.pop()
            free = out_mask[v] & ~seen
            if not free:
                continue
            made += free.bit_count()
            if made > limit:
                return made
            length += grow[v]
            if length > MAX_TOPIC_NAME_LENGTH:
                continue  # misnamed copies: reported, never copied further
            while free:
                low = free & -free
                free ^= low
                stack.append((low.bit_length() - 1, seen | low, length))
    return made
