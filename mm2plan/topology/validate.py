"""Offline checks of a loaded topology: references, patterns, naming, cycles, clashes.

Every check appends diagnostics; none stops the others, so one run reports everything.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from mm2plan.core.collector import collector_paused
from mm2plan.core.diagnostics import Diagnostic, Diagnostics, did_you_mean, error, warning
from mm2plan.core.filters import PatternError, compile_pattern
from mm2plan.core.graph import Cycle, Overflow, Placement, TopologyGraph
from mm2plan.core.model import Flow, Secret, Topology, join_path
from mm2plan.core.naming import (
    MAX_TOPIC_NAME_LENGTH,
    is_cycle,
    topic_name_problem,
    unify_collision_chars,
)
from mm2plan.topology.loader import LoadResult, load_file

PATTERN_FIELDS = ("topics", "topics_exclude", "groups", "groups_exclude")


@dataclass(frozen=True)
class Validation:
    topology: Topology | None
    graph: TopologyGraph | None
    diagnostics: Diagnostics

    @property
    def valid(self) -> bool:
        return self.topology is not None and not self.diagnostics.has_errors()


def validate_file(path: str) -> Validation:
    with collector_paused():  # a million objects that live on, and no cycles
        return validate_loaded(load_file(path))


def validate_loaded(result: LoadResult) -> Validation:
    diags = Diagnostics(result.diagnostics)
    if result.topology is None:
        return Validation(None, None, diags)
    graph = TopologyGraph(result.topology)
    diags.extend(check(result.topology, graph))
    return Validation(result.topology, graph, diags)


def check(t: Topology, graph: TopologyGraph) -> Iterator[Diagnostic]:
    yield from _flows(t)
    yield from _apps_reference_clusters(t)
    yield from _aliases(t)
    yield from _local_topic_names(t)
    yield from _local_topics_looking_remote(t, graph)
    yield from _graph_findings(t, graph)
    yield from _metric_collisions(t, graph)
    yield from _apps_topics(t, graph)
    yield from _secrets(t)
    in_flows = {f.source for f in t.flows} | {f.target for f in t.flows}
    for alias in graph.isolated_clusters():
        if len(t.clusters) > 1 and alias not in in_flows:
            yield warning(
                "isolated-cluster",
                f"cluster '{alias}' takes part in no flow",
                "add a flow to or from it, or remove it",
                source=t.mark(f"clusters.{alias}"),
                path=join_path("clusters", alias),
            )


def _flow_path(i: int, key: str = "") -> str:
    return join_path(f"flows[{i}]", key) if key else f"flows[{i}]"


def _flows(t: Topology) -> Iterator[Diagnostic]:
    seen: dict[tuple[str, str], int] = {}
    known = ", ".join(sorted(t.clusters))
    for f in t.flows:
        for end in ("source", "target"):
            alias = getattr(f, end)
            if alias not in t.clusters:
                yield error(
                    "unknown-cluster",
                    f"flow {f.name}: {end} cluster '{alias}' is not declared",
                    did_you_mean(alias, t.clusters) or f"declared: {known}",
                    source=t.mark(_flow_path(f.index, end)),
                    path=_flow_path(f.index, end),
                )
        if f.source == f.target:
            yield error(
                "self-replication",
                f"flow {f.name} replicates a cluster into itself",
                "source and target must be different clusters",
                source=t.mark(_flow_path(f.index)),
                path=_flow_path(f.index),
            )
        pair = (f.source, f.target)
        if pair in seen:
            yield error(
                "duplicate-flow",
                f"flow {f.name} is declared twice (first as flows[{seen[pair]}])",
                "merge their topic patterns into one flow",
                source=t.mark(_flow_path(f.index)),
                path=_flow_path(f.index),
            )
        else:
            seen[pair] = f.index
        yield from _engine_support(t, f)
        for field in PATTERN_FIELDS:
            for j, pattern in enumerate(getattr(f, field)):
                try:
                    compile_pattern(pattern)
                except PatternError as exc:
                    path = f"{_flow_path(f.index, field)}[{j}]"
                    yield error(
                        "invalid-pattern",
                        f"flow {f.name}: {field} pattern {pattern!r} "
                        f"is not a valid regular expression: {exc.reason}",
                        "patterns are Java regexes matched against the whole name; "
                        r"escape a literal dot as '\.'",
                        source=t.mark(path),
                        path=path,
                    )


def _engine_support(t: Topology, f: Flow) -> Iterator[Diagnostic]:
    """What only the bundled runtime does, asked of MM2 on Connect."""
    if t.runtime.engine != "connect":
        return
    if f.loop_prevention == "headers":
        path = _flow_path(f.index, "loop_prevention")
        yield error(
            "unsupported-by-engine",
            f"flow {f.name}: loop_prevention: headers needs the bundled runtime; MM2 on "
            "Connect has no such thing",
            "use runtime.engine: bundled, or remove loop_prevention (and break any identity "
            "cycle by excluding the replicated topics on the return flow)",
            source=t.mark(path),
            path=path,
        )
    if f.exactly_once:
        path = _flow_path(f.index, "exactly_once")
        yield warning(
            "unsupported-by-engine",
            f"flow {f.name}: exactly_once needs Kafka Connect's exactly-once source support "
            "(KIP-618), which the connect engine does not set up yet: this flow is copied at "
            "least once",
            "use runtime.engine: bundled for exactly-once copies, or remove exactly_once",
            source=t.mark(path),
            path=path,
        )


def _apps_reference_clusters(t: Topology) -> Iterator[Diagnostic]:
    for app in t.apps:
        for j, alias in enumerate(app.clusters):
            if alias not in t.clusters:
                path = f"{join_path('apps', app.name)}.clusters[{j}]"
                yield error(
                    "unknown-cluster",
                    f"app '{app.name}' names cluster '{alias}', which is not declared",
                    did_you_mean(alias, t.clusters) or f"declared: {', '.join(sorted(t.clusters))}",
                    source=t.mark(path),
                    path=path,
                )


def _aliases(t: Topology) -> Iterator[Diagnostic]:
    sep = t.defaults.separator
    if t.defaults.replication_policy != "default":
        return
    for alias in t.clusters:
        if sep in alias:
            path = join_path("clusters", alias)
            yield error(
                "alias-contains-separator",
                f"cluster alias '{alias}' contains the separator '{sep}'",
                f"MM2 reads a remote topic's source as the text before the first "
                f"'{sep}', so '{alias}{sep}orders' would look like it came from "
                f"'{alias.split(sep)[0]}'; rename the alias or change "
                "defaults.separator",
                source=t.mark(path),
                path=path,
            )


def _name_diagnostic(
    name: str, problem: str, where: str, path: str, t: Topology, hint: str
) -> Diagnostic:
    code = "topic-name-too-long" if len(name) > MAX_TOPIC_NAME_LENGTH else "invalid-topic-name"
    shown = name if len(name) <= 80 else name[:77] + "..."
    return error(
        code, f"{where}: topic name '{shown}' {problem}", hint, source=t.mark(path), path=path
    )


def _local_topic_names(t: Topology) -> Iterator[Diagnostic]:
    for alias, cluster in t.clusters.items():
        for spec in cluster.topics:
            problem = topic_name_problem(spec.name)
            if problem:
                path = join_path(join_path(join_path("clusters", alias), "topics"), spec.name)
                yield _name_diagnostic(
                    spec.name,
                    problem,
                    f"cluster {alias}",
                    path,
                    t,
                    "Kafka topic names are 1-249 characters of [a-zA-Z0-9._-], and not '.' or '..'",
                )


def _local_topics_looking_remote(t: Topology, graph: TopologyGraph) -> Iterator[Diagnostic]:
    """`dc1.audit` declared on dc2: MM2 reads every name through the policy, so it takes this
    local topic for a copy from dc1 (`topicSource`), misreports its origin, and never sends it
    to dc1 (`isCycle`). A warning; an error where a flow out of the cluster names the topic
    outright, since then the user wants it copied."""
    policy = graph.policy
    joiner = "_" if policy.separator != "_" else "-"
    for alias, cluster in t.clusters.items():
        for spec in cluster.topics:
            name = spec.name
            source = policy.topic_source(name)
            if source is None or source == alias or source not in t.clusters:
                continue
            if policy.is_internal_topic(name):
                continue  # MM2's own (checkpoints of a flow from `source`): declared to tune it
            never = [c for c in t.clusters if c != alias and is_cycle(policy, name, c)]
            path = join_path(join_path(join_path("clusters", alias), "topics"), name)
            message = (
                f"topic '{name}' on {alias} is local, but MM2 reads its name as a copy from "
                f"{source}: it reports {source} as its origin and never copies it to "
                f"{', '.join(never)}"
            )
            rest = policy.upstream_topic(name)
            hint = (
                f"rename the topic so that it does not start with '{source}{policy.separator}'"
                f" (e.g. '{source}{joiner}{rest}'), or rename cluster {source}"
            )
            selecting = [
                f for f in graph.usable_flows() if f.source == alias and _names_it(f, name)
            ]
            if not selecting:
                yield warning(
                    "local-topic-looks-remote", message, hint, source=t.mark(path), path=path
                )
                continue
            said = [
                f"flow {f.name} selects it by name, but MM2 will not copy it to {f.target}"
                if is_cycle(policy, name, f.target)
                else f"flow {f.name} copies it as '{policy.format_remote_topic(alias, name)}', "
                f"reported as coming from {source}"
                for f in selecting
            ]
            yield error(
                "local-topic-looks-remote",
                f"{message}; {'; '.join(said)}",
                hint,
                source=t.mark(path),
                path=path,
            )


def _names_it(flow: Flow, name: str) -> bool:
    r"""A `topics` pattern that is the name itself, dots escaped or not (`dc1\.audit`)."""
    return any(
        _LITERAL_ESCAPES.sub(r"\1", p) == name and compile_pattern(p).fullmatch(name)
        for p in flow.topics
    )


_LITERAL_ESCAPES = re.compile(r"\\([^A-Za-z0-9])")


def _placement_path(p: Placement) -> str:
    if p.flow_index is not None:
        return _flow_path(p.flow_index)
    return join_path(join_path(join_path("clusters", p.cluster), "topics"), p.topic)


def _graph_findings(t: Topology, graph: TopologyGraph) -> Iterator[Diagnostic]:
    for bad in graph.bad_names:
        p = bad.placement
        yield _name_diagnostic(
            p.topic,
            bad.problem,
            f"remote copy of {p.describe()} on {p.cluster}",
            _placement_path(p),
            t,
            "shorten the source topic or the cluster alias, or narrow this flow's topics",
        )
    for cycle in graph.replication_cycles():
        yield _cycle(t, cycle)
    for clash in graph.clashes():
        p0 = clash[0]
        origins = " and ".join(p.describe() for p in clash)
        paths = [_placement_path(p) for p in clash]
        yield error(
            "naming-clash",
            f"cluster {p0.cluster} would hold two different topics named '{p0.topic}': {origins}",
            "rename one, exclude it from the flow, or use the default replication "
            "policy so remote names carry their source",
            source=t.mark(*paths),
            path=paths[-1],
        )
    for paths_ in graph.redundant_paths():
        p0 = paths_[0]
        names = ", ".join(f"'{p.topic}' (via {'->'.join(p.hops)})" for p in paths_)
        yield warning(
            "redundant-path",
            f"{p0.origin_cluster}:{p0.origin_topic} reaches "
            f"{p0.cluster} along {len(paths_)} paths: {names}",
            "each path copies the data again; narrow one flow's topics if the "
            "extra copy is not wanted",
            source=t.mark(_placement_path(paths_[-1])),
            path=_placement_path(paths_[-1]),
        )
    if graph.overflow is not None:
        yield _overflow(t, graph.overflow)


def _cycle(t: Topology, cycle: Cycle) -> Diagnostic:
    """An identity-named loop: an error, unless the bundled runtime's provenance headers stop
    it on every flow it goes round (then a warning: the topology only works on that engine)."""
    ring = " -> ".join(cycle.clusters)
    shown = ", ".join(cycle.topics[:5]) + (
        f" (+{len(cycle.topics) - 5} more)" if len(cycle.topics) > 5 else ""
    )
    path = _flow_path(cycle.flow_indexes[0])
    by_index = {f.index: f for f in t.flows}
    flows = [by_index[i] for i in cycle.flow_indexes]
    unmarked = [f for f in flows if f.loop_prevention != "headers"]
    bundled = t.runtime.engine == "bundled"
    if bundled and not unmarked:
        return warning(
            "replication-cycle",
            f"replication cycle {ring}: topic(s) {shown} go round; safe because the bundled "
            "runtime marks each record with its provenance and never copies a record into a "
            "cluster it has been in",
            "MM2 on Connect would loop: keep runtime.engine: bundled for this topology",
            source=t.mark(path),
            path=path,
        )
    hint = (
        "identity naming cannot tell a remote topic from a local one; use "
        "replication_policy: default, or exclude the replicated topics on the return flow"
    )
    if bundled:
        names = ", ".join(f"{f.name} (flows[{f.index}])" for f in unmarked)
        hint += f", or set loop_prevention: headers on {names}"
    return error(
        "replication-cycle",
        f"replication cycle {ring}: topic(s) {shown} would "
        "be copied back to the cluster they came from, forever",
        hint,
        source=t.mark(path),
        path=path,
    )


def _overflow(t: Topology, over: Overflow) -> Diagnostic:
    """Past a limit nothing was built, so the cause is named from what was counted."""
    if over.cause == "heartbeats":
        return error(
            "heartbeat-expansion",
            f"MM2 would create over {over.limit:,} copies of its heartbeats topics: it copies "
            "them along every path of the flows (all but back to a cluster a copy's name "
            f"already passed), whatever the topic patterns; {over.heartbeat_flows} flow(s) "
            f"write heartbeats on {over.heartbeat_clusters} cluster(s)",
            "set emit_heartbeats: false on the flows of the mesh (each flow with it on writes "
            "'heartbeats' on its target), or use fewer hops (fewer flows between the "
            "clusters); narrowing topic patterns cannot help",
            source=t.mark("flows"),
            path="flows",
        )
    if over.cause == "filter-tests":
        return error(
            "expansion-limit",
            f"working out what the flows copy would test over {over.limit:,} (topic, flow) pairs",
            "split the topology into several files, or declare fewer topics per cluster",
            source=t.mark("flows"),
            path="flows",
        )
    if over.copies_of_copies:
        return error(
            "expansion-limit",
            f"the flows would make the clusters hold over {over.limit:,} topics: copies are "
            "copied again along every path through the mesh",
            "narrow the flows' topic patterns so they do not match remote topics (a flow's "
            "'.*' also takes the copies its source holds); list the source's own topics instead",
            source=t.mark("flows"),
            path="flows",
        )
    return error(
        "expansion-limit",
        f"the declared topics and their copies would be over {over.limit:,} topics",
        "narrow the flows' topic patterns, or split the topology into several files",
        source=t.mark("flows"),
        path="flows",
    )


def _metric_collisions(t: Topology, graph: TopologyGraph) -> Iterator[Diagnostic]:
    held = graph.held()
    if len({(c, unify_collision_chars(name)) for c, name in held}) == len(held):
        return  # no two names in one cluster unify: the common case, in one pass
    by_cluster: dict[str, dict[str, list[Placement]]] = defaultdict(dict)
    for p in graph.first_arrivals():
        group = by_cluster[p.cluster].setdefault(unify_collision_chars(p.topic), [])
        group.append(p)
    for groups in by_cluster.values():
        for arrivals in groups.values():
            if len(arrivals) > 1:
                cluster = arrivals[0].cluster
                a, b = sorted(p.topic for p in arrivals)[:2]
                pb = next(p for p in arrivals if p.topic == b)
                yield error(
                    "metric-collision",
                    f"cluster {cluster}: topics '{a}' and '{b}' "
                    "differ only by '.' vs '_'; Kafka refuses the second",
                    "their metric names would collide; rename one",
                    source=t.mark(_placement_path(pb)),
                    path=_placement_path(pb),
                )


def _apps_topics(t: Topology, graph: TopologyGraph) -> Iterator[Diagnostic]:
    if not t.apps or graph.truncated:
        return  # past the expansion limit no copy was placed: each would look missing
    held: dict[str, set[str]] = defaultdict(set)
    originals: dict[str, set[str]] = defaultdict(set)
    for p in graph.placements():
        held[p.cluster].add(p.topic)
        originals[p.cluster].add(p.origin_topic)
    for app in t.apps:
        base = join_path("apps", app.name)
        for i, alias in enumerate(app.clusters):
            if alias not in t.clusters:
                continue
            for field in ("consumes", "produces"):
                if field == "produces" and i > 0:
                    continue  # producing after failover writes the failover cluster's own topic
                for j, topic in enumerate(getattr(app, field)):
                    if topic in held[alias] or (field == "consumes" and topic in originals[alias]):
                        continue
                    path = f"{base}.{field}[{j}]"
                    role = "home cluster" if i == 0 else "failover cluster"
                    yield error(
                        "unknown-topic",
                        f"app '{app.name}' {field} '{topic}', which "
                        f"is neither declared nor replicated on its {role} {alias}",
                        f"declare it under clusters.{alias}.topics, or add a flow that "
                        f"replicates it to {alias}",
                        source=t.mark(path),
                        path=path,
                    )


def _secrets(t: Topology) -> Iterator[Diagnostic]:
    for alias, cluster in t.clusters.items():
        for key, value in cluster.config.items():
            if isinstance(value, Secret) and not value.is_reference:
                path = join_path(join_path(join_path("clusters", alias), "config"), key)
                yield warning(
                    "plaintext-secret",
                    f"cluster {alias}: '{key}' is written in plain text",
                    'use "${env:NAME}" or "${file:/path}"; the '
                    "value is resolved only when connecting",
                    source=t.mark(path),
                    path=path,
                )
    connect = "runtime.connect"
    written: list[tuple[str, str, Secret | str | None]] = [
        (join_path(join_path(connect, "headers"), k), f"header {k}", v)
        for k, v in t.runtime.connect_headers.items()
    ]
    password = t.runtime.connect_tls.key_password
    written.append((f"{connect}.tls.key_password", "tls.key_password", password))
    for path, what, secret in written:
        if isinstance(secret, Secret) and not secret.is_reference:
            yield warning(
                "plaintext-secret",
                f"runtime.connect: {what} is written in plain text",
                'use "${env:NAME}" or "${file:/path}"; the value is resolved only when '
                "mm2plan calls the Connect REST API",
                source=t.mark(path),
                path=path,
            )
