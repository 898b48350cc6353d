"""The `mm2plan` typer app: the root command, and each command group registered from its module.

Commands get their streams and factories from an injected `Env` (``ctx.obj``), so tests run
them through typer's runner with fakes and read stdout, stderr and the exit code.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from mm2plan import __version__
from mm2plan.cli import (
    export,
    failover,
    graph,
    importer,
    interrupts,
    plan,
    replicate,
    status,
    validate,
)
from mm2plan.cli.env import Env, env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.runtime import runtime_app
from mm2plan.cli.sandbox import sandbox_app


def _usage_error_class() -> type[Exception]:
    """click's UsageError as typer raises it (typer >= 0.26 vendors its own click, which this
    package neither imports nor declares). Typer exports only its subclass BadParameter."""
    base = typer.BadParameter.__base__
    assert base is not None and issubclass(base, Exception), base
    return base


_USAGE_ERROR = _usage_error_class()


def _interrupted(ctx: typer.Context) -> typer.Exit:
    """Ctrl-C: one line on stderr, no traceback, exit 130 (128 + SIGINT)."""
    env_of(ctx).err.print("interrupted")
    return typer.Exit(ExitCode.INTERRUPTED)


class _RootGroup(TyperGroup):
    """The root command. Every usage error (unknown command or option, bad value, missing
    argument) passes through its make_context or invoke, where it gets exit code 64 (EX_USAGE)
    instead of click's 2, which means "plan has changes" here (Terraform's habit); typer then
    prints it as usual. A Ctrl-C during a command is ours too: see `_interrupted`."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _USAGE_ERROR as e:
            e.exit_code = ExitCode.USAGE  # type: ignore[attr-defined]
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _USAGE_ERROR as e:
            e.exit_code = ExitCode.USAGE  # type: ignore[attr-defined]
            raise
        except KeyboardInterrupt:
            raise _interrupted(ctx) from None


EPILOG = """Examples:

  mm2plan validate examples/active-passive.yaml

  mm2plan graph examples/active-active.yaml --topics

  mm2plan sandbox up --clusters dc1,dc2

  mm2plan runtime status

Exit codes: 0 ok, 1 errors, 2 plan has changes (--detailed-exitcode), 3 partly applied,
64 usage error, 130 interrupted."""

app = typer.Typer(
    name="mm2plan",
    cls=_RootGroup,
    help="Plan and apply Kafka MirrorMaker 2 disaster-recovery topologies, Terraform-style.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(epilog=validate.EPILOG)(validate.validate)
app.command(epilog=graph.EPILOG)(graph.graph)
app.command(epilog=export.EPILOG)(export.export)
app.command(name="import", epilog=importer.EPILOG)(importer.import_)
app.command(epilog=plan.PLAN_EPILOG)(plan.plan)
app.command(epilog=plan.APPLY_EPILOG)(plan.apply)
app.command(epilog=plan.DESTROY_EPILOG)(plan.destroy)
app.command(epilog=replicate.EPILOG)(replicate.replicate)
app.command(epilog=failover.FAILOVER_EPILOG)(failover.failover)
app.command(epilog=failover.FAILBACK_EPILOG)(failover.failback)
app.command(epilog=status.EPILOG)(status.status)
app.add_typer(runtime_app, name="runtime")
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
    """Console entry point: exit codes as README "Exit codes" says, tracebacks for real bugs only.

    Ctrl-C exits 130 with one line wherever it lands: in a command (`_RootGroup.invoke` says
    "interrupted") or around one (parsing, help). Every ``finally`` of the main thread has run
    by then (an apply has released its lock); threads still waiting on a cluster's answer are
    abandoned, not joined, so the prompt comes back at once."""
    interrupts.install()
    try:
        app(args=list(argv) if argv is not None else None)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        _exit_now(ExitCode.INTERRUPTED)
    except SystemExit as e:
        if e.code == ExitCode.INTERRUPTED:
            _exit_now(ExitCode.INTERRUPTED)
        raise


def _exit_now(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)


__all__ = ["Env", "app", "main"]
