"""Diagnostics for people (compiler-style, with the source line), machines (JSON) and GitHub
Actions (workflow commands). They only read diagnostics; they never decide anything."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from rich.text import Text

from mm2plan.core.diagnostics import Diagnostic, Severity
from mm2plan.core.model import has_reference, is_sensitive_key
from mm2plan.views import count

FORMAT_VERSION = "1"
SourceLines = Callable[[str], Sequence[str] | None]
"""Gives the lines of a file, or None when it cannot be read (stdin, deleted)."""

_KEY_VALUE = re.compile(r"""([\w.\-]+)(\s*:\s*)("[^"]*"|'[^']*'|[^\s,}\]{\[][^,}\]]*)""")


def mask_secrets(line: str) -> str:
    """A source excerpt must not show a literal secret: `sasl.password: x` -> `(sensitive)`."""

    def mask(m: re.Match[str]) -> str:
        key, sep, value = m.group(1), m.group(2), m.group(3)
        if is_sensitive_key(key) and not has_reference(value):
            return f"{key}{sep}(sensitive)"
        return m.group(0)

    return _KEY_VALUE.sub(mask, line)


_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow"}


def render_text(diagnostics: Sequence[Diagnostic], lines_of: SourceLines) -> Text:
    out = Text()
    for d in diagnostics:
        out.append(d.severity.value, style=_STYLE[d.severity])
        out.append(f"[{d.code}]", style=_STYLE[d.severity])
        out.append(f": {d.message}\n", style="bold")
        if d.source is not None:
            s = d.source
            gutter = " " * len(str(s.line))
            out.append(f"{gutter}--> {s}\n", style="blue")
            lines = lines_of(s.file)
            if lines is not None and 0 < s.line <= len(lines):
                src = mask_secrets(lines[s.line - 1].rstrip("\n"))
                if len(src) > 160:
                    src = src[:157] + "..."
                out.append(f"{gutter} |\n", style="blue")
                out.append(f"{s.line} | ", style="blue")
                out.append(src + "\n")
                caret = " " * (s.column - 1) + "^"
                out.append(f"{gutter} | ", style="blue")
                out.append(caret + "\n", style=_STYLE[d.severity])
        if d.hint:
            out.append(
                f"{' ' * (len(str(d.source.line)) if d.source else 0)} = hint: ", style="cyan"
            )
            out.append(d.hint + "\n")
        out.append("\n")
    return out


def summary_line(diagnostics: Sequence[Diagnostic], subject: str) -> Text:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if errors:
        return Text(
            f"{subject}: {count(errors, 'error')}, {count(warnings, 'warning')}", style="bold red"
        )
    if warnings:
        return Text(f"{subject} is valid, with {count(warnings, 'warning')}", style="yellow")
    return Text(f"{subject} is valid", style="bold green")


def render_json(diagnostics: Sequence[Diagnostic], valid: bool) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    doc = {
        "format_version": FORMAT_VERSION,
        "valid": valid,
        "error_count": errors,
        "warning_count": len(diagnostics) - errors,
        "diagnostics": [d.to_json() for d in diagnostics],
    }
    return json.dumps(doc, indent=2)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """`::error file=..,line=..,col=..,title=CODE::message` lines, one per diagnostic."""
    out = []
    for d in diagnostics:
        level = "error" if d.is_error else "warning"
        props = []
        if d.source:
            props += [
                f"file={_escape_property(d.source.file)}",
                f"line={d.source.line}",
                f"col={d.source.column}",
            ]
        props.append(f"title={_escape_property(d.code)}")
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        out.append(f"::{level} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(out)
