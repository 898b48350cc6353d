"""`mm2plan status` for people (a rich table, coloured by the SLO) and for machines (JSON with a
format_version, the same content). Views only render a planning.status.StatusReport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mm2plan.planning.status import (
    FailoverView,
    Figure,
    FlowHealth,
    PartitionLag,
    StatusReport,
    TopicStatus,
    Verdict,
)
from mm2plan.views import count
from mm2plan.views.runtime import duration

FORMAT_VERSION = 1

VERDICT_STYLE = {
    Verdict.OK: "green",
    Verdict.BREACH: "bold red",
    Verdict.UNKNOWN: "yellow",
    Verdict.INFO: "",
}


_FLAGGED = (Verdict.BREACH, Verdict.UNKNOWN)


def _cell(text: str, fig: Figure) -> Text:
    return Text(text, VERDICT_STYLE[fig.verdict])


def _records(fig: Figure) -> Text:
    return _cell("?" if fig.value is None else f"{fig.value:,.0f}", fig)


def _seconds(fig: Figure) -> Text:
    return _cell("?" if fig.value is None else f"{fig.value:,.1f}", fig)


def _age(fig: Figure) -> Text:
    if fig.value is None:
        return _cell("off" if "disabled" in fig.note else "none", fig)
    return _cell(duration(fig.value) + " ago", fig)


def _rate(fig: Figure) -> str:
    return "-" if fig.value is None else f"{fig.value:,.0f}"


def status_view(report: StatusReport, verbose: bool = False) -> RenderableType:
    """The table, then what the figures cannot say (reasons, where a figure comes from,
    failovers and fences in effect, clusters that did not answer), then the verdict."""
    table = Table(box=None, pad_edge=False, header_style="bold", collapse_padding=True)
    for name, justify in (
        ("flow", "left"),
        ("engine", "left"),
        ("state", "left"),
        ("lag", "right"),
        ("lag s", "right"),
        ("rec/s", "right"),
        ("heartbeat", "right"),
        ("checkpoint", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "flow")  # type: ignore[arg-type]
    for flow in report.flows:
        table.add_row(
            Text(flow.name, "bold"),
            flow.engine,
            Text(flow.state, VERDICT_STYLE[flow.state_verdict]),
            _records(flow.lag_records),
            _seconds(flow.lag_seconds),
            _rate(flow.throughput),
            _age(flow.heartbeat_age),
            _age(flow.checkpoint_age),
        )
        for topic in flow.topics:
            _topic_rows(table, topic, verbose)
    return Group(table, _notes(report))


def _topic_rows(table: Table, topic: TopicStatus, verbose: bool) -> None:
    """A topic under its flow (with -v: its copy's name, and a row for each partition with
    the next offset to copy and the source's end)."""
    name = f"  {topic.topic}"
    if verbose:
        name += f" -> {topic.remote_topic}"
    table.add_row(
        Text(name, "dim"), "", "", _records(topic.lag_records), _seconds(topic.lag_seconds)
    )
    if not verbose:
        return
    for p in topic.partitions:
        table.add_row(
            Text(f"    {p.partition}: {_offsets(p)}", "dim"),
            "",
            "",
            "?" if p.records is None else f"{p.records:,}",
            "?" if p.seconds is None else f"{p.seconds:,.1f}",
        )


def _offsets(p: PartitionLag) -> str:
    if p.next_offset is None or p.end_offset is None:
        return ""
    return f"next {p.next_offset:,} / end {p.end_offset:,}"


def _notes(report: StatusReport) -> Text:
    t = Text()
    for flow in report.flows:
        for note in flow.notes:
            t.append(f"{flow.name}: ", "bold")
            t.append(note + "\n")
        for label, fig in (
            ("heartbeat", flow.heartbeat_age),
            ("checkpoint", flow.checkpoint_age),
        ):
            if fig.note and (fig.basis == "runtime" or fig.verdict in _FLAGGED):
                t.append(f"{flow.name}: ", "bold")
                t.append(f"{label}: {fig.note}\n", VERDICT_STYLE[fig.verdict])
    rates = sorted({f.throughput.note for f in report.flows if f.throughput.value is not None})
    if rates:
        t.append(f"records/s: {'; '.join(rates)}\n", "dim")
    for f in report.failovers:
        t.append("failover in effect: ", "bold yellow")
        t.append(_failover_line(f) + "\n")
    for f in report.fenced:
        t.append("fenced: ", "bold yellow")
        t.append(
            f"{f.fence_cluster} ({f.fence_state}, {count(f.fence_acls, 'ACL')}; "
            f"the apps cannot write there until failback)\n"
        )
    for alias, error in report.clusters.items():
        if error:
            t.append(f"{alias}: ", "bold")
            t.append(f"not reachable: {error}\n", "yellow")
    t.append(summary(report), "green" if report.within_slo else "bold red")
    return t


def _failover_line(f: FailoverView) -> str:
    parts = [f"{f.source} -> {f.target}", f.state]
    if f.mode:
        parts.append(f.mode)
    if f.started_at:
        parts.append(f"started {f.started_at}")
    if f.finished_at:
        parts.append(f"finished {f.finished_at}")
    if f.by:
        parts.append(f"by {f.by}")
    return ", ".join(parts) + f" (recorded on {', '.join(f.seen_on)})"


def summary(report: StatusReport) -> str:
    slo = report.slo
    bound = f"lag <= {slo.max_lag_records:,} records and {slo.max_lag_seconds:g} s"
    if not report.flows:
        return "The topology has no enabled flow."
    if report.within_slo:
        return f"{count(len(report.flows), 'flow')} running within the SLO ({bound})."
    out = [f for f in report.flows if not f.within_slo]
    lines = [f"{len(out)} of {count(len(report.flows), 'flow')} outside the SLO ({bound}):"]
    lines += [f"  {f.name}: {'; '.join(f.problems)}" for f in out]
    return "\n".join(lines)


# --- JSON ---------------------------------------------------------------------------------------


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _figure(fig: Figure, digits: int = 3) -> dict[str, Any]:
    d: dict[str, Any] = {
        "value": None if fig.value is None else round(fig.value, digits),
        "verdict": fig.verdict.value,
        "basis": fig.basis or None,
        "limit": fig.limit,
    }
    if fig.note:
        d["note"] = fig.note
    if not fig.counts:
        d["counts"] = False
    return d


def _failover_json(f: FailoverView) -> dict[str, Any]:
    return {
        "key": f.key,
        "from": f.source,
        "to": f.target,
        "state": f.state,
        "mode": f.mode or None,
        "started_at": f.started_at or None,
        "finished_at": f.finished_at or None,
        "by": f.by or None,
        "fence": {"cluster": f.fence_cluster or None, "state": f.fence_state or None},
        "seen_on": list(f.seen_on),
    }


def _flow_json(flow: FlowHealth) -> dict[str, Any]:
    return {
        "flow": flow.name,
        "source": flow.source,
        "target": flow.target,
        "engine": flow.engine,
        "state": flow.state,
        "state_verdict": flow.state_verdict.value,
        "reason": flow.reason,
        "within_slo": flow.within_slo,
        "problems": list(flow.problems),
        "lag_records": _figure(flow.lag_records, 0),
        "lag_seconds": _figure(flow.lag_seconds),
        "throughput": _figure(flow.throughput, 1),
        "heartbeat_age_s": _figure(flow.heartbeat_age),
        "checkpoint_age_s": _figure(flow.checkpoint_age),
        "topics": [
            {
                "topic": t.topic,
                "remote_topic": t.remote_topic,
                "lag_records": _figure(t.lag_records, 0),
                "lag_seconds": _figure(t.lag_seconds),
                "partitions": [
                    {
                        "partition": p.partition,
                        "next_offset": p.next_offset,
                        "end_offset": p.end_offset,
                        "lag_records": p.records,
                        "lag_seconds": None if p.seconds is None else round(p.seconds, 3),
                    }
                    for p in t.partitions
                ],
            }
            for t in flow.topics
        ],
        "failovers": [f.key for f in flow.failovers],
        "notes": list(flow.notes),
    }


def status_doc(report: StatusReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "topology": report.topology,
        "generated_at": _iso(report.generated_at),
        "slo": {
            "max_lag_records": report.slo.max_lag_records,
            "max_lag_seconds": report.slo.max_lag_seconds,
        },
        "within_slo": report.within_slo,
        "clusters": {
            alias: {"reachable": not error, "error": error or None}
            for alias, error in report.clusters.items()
        },
        "flows": [_flow_json(f) for f in report.flows],
        "failovers": [_failover_json(f) for f in report.failovers],
        "fenced": [
            {"cluster": f.fence_cluster, "state": f.fence_state, "failover": f.key}
            for f in report.fenced
        ],
    }


def status_json(report: StatusReport, compact: bool = False) -> str:
    """`compact`: one line per document (`--watch --json` prints one per refresh)."""
    doc = status_doc(report)
    return json.dumps(doc, separators=(",", ":")) if compact else json.dumps(doc, indent=2)
