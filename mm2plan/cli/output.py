"""What every command prints the same way: diagnostics, one-line errors, a valid topology."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import NoReturn

import typer

from mm2plan.cli import interrupts
from mm2plan.cli.env import Env
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.diagnostics import Diagnostic
from mm2plan.core.model import Topology
from mm2plan.topology.validate import Validation, validate_file
from mm2plan.views import diagnostics as diag_view
from mm2plan.views.errors import error_text


class DiagFormat(enum.StrEnum):
    text = "text"
    json = "json"
    github = "github"


@cache
def lines_of(file: str) -> list[str] | None:
    """A topology file's lines, for the source excerpts under each diagnostic."""
    try:
        return Path(file).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def emit_diagnostics(
    env: Env, diagnostics: Sequence[Diagnostic], fmt: DiagFormat, valid: bool, subject: str
) -> None:
    if fmt is DiagFormat.json:
        env.out.print(
            diag_view.render_json(diagnostics, valid), markup=False, highlight=False, soft_wrap=True
        )
    elif fmt is DiagFormat.github:
        if diagnostics:
            env.out.print(
                diag_view.render_github(diagnostics), markup=False, highlight=False, soft_wrap=True
            )
    else:
        if diagnostics:
            env.err.print(diag_view.render_text(diagnostics, lines_of), end="")
        env.err.print(diag_view.summary_line(diagnostics, subject))


def show_diagnostics(env: Env, diagnostics: Sequence[Diagnostic]) -> None:
    """A plan's diagnostics, on stderr, without the summary line of `validate`."""
    if diagnostics:
        env.err.print(diag_view.render_text(list(diagnostics), lines_of), end="")


def load_valid(env: Env, path: Path) -> Validation:
    """Validate or exit 1 with the diagnostics: nothing runs on a broken topology."""
    result = validate_file(str(path))
    if not result.valid:
        emit_diagnostics(env, result.diagnostics.sorted(), DiagFormat.text, False, str(path))
        raise typer.Exit(ExitCode.ERROR)
    return result


def load_topology(env: Env, path: Path) -> Topology:
    result = load_valid(env, path)
    assert result.topology is not None
    return result.topology


def fail(env: Env, *errors: tuple[str, str, str]) -> NoReturn:
    """Print each (code, message, hint) as one error, then exit 1; after a Ctrl-C that a
    library turned into an error, exit as interrupted instead (see cli/interrupts.py)."""
    if interrupts.happened():
        raise KeyboardInterrupt
    for code, message, hint in errors:
        env.err.print(error_text(code, message, hint))
    raise typer.Exit(ExitCode.ERROR)
