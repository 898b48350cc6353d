"""The `mm2plan` typer app: the root command, and each command group registered from its module.

Commands get their streams and factories from an injected `Env` (``ctx.obj``), so tests run
them through typer's runner with fakes and read stdout, stderr and the exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import click
import typer

from mm2plan import __version__
from mm2plan.cli import graph, plan, validate
from mm2plan.cli.env import Env, env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.sandbox import sandbox_app


def _usage_errors_exit_64() -> None:
    """Usage errors exit 64 (EX_USAGE), not click's 2: 2 means "plan has changes" (Terraform's
    habit). Typer >= 0.20 vendors click as `typer._click`; patch whichever copies exist."""
    modules = [click.exceptions]
    vendored = getattr(getattr(typer, "_click", None), "exceptions", None)
    if vendored is not None:
        modules.append(vendored)
    for mod in modules:
        mod.UsageError.exit_code = ExitCode.USAGE


_usage_errors_exit_64()


EPILOG = """Examples:

  mm2plan validate examples/active-passive.yaml

  mm2plan graph examples/active-active.yaml --topics

  mm2plan sandbox up --clusters dc1,dc2

Exit codes: 0 ok, 1 errors, 2 plan has changes (--detailed-exitcode), 3 partly applied,
64 usage error, 130 interrupted."""

app = typer.Typer(
    name="mm2plan",
    help="Plan and apply Kafka MirrorMaker 2 disaster-recovery topologies, Terraform-style.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(epilog=validate.EPILOG)(validate.validate)
app.command(epilog=graph.EPILOG)(graph.graph)
app.command(epilog=plan.PLAN_EPILOG)(plan.plan)
app.command(epilog=plan.APPLY_EPILOG)(plan.apply)
app.command(epilog=plan.DESTROY_EPILOG)(plan.destroy)
app.add_typer(sandbox_app, name="sandbox")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mm2plan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    env_of(ctx)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: maps Ctrl-C to 130 and keeps tracebacks for real bugs only."""
    try:
        app(args=list(argv) if argv is not None else None)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)


__all__ = ["Env", "app", "main"]
