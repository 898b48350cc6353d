"""Diagnostics: problems are collected and reported together, never raised one at a time.

Exceptions are for bugs; everything a user can get wrong becomes a `Diagnostic` with a stable
code, so `validate` reports every problem in one run and CI can grep for codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class SourceRange:
    """Where a YAML node starts; line and column are 1-based, as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    hint: str = ""
    source: SourceRange | None = None
    path: str = ""
    """Dotted path of the offending node (``flows[0].source``); stable across reformatting."""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape of a diagnostic: `validate --format json` and plan files."""
        s = self.source
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "file": s.file if s else None,
            "line": s.line if s else None,
            "column": s.column if s else None,
            "path": self.path,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Diagnostic:
        src = SourceRange(d["file"], d["line"], d["column"]) if d.get("file") else None
        return cls(
            Severity(d["severity"]),
            d["code"],
            d["message"],
            d.get("hint", ""),
            src,
            d.get("path", ""),
        )


def error(
    code: str, message: str, hint: str = "", *, source: SourceRange | None = None, path: str = ""
) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, hint, source, path)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`did you mean 'dc1'?` for the closest choice, or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def warning(
    code: str, message: str, hint: str = "", *, source: SourceRange | None = None, path: str = ""
) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, hint, source, path)


class Diagnostics:
    """An ordered, append-only collection with the questions callers ask of it."""

    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        self._items: list[Diagnostic] = list(items)

    def append(self, diagnostic: Diagnostic) -> None:
        self._items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self._items.extend(diagnostics)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    def codes(self) -> list[str]:
        return [d.code for d in self._items]

    def sorted(self) -> list[Diagnostic]:
        """Errors and warnings in file order, so output reads top to bottom like the YAML."""

        def key(d: Diagnostic) -> tuple[str, int, int, str]:
            s = d.source
            return (s.file, s.line, s.column, d.code) if s else ("", 0, 0, d.code)

        return sorted(self._items, key=key)
