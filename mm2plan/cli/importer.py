"""`mm2plan import`: an existing MM2 dedicated-mode file as a topology to start from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mm2plan.cli.env import env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.output import fail, lines_of
from mm2plan.core.javaprops import decode
from mm2plan.topology.importer import import_properties, masked_lines
from mm2plan.topology.loader import load_text
from mm2plan.topology.validate import validate_loaded
from mm2plan.views import diagnostics as diag_view

EPILOG = """Examples:

  mm2plan import mm2.properties -o mm2plan.yaml

  mm2plan import /opt/kafka/config/connect-mirror-maker.properties --name dr > dr.yaml

Every property the topology cannot represent is a warning at file:line on stderr; a literal
secret becomes a ${env:MM2PLAN_<ALIAS>_<KEY>} reference to set. Exit codes: 0 imported
(warnings allowed), 1 not an MM2 file, unreadable, or the topology is invalid, 64 usage
error."""


def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="MM2 dedicated-mode properties file.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Topology file to write (default: stdout).", show_default=False
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="The topology's name (default: 'default').", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output.")] = False,
) -> None:
    """Turn an MM2 dedicated-mode properties file into a topology.

    Clusters, client configs (secrets as references), enabled flows with their overrides,
    patterns, policy, separator and sync settings, with MM2's defaults written where mm2plan's
    differ. No cluster is contacted.
    """
    env = env_of(ctx)
    try:
        text = decode(file.read_bytes())
    except OSError as exc:
        fail(env, ("file-not-found", f"cannot read {file}: {exc.strerror or exc}", ""))
    if output is not None and output.exists() and not force:
        fail(env, ("import", f"{output} exists", "pass --force to overwrite it"))
    result = import_properties(text, str(file), name)
    masked = masked_lines(text)

    def source_lines(f: str) -> list[str] | None:
        return masked if f == str(file) else lines_of(f)

    if result.diagnostics:
        env.err.print(diag_view.render_text(result.diagnostics, source_lines), end="")
    if result.text is None:
        env.err.print(diag_view.summary_line(result.diagnostics, str(file)))
        raise typer.Exit(ExitCode.ERROR)
    where = str(output) if output is not None else "<stdout>"
    checked = validate_loaded(load_text(result.text, where))
    if output is not None:
        try:
            output.write_text(result.text, encoding="utf-8")
        except OSError as exc:
            fail(env, ("import", f"cannot write {output}: {exc.strerror or exc}", ""))
        env.err.print(f"wrote {output}", markup=False, highlight=False)
    else:
        env.out.print(result.text, markup=False, highlight=False, soft_wrap=True, end="")
    found = checked.diagnostics.sorted()
    if found:
        env.err.print(diag_view.render_text(found, lines_of), end="")
    env.err.print(diag_view.summary_line([*result.diagnostics, *found], "the imported topology"))
    raise typer.Exit(ExitCode.OK if checked.valid else ExitCode.ERROR)
