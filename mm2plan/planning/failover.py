"""Failover and failback runbooks: what to check, what to do and in which order, as data.

Pure: the facts (what the clusters, MM2's topics and the runtime's progress say right now) are
an input that `execution.failover` gathers; a runbook is the same for the human rendering, the
JSON and the executor, so a dry run in CI shows exactly what `--execute` does at 3 a.m.

Offsets are translated as exactly as the data allows: from the bundled runtime's mapping (every
record's upstream -> downstream offset, in runs) when the source answers, else from the newest
checkpoint on the target (exact when the bundled runtime wrote it, MM2's conservative one
otherwise). A group's offset on the target never moves backwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mm2plan.core.model import App, Flow, Topology
from mm2plan.core.naming import ReplicationPolicy, policy_for
from mm2plan.core.progress import RUNS_KEPT, Position
from mm2plan.core.resources import LITERAL, AclBinding

FORMAT_VERSION = 1

OK, FAIL, WARN = "ok", "fail", "warn"
MARKS = {OK: "✓", FAIL: "✗", WARN: "!"}

FORCEABLE = ("lag", "groups-active", "source", "fence", "checkpoints", "divergent", "flow")
"""Checks `--force CHECK` may override; an unreachable target cannot be forced."""

TP = tuple[str, int]


# --- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionFacts:
    """One source partition the flow copies, as the target (and the source, if up) see it."""

    topic: str
    partition: int
    remote_topic: str
    position: Position | None = None
    """The bundled runtime's progress on the target (None: not the bundled runtime's flow)."""
    remote_end: int | None = None
    source_end: int | None = None
    """None: the source did not answer."""
    oldest_unreplicated_ms: int | None = None
    """Timestamp of the first record not yet on the target (source up, lag > 0)."""

    @property
    def lag(self) -> int | None:
        if self.source_end is None or self.position is None:
            return None
        return max(0, self.source_end - self.position.next_offset)


@dataclass(frozen=True, slots=True)
class CheckpointFacts:
    remote_topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class GroupFacts:
    group: str
    checkpoints: tuple[CheckpointFacts, ...] = ()
    target_members: int | None = None
    target_committed: Mapping[TP, int] = field(default_factory=dict)
    source_members: int | None = None
    """None: the source did not answer."""
    source_committed: Mapping[TP, int] | None = None


@dataclass(frozen=True, slots=True)
class FailoverFacts:
    source: str
    target: str
    now_ms: int
    target_error: str | None = None
    source_error: str | None = None
    heartbeat_ms: int | None = None
    """Newest heartbeat from the source, as read on the target."""
    flow_state: str = "absent"
    flow_engine: str = "bundled"
    flow_reason: str = ""
    partitions: tuple[PartitionFacts, ...] = ()
    groups: tuple[GroupFacts, ...] = ()
    target_topics: frozenset[str] = frozenset()
    record: Mapping[str, Any] | None = None
    """The failover record already on the target (a re-run continues it)."""
    source_authorizer: bool | None = None
    """Whether the source can hold the fence's ACLs (None: it did not answer)."""


@dataclass(frozen=True, slots=True)
class Options:
    groups: str | None = None
    """Regex: only the groups it matches in full."""
    apps: tuple[str, ...] = ()
    drain: bool = False
    max_lag: int | None = None
    force: frozenset[str] = frozenset()


# --- the runbook ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    status: str
    detail: str
    forced: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.id, "status": self.status, "detail": self.detail}
        if self.forced:
            out["forced"] = True
        return out


@dataclass(frozen=True, slots=True)
class Commit:
    """One group's offset on one partition of the cluster it moves to."""

    group: str
    topic: str
    partition: int
    offset: int
    basis: str
    """mapping (exact, from the runtime's runs) | checkpoint | synced (the group is already there:
    the runtime synced it) | kept (the group is past it: never moved back) | end (capped at the
    copy's end) | truncate (past divergent records) | reverse-mapping | keep-divergent | window
    (outside the exact mapping: conservative, may re-read)"""
    upstream_offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "upstream_offset": self.upstream_offset,
            "basis": self.basis,
        }


@dataclass(frozen=True, slots=True)
class ClientChange:
    app: str
    principal: str
    bootstrap_servers: str
    subscribe: tuple[str, ...]
    """Topic names or patterns to consume on the new cluster."""
    produce: tuple[str, ...]
    missing: tuple[str, ...] = ()
    """Topics the app produces to that the new cluster does not have."""

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "principal": self.principal,
            "bootstrap.servers": self.bootstrap_servers,
            "subscribe": list(self.subscribe),
            "produce": list(self.produce),
            "missing_topics": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    checks: tuple[Check, ...] = ()
    actions: tuple[str, ...] = ()
    """What --execute does, in words (the data is in the runbook's fields)."""
    manual: bool = False
    """The operator does it (repoint clients): never executed."""
    done: bool = False
    """A previous --execute did it (the failover record says so)."""

    def to_json(self, number: int) -> dict[str, Any]:
        return {
            "number": number,
            "id": self.id,
            "title": self.title,
            "checks": [c.to_json() for c in self.checks],
            "actions": list(self.actions),
            "manual": self.manual,
            "done": self.done,
        }


@dataclass(frozen=True)
class Runbook:
    kind: str
    """failover | failback"""
    topology: str
    source: str
    """The cluster traffic moves away from."""
    target: str
    """The cluster traffic moves to."""
    mode: str
    steps: tuple[Step, ...]
    commits: tuple[Commit, ...] = ()
    fence: tuple[AclBinding, ...] = ()
    """DENY ACLs that keep the apps from writing to the cluster traffic leaves."""
    clients: tuple[ClientChange, ...] = ()
    lag: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per topic: records and seconds not yet replicated (the RPO now), None when unknown."""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Kind-specific data (failback: divergent records per partition, the reverse flow)."""

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.steps for c in s.checks]

    @property
    def refusals(self) -> list[Check]:
        """Failed checks not forced: --execute refuses while there is one."""
        return [c for c in self.checks if c.status == FAIL and not c.forced]

    @property
    def record_key(self) -> str:
        return record_key(self.topology, self.source, self.target)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "topology": self.topology,
            "from": self.source,
            "to": self.target,
            "mode": self.mode,
            "refused": [c.id for c in self.refusals],
            "steps": [s.to_json(i) for i, s in enumerate(self.steps, 1)],
            "groups": list(self.groups),
            "lag": {t: dict(v) for t, v in sorted(self.lag.items())},
            "offsets": [c.to_json() for c in self.commits],
            "fence": [b.to_json() for b in self.fence],
            "clients": [c.to_json() for c in self.clients],
            **({"extra": dict(self.extra)} if self.extra else {}),
        }


def record_key(topology: str, source: str, target: str) -> str:
    """The failover record's key in `__mm2plan.failover` (always named by the failover's
    direction: a failback updates the record of the failover it undoes)."""
    return f"{topology}/{source}->{target}"


def in_effect(record: Mapping[str, Any] | None) -> bool:
    return record is not None and record.get("state") in ("in-progress", "done")


# --- shared rules -----------------------------------------------------------------------------


def _check(checks: list[Check], cid: str, status: str, detail: str, force: frozenset[str]) -> None:
    forced = status == FAIL and cid in force and cid in FORCEABLE
    checks.append(Check(cid, status, detail + (" (forced)" if forced else ""), forced))


def _age(now_ms: int, ts_ms: int | None) -> str:
    if ts_ms is None or ts_ms <= 0:
        return "never"
    return f"{max(0.0, (now_ms - ts_ms) / 1000):.1f} s ago"


def selected_apps(topology: Topology, cluster: str, names: Sequence[str]) -> list[App]:
    """The apps a move concerns: those named, else every app that uses `cluster`."""
    apps = [a for a in topology.apps if cluster in a.clusters]
    if names:
        apps = [a for a in topology.apps if a.name in names]
    return apps


def selected_groups(
    topology: Topology, candidates: Iterable[str], cluster: str, opts: Options
) -> list[str]:
    """Groups to move: the candidates (those with checkpoints or offsets), narrowed to the named
    apps' groups and to --groups."""
    names = set(candidates)
    if opts.apps:
        wanted: set[str] = set()
        for app in selected_apps(topology, cluster, opts.apps):
            for g in app.groups:
                wanted |= {n for n in names if re.fullmatch(g, n)} | (
                    {g} if is_literal(g) else set()
                )
        names = wanted
    if opts.groups:
        names = {n for n in names if re.fullmatch(opts.groups, n)}
    return sorted(names)


def is_literal(pattern: str) -> bool:
    return re.escape(pattern) == pattern or not any(ch in pattern for ch in "*+?[](){}|^$\\")


def fence_bindings(topology: Topology, cluster: str, apps: Sequence[App]) -> tuple[AclBinding, ...]:
    """DENY WRITE for each app's principal on each topic it produces to, on `cluster`: a DENY
    wins over every ALLOW in Kafka's authorizer, so the apps' own grants need not change."""
    out = {
        AclBinding(app.principal, "WRITE", "TOPIC", topic, LITERAL, "DENY")
        for app in apps
        if cluster in app.clusters
        for topic in app.produces
    }
    return tuple(sorted(out, key=lambda b: (b.principal, b.resource_name)))


def subscription(policy: ReplicationPolicy, source: str, topic: str, local: bool) -> str:
    """What a consumer of `topic` subscribes to on the cluster the flow from `source` copies
    into: the remote copy, and the local topic of that name when the cluster has one."""
    remote = policy.format_remote_topic(source, topic)
    if remote == topic:
        return topic
    if not local:
        return remote
    prefix = remote[: len(remote) - len(topic)]
    return f"^({re.escape(prefix)})?{re.escape(topic)}$"


def client_changes(
    topology: Topology,
    leaving: str,
    arriving: str,
    apps: Sequence[App],
    arriving_topics: frozenset[str],
    remote_from: str,
) -> tuple[ClientChange, ...]:
    """How each app's clients change when they move from `leaving` to `arriving`; copies on
    `arriving` are named for the cluster `remote_from` they were copied from."""
    policy = _policy(topology)
    out = []
    for app in apps:
        subs = tuple(
            subscription(policy, remote_from, t, t in arriving_topics) for t in app.consumes
        )
        out.append(
            ClientChange(
                app.name,
                app.principal,
                topology.clusters[arriving].bootstrap_servers,
                subs,
                app.produces,
                tuple(t for t in app.produces if t not in arriving_topics),
            )
        )
    return tuple(out)


def _policy(topology: Topology) -> ReplicationPolicy:
    return policy_for(topology.defaults.replication_policy, topology.defaults.separator)


def flow_of(topology: Topology, source: str, target: str) -> Flow | None:
    return next(
        (f for f in topology.flows if f.source == source and f.target == target and f.enabled),
        None,
    )


# --- translation ------------------------------------------------------------------------------


def exact_downstream(position: Position | None, upstream: int) -> int | None:
    """Where a group whose next upstream offset is `upstream` resumes downstream, from the
    runtime's runs; None outside the window they cover."""
    if position is None or not position.runs:
        return None
    return position.offset_map(RUNS_KEPT).translate(upstream)


def exact_upstream(position: Position | None, downstream: int, remote_end: int) -> int | None:
    """The inverse: where a group that read a copy up to `downstream` resumes at the origin.
    Read to the copy's end, it resumes at the first record not copied (the position's next)."""
    if position is None:
        return None
    if downstream >= remote_end:
        return position.next_offset
    runs = position.offset_map(RUNS_KEPT).runs
    for run in runs:
        if downstream < run.downstream:
            return run.upstream  # in a gap of the copy (markers): the next copied record
        if downstream < run.downstream_end:
            return run.upstream + (downstream - run.downstream)
    return None


def failover_commits(facts: FailoverFacts, groups: Sequence[str], exact: bool) -> list[Commit]:
    """The offsets to commit on the target. `exact`: the source answers and its committed
    offsets are final (drained, or the group is idle), so the runtime's mapping translates
    them record for record; otherwise (or where the mapping has no answer) the checkpoint."""
    by_source = {(p.topic, p.partition): p for p in facts.partitions}
    by_remote = {(p.remote_topic, p.partition): p for p in facts.partitions}
    out: list[Commit] = []
    for g in facts.groups:
        if g.group not in groups:
            continue
        chosen: dict[TP, Commit] = {}
        for cp in g.checkpoints:
            chosen[(cp.remote_topic, cp.partition)] = Commit(
                g.group,
                cp.remote_topic,
                cp.partition,
                cp.downstream_offset,
                "checkpoint",
                cp.upstream_offset,
            )
        if exact and g.source_committed is not None:
            for (topic, part), upstream in g.source_committed.items():
                pf = by_source.get((topic, part))
                if pf is None:
                    continue
                down = exact_downstream(pf.position, upstream)
                if down is not None:
                    chosen[(pf.remote_topic, part)] = Commit(
                        g.group, pf.remote_topic, part, down, "mapping", upstream
                    )
        for key, c in sorted(chosen.items()):
            current = g.target_committed.get(key)
            if current is not None and current >= c.offset:
                basis = "synced" if current == c.offset else "kept"
                c = Commit(c.group, c.topic, c.partition, current, basis, c.upstream_offset)
            pf = by_remote.get(key)
            if pf is not None and pf.remote_end is not None and c.offset > pf.remote_end:
                c = Commit(c.group, c.topic, c.partition, pf.remote_end, "end", c.upstream_offset)
            out.append(c)
    return out


# --- failover ---------------------------------------------------------------------------------


def failover_runbook(topology: Topology, facts: FailoverFacts, opts: Options) -> Runbook:
    src, dst, now = facts.source, facts.target, facts.now_ms
    force = opts.force
    record = facts.record or {}
    done = set(record.get("steps_done", [])) if in_effect(record) else set()
    apps = selected_apps(topology, src, opts.apps)
    flow = flow_of(topology, src, dst)
    slo_s = topology.slo.max_lag_seconds

    steps: list[Step] = []

    c: list[Check] = []
    if facts.target_error:
        c.append(Check("target", FAIL, f"{dst} does not answer: {facts.target_error}"))
    else:
        c.append(Check("target", OK, f"{dst} answers"))
    if flow is None:
        _check(c, "flow", FAIL, f"the topology has no enabled flow {src}->{dst}", force)
    else:
        c.append(
            Check(
                "flow",
                OK if facts.flow_state == "running" else WARN,
                f"{src}->{dst} on {facts.flow_engine}: {facts.flow_state}"
                + (f" ({facts.flow_reason})" if facts.flow_reason else ""),
            )
        )
    if in_effect(record):
        c.append(
            Check(
                "resume",
                WARN,
                f"a failover {src}->{dst} is recorded ({record.get('state')}, started "
                f"{record.get('started_at')} by {record.get('by')}): continuing it",
            )
        )
    steps.append(Step("check-target", f"Check {dst}, the cluster to fail over to", tuple(c)))

    c = []
    hb_status = OK
    if facts.heartbeat_ms is None or (now - facts.heartbeat_ms) / 1000 > slo_s:
        hb_status = WARN
    c.append(
        Check("heartbeat", hb_status, f"last heartbeat from {src}: {_age(now, facts.heartbeat_ms)}")
    )
    if facts.source_error:
        if opts.drain:
            _check(
                c,
                "source",
                FAIL,
                f"{src} does not answer ({facts.source_error}): a planned failover (--drain) "
                "needs it; fail over without --drain",
                force,
            )
        else:
            c.append(
                Check(
                    "source",
                    WARN,
                    f"{src} does not answer ({facts.source_error}): unplanned failover, what "
                    "was not yet replicated is unknown",
                )
            )
    else:
        c.append(Check("source", OK, f"{src} answers"))
    steps.append(Step("check-source", f"Check {src}, the cluster to fail over from", tuple(c)))

    lag = _lag_by_topic(facts)
    c = []
    if facts.source_error:
        c.append(Check("lag", WARN, "not measurable: the source does not answer"))
    elif not facts.partitions:
        c.append(Check("lag", WARN, "no replicated partitions found on the target"))
    else:
        total = sum(v["records"] or 0 for v in lag.values())
        worst = max((v["seconds"] or 0.0 for v in lag.values()), default=0.0)
        unknown = [t for t, v in lag.items() if v["records"] is None]
        detail = f"not yet replicated: {total} records, oldest {worst:.1f} s"
        if unknown:
            detail += f"; unknown for {', '.join(sorted(unknown))} (not the bundled runtime's)"
        if opts.drain:
            c.append(Check("lag", OK, detail + " (--drain waits for it)"))
        elif opts.max_lag is not None and total > opts.max_lag:
            _check(c, "lag", FAIL, detail + f", more than --max-lag {opts.max_lag}", force)
        else:
            c.append(Check("lag", OK if total == 0 else WARN, detail))
    steps.append(Step("rpo", "Measure what is not yet replicated (the RPO now)", tuple(c)))

    candidates = {g.group for g in facts.groups}
    groups = selected_groups(topology, candidates, src, opts)
    c = []
    by_group = {g.group: g for g in facts.groups}
    if not groups:
        _check(c, "checkpoints", FAIL, "no group to move: no checkpoint matches", force)
    for name in groups:
        g = by_group[name]
        newest = max((cp.timestamp_ms for cp in g.checkpoints), default=None)
        if newest is None and facts.source_error is None:
            c.append(
                Check(
                    "checkpoints",
                    WARN,
                    f"{name}: no checkpoint on {dst} yet; its offsets on {src} translate "
                    "through the runtime's mapping",
                )
            )
        elif newest is None:
            _check(c, "checkpoints", FAIL, f"{name}: no checkpoint on {dst}", force)
        else:
            status = OK if (now - newest) / 1000 <= slo_s else WARN
            c.append(Check("checkpoints", status, f"{name}: last checkpoint {_age(now, newest)}"))
        if g.target_members:
            _check(
                c,
                "groups-active",
                FAIL,
                f"{name} has {g.target_members} active member(s) on {dst}: stop them first",
                force,
            )
        if opts.drain and g.source_members:
            _check(
                c,
                "groups-active",
                FAIL,
                f"{name} has {g.source_members} active member(s) on {src}: stop its consumers "
                "there so its offsets stop moving",
                force,
            )
    steps.append(Step("check-groups", "Check the consumer groups", tuple(c)))

    fence = fence_bindings(topology, src, apps)
    fence_state = (record.get("fence") or {}).get("state") if in_effect(record) else None
    c = []
    if fence and fence_state not in ("applied", "none"):
        if facts.source_authorizer is False:
            _check(
                c,
                "fence",
                FAIL,
                f"{src} has no authorizer: the apps' writes there cannot be fenced; stop their "
                "producers yourself",
                force,
            )
        elif facts.source_authorizer is None:
            c.append(Check("fence", WARN, f"pending until {src} answers: run --execute again then"))
    fence_step = Step(
        "fence",
        f"Fence {src}: deny the apps' writes there",
        tuple(c),
        tuple(f"create {b.describe()} on {src}" for b in fence)
        or ("no app produces on " + src + ": nothing to fence",),
        done=fence_state in ("applied", "none"),
    )
    stop_step = Step(
        "stop-replication",
        f"Stop replication {src}->{dst}",
        (),
        (f"stop the flow on the {facts.flow_engine} engine (its positions are kept)",),
        done="stop-replication" in done,
    )
    commits = failover_commits(
        facts, groups, exact=not facts.source_error and (opts.drain or groups_idle(facts, groups))
    )
    commit_step = Step(
        "commit-offsets",
        f"Commit the translated offsets to the groups on {dst}",
        (),
        tuple(
            f"{c.group} {c.topic}-{c.partition} -> {c.offset} ({c.basis})"
            for c in commits
            if c.basis not in ("kept", "synced")
        )
        or ("nothing to commit",),
        done="commit-offsets" in done,
    )
    record_step = Step(
        "record",
        f"Record the failover on {dst}",
        (),
        (f"write {record_key(topology.name, src, dst)} to __mm2plan.failover on {dst}",),
        done=record.get("state") == "done",
    )
    if opts.drain:
        drain_step = Step(
            "drain",
            "Wait until replication has caught up",
            (),
            (f"wait until {dst} holds every record of the apps' topics on {src}",),
            done="drain" in done,
        )
        steps += [fence_step, drain_step, stop_step, commit_step, record_step]
    else:
        steps += [stop_step, commit_step, fence_step, record_step]

    clients = client_changes(topology, src, dst, apps, facts.target_topics, src)
    steps.append(
        Step(
            "repoint-clients",
            "Repoint the clients",
            tuple(
                Check("topics", WARN, f"{ch.app} produces to {t}, which {dst} does not have")
                for ch in clients
                for t in ch.missing
            ),
            tuple(_client_line(ch) for ch in clients) or ("the topology declares no apps",),
            manual=True,
        )
    )
    return Runbook(
        "failover",
        topology.name,
        src,
        dst,
        "drain" if opts.drain else "unplanned" if facts.source_error else "planned",
        tuple(steps),
        tuple(commits),
        fence,
        clients,
        lag,
        tuple(groups),
    )


def groups_idle(facts: FailoverFacts, groups: Sequence[str]) -> bool:
    """Every group idle on the source: its committed offsets will not move any more."""
    return all((g.source_members == 0) for g in facts.groups if g.group in groups) and any(
        g.group in groups for g in facts.groups
    )


def _client_line(ch: ClientChange) -> str:
    parts = [f"{ch.app} ({ch.principal}): bootstrap.servers={ch.bootstrap_servers}"]
    if ch.subscribe:
        parts.append("subscribe " + ", ".join(ch.subscribe))
    if ch.produce:
        parts.append("produce to " + ", ".join(ch.produce))
    return "; ".join(parts)


def _lag_by_topic(facts: FailoverFacts) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in facts.partitions:
        entry = out.setdefault(p.topic, {"records": 0, "seconds": 0.0, "partitions": 0})
        entry["partitions"] += 1
        lag = p.lag
        if lag is None or entry["records"] is None:
            entry["records"] = None
            entry["seconds"] = None
            continue
        entry["records"] += lag
        if lag and p.oldest_unreplicated_ms is not None:
            age = max(0.0, (facts.now_ms - p.oldest_unreplicated_ms) / 1000)
            entry["seconds"] = max(entry["seconds"], round(age, 3))
    return out


def failover_record(
    runbook: Runbook,
    facts: FailoverFacts,
    state: str,
    steps_done: Sequence[str],
    fence_state: str,
    by: str,
    started_at: str,
    finished_at: str | None,
    commits: Sequence[Commit],
) -> dict[str, Any]:
    """What is written to `__mm2plan.failover`: enough for status, a re-run and a failback
    (the mapping at failover time translates the groups back)."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": "failover",
        "topology": runbook.topology,
        "from": runbook.source,
        "to": runbook.target,
        "state": state,
        "mode": runbook.mode,
        "by": by,
        "started_at": started_at,
        "finished_at": finished_at,
        "steps_done": list(steps_done),
        "groups": list(runbook.groups),
        "fence": {
            "cluster": runbook.source,
            "state": fence_state,
            "acls": [b.to_json() for b in runbook.fence],
        },
        "offsets": [c.to_json() for c in commits],
        "partitions": {
            f"{p.topic}/{p.partition}": {
                "remote_topic": p.remote_topic,
                "next": p.position.next_offset if p.position else None,
                "runs": [list(r) for r in p.position.runs] if p.position else [],
                "remote_end": p.remote_end,
            }
            for p in facts.partitions
        },
    }


# --- failback ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForwardPartition:
    """A partition of the failed-over flow as the failover record saw it, and its origin now."""

    topic: str
    partition: int
    remote_topic: str
    position: Position | None
    remote_end: int | None
    origin_end: int | None = None
    """The partition's end on the returning cluster now (None: unknown)."""

    @property
    def divergent(self) -> int | None:
        """Records on the returning cluster that never reached the other before the failover."""
        if self.origin_end is None or self.position is None:
            return None
        return max(0, self.origin_end - self.position.next_offset)


@dataclass(frozen=True, slots=True)
class FailbackFacts:
    home: str
    """The cluster traffic returns to (the failover's source)."""
    current: str
    """The cluster traffic is on now (the failover's target)."""
    now_ms: int
    errors: Mapping[str, str] = field(default_factory=dict)
    record: Mapping[str, Any] | None = None
    forward: tuple[ForwardPartition, ...] = ()
    reverse: tuple[PartitionFacts, ...] = ()
    """Partitions of the reverse flow (current -> home), positions on home."""
    reverse_declared: bool = False
    reverse_topology: str = ""
    """The topology name the reverse flow runs under (the topology's own, or `<name>-failback`)."""
    reverse_state: str = "absent"
    groups: tuple[GroupFacts, ...] = ()
    """target_* fields: the current cluster; source_* fields: home."""
    home_topics: frozenset[str] = frozenset()
    current_authorizer: bool | None = None


@dataclass(frozen=True, slots=True)
class FailbackOptions:
    keep_divergent: bool = False
    truncate: bool = False
    groups: str | None = None
    apps: tuple[str, ...] = ()
    force: frozenset[str] = frozenset()


def forward_partitions(record: Mapping[str, Any]) -> list[ForwardPartition]:
    """The failed-over flow's partitions and mapping, as recorded at failover time."""
    out = []
    for name, p in sorted((record.get("partitions") or {}).items()):
        topic, _, part = name.rpartition("/")
        nxt = p.get("next")
        pos = (
            Position(int(nxt), tuple((int(u), int(d), int(n)) for u, d, n in p.get("runs", [])))
            if nxt is not None
            else None
        )
        end = p.get("remote_end")
        out.append(
            ForwardPartition(
                topic, int(part), str(p["remote_topic"]), pos, None if end is None else int(end)
            )
        )
    return out


def failback_commits(
    topology: Topology, facts: FailbackFacts, groups: Sequence[str], opts: FailbackOptions
) -> list[Commit]:
    """Each group's offsets on the home cluster, from what it committed on the current one:
    copies of home's records translate back through the failover's mapping (exact, in runs),
    records written during the outage through the reverse flow's mapping."""
    policy = _policy(topology)
    forward = {(f.remote_topic, f.partition): f for f in facts.forward}
    reverse = {(r.topic, r.partition): r for r in facts.reverse}
    out: list[Commit] = []
    for g in facts.groups:
        if g.group not in groups:
            continue
        chosen: dict[TP, Commit] = {}
        for (topic, part), down in sorted(g.target_committed.items()):
            fwd = forward.get((topic, part))
            rev = reverse.get((topic, part))
            outage = rev is not None and (
                fwd is None or (fwd.remote_end is not None and down > fwd.remote_end)
            )
            if fwd is not None and not outage and fwd.remote_end is not None:
                up = exact_upstream(fwd.position, down, fwd.remote_end)
                basis = "mapping"
                if up is None:
                    runs = fwd.position.runs if fwd.position else ()
                    up, basis = (runs[0][0], "window") if runs else (0, "window")
                if down >= fwd.remote_end and opts.truncate and fwd.origin_end is not None:
                    up, basis = fwd.origin_end, "truncate"
                chosen[(fwd.topic, part)] = Commit(g.group, fwd.topic, part, up, basis, down)
            elif rev is not None:
                home_topic = policy.format_remote_topic(facts.current, topic)
                d = exact_downstream(rev.position, down)
                if d is None:
                    continue
                key = (home_topic, part)
                if fwd is not None and opts.keep_divergent and fwd.position is not None:
                    # identity naming: divergent records and the outage's copies share a
                    # partition; the group starts at the divergent ones (re-reading copies).
                    chosen[key] = Commit(
                        g.group, home_topic, part, fwd.position.next_offset, "keep-divergent", down
                    )
                else:
                    chosen[key] = Commit(g.group, home_topic, part, d, "reverse-mapping", down)
        out += [c for _k, c in sorted(chosen.items())]
    return out


def failback_runbook(topology: Topology, facts: FailbackFacts, opts: FailbackOptions) -> Runbook:
    home, cur, force = facts.home, facts.current, opts.force
    record = facts.record or {}
    steps: list[Step] = []
    c: list[Check] = []
    for alias in (home, cur):
        if alias in facts.errors:
            c.append(Check("clusters", FAIL, f"{alias} does not answer: {facts.errors[alias]}"))
        else:
            c.append(Check("clusters", OK, f"{alias} answers"))
    if not in_effect(record):
        c.append(
            Check(
                "failover",
                FAIL,
                f"no failover {home}->{cur} is in effect"
                + (f" (its record says {record.get('state')})" if record else ""),
            )
        )
    else:
        c.append(
            Check(
                "failover",
                OK,
                f"failover {home}->{cur} in effect since "
                f"{record.get('finished_at') or record.get('started_at')}",
            )
        )
    steps.append(Step("check-clusters", f"Check {home} and {cur}", tuple(c)))

    c = []
    divergent = {f"{f.topic}-{f.partition}": f.divergent for f in facts.forward}
    total = sum(v or 0 for v in divergent.values())
    if total:
        detail = (
            f"{home} holds {total} record(s) that never reached {cur} before the failover: "
            + ", ".join(f"{k} ({v})" for k, v in sorted(divergent.items()) if v)
        )
        if opts.keep_divergent == opts.truncate:
            c.append(
                Check(
                    "divergent",
                    FAIL,
                    detail + "; choose --keep-divergent (the groups read them, late) or --truncate "
                    "(the groups and the restored flow skip them)",
                )
            )
        else:
            how = "kept: the groups read them" if opts.keep_divergent else "skipped (--truncate)"
            c.append(Check("divergent", WARN, f"{detail}; {how}"))
    else:
        c.append(Check("divergent", OK, f"{home} holds nothing that did not reach {cur}"))
    steps.append(Step("divergence", f"Compare {home} with what reached {cur}", tuple(c)))

    c = []
    rev_name = f"{cur}->{home}"
    if topology.runtime.engine != "bundled":
        _check(c, "flow", FAIL, "failback runs the reverse flow on the bundled engine only", force)
    if facts.reverse_declared:
        c.append(Check("flow", OK, f"the topology declares {rev_name} ({facts.reverse_state})"))
    else:
        c.append(
            Check(
                "flow",
                WARN,
                f"the topology has no flow {rev_name}: a temporary one runs as topology "
                f"{facts.reverse_topology} (its copies stay on {home} afterwards)",
            )
        )
    lag = sum(r.lag or 0 for r in facts.reverse)
    c.append(Check("lag", OK if lag == 0 else WARN, f"{rev_name} is {lag} record(s) behind"))
    steps.append(Step("check-reverse", f"Check the reverse flow {rev_name}", tuple(c)))

    candidates = {g.group for g in facts.groups if g.target_committed}
    groups = selected_groups(topology, candidates, home, Options(opts.groups, opts.apps))
    by_group = {g.group: g for g in facts.groups}
    c = []
    for name in groups:
        g = by_group[name]
        if g.target_members:
            _check(
                c,
                "groups-active",
                FAIL,
                f"{name}: {g.target_members} active member(s) on {cur}: stop them first",
                force,
            )
        if g.source_members:
            _check(
                c,
                "groups-active",
                FAIL,
                f"{name}: {g.source_members} active member(s) on {home}: stop them first",
                force,
            )
    if not groups:
        c.append(Check("groups", WARN, f"no group has offsets on {cur}: nothing to move"))
    steps.append(Step("check-groups", "Check the consumer groups", tuple(c)))

    apps = selected_apps(topology, cur, opts.apps)
    fence_cur = fence_bindings(topology, cur, apps)
    fence_home = tuple(AclBinding.from_json(b) for b in (record.get("fence") or {}).get("acls", []))
    fb = record.get("failback") or {}
    done = set(fb.get("steps_done", []))
    commits = failback_commits(topology, facts, groups, opts)
    c = []
    if fence_cur and facts.current_authorizer is False and "fence" not in done:
        _check(
            c,
            "fence",
            FAIL,
            f"{cur} has no authorizer: the apps' writes there cannot be fenced during the "
            "switch; stop their producers yourself",
            force,
        )
    steps += [
        Step(
            "fence",
            f"Fence {cur}: deny the apps' writes there during the switch",
            tuple(c),
            tuple(f"create {b.describe()} on {cur}" for b in fence_cur) or ("nothing to fence",),
            done="fence" in done,
        ),
        Step(
            "start-reverse",
            f"Run {rev_name} until {home} holds everything written on {cur}",
            (),
            (f"start {rev_name} on the bundled engine and wait until it has caught up",),
            done="start-reverse" in done,
        ),
        Step(
            "commit-offsets",
            f"Commit the translated offsets to the groups on {home}",
            (),
            tuple(f"{m.group} {m.topic}-{m.partition} -> {m.offset} ({m.basis})" for m in commits)
            or ("nothing to commit",),
            done="commit-offsets" in done,
        ),
        Step(
            "restore",
            f"Restore {home}->{cur}, lift the fences",
            (),
            (
                *(() if facts.reverse_declared else (f"stop the temporary {rev_name}",)),
                *(f"delete {b.describe()} on {home}" for b in fence_home),
                *(f"delete {b.describe()} on {cur}" for b in fence_cur),
                f"start {home}->{cur} where it stopped"
                + (" (past the divergent records)" if opts.truncate and total else ""),
            ),
            done="restore" in done,
        ),
        Step(
            "record",
            "Record the failback",
            (),
            (f"mark {record_key(topology.name, home, cur)} failed-back on {cur} and {home}",),
        ),
    ]
    clients = client_changes(topology, cur, home, apps, facts.home_topics, cur)
    steps.append(
        Step(
            "repoint-clients",
            "Repoint the clients",
            (),
            tuple(_client_line(ch) for ch in clients) or ("the topology declares no apps",),
            manual=True,
        )
    )
    return Runbook(
        "failback",
        topology.name,
        cur,
        home,
        "keep-divergent" if opts.keep_divergent else "truncate" if opts.truncate else "planned",
        tuple(steps),
        tuple(commits),
        fence_cur,
        clients,
        {},
        tuple(groups),
        {
            "divergent": {k: v for k, v in sorted(divergent.items())},
            "reverse_flow": rev_name,
            "reverse_declared": facts.reverse_declared,
            "reverse_topology": facts.reverse_topology,
            "lift": [b.to_json() for b in fence_home],
        },
    )
