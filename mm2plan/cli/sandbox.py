"""`mm2plan sandbox ...`: a local lab of real Kafka clusters for trying topologies.

Exit codes: 0 ok, 1 the lab could not do it (the message says why), 64 bad command line.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mm2plan.cli.exit_codes import ExitCode
from mm2plan.lab import DEFAULT_DIR
from mm2plan.lab.jars import KAFKA_VERSION, LabError, ensure_kafka
from mm2plan.views.errors import error_text

if TYPE_CHECKING:
    from mm2plan.lab.sandbox import Sandbox

sandbox_app = typer.Typer(
    help="A local DR lab: real single-node KRaft Kafka clusters (and optionally a Kafka Connect "
    "worker with MM2's connectors) on loopback ports.",
    no_args_is_help=True,
    epilog="Examples:\n\n  mm2plan sandbox up --clusters dc1,dc2\n\n  mm2plan sandbox env "
    "--topology > mm2plan.yaml\n\n  mm2plan sandbox down\n\nExit codes: 0 ok, 1 error, 64 usage.",
)

DirOption = Annotated[
    Path, typer.Option("--dir", help="Where the lab keeps its state, data and logs.")
]


class Security(enum.StrEnum):
    none = "none"
    scram = "scram"


def _console(ctx: typer.Context, err: bool = False) -> Console:
    env = ctx.obj
    found = getattr(env, "err" if err else "out", None)
    if isinstance(found, Console):
        return found
    return Console(stderr=err, highlight=False)


@contextmanager
def _lab_errors(ctx: typer.Context) -> Iterator[None]:
    try:
        yield
    except LabError as exc:
        _console(ctx, err=True).print(error_text("lab", str(exc)))
        raise typer.Exit(ExitCode.ERROR) from None
    except OSError as exc:  # an unwritable --dir, a full disk: the user's to fix, not a bug
        _console(ctx, err=True).print(error_text("lab", f"{exc.strerror or exc}: {exc.filename}"))
        raise typer.Exit(ExitCode.ERROR) from None


@sandbox_app.command()
def fetch(ctx: typer.Context) -> None:
    """Download Apache Kafka's jars from Maven Central (once; later runs do nothing)."""
    with _lab_errors(ctx):
        t0 = time.monotonic()
        libs = ensure_kafka()
        _console(ctx).print(
            f"Kafka {KAFKA_VERSION} jars in {libs} ({time.monotonic() - t0:.1f}s)", highlight=False
        )


@sandbox_app.command()
def up(
    ctx: typer.Context,
    clusters: Annotated[
        str, typer.Option("--clusters", help="Comma-separated cluster names.")
    ] = "dc1,dc2",
    security: Annotated[
        Security,
        typer.Option("--security", help="none, or SASL/SCRAM with the standard authorizer."),
    ] = Security.none,
    connect: Annotated[
        bool,
        typer.Option("--connect", help="Also start a Kafka Connect worker with MM2's connectors."),
    ] = False,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            help="NAME:PASSWORD of a SCRAM client user (repeatable); "
            "grant it ACLs with mm2plan apps.",
        ),
    ] = None,
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Start the lab (or report the running one: `up` twice is harmless)."""
    from mm2plan.lab import sandbox

    out = _console(ctx)
    names = [n.strip() for n in clusters.split(",") if n.strip()]
    users: dict[str, str] = {}
    for spec in user or []:
        name, sep, password = spec.partition(":")
        if not sep or not name or not password:
            raise typer.BadParameter("use NAME:PASSWORD", param_hint="--user")
        users[name] = password
    try:
        sandbox.check_request(names, security.value, users)
    except sandbox.BadRequest as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    with _lab_errors(ctx):
        t0 = time.monotonic()
        with _console(ctx, err=True).status("Starting Kafka (KRaft) ..."):
            box, started = sandbox.up(directory, names, security.value, connect, users)
        took = time.monotonic() - t0
    addresses = ", ".join(f"{c.name}={c.bootstrap_servers}" for c in box.clusters)
    if started:
        out.print(f"[bold green]Sandbox up[/] in {took:.1f}s: {addresses}", highlight=False)
    else:
        out.print(f"Sandbox already running: {addresses}", markup=False, highlight=False)
        asked = (names, security.value, connect)
        if asked != ([c.name for c in box.clusters], box.security, box.worker is not None):
            _console(ctx, err=True).print(
                "It differs from what was asked: `mm2plan sandbox down` first to change it.",
                highlight=False,
            )
    if box.worker:
        out.print(f"Kafka Connect (MM2 connectors): {box.worker.url}", highlight=False)
    out.print(
        "Next: mm2plan sandbox env --topology > mm2plan.yaml && mm2plan plan", highlight=False
    )


def _loaded(ctx: typer.Context, directory: Path) -> Sandbox:
    from mm2plan.lab import sandbox

    with _lab_errors(ctx):
        box = sandbox.Sandbox.load(directory)
    if box is None:
        _console(ctx, err=True).print(
            f"No sandbox in {directory}. Start one with: mm2plan sandbox up", highlight=False
        )
        raise typer.Exit(ExitCode.ERROR)
    return box


def _short(path: Path) -> str:
    """Paths under the current directory print relative: the table stays readable."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@sandbox_app.command()
def status(ctx: typer.Context, directory: DirOption = DEFAULT_DIR) -> None:
    """Show each cluster and worker: pid, alive, address, log."""
    box = _loaded(ctx, directory)
    alive = box.alive()
    table = Table("name", "kind", "pid", "alive", "address", "security")
    table.add_column("log", overflow="fold")
    rows = [
        (c.name, "kafka", c.pid, c.bootstrap_servers, c.security, c.log_path) for c in box.clusters
    ]
    if box.worker:
        w = box.worker
        rows.append((w.name, "connect", w.pid, w.url, w.bootstrap.security, w.log_path))
    for name, kind, pid, address, security, log in rows:
        ok = "[green]yes[/]" if alive[name] else "[bold red]NO[/]"
        table.add_row(name, kind, str(pid), ok, address, security, _short(log))
    _console(ctx).print(table)
    if not all(alive.values()):
        _console(ctx, err=True).print(
            "Some processes are down: `mm2plan sandbox down` then `up` restarts the lab.",
            highlight=False,
        )
        raise typer.Exit(ExitCode.ERROR)


@sandbox_app.command()
def env(
    ctx: typer.Context,
    topology: Annotated[
        bool, typer.Option("--topology", help="Print only a ready topology file for this lab.")
    ] = False,
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Print the lab's bootstrap servers and a ready topology file for it."""
    box = _loaded(ctx, directory)
    out = _console(ctx)
    if topology:
        out.print(box.topology_yaml(), markup=False, highlight=False, soft_wrap=True, end="")
        return
    for c in box.clusters:
        out.print(
            f"export MM2PLAN_{c.name.upper().replace('-', '_')}_BOOTSTRAP={c.bootstrap_servers}",
            markup=False,
            highlight=False,
        )
    if box.worker:
        out.print(f"export MM2PLAN_CONNECT_URL={box.worker.url}", markup=False)
    export = box.password_export()
    if export:
        out.print(export, markup=False, highlight=False, soft_wrap=True)
    out.print("\n# topology (mm2plan sandbox env --topology > mm2plan.yaml):", markup=False)
    out.print(box.topology_yaml(), markup=False, highlight=False, soft_wrap=True, end="")


@sandbox_app.command()
def down(ctx: typer.Context, directory: DirOption = DEFAULT_DIR) -> None:
    """Stop every process of the lab and delete its data (logs are kept)."""
    from mm2plan.lab import sandbox

    with _lab_errors(ctx):
        box = sandbox.down(directory)
    if box is None:
        _console(ctx).print("No sandbox running.", highlight=False)
        return
    _console(ctx).print(
        f"Sandbox down ({len(box.clusters)} cluster(s) stopped; logs kept in {directory}).",
        highlight=False,
    )


__all__ = ["sandbox_app"]
