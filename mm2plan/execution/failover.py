"""Failover and failback against the clusters: gather the facts, then perform a runbook's steps.

Every step is idempotent and recorded in the failover record on the cluster traffic moves to
as soon as it is done, so an `--execute` interrupted at any point continues where it stopped
when it is run again. Prints nothing: the caller gets a `Progress` callback per step and an
`Outcome`, and raises nothing but `ClusterError`/`EngineError`/`FailoverError` for its flow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mm2plan.core.model import MM2_DEFAULT_GROUPS, Flow, Topology
from mm2plan.core.naming import policy_for
from mm2plan.core.polling import poll
from mm2plan.core.progress import Position
from mm2plan.core.resources import AclBinding
from mm2plan.execution.session import lock_holder
from mm2plan.planning import failover as fo
from mm2plan.planning.desired import replication_settings
from mm2plan.ports.cluster import ClusterError
from mm2plan.ports.dr import DrCluster
from mm2plan.ports.replication import (
    EngineError,
    FlowKey,
    FlowSpec,
    FlowState,
    ReplicationEngine,
)
from mm2plan.topology.loader import to_document

DrFactory = Callable[[Any], DrCluster]
Progress = Callable[[str, str], None]
"""(step id, what happened) as each step finishes."""

FAILOVER_ACTIONS = frozenset({"fence", "drain", "stop-replication", "commit-offsets"})
"""The runbook steps --execute performs (the others are checks, the record, or manual)."""

FAILBACK_ACTIONS = frozenset({"fence", "start-reverse", "commit-offsets", "restore"})

MAX_TIMESTAMP_LOOKUPS = 256
"""Partitions whose oldest unreplicated record is looked up (one read each) for the RPO."""


class FailoverError(Exception):
    """A step could not be done; the message says what to do, and a re-run continues."""

    def __init__(self, message: str, hint: str = "", code: str = "failover") -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


@dataclass
class Clusters:
    """The DR connections of one command, by alias; None where a cluster did not answer."""

    conns: dict[str, DrCluster | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, alias: str) -> DrCluster | None:
        return self.conns.get(alias)

    def close(self) -> None:
        for c in self.conns.values():
            if c is not None:
                with contextlib.suppress(ClusterError):
                    c.close()


PROBE_TIMEOUT_S = 3.0
"""How long a cluster may take to answer before a failover treats it as gone: the source is
usually the one that is down, and every second here delays the groups' move."""


def connect(
    topology: Topology,
    aliases: Iterable[str],
    factory: DrFactory,
    probe_timeout_s: float = PROBE_TIMEOUT_S,
) -> Clusters:
    out = Clusters()
    for alias in aliases:
        try:
            conn = factory(topology.clusters[alias])
            conn.probe(probe_timeout_s)
            out.conns[alias] = conn
        except ClusterError as exc:
            out.conns[alias] = None
            out.errors[alias] = str(exc)
    return out


def now_ms() -> int:
    return int(time.time() * 1000)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def who() -> str:
    h = lock_holder("failover")
    return f"{h['user']}@{h['host']}"


# --- facts --------------------------------------------------------------------------------------


def partition_facts(
    topology: Topology,
    source: str,
    target: str,
    src: DrCluster | None,
    dst: DrCluster,
    extra_topics: Iterable[str] = (),
) -> tuple[fo.PartitionFacts, ...]:
    """Every source partition the flow copies, from the runtime's progress on the target (and
    the copies named in checkpoints), with the source's ends when it answers."""
    policy = policy_for(topology.defaults.replication_policy, topology.defaults.separator)
    positions = dst.progress(topology.name, f"{source}->{target}")
    topics = {t for t, _p in positions} | set(extra_topics)
    remote = {t: policy.format_remote_topic(source, t) for t in topics}
    remote_ends = dst.end_offsets(sorted(set(remote.values())))
    source_ends = src.end_offsets(sorted(topics)) if src is not None else {}
    keys = set(positions) | {(t, p) for (rt, p) in remote_ends for t in topics if remote[t] == rt}
    out = []
    lookups = 0
    for t, p in sorted(keys):
        pos = positions.get((t, p))
        end = source_ends.get((t, p))
        oldest = None
        if (
            src is not None
            and pos is not None
            and end is not None
            and end > pos.next_offset
            and lookups < MAX_TIMESTAMP_LOOKUPS
        ):
            lookups += 1
            oldest = src.record_timestamp(t, p, pos.next_offset)
        out.append(
            fo.PartitionFacts(t, p, remote[t], pos, remote_ends.get((remote[t], p)), end, oldest)
        )
    return tuple(out)


def group_facts(
    topology: Topology,
    source: str,
    src: DrCluster | None,
    dst: DrCluster,
    names: Iterable[str] = (),
) -> tuple[fo.GroupFacts, ...]:
    policy = policy_for(topology.defaults.replication_policy, topology.defaults.separator)
    cps = dst.checkpoints(policy.checkpoints_topic(source))
    by_group: dict[str, list[fo.CheckpointFacts]] = {}
    for (group, topic, part), tc in cps.items():
        by_group.setdefault(group, []).append(
            fo.CheckpointFacts(
                topic,
                part,
                tc.checkpoint.upstream_offset,
                tc.checkpoint.downstream_offset,
                tc.timestamp_ms,
            )
        )
    groups = sorted(set(by_group) | set(names))
    t_info = dst.groups(groups)
    t_comm = dst.committed(groups)
    s_info = src.groups(groups) if src is not None else {}
    s_comm = src.committed(groups) if src is not None else {}
    return tuple(
        fo.GroupFacts(
            g,
            tuple(sorted(by_group.get(g, []), key=lambda c: (c.remote_topic, c.partition))),
            t_info[g].members if g in t_info else None,
            t_comm.get(g, {}),
            s_info[g].members if g in s_info else None,
            s_comm.get(g) if src is not None else None,
        )
        for g in groups
    )


def literal_app_groups(topology: Topology, cluster: str) -> list[str]:
    return [g for a in topology.apps if cluster in a.clusters for g in a.groups if fo.is_literal(g)]


def failover_facts(
    topology: Topology,
    source: str,
    target: str,
    clusters: Clusters,
    engine: ReplicationEngine | None,
) -> fo.FailoverFacts:
    dst = clusters.get(target)
    src = clusters.get(source)
    key = FlowKey(topology.name, source, target)
    status = engine.describe(key) if engine is not None else None
    state = status.state.value if status is not None else "unknown"
    reason = status.reason if status is not None else "no engine adapter for this topology"
    if dst is None:
        return fo.FailoverFacts(
            source,
            target,
            now_ms(),
            target_error=clusters.errors.get(target, "unreachable"),
            source_error=clusters.errors.get(source),
            flow_state=state,
            flow_engine=topology.runtime.engine,
            flow_reason=reason,
        )
    policy = policy_for(topology.defaults.replication_policy, topology.defaults.separator)
    beats = dst.heartbeats(policy.heartbeats_topic())
    heartbeat = max((ts for (s, _t), ts in beats.items() if s == source), default=None)
    apps = fo.selected_apps(topology, source, ())
    produced = {t for a in apps for t in a.consumes + a.produces}
    parts = partition_facts(topology, source, target, src, dst, produced)
    groups = group_facts(topology, source, src, dst, literal_app_groups(topology, source))
    records = dst.failover_records()
    wanted = {t for a in apps for t in a.produces} | {t for a in apps for t in a.consumes}
    existing = dst.end_offsets(sorted(wanted))
    return fo.FailoverFacts(
        source,
        target,
        now_ms(),
        None,
        clusters.errors.get(source),
        heartbeat,
        state,
        topology.runtime.engine,
        reason,
        parts,
        groups,
        frozenset(t for t, _p in existing),
        records.get(fo.record_key(topology.name, source, target)),
        src.has_authorizer() if src is not None else None,
    )


# --- failover -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    """Step ids done by this run."""
    skipped: list[str] = field(default_factory=list)
    """Step ids a previous run had done."""
    pending: list[str] = field(default_factory=list)
    """Step ids that could not be done now (the fence of an unreachable source)."""
    commits: list[fo.Commit] = field(default_factory=list)
    seconds_to_consume: float | None = None
    """From the start of --execute until the groups' offsets were committed on the target."""
    record: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "skipped": self.skipped,
            "pending": self.pending,
            "offsets": [c.to_json() for c in self.commits],
            "seconds_to_consume": self.seconds_to_consume,
            "record_state": self.record.get("state"),
        }


def _fence(conn: DrCluster, alias: str, bindings: Sequence[AclBinding], lift: bool) -> str:
    """Create (or delete) the fence's DENY ACLs; 'applied'/'lifted', or raise FailoverError."""
    if not bindings:
        return "none"
    results = conn.delete_acls(bindings) if lift else conn.create_acls(bindings)
    errors = [(b, e) for b, e in results.items() if e is not None]
    if not errors:
        return "lifted" if lift else "applied"
    b, e = errors[0]
    if e.code in ("SECURITY_DISABLED", "CLUSTER_AUTHORIZATION_FAILED") or "uthorizer" in str(e):
        raise FailoverError(
            f"cannot {'lift' if lift else 'create'} the fence on {alias} ({e}): "
            + (
                "it has no authorizer"
                if e.code == "SECURITY_DISABLED" or "uthorizer" in str(e)
                else "mm2plan's principal may not alter ACLs there"
            ),
            "stop the apps' producers there yourself, then re-run with --force fence",
            code="fence",
        )
    raise FailoverError(
        f"cannot {'lift' if lift else 'create'} {b.describe()} on {alias}: {e}",
        "fix the cause and re-run: the steps already done are not repeated",
        code="fence",
    )


def execute_failover(
    topology: Topology,
    runbook: fo.Runbook,
    facts: fo.FailoverFacts,
    clusters: Clusters,
    engine: ReplicationEngine | None,
    opts: fo.Options,
    on_step: Progress,
    drain_timeout_s: float = 300.0,
) -> Outcome:
    src_alias, dst_alias = runbook.source, runbook.target
    dst = clusters.get(dst_alias)
    if dst is None:
        raise FailoverError(f"{dst_alias} does not answer", "bring it back, then re-run")
    started = time.monotonic()
    prior = facts.record if fo.in_effect(facts.record) else None
    out = Outcome()
    steps_done: list[str] = list(prior.get("steps_done", [])) if prior else []
    fence_state = str((prior or {}).get("fence", {}).get("state", "pending"))
    started_at = str(prior.get("started_at")) if prior else utc_now()
    by = str(prior.get("by")) if prior else who()
    commits: list[fo.Commit] = [
        fo.Commit(**{k: v for k, v in c.items()}) for c in (prior or {}).get("offsets", [])
    ]
    final_facts = facts

    def save(state: str, finished: str | None = None) -> None:
        rec = fo.failover_record(
            runbook, final_facts, state, steps_done, fence_state, by, started_at, finished, commits
        )
        dst.write_failover_record(runbook.record_key, rec)
        out.record = rec
        src = clusters.get(src_alias)
        if src is not None:  # best effort: a returning source then knows it was failed over
            with contextlib.suppress(ClusterError):
                src.write_failover_record(runbook.record_key, rec)

    save("in-progress")
    key = FlowKey(topology.name, src_alias, dst_alias)
    for step in runbook.steps:
        if step.id not in FAILOVER_ACTIONS:
            continue
        if step.id in steps_done or (step.id == "fence" and fence_state in ("applied", "none")):
            out.skipped.append(step.id)
            continue
        if step.id == "fence":
            src = clusters.get(src_alias)
            if src is None:
                fence_state = "pending"
                out.pending.append("fence")
                save("in-progress")
                on_step(
                    "fence",
                    f"{src_alias} does not answer: the fence is pending; re-run "
                    "`mm2plan failover --execute` as soon as it answers",
                )
                continue
            try:
                fence_state = _fence(src, src_alias, runbook.fence, lift=False)
                said = f"{len(runbook.fence)} DENY WRITE ACL(s) on {src_alias}"
            except FailoverError as exc:
                if exc.code != "fence" or "fence" not in opts.force:
                    save("in-progress")
                    raise
                fence_state = "none"
                said = f"not fenced (forced): {exc}"
        elif step.id == "drain":
            _drain(topology, runbook, clusters, drain_timeout_s)
            said = f"{dst_alias} holds every record of {src_alias}'s topics"
        elif step.id == "stop-replication":
            if engine is not None:
                engine.stop(key)
                said = f"{key.name} stopped on the {engine.name} engine"
            else:
                said = (
                    f"no adapter for the {topology.runtime.engine} engine: stop {key.name} "
                    "there yourself"
                )
        else:  # commit-offsets
            final_facts = failover_facts(topology, src_alias, dst_alias, clusters, engine)
            groups = list(runbook.groups)
            exact = final_facts.source_error is None and (
                opts.drain or fo.groups_idle(final_facts, groups)
            )
            commits = fo.failover_commits(final_facts, groups, exact)
            by_group: dict[str, dict[tuple[str, int], int]] = {}
            for c in commits:
                if c.basis not in ("kept", "synced"):
                    by_group.setdefault(c.group, {})[(c.topic, c.partition)] = c.offset
            for group, offsets in sorted(by_group.items()):
                dst.commit(group, offsets)
            out.commits = commits
            out.seconds_to_consume = round(time.monotonic() - started, 3)
            said = (
                f"{sum(len(o) for o in by_group.values())} offset(s) of {len(by_group)} group(s) "
                f"committed on {dst_alias}"
            )
        steps_done.append(step.id)
        out.done.append(step.id)
        save("in-progress")  # recorded before it is reported: a kill after the line re-runs nothing
        on_step(step.id, said)
    save("done", utc_now())
    out.done.append("record")
    on_step("record", f"failover recorded on {dst_alias} ({runbook.record_key})")
    return out


def _drain(topology: Topology, runbook: fo.Runbook, clusters: Clusters, timeout_s: float) -> None:
    """Until the target holds every record the source has, in every partition the runtime
    copies (the fence stopped the apps' writes, so the source's ends stop moving)."""
    src, dst = clusters.get(runbook.source), clusters.get(runbook.target)
    if src is None or dst is None:
        raise FailoverError(
            f"{runbook.source if src is None else runbook.target} does not answer: cannot drain",
            "bring it back and re-run, or fail over without --drain",
        )

    def behind() -> list[fo.PartitionFacts]:
        parts = partition_facts(topology, runbook.source, runbook.target, src, dst)
        return [p for p in parts if p.lag is None or p.lag > 0]

    left = poll(behind, lambda b: not b, timeout_s, first_s=0.2, max_s=1.0)
    if left:
        worst = ", ".join(f"{p.topic}-{p.partition} ({p.lag})" for p in left[:5])
        raise FailoverError(
            f"replication has not caught up in {timeout_s:.0f} s: {worst} behind",
            "check `mm2plan runtime status`; re-run to keep waiting (--drain-timeout)",
            code="drain-timeout",
        )


def flow_is_running(engine: ReplicationEngine | None, key: FlowKey) -> bool:
    return engine is not None and engine.describe(key).state == FlowState.RUNNING


__all__ = [
    "Clusters",
    "EngineError",
    "FailoverError",
    "Outcome",
    "connect",
    "execute_failover",
    "failover_facts",
    "flow_is_running",
]


# --- failback -----------------------------------------------------------------------------------


EngineFactory = Callable[[Topology], ReplicationEngine | None]


def reverse_topology(topology: Topology, home: str, current: str) -> Topology:
    """The topology the reverse flow runs under: the topology itself when it declares
    current->home, else a derived one named `<name>-failback` holding only that flow, so the
    copies it creates on home are owned by it and never show as drift (or deletions) in the
    topology's own plan."""
    if fo.flow_of(topology, current, home) is not None:
        return topology
    forward = fo.flow_of(topology, home, current)
    produced = sorted({t for a in topology.apps if current in a.clusters for t in a.produces})
    patterns = tuple(re.escape(t) for t in produced) or (forward.topics if forward else (".*",))
    flow = Flow(
        source=current,
        target=home,
        topics=patterns,
        groups=forward.groups if forward else MM2_DEFAULT_GROUPS,
        sync_group_offsets=False,
    )
    return dataclasses.replace(
        topology,
        name=f"{topology.name}-failback",
        flows=(flow,),
        apps=(),
        file=str(failback_file(topology)),
    )


def failback_file(topology: Topology) -> Path:
    return Path(topology.file).resolve().parent / ".mm2plan" / "failback" / f"{topology.name}.yaml"


def write_topology(t: Topology) -> None:
    """The derived topology, for the runtime's workers to load (secrets as written: the file
    is readable by its owner only, like the topology it comes from)."""
    path = Path(t.file)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(to_document(t), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# written by `mm2plan failback`: the temporary reverse flow\n" + text)


def failback_facts(
    topology: Topology, home: str, current: str, clusters: Clusters
) -> fo.FailbackFacts:
    cur, hom = clusters.get(current), clusters.get(home)
    errors = dict(clusters.errors)
    key = fo.record_key(topology.name, home, current)
    record = None
    for conn in (cur, hom):
        if conn is not None and record is None:
            record = conn.failover_records().get(key)
    rev = reverse_topology(topology, home, current)
    if cur is None or hom is None:
        return fo.FailbackFacts(
            home,
            current,
            now_ms(),
            errors,
            record,
            reverse_declared=rev is topology,
            reverse_topology=rev.name,
        )
    forward = fo.forward_partitions(record or {})
    origin_ends = hom.end_offsets(sorted({f.topic for f in forward}))
    forward = [
        dataclasses.replace(f, origin_end=origin_ends.get((f.topic, f.partition))) for f in forward
    ]
    reverse = partition_facts(
        rev,
        current,
        home,
        cur,
        hom,
        {t for a in topology.apps if current in a.clusters for t in a.produces},
    )
    names = set((record or {}).get("groups", [])) | set(literal_app_groups(topology, home))
    groups = sorted(names)
    c_info, c_comm = cur.groups(groups), cur.committed(groups)
    h_info = hom.groups(groups)
    gfacts = tuple(
        fo.GroupFacts(
            g,
            (),
            c_info[g].members if g in c_info else None,
            c_comm.get(g, {}),
            h_info[g].members if g in h_info else None,
            None,
        )
        for g in groups
    )
    wanted = {t for a in topology.apps for t in a.consumes + a.produces}
    home_topics = frozenset(t for t, _p in hom.end_offsets(sorted(wanted)))
    status = "absent"
    return fo.FailbackFacts(
        home,
        current,
        now_ms(),
        errors,
        record,
        tuple(forward),
        reverse,
        rev is topology,
        rev.name,
        status,
        gfacts,
        home_topics,
        cur.has_authorizer(),
    )


def execute_failback(
    topology: Topology,
    runbook: fo.Runbook,
    facts: fo.FailbackFacts,
    clusters: Clusters,
    engine_factory: EngineFactory,
    opts: fo.FailbackOptions,
    on_step: Progress,
    timeout_s: float = 300.0,
) -> Outcome:
    home, current = facts.home, facts.current
    cur, hom = clusters.get(current), clusters.get(home)
    if cur is None or hom is None or facts.record is None:
        raise FailoverError("both clusters must answer and a failover be in effect")
    record = dict(facts.record)
    fb: dict[str, Any] = dict(record.get("failback") or {})
    steps_done: list[str] = list(fb.get("steps_done", []))
    fb.setdefault("started_at", utc_now())
    fb.setdefault("by", who())
    fb["mode"] = runbook.mode
    fb["divergent"] = runbook.extra.get("divergent", {})
    out = Outcome()
    started = time.monotonic()

    def save(state: str | None = None) -> None:
        fb["steps_done"] = steps_done
        if state is not None:
            record["state"] = state
        record["failback"] = fb
        for conn in (cur, hom):
            with contextlib.suppress(ClusterError):
                conn.write_failover_record(fo.record_key(topology.name, home, current), record)
        out.record = record

    rev = reverse_topology(topology, home, current)
    rev_key = FlowKey(rev.name, current, home)
    rev_flow = fo.flow_of(rev, current, home)
    assert rev_flow is not None
    save()
    for step in runbook.steps:
        if step.id not in FAILBACK_ACTIONS:
            continue
        if step.id in steps_done:
            out.skipped.append(step.id)
            continue
        if step.id == "fence":
            try:
                state = _fence(cur, current, runbook.fence, lift=False)
            except FailoverError as exc:
                if exc.code != "fence" or "fence" not in opts.force:
                    save()
                    raise
                state = "none"
            fb["fence"] = {
                "cluster": current,
                "state": state,
                "acls": [b.to_json() for b in runbook.fence],
            }
            on_step("fence", f"{current}: {state}")
        elif step.id == "start-reverse":
            if rev is not topology:
                write_topology(rev)
            engine = engine_factory(rev)
            if engine is None:
                raise FailoverError(
                    f"no engine runs {rev_key.name}", "failback needs the bundled engine"
                )
            engine.start(FlowSpec(rev_key, replication_settings(rev, rev_flow)))
            on_step("start-reverse", f"{rev_key.name} started; waiting until it has caught up")
            _await_reverse(topology, rev, current, home, clusters, timeout_s)
            on_step("start-reverse", f"{home} holds everything written on {current}")
        elif step.id == "commit-offsets":
            fresh = failback_facts(topology, home, current, clusters)
            commits = fo.failback_commits(topology, fresh, list(runbook.groups), opts)
            by_group: dict[str, dict[tuple[str, int], int]] = {}
            for c in commits:
                by_group.setdefault(c.group, {})[(c.topic, c.partition)] = c.offset
            for group, offsets in sorted(by_group.items()):
                hom.commit(group, offsets)
            out.commits = commits
            fb["offsets"] = [c.to_json() for c in commits]
            out.seconds_to_consume = round(time.monotonic() - started, 3)
            on_step("commit-offsets", f"{len(commits)} offset(s) committed on {home}")
        elif step.id == "restore":
            if rev is not topology:
                eng = engine_factory(rev)
                if eng is not None:
                    eng.stop(rev_key)
            lift = [AclBinding.from_json(b) for b in (record.get("fence") or {}).get("acls", [])]
            if lift and (record.get("fence") or {}).get("state") == "applied":
                _fence(hom, home, lift, lift=True)
                record["fence"] = {**record["fence"], "state": "lifted"}
            if (fb.get("fence") or {}).get("state") == "applied":
                _fence(cur, current, runbook.fence, lift=True)
                fb["fence"] = {**fb["fence"], "state": "lifted"}
            if opts.truncate:
                skip = {
                    (f.topic, f.partition): Position(f.origin_end, f.position.runs)
                    for f in facts.forward
                    if f.position is not None and f.divergent and f.origin_end is not None
                }
                if skip:
                    cur.write_progress(topology.name, f"{home}->{current}", skip)
            forward = fo.flow_of(topology, home, current)
            engine = engine_factory(topology)
            if forward is not None and engine is not None:
                engine.start(
                    FlowSpec(
                        FlowKey(topology.name, home, current),
                        replication_settings(topology, forward),
                    )
                )
            on_step("restore", f"{home}->{current} runs again; fences lifted")
        steps_done.append(step.id)
        out.done.append(step.id)
        save()
    fb["finished_at"] = utc_now()
    save("failed-back")
    out.done.append("record")
    on_step("record", "failback recorded")
    return out


def _await_reverse(
    topology: Topology,
    rev: Topology,
    current: str,
    home: str,
    clusters: Clusters,
    timeout_s: float,
) -> None:
    """Until the reverse flow has copied every record of the apps' topics on `current` (and
    of every topic it already copies): the runtime discovers topics within its refresh."""
    cur, hom = clusters.get(current), clusters.get(home)
    assert cur is not None and hom is not None
    produced = {t for a in topology.apps if current in a.clusters for t in a.produces}

    def behind() -> list[str]:
        parts = partition_facts(rev, current, home, cur, hom, produced)
        return [
            f"{p.topic}-{p.partition}"
            for p in parts
            if (p.source_end or 0) > 0
            and (p.position is None or p.position.next_offset < (p.source_end or 0))
        ]

    left = poll(behind, lambda b: not b, timeout_s, first_s=0.5, max_s=1.0)
    if left:
        raise FailoverError(
            f"the reverse flow has not caught up in {timeout_s:.0f} s: {', '.join(left[:5])}",
            "check `mm2plan runtime status`; re-run to keep waiting",
            code="drain-timeout",
        )
