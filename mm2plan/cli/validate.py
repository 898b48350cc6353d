"""`mm2plan validate`: offline checks of topology files, fit for pre-commit and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mm2plan.cli.env import env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.output import DiagFormat, emit_diagnostics
from mm2plan.core.diagnostics import Diagnostics
from mm2plan.topology.loader import DEFAULT_FILE
from mm2plan.topology.validate import validate_file

EPILOG = """Examples:

  mm2plan validate

  mm2plan validate a.yaml b.yaml --format github

  mm2plan validate --format json | jq .diagnostics"""


def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help=f"Topology files (default: ./{DEFAULT_FILE}).", show_default=False),
    ] = None,
    fmt: Annotated[
        DiagFormat, typer.Option("--format", "-f", help="Output format.")
    ] = DiagFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Check topology files offline: schema, references, naming, cycles, clashes.

    Every problem is reported at once, at file:line:column. No cluster is contacted.
    """
    env = env_of(ctx)
    files = paths or [Path(DEFAULT_FILE)]
    all_diags = Diagnostics()
    for p in files:
        all_diags.extend(validate_file(str(p)).diagnostics.sorted())
    valid = not all_diags.has_errors()
    subject = str(files[0]) if len(files) == 1 else f"{len(files)} files"
    emit_diagnostics(env, list(all_diags), fmt, valid, subject)
    failed = not valid or (strict and len(all_diags) > 0)
    raise typer.Exit(ExitCode.ERROR if failed else ExitCode.OK)
