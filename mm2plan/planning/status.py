"""What `mm2plan status` says of each flow, worked out from what was read, and judged by the SLO.

Pure: the command reads the engine, the runtime's reports and the clusters (through the DR
port) into `FlowFacts`, and `assess` turns them into figures with verdicts, so the same facts
always give the same answer and the views only render it. `now` is an argument; nothing here
reads a clock or a cluster.

Where a figure comes from (`Figure.basis`): `kafka` when the clusters answered (lag: the
source's end offsets minus the runtime's progress on the target; so it is right even when the
runtime is down), `runtime` when they did not and the runtime's last report stands in (a note
says why and how old it is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mm2plan.core.model import Flow, Slo, Topology
from mm2plan.core.naming import policy_for
from mm2plan.core.properties import RUNTIME_PROPERTIES

TopicPartition = tuple[str, int]

FAILOVER_IN_EFFECT = ("in-progress", "done")
"""A failover record in one of these states means its flow is stopped on purpose."""
FENCE_IN_EFFECT = ("applied", "pending")
"""`pending`: the fence is owed to a cluster that did not answer when the failover ran."""


class Verdict(StrEnum):
    OK = "ok"
    """Within the SLO (green)."""
    BREACH = "breach"
    """Outside it (red)."""
    UNKNOWN = "unknown"
    """Could not be told (yellow): a check cannot vouch for it, so it fails too."""
    INFO = "info"
    """Shown, not judged (throughput, a disabled heartbeat)."""


@dataclass(frozen=True, slots=True)
class Figure:
    value: float | None
    verdict: Verdict
    basis: str = ""
    """`kafka`, `runtime` (the runtime's last report) or "" (none)."""
    limit: float | None = None
    """The SLO bound the value was compared with."""
    note: str = ""
    counts: bool = True
    """Whether the verdict decides the exit code (a checkpoint's age does not: see
    `checkpoint_age`)."""

    @property
    def fails(self) -> bool:
        return self.counts and self.verdict in (Verdict.BREACH, Verdict.UNKNOWN)


# --- what the command read ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportedPartition:
    """One partition as the runtime last reported it."""

    topic: str
    partition: int
    next_offset: int
    end_offset: int
    lag_records: int
    lag_seconds: float


@dataclass(frozen=True, slots=True)
class WorkerFacts:
    """One worker process's last report (runtime.status.ProcessReport, as plain values)."""

    share: int
    state: str
    started_at: float
    updated_at: float
    records: int
    last_heartbeat_at: float = 0.0
    last_checkpoint_at: float = 0.0
    partitions: tuple[ReportedPartition, ...] = ()


@dataclass(frozen=True)
class FlowFacts:
    """Everything read about one flow; None where it could not be read."""

    flow: Flow
    engine: str
    state: str
    """running | stopped | failed | absent | unknown"""
    reason: str = ""
    workers: tuple[WorkerFacts, ...] = ()
    previous_workers: tuple[WorkerFacts, ...] | None = None
    """The same reports one refresh earlier (`--watch`): throughput between the two."""
    source_topics: tuple[str, ...] | None = None
    """The source topics the flow selects (MM2's rule over the source's topic list)."""
    end_offsets: Mapping[TopicPartition, int] | None = None
    """The source's end offsets of those topics."""
    next_offsets: Mapping[TopicPartition, int] | None = None
    """The runtime's progress on the target: the next source offset to copy, per partition."""
    first_unreplicated_ms: Mapping[TopicPartition, int | None] = field(default_factory=dict)
    """Timestamp of the first record not yet copied, per lagging partition (None: no record
    there, e.g. only transaction markers); a lagging partition missing here was not read."""
    source_error: str = ""
    target_error: str = ""
    heartbeat_ms: int | None = None
    """Newest heartbeat of the flow found on the target (MM2's timestamp, ms)."""
    heartbeat_topic: str = ""
    checkpoint_ms: int | None = None
    """Newest checkpoint record on the target (its record timestamp, ms)."""
    checkpoint_topic: str = ""


# --- what status says --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    records: int | None
    seconds: float | None
    next_offset: int | None = None
    end_offset: int | None = None


@dataclass(frozen=True, slots=True)
class TopicStatus:
    topic: str
    remote_topic: str
    partitions: tuple[PartitionLag, ...]
    lag_records: Figure
    lag_seconds: Figure


@dataclass(frozen=True, slots=True)
class FailoverView:
    """One failover record of the topology, merged over the clusters that hold a copy."""

    key: str
    source: str
    target: str
    state: str
    mode: str = ""
    started_at: str = ""
    finished_at: str = ""
    by: str = ""
    fence_cluster: str = ""
    fence_state: str = ""
    fence_acls: int = 0
    seen_on: tuple[str, ...] = ()

    @property
    def in_effect(self) -> bool:
        return self.state in FAILOVER_IN_EFFECT

    @property
    def fenced(self) -> bool:
        return self.in_effect and bool(self.fence_cluster) and self.fence_state in FENCE_IN_EFFECT


@dataclass(frozen=True)
class FlowHealth:
    source: str
    target: str
    engine: str
    state: str
    state_verdict: Verdict
    reason: str
    topics: tuple[TopicStatus, ...]
    lag_records: Figure
    lag_seconds: Figure
    throughput: Figure
    heartbeat_age: Figure
    checkpoint_age: Figure
    failovers: tuple[FailoverView, ...] = ()
    """Failovers in effect away from this flow's source to its target."""
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    """Why it is outside the SLO (empty: within)."""

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    @property
    def within_slo(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class StatusReport:
    topology: str
    slo: Slo
    generated_at: float
    flows: tuple[FlowHealth, ...]
    failovers: tuple[FailoverView, ...]
    """Failovers in effect, every cluster's copy merged."""
    clusters: Mapping[str, str]
    """Every cluster of the topology -> why it could not be read ("" when it answered)."""

    @property
    def fenced(self) -> tuple[FailoverView, ...]:
        return tuple(f for f in self.failovers if f.fenced)

    @property
    def within_slo(self) -> bool:
        """Exit 0: there are flows, and every one runs within the SLO."""
        return bool(self.flows) and all(f.within_slo for f in self.flows)


# --- lag ---------------------------------------------------------------------------------------


def unreplicated(
    end_offsets: Mapping[TopicPartition, int], next_offsets: Mapping[TopicPartition, int]
) -> list[tuple[str, int, int]]:
    """(topic, partition, first offset not copied) of every lagging partition: where the
    command reads the timestamp that lag seconds are counted from. A partition without
    progress is copied from its start (the runtime reads from the earliest offset)."""
    return [
        (t, p, next_offsets.get((t, p), 0))
        for (t, p), end in sorted(end_offsets.items())
        if end > next_offsets.get((t, p), 0)
    ]


def kafka_lag(
    end_offsets: Mapping[TopicPartition, int],
    next_offsets: Mapping[TopicPartition, int],
    first_unreplicated_ms: Mapping[TopicPartition, int | None],
    now: float,
) -> list[PartitionLag]:
    """Per partition: records = source end - next offset to copy; seconds = now - the first
    uncopied record's timestamp (0 when caught up or when no record is there; None when its
    timestamp was not read)."""
    out = []
    for (t, p), end in sorted(end_offsets.items()):
        nxt = next_offsets.get((t, p), 0)
        records = max(0, end - nxt)
        seconds: float | None = 0.0
        if records:
            if (t, p) not in first_unreplicated_ms:
                seconds = None
            else:
                ts = first_unreplicated_ms[(t, p)]
                seconds = 0.0 if ts is None else max(0.0, now - ts / 1000)
        out.append(PartitionLag(t, p, records, seconds, nxt, end))
    return out


def report_lag(workers: Sequence[WorkerFacts], now: float) -> list[PartitionLag]:
    """Per partition from the runtime's reports; the age of what was pending keeps growing
    after the report was written."""
    out = []
    for w in workers:
        since = max(0.0, now - w.updated_at)
        for p in w.partitions:
            seconds = p.lag_seconds + since if p.lag_records else 0.0
            out.append(
                PartitionLag(
                    p.topic, p.partition, p.lag_records, seconds, p.next_offset, p.end_offset
                )
            )
    return sorted(out, key=lambda x: (x.topic, x.partition))


def _judge(value: float, limit: float, basis: str) -> Verdict:
    """Beyond the limit: red whatever the source. Within it: green from the clusters, yellow
    from the runtime's last report alone (its view of the source may be as stale as the
    report, so a check cannot vouch for it)."""
    if value > limit:
        return Verdict.BREACH
    return Verdict.UNKNOWN if basis != "kafka" else Verdict.OK


def _records_figure(values: Iterable[int | None], slo: Slo, basis: str) -> Figure:
    vals = list(values)
    known = [v for v in vals if v is not None]
    total = sum(known)
    limit = float(slo.max_lag_records)
    if len(known) < len(vals) or basis == "":
        if total > limit:
            return Figure(total, Verdict.BREACH, basis, limit)
        return Figure(None, Verdict.UNKNOWN, basis, limit)
    return Figure(total, _judge(total, limit, basis), basis, limit)


def _seconds_figure(values: Iterable[float | None], slo: Slo, basis: str) -> Figure:
    vals = list(values)
    known = [v for v in vals if v is not None]
    worst = max(known, default=0.0)
    limit = slo.max_lag_seconds
    if len(known) < len(vals) or basis == "":
        if worst > limit:
            return Figure(worst, Verdict.BREACH, basis, limit)
        return Figure(None, Verdict.UNKNOWN, basis, limit)
    return Figure(worst, _judge(worst, limit, basis), basis, limit)


def _lag(facts: FlowFacts, now: float) -> tuple[list[PartitionLag], list[str], str, str]:
    """(partitions, topics, basis, note): from Kafka when both clusters answered, else from
    the runtime's last report, saying why."""
    bundled = facts.engine == "bundled"
    if bundled and facts.end_offsets is not None and facts.next_offsets is not None:
        parts = kafka_lag(facts.end_offsets, facts.next_offsets, facts.first_unreplicated_ms, now)
        topics = sorted({*(facts.source_topics or ()), *(p.topic for p in parts)})
        return parts, topics, "kafka", ""
    if not bundled:
        why = f"the {facts.engine} engine keeps its positions where mm2plan does not read them yet"
    else:
        why = "; ".join(e for e in (facts.source_error, facts.target_error) if e)
        why = why or "the clusters were not read"
    reported = [w for w in facts.workers if w.partitions]
    if bundled and reported:
        age = now - max(w.updated_at for w in reported)
        parts = report_lag(reported, now)
        topics = sorted({p.topic for p in parts})
        note = f"lag from the runtime's last report ({age:.0f} s ago): {why}"
        return parts, topics, "runtime", note
    topics = list(facts.source_topics or ())
    return [], topics, "", f"lag unknown: {why}"


# --- the other figures -------------------------------------------------------------------------


def _interval(flow: Flow, prop: str) -> float:
    try:
        return float(flow.properties.get(prop, RUNTIME_PROPERTIES[prop].default))
    except ValueError:
        return float(RUNTIME_PROPERTIES[prop].default)


def throughput(
    workers: Sequence[WorkerFacts], previous: Sequence[WorkerFacts] | None, state: str
) -> Figure:
    """Records copied per second. With a previous refresh of the same worker process (same
    share and start): the records between the two reports over the time between them; else
    the report's counter over the worker's uptime (an average since it started)."""
    if state != "running" or not workers:
        return Figure(None, Verdict.INFO, note="not running")
    before = {(w.share, w.started_at): w for w in previous or ()}
    rate = 0.0
    bases = set()
    for w in workers:
        prev = before.get((w.share, w.started_at))
        if prev is not None and w.updated_at > prev.updated_at:
            rate += max(0, w.records - prev.records) / (w.updated_at - prev.updated_at)
            bases.add("since the last refresh")
        elif w.updated_at > w.started_at > 0:
            rate += w.records / (w.updated_at - w.started_at)
            bases.add("average since the workers started")
    if not bases:
        return Figure(None, Verdict.INFO, note="no report yet")
    return Figure(rate, Verdict.INFO, "runtime", note=" / ".join(sorted(bases)))


def heartbeat_age(facts: FlowFacts, slo: Slo, now: float) -> Figure:
    """The newest heartbeat of the flow on the target (or the runtime's last one, when the
    target did not answer), within slo.max_lag_seconds plus the heartbeat interval."""
    flow = facts.flow
    if not flow.emit_heartbeats:
        return Figure(None, Verdict.INFO, note="heartbeats disabled (emit_heartbeats: false)")
    limit = slo.max_lag_seconds + _interval(flow, "emit.heartbeats.interval.seconds")
    return _age(facts.heartbeat_ms, facts.heartbeat_topic, facts, limit, now, "last_heartbeat_at")


def checkpoint_age(facts: FlowFacts, slo: Slo, now: float) -> Figure:
    """The newest checkpoint on the target. Shown against slo.max_lag_seconds plus the
    checkpoint interval, yellow beyond it, but never deciding the exit code: checkpoints are
    written when a group's offsets move, so an idle group's last one is old and still exact."""
    flow = facts.flow
    if not flow.emit_checkpoints:
        return Figure(None, Verdict.INFO, note="checkpoints disabled", counts=False)
    limit = slo.max_lag_seconds + _interval(flow, "emit.checkpoints.interval.seconds")
    f = _age(facts.checkpoint_ms, facts.checkpoint_topic, facts, limit, now, "last_checkpoint_at")
    verdict = Verdict.OK if f.verdict is Verdict.OK else Verdict.UNKNOWN
    note = f.note
    if f.value is None and f.basis == "kafka":
        verdict = Verdict.INFO  # nothing to judge: no group of the flow has committed yet
        note = f"none in {facts.checkpoint_topic} (no group of the flow has committed offsets?)"
    elif f.verdict is Verdict.BREACH:
        note = "older than the SLO: fine if the flow's groups are idle"
    return Figure(f.value, verdict, f.basis, f.limit, note, counts=False)


def _age(
    ms: int | None, topic: str, facts: FlowFacts, limit: float, now: float, reported: str
) -> Figure:
    if ms is not None:
        age = max(0.0, now - ms / 1000)
        verdict = Verdict.OK if age <= limit else Verdict.BREACH
        return Figure(age, verdict, "kafka", limit, f"{facts.flow.target}:{topic}")
    if facts.target_error:
        at = max((float(getattr(w, reported)) for w in facts.workers), default=0.0)
        if at > 0:
            age = max(0.0, now - at)
            verdict = _judge(age, limit, "runtime")
            note = f"from the runtime's last report: {facts.target_error}"
            return Figure(age, verdict, "runtime", limit, note)
        return Figure(None, Verdict.UNKNOWN, "", limit, facts.target_error)
    return Figure(None, Verdict.UNKNOWN, "kafka", limit, f"none in {facts.flow.target}:{topic}")


# --- failovers ---------------------------------------------------------------------------------


def _last_change(record: Mapping[str, Any]) -> str:
    """ISO 8601 UTC strings of one format compare as text."""
    return max(str(record.get(k) or "") for k in ("updated_at", "finished_at", "started_at"))


def merge_failovers(
    topology: str, records: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> tuple[FailoverView, ...]:
    """cluster -> key -> record, from every cluster that answered: one view per key of this
    topology, the most recently changed copy winning (on a tie the copy on the cluster failed
    over to, which is written first)."""
    copies: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for cluster, by_key in records.items():
        for key, rec in by_key.items():
            if rec.get("kind", "failover") != "failover" or rec.get("topology") != topology:
                continue
            copies.setdefault(key, []).append((cluster, rec))
    out = []
    for key, found in sorted(copies.items()):
        _, rec = max(found, key=lambda cr: (_last_change(cr[1]), cr[0] == str(cr[1].get("to", ""))))
        fence = rec.get("fence") if isinstance(rec.get("fence"), Mapping) else {}
        acls = fence.get("acls") if isinstance(fence, Mapping) else None
        out.append(
            FailoverView(
                key=key,
                source=str(rec.get("from", "")),
                target=str(rec.get("to", "")),
                state=str(rec.get("state", "")),
                mode=str(rec.get("mode", "")),
                started_at=str(rec.get("started_at") or ""),
                finished_at=str(rec.get("finished_at") or ""),
                by=str(rec.get("by") or ""),
                fence_cluster=str(fence.get("cluster") or "") if fence else "",
                fence_state=str(fence.get("state") or "") if fence else "",
                fence_acls=len(acls) if isinstance(acls, list) else 0,
                seen_on=tuple(sorted(c for c, _ in found)),
            )
        )
    return tuple(out)


# --- one flow, and the report -------------------------------------------------------------------


def _state_verdict(state: str) -> Verdict:
    if state == "running":
        return Verdict.OK
    return Verdict.UNKNOWN if state == "unknown" else Verdict.BREACH


def assess_flow(
    facts: FlowFacts,
    slo: Slo,
    now: float,
    policy_name: str = "default",
    separator: str = ".",
    failovers: Sequence[FailoverView] = (),
) -> FlowHealth:
    flow = facts.flow
    policy = policy_for(policy_name, separator)
    parts, topic_names, basis, lag_note = _lag(facts, now)
    by_topic: dict[str, list[PartitionLag]] = {t: [] for t in topic_names}
    for p in parts:
        by_topic.setdefault(p.topic, []).append(p)
    topics = tuple(
        TopicStatus(
            t,
            policy.format_remote_topic(flow.source, t),
            tuple(ps),
            _records_figure((p.records for p in ps), slo, basis),
            _seconds_figure((p.seconds for p in ps), slo, basis),
        )
        for t, ps in sorted(by_topic.items())
    )
    lag_records = _records_figure((p.records for p in parts), slo, basis)
    lag_seconds = _seconds_figure((p.seconds for p in parts), slo, basis)
    if basis == "kafka" and any(p.seconds is None for p in parts):
        lag_note = "the timestamp of some partitions' first uncopied record could not be read"
    rate = throughput(facts.workers, facts.previous_workers, facts.state)
    hb = heartbeat_age(facts, slo, now)
    cp = checkpoint_age(facts, slo, now)
    mine = tuple(
        f for f in failovers if f.in_effect and (f.source, f.target) == (flow.source, flow.target)
    )
    notes = [n for n in (facts.reason, lag_note) if n]
    for f in mine:
        notes.append(
            f"failover {f.source} -> {f.target} is {f.state}"
            + (f" ({f.mode})" if f.mode else "")
            + (f" since {f.started_at}" if f.started_at else "")
            + f": this flow is stopped on purpose until `mm2plan failback --to {f.source}`"
        )
    state_verdict = _state_verdict(facts.state)
    problems = []
    if state_verdict is not Verdict.OK:
        problems.append(f"{facts.state}" + (f": {facts.reason}" if facts.reason else ""))
    problems += _lag_problems(lag_records, lag_seconds)
    if hb.fails and hb.value is None:
        problems.append(f"no heartbeat ({hb.note})")
    elif hb.fails and hb.verdict is Verdict.BREACH:
        problems.append(
            f"last heartbeat {_num(hb.value or 0)} s ago > {_num(hb.limit or 0)} "
            "(slo.max_lag_seconds + the heartbeat interval)"
        )
    elif hb.fails:
        problems.append(f"last heartbeat {_num(hb.value or 0)} s ago by the runtime's report only")
    return FlowHealth(
        source=flow.source,
        target=flow.target,
        engine=facts.engine,
        state=facts.state,
        state_verdict=state_verdict,
        reason=facts.reason,
        topics=topics,
        lag_records=lag_records,
        lag_seconds=lag_seconds,
        throughput=rate,
        heartbeat_age=hb,
        checkpoint_age=cp,
        failovers=mine,
        notes=tuple(notes),
        problems=tuple(problems),
    )


def _lag_problems(records: Figure, seconds: Figure) -> list[str]:
    out = []
    unchecked = []
    for fig, unit, bound in (
        (records, "records", "slo.max_lag_records"),
        (seconds, "s", "slo.max_lag_seconds"),
    ):
        if not fig.fails:
            continue
        if fig.verdict is Verdict.BREACH:
            out.append(f"lag {_num(fig.value or 0)} {unit} > {_num(fig.limit or 0)} ({bound})")
        elif fig.value is None:
            out.append("lag unknown")
        else:
            unchecked.append(f"{_num(fig.value)} {unit}")
    if unchecked:
        out.append(f"lag {' / '.join(unchecked)} by the runtime's last report only")
    return list(dict.fromkeys(out))


def _num(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def assess(
    topology: Topology,
    facts: Sequence[FlowFacts],
    failover_records: Mapping[str, Mapping[str, Mapping[str, Any]]],
    cluster_errors: Mapping[str, str],
    now: float,
) -> StatusReport:
    """The whole status of one topology: `failover_records` from every cluster that answered,
    `cluster_errors` for every cluster of the topology ("" when it answered)."""
    failovers = tuple(f for f in merge_failovers(topology.name, failover_records) if f.in_effect)
    d = topology.defaults
    flows = tuple(
        assess_flow(f, topology.slo, now, d.replication_policy, d.separator, failovers)
        for f in facts
    )
    clusters = {alias: cluster_errors.get(alias, "") for alias in topology.clusters}
    return StatusReport(topology.name, topology.slo, now, flows, failovers, clusters)


__all__ = [
    "FailoverView",
    "Figure",
    "FlowFacts",
    "FlowHealth",
    "PartitionLag",
    "ReportedPartition",
    "StatusReport",
    "TopicStatus",
    "Verdict",
    "WorkerFacts",
    "assess",
    "assess_flow",
    "kafka_lag",
    "merge_failovers",
    "report_lag",
    "throughput",
    "unreplicated",
]
