"""`mm2plan runtime status|stop|logs`: the bundled runtime's flows of one topology file, as its
engine (runtime.engine) sees them in their state directories. Nothing here talks to Kafka."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mm2plan.cli.env import Env, env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.output import fail, load_topology
from mm2plan.core.diagnostics import did_you_mean
from mm2plan.topology.loader import DEFAULT_FILE

if TYPE_CHECKING:
    from mm2plan.ports.replication import FlowKey
    from mm2plan.runtime.engine import BundledEngine

STATUS_EPILOG = """Examples:

  mm2plan runtime status

  mm2plan runtime status prod.yaml --json | jq '.flows[] | {flow, state, lag_records}'

  until mm2plan runtime status >/dev/null; do sleep 1; done   # wait for every flow

Exit codes: 0 every flow runs, 1 a flow is not running (or errors), 64 usage error."""

STOP_EPILOG = """Examples:

  mm2plan runtime stop                      # every flow of the topology

  mm2plan runtime stop --flow 'dc1->dc2'

Each flow's workers record what the target acknowledged, then exit; `mm2plan plan` then shows
the flow as stopped, and `mm2plan apply` starts it again where it stopped."""

LOGS_EPILOG = """Examples:

  mm2plan runtime logs

  mm2plan runtime logs --flow 'dc1->dc2' -n 100

  mm2plan runtime logs --follow             # until Ctrl-C"""

runtime_app = typer.Typer(
    help="The bundled replication runtime's flows: status, stop, logs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _engine_and_flows(
    env: Env, path: Path, names: list[str] | None, include_known: bool
) -> tuple[BundledEngine, list[FlowKey]]:
    """The topology's enabled flows (and, `include_known`, those with a state directory, e.g.
    a flow removed from the file that still runs), or the ones named."""
    from mm2plan.ports.replication import FlowKey
    from mm2plan.runtime.engine import BundledEngine

    topology = load_topology(env, path)
    if topology.runtime.engine != "bundled":
        fail(
            env,
            (
                "runtime",
                f"the topology's flows run on {topology.runtime.engine} (runtime.engine), "
                "not on the bundled runtime",
                "see them where that engine runs",
            ),
        )
    engine = BundledEngine(path)
    keys = [FlowKey(topology.name, f.source, f.target) for f in topology.enabled_flows()]
    if include_known or names:
        keys += [k for k in engine.known_flows(topology.name) if k not in keys]
    if names:
        by_name = {k.name: k for k in keys}
        for name in names:
            if name not in by_name:
                fail(
                    env,
                    (
                        "unknown-flow",
                        f"no flow {name} in the topology or its runtime",
                        did_you_mean(name, by_name),
                    ),
                )
        keys = [by_name[n] for n in dict.fromkeys(names)]
    return engine, keys


def status(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    flow: Annotated[list[str] | None, typer.Option("--flow", help="Only this flow.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show each flow's state, pid, uptime, partitions, records and lag."""
    from mm2plan.views.runtime import FlowRow, reasons, status_json, status_table

    env = env_of(ctx)
    engine, keys = _engine_and_flows(env, path, flow, include_known=True)
    now = time.time()
    rows = []
    for key in keys:
        run = engine.inspect(key)
        sup = run.supervisor
        rows.append(
            FlowRow(
                key.name,
                run.status.state.value,
                run.status.reason,
                sup.pid if sup else None,
                now - sup.started_at if sup else None,
                run.reports,
            )
        )
    if as_json:
        env.out.print(status_json(rows), markup=False, highlight=False, soft_wrap=True)
    elif rows:
        env.out.print(status_table(rows))
        env.out.print(reasons(rows), end="")
    else:
        env.err.print("The topology has no enabled flow.", markup=False)
    if not rows or any(r.state != "running" for r in rows):
        raise typer.Exit(ExitCode.ERROR)


def stop(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    flow: Annotated[list[str] | None, typer.Option("--flow", help="Only this flow.")] = None,
) -> None:
    """Stop flows: their progress is kept, so `mm2plan apply` resumes them."""
    from mm2plan.ports.replication import EngineError, FlowState

    env = env_of(ctx)
    engine, keys = _engine_and_flows(env, path, flow, include_known=True)
    failed = False
    for key in keys:
        before = engine.describe(key).state
        try:
            engine.stop(key)
        except EngineError as exc:
            env.err.print(f"{key.name}: {exc}", markup=False, highlight=False)
            failed = True
            continue
        ran = before in (FlowState.RUNNING, FlowState.FAILED)
        env.out.print(f"{key.name}: {'stopped' if ran else 'was not running'}", markup=False)
    for warning in engine.warnings:
        env.err.print(f"warning: {warning}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(ExitCode.ERROR)


def logs(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    flow: Annotated[list[str] | None, typer.Option("--flow", help="Only this flow.")] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=0, help="Last N lines.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
) -> None:
    """Print the background replicators' logs (a flow run by `mm2plan replicate` in the
    foreground logs where that runs)."""
    from mm2plan.runtime.engine import log_tail

    env = env_of(ctx)
    engine, keys = _engine_and_flows(env, path, flow, include_known=True)
    files = {k.name: engine.inspect(k).log for k in keys}
    prefix = len(files) > 1
    for name, file in files.items():
        if not file.exists():
            env.err.print(f"{name}: no log yet ({file})", markup=False, highlight=False)
        for line in log_tail(file, lines):
            _print(env, name if prefix else "", line)
    if follow:
        for name, line in _follow(files):
            _print(env, name if prefix else "", line)


def _print(env: Env, name: str, line: str) -> None:
    text = f"{name} | {line}" if name else line
    env.out.print(text, markup=False, highlight=False, soft_wrap=True)


def _follow(files: dict[str, Path], poll_s: float = 0.5) -> Iterator[tuple[str, str]]:
    """New lines as they are written (a log rotated at a start is read anew)."""
    offsets = {name: _size(f) for name, f in files.items()}
    partial = dict.fromkeys(files, b"")
    while True:
        for name, f in files.items():
            size = _size(f)
            if size < offsets[name]:
                offsets[name], partial[name] = 0, b""
            if size == offsets[name]:
                continue
            with f.open("rb") as fh:
                fh.seek(offsets[name])
                data = partial[name] + fh.read(size - offsets[name])
            offsets[name] = size
            *complete, partial[name] = data.split(b"\n")
            for raw in complete:
                yield name, raw.decode(errors="replace")
        time.sleep(poll_s)


def _size(f: Path) -> int:
    try:
        return f.stat().st_size
    except OSError:
        return 0


runtime_app.command(epilog=STATUS_EPILOG)(status)
runtime_app.command(epilog=STOP_EPILOG)(stop)
runtime_app.command(epilog=LOGS_EPILOG)(logs)
