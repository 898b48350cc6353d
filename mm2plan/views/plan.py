"""Plans for people (Terraform's symbols, colours and attribute diffs) and for machines (JSON
with a format_version). Renderers only read the plan."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from mm2plan.core.addresses import Kind
from mm2plan.execution.apply import ApplyReport, ChangeResult, Status
from mm2plan.planning.plan import Action, Change, Plan
from mm2plan.views import count

_STYLE = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.ADOPT: "cyan",
    Action.NOOP: "dim",
}
_VERB = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in-place",
    Action.DELETE: "will be DESTROYED",
    Action.ADOPT: "will be adopted (already exists, mm2plan takes ownership)",
    Action.NOOP: "is up to date",
}
SENSITIVE = "(sensitive)"


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _flatten(value: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (value or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


class Pieces:
    """Styled text as (text, style) pieces, printed as rich segments.

    A 10,000-change plan as one `rich.text.Text` takes seconds to print: rich splits it into
    lines and divides every span among them. A console that does not wrap (mm2plan's consoles
    soft-wrap) takes the pieces as they are; any other gets the equivalent `Text`.
    """

    __slots__ = ("_pieces",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self._pieces: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> None:
        self._pieces.append((text, style))

    def extend(self, other: Pieces) -> None:
        self._pieces += other._pieces

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self._pieces)

    def to_text(self) -> Text:
        return Text.assemble(*self._pieces)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not options.no_wrap:
            yield self.to_text()
            return
        styles: dict[str, Style | None] = {}
        for text, name in self._pieces:
            if name not in styles:
                styles[name] = console.get_style(name) if name else None
            yield Segment(text, styles[name])


def render_change(c: Change, out: Pieces | None = None) -> Pieces:
    """One change, Terraform-style, appended to `out` (a new `Pieces` when None)."""
    t = Pieces() if out is None else out
    style = _STYLE[c.action]
    t.append(f"  # {c.address} {_VERB[c.action]}", "bold")
    if c.reason:
        t.append(f" ({c.reason})", "dim")
    t.append("\n")
    before = _flatten(c.before.to_json() if c.before else None)
    after = _flatten(c.after.to_json() if c.after else None)
    keys = sorted((before.keys() | after.keys()) - _EXPLAINED_BY_REASON)
    width = max((len(k) for k in keys), default=0)
    t.append(f"  {c.action.symbol} ", style)
    if c.action is Action.UPDATE:  # e.g. a flow restarted as it is: nothing to diff
        keys = [k for k in keys if before.get(k, _MISSING) != after.get(k, _MISSING)]
    if c.kind is Kind.ACL or not keys:  # the address (and the reason) say everything
        t.append(f"{c.address}\n\n")
        return t
    t.append(f"{c.address} {{\n")
    for k in keys:
        b, a = before.get(k, _MISSING), after.get(k, _MISSING)
        if c.action is Action.CREATE:
            t.append("      + ", "green")
            t.append(f"{k.ljust(width)} = {_fmt(a)}\n")
        elif c.action is Action.DELETE:
            t.append("      - ", "red")
            t.append(f"{k.ljust(width)} = {_fmt(b)}\n")
        elif a is _MISSING:
            t.append("      - ", "red")
            t.append(f"{k.ljust(width)} = {_fmt(b)} -> null\n")
        elif b is _MISSING:
            t.append("      + ", "green")
            t.append(f"{k.ljust(width)} = {_fmt(a)}\n")
        elif a != b:
            t.append("      ~ ", "yellow")
            t.append(f"{k.ljust(width)} = {_fmt(b)} -> {_fmt(a)}\n")
    if c.destroys_data:
        t.append("      ! this topic holds data: deleting it loses that data\n", "bold red")
    t.append("    }\n\n")
    return t


_EXPLAINED_BY_REASON = {"role", "origin", "has_data"}


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def summary(plan: Plan) -> Pieces:
    n = plan.counts()
    line = f"Plan: {n['add']} to add, {n['change']} to change, {n['destroy']} to destroy"
    if n["adopt"]:
        line += f", {n['adopt']} to adopt"
    return Pieces(line + ".", "bold")


def render_human(plan: Plan) -> Pieces:
    """A plan with errors never reads as done: it says it cannot be applied, and why."""
    t = Pieces()
    if plan.has_changes:
        if plan.has_errors:
            t.append("Besides the errors, the plan holds these changes (none is applied ")
            t.append("while an error remains):\n\n")
        else:
            t.append("mm2plan will perform the following actions:\n\n")
        for c in plan.effective:
            render_change(c, t)
        t.extend(summary(plan))
        t.append("\n")
    elif not plan.has_errors:
        t.append("No changes. ", "bold green")
        t.append("The clusters match the topology.\n")
    if plan.has_errors:
        if plan.has_changes:
            t.append("\n")
        t.extend(cannot_apply(plan))
    return t


def cannot_apply(plan: Plan) -> Pieces:
    """`The plan cannot be applied: 2 errors (partition-decrease, topic-conflict) ...`."""
    codes = Counter(d.code for d in plan.diagnostics if d.is_error)
    n = sum(codes.values())
    t = Pieces("The plan cannot be applied: ", "bold red")
    t.append(f"{count(n, 'error')} ({', '.join(sorted(codes))}), shown above. ")
    t.append("Fix the topology (or the clusters, as each error says) and plan again.\n")
    return t


def render_json(plan: Plan) -> Pieces:
    """The plan as JSON, one piece: printed as it is, not split into its many lines."""
    return Pieces(json.dumps(plan.to_json(), indent=2))


_RESULT_STYLE = {
    Status.APPLIED: "green",
    Status.FAILED: "bold red",
    Status.SKIPPED: "yellow",
    Status.PENDING: "cyan",
}


def render_result(r: ChangeResult) -> Text:
    t = Text()
    t.append(f"{r.change.address}: ", style="bold")
    t.append(f"{r.change.action.value} {r.status.value}", style=_RESULT_STYLE[r.status])
    if r.detail:
        t.append(f" ({r.detail})", style="dim")
    return t


def render_report(report: ApplyReport) -> Text:
    counts = {s: report.count(s) for s in Status}
    style = "bold green" if report.complete else "bold red"
    text = (
        f"Apply {'complete' if report.complete else 'PARTLY DONE'}! "
        f"{counts[Status.APPLIED]} applied, {counts[Status.FAILED]} failed, "
        f"{counts[Status.SKIPPED]} skipped, {counts[Status.PENDING]} pending."
    )
    t = Text(text, style=style)
    if not report.complete:
        t.append(
            "\nRun `mm2plan apply` again to finish: it plans only what is left.", style="yellow"
        )
    return t
