"""Failover and failback runbooks for people (numbered steps, ✓/✗/! per check) and for machines
(JSON with a format_version). Both render the same `Runbook`, so they carry the same steps."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from mm2plan.planning.failover import FAIL, FORCEABLE, MARKS, OK, WARN, Runbook

_STYLE = {OK: "green", FAIL: "bold red", WARN: "yellow"}


def render_human(runbook: Runbook, execute: bool) -> Group:
    verb = "Failover" if runbook.kind == "failover" else "Failback"
    head = Text(
        f"{verb} {runbook.source} -> {runbook.target} ({runbook.mode})"
        + ("" if execute else ": dry run, nothing is changed"),
        style="bold",
    )
    parts: list[Any] = [head, Text("")]
    for n, step in enumerate(runbook.steps, 1):
        tag = " (done)" if step.done else " (you do this)" if step.manual else ""
        parts.append(Text(f"{n}. {step.title}{tag}", style="bold" if not step.done else "dim"))
        for c in step.checks:
            line = Text("   ")
            line.append(MARKS[c.status], style=_STYLE[c.status])
            line.append(f" {c.detail}")
            parts.append(line)
        for a in step.actions:
            parts.append(Text(f"   - {a}", style="dim" if step.done else ""))
    if runbook.commits:
        table = Table(title="translated offsets", title_justify="left", show_edge=False)
        for col in ("group", "topic", "partition", "offset", "upstream", "basis"):
            table.add_column(
                col, justify="right" if col in ("partition", "offset", "upstream") else "left"
            )
        for m in runbook.commits:
            table.add_row(
                m.group,
                m.topic,
                str(m.partition),
                str(m.offset),
                "" if m.upstream_offset is None else str(m.upstream_offset),
                m.basis,
            )
        parts += [Text(""), table]
    parts.append(Text(""))
    refusals = runbook.refusals
    if refusals:
        checks = ", ".join(sorted({c.id for c in refusals}))
        forceable = sorted({c.id for c in refusals if c.id in FORCEABLE})
        hint = (
            " Fix them, or go on regardless with " + " ".join(f"--force {f}" for f in forceable)
            if forceable
            else " Fix them first (none of them can be forced)."
        )
        parts.append(
            Text(f"Refused: {len(refusals)} check(s) failed ({checks}).{hint}", style="bold red")
        )
    elif not execute:
        parts.append(Text("Run again with --execute to perform the steps above.", style="bold"))
    return Group(*parts)


def render_json(runbook: Runbook, outcome: dict[str, Any] | None = None) -> str:
    doc = runbook.to_json()
    if outcome is not None:
        doc["executed"] = outcome
    return json.dumps(doc, indent=2, sort_keys=False)
