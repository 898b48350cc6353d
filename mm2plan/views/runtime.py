"""The bundled runtime for people (a table, log lines) and for machines (JSON with a
format_version): `mm2plan replicate`'s live status and `mm2plan runtime status`. Views only
read the workers' reports and what the engine says of each flow."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from mm2plan.runtime.status import ProcessReport

FORMAT_VERSION = "1"

_STATE_STYLE = {
    "running": "green",
    "starting": "cyan",
    "failed": "bold red",
    "stopped": "yellow",
    "absent": "dim",
}


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One flow as the views show it."""

    flow: str
    state: str
    reason: str = ""
    pid: int | None = None
    uptime_s: float | None = None
    reports: Sequence[ProcessReport] = field(default_factory=tuple)
    rate: float | None = None
    """Records per second since the last look (the live display only)."""

    @property
    def partitions(self) -> int:
        return sum(len(r.partitions) for r in self.reports)

    @property
    def records(self) -> int:
        return sum(r.records for r in self.reports)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.reports)

    @property
    def lag_records(self) -> int:
        return sum(p.lag_records for r in self.reports for p in r.partitions)

    @property
    def lag_seconds(self) -> float:
        return max((p.lag_seconds for r in self.reports for p in r.partitions), default=0.0)

    @property
    def failed_partitions(self) -> list[str]:
        return [
            f"{p.topic}-{p.partition}: {p.failed}"
            for r in self.reports
            for p in r.partitions
            if p.failed
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "state": self.state,
            "reason": self.reason,
            "pid": self.pid,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "partitions": self.partitions,
            "records": self.records,
            "bytes": self.bytes,
            "lag_records": self.lag_records,
            "lag_seconds": round(self.lag_seconds, 3),
            "workers": [r.to_json() for r in self.reports],
        }


def duration(seconds: float | None) -> str:
    """`42s`, `7m03s`, `2h05m`, `3d04h`."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}"


def status_table(rows: Sequence[FlowRow], live: bool = False) -> Table:
    """`live`: the replicate display, with records/s; else `runtime status`, with pid/uptime."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("flow")
    table.add_column("state")
    if not live:
        table.add_column("pid", justify="right")
    table.add_column("uptime", justify="right")
    table.add_column("partitions", justify="right")
    table.add_column("records", justify="right")
    if live:
        table.add_column("records/s", justify="right")
    table.add_column("lag", justify="right")
    table.add_column("lag s", justify="right")
    for row in rows:
        cells: list[Text | str] = [row.flow, Text(row.state, _STATE_STYLE.get(row.state, ""))]
        if not live:
            cells.append("-" if row.pid is None else str(row.pid))
        cells += [duration(row.uptime_s), str(row.partitions), f"{row.records:,}"]
        if live:
            cells.append(_rate(row.rate))
        cells += [f"{row.lag_records:,}", f"{row.lag_seconds:.1f}"]
        table.add_row(*cells)
    return table


def reasons(rows: Sequence[FlowRow]) -> Text:
    """Why each flow that does not run does not, under the table."""
    t = Text()
    for row in rows:
        if row.reason:
            t.append(f"{row.flow}: ", "bold")
            t.append(f"{row.reason}\n", _STATE_STYLE.get(row.state, ""))
    return t


def summary_line(row: FlowRow) -> str:
    """The periodic log line of a replicate without a terminal."""
    line = (
        f"{row.flow}: {row.state}, {row.partitions} partitions, {row.records:,} records"
        f" ({_rate(row.rate)}/s), lag {row.lag_records:,} records / {row.lag_seconds:.1f} s"
    )
    return line + (f"; {row.reason}" if row.reason else "")


def status_json(rows: Sequence[FlowRow]) -> str:
    doc = {
        "format_version": FORMAT_VERSION,
        "running": all(r.state == "running" for r in rows),
        "flows": [r.to_json() for r in rows],
    }
    return json.dumps(doc, indent=2)
