"""Diagnostics: problems are collected and reported together, never raised one at a time.

Exceptions are for bugs; everything a user can get wrong becomes a `Diagnostic` with a stable
code, so `validate` reports every problem in one run and CI can grep for codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum


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


def error(
    code: str, message: str, hint: str = "", *, source: SourceRange | None = None, path: str = ""
) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, hint, source, path)


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
