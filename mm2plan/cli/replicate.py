"""`mm2plan replicate`: run flows on the bundled runtime in the foreground (systemd, a container,
or `apply`'s background supervisor, which is this command too).

The work is in `mm2plan.runtime.supervise` (workers, restarts, stop); this module picks the flows,
guards each flow's state directory against a second supervisor, serves the metrics and shows
the workers' reports: a live table on a terminal, log lines otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mm2plan.cli.env import Env, env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.output import fail, load_topology
from mm2plan.core.diagnostics import did_you_mean
from mm2plan.core.model import Flow, Topology
from mm2plan.core.properties import RUNTIME_PROPERTIES
from mm2plan.topology.loader import DEFAULT_FILE

if TYPE_CHECKING:
    from mm2plan.runtime.supervise import WorkerSpec
    from mm2plan.views.runtime import FlowRow

EPILOG = """Examples:

  mm2plan replicate                            # every enabled flow, until Ctrl-C

  mm2plan replicate prod.yaml --flow 'dc1->dc2' --processes 4

  mm2plan replicate --metrics-port 9464        # http://localhost:9464/metrics

  systemd: examples/mm2plan-replicate.service

Each flow runs as --processes worker processes (default: the flow's tasks.max), each copying a
static share of the flow's partitions; a worker that dies is restarted with backoff (1 s up to
60 s). SIGTERM or Ctrl-C stops every worker once it has recorded what the target acknowledged
(a second Ctrl-C kills them). Status lands in --status-dir (default: beside the topology, under
.mm2plan/runtime/), where `mm2plan runtime status`, plan and the metrics read it.

Exit codes: 0 stopped, 1 errors (invalid topology, unknown flow, a flow that another
supervisor runs), 64 usage error, 130 killed by a second Ctrl-C."""

SUMMARY_EVERY_S = 30.0
"""Without a terminal: a status line per flow this often."""


def _tasks_max(flow: Flow) -> int:
    value = flow.properties.get("tasks.max", RUNTIME_PROPERTIES["tasks.max"].default)
    return max(1, int(value))


def select_flows(env: Env, topology: Topology, names: list[str]) -> list[Flow]:
    """The named flows, or every enabled flow when the topology's engine is bundled."""
    if not names:
        if topology.runtime.engine != "bundled":
            fail(
                env,
                (
                    "replicate",
                    f"the topology's flows run on {topology.runtime.engine} "
                    "(runtime.engine), not on the bundled runtime",
                    "name the flows to run here anyway with --flow",
                ),
            )
        flows = list(topology.enabled_flows())
        if not flows:
            fail(env, ("replicate", "the topology has no enabled flow", "add one under flows:"))
        return flows
    by_name = {f.name: f for f in topology.flows}
    out = []
    for name in dict.fromkeys(names):
        flow = by_name.get(name)
        if flow is None:
            fail(
                env,
                ("unknown-flow", f"no flow {name} in the topology", did_you_mean(name, by_name)),
            )
        if not flow.enabled:
            fail(env, ("replicate", f"flow {name} is disabled", "set enabled: true to run it"))
        out.append(flow)
    return out


class _Rates:
    """Records per second of each flow between two looks (None at first, or after a restart
    reset a worker's count)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}

    def __call__(self, flow: str, records: int, now: float) -> float | None:
        last = self._last.get(flow)
        self._last[flow] = (now, records)
        if last is None or now <= last[0] or records < last[1]:
            return None
        return (records - last[1]) / (now - last[0])


@contextlib.contextmanager
def _signals(stop: threading.Event, force: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT stop; a second one forces. Only the main thread can install them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(_signum: int, _frame: FrameType | None) -> None:
        (force if stop.is_set() else stop).set()

    old = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _claim(env: Env, directories: dict[str, Path], mode: str) -> None:
    """Each flow's state directory names this process as its supervisor; a flow that another
    live supervisor runs is refused (two would copy every record twice)."""
    from mm2plan.runtime.engine import live_supervisor, write_pid_file

    for name, d in directories.items():
        other = live_supervisor(d)
        if other is not None and other.pid != os.getpid():
            fail(
                env,
                (
                    "already-running",
                    f"flow {name} already runs under pid {other.pid} ({other.mode})",
                    "stop it first: mm2plan runtime stop --flow '" + name + "'",
                ),
            )
    for d in directories.values():
        try:
            write_pid_file(d, os.getpid(), mode)
        except OSError as exc:
            fail(env, ("replicate", f"cannot write to {d}: {exc}", "check the permissions"))


def replicate(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    flow: Annotated[
        list[str] | None,
        typer.Option("--flow", help="Only this flow (source->target); repeat for more."),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option("--processes", min=1, max=256, help="Worker processes per flow."),
    ] = None,
    status_dir: Annotated[
        Path | None, typer.Option("--status-dir", help="Where the workers write their status.")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", min=0, max=65535, help="Serve Prometheus metrics (0: any port)."
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Address the metrics listen on.")
    ] = "0.0.0.0",
    stop_timeout: Annotated[
        float,
        typer.Option("--stop-timeout", min=1, help="Seconds a worker has to stop before a kill."),
    ] = 40.0,
    detached: Annotated[bool, typer.Option("--detached", hidden=True)] = False,
) -> None:
    """Run the topology's flows on the bundled runtime, in the foreground, until stopped."""
    from mm2plan.planning.desired import replication_settings
    from mm2plan.ports.replication import FlowKey
    from mm2plan.runtime.engine import SETTINGS_FILE, STATUS_DIR, remove_pid_file, state_dir
    from mm2plan.runtime.statusdir import clear_reports, report_path, write_json
    from mm2plan.runtime.supervise import Supervisor, WorkerSpec

    env = env_of(ctx)
    topology = load_topology(env, path)
    flows = select_flows(env, topology, list(flow or ()))
    topology_file = path.resolve()
    dirs = {
        f.name: state_dir(topology_file, FlowKey(topology.name, f.source, f.target)) for f in flows
    }
    report_dirs = {
        f.name: status_dir.resolve() if status_dir else dirs[f.name] / STATUS_DIR for f in flows
    }
    show = _Display(env, topology.name, report_dirs)
    stop, force = threading.Event(), threading.Event()
    with _metrics(env, show, metrics_port, metrics_host):
        _claim(env, dirs, "background" if detached else "foreground")
        workers: list[WorkerSpec] = []
        for f in flows:
            reports = report_dirs[f.name]
            if not detached:  # apply's engine wrote the settings it started the flow with
                write_json(dirs[f.name] / SETTINGS_FILE, replication_settings(topology, f))
            clear_reports(reports, f.name)
            n = processes or _tasks_max(f)
            for i in range(n):
                argv = (
                    *env.worker_command,
                    *("--topology", str(topology_file), "--flow", f.name),
                    *("--share", str(i), "--shares", str(n), "--status-dir", str(reports)),
                )
                workers.append(
                    WorkerSpec(topology.name, f.name, i, n, argv, report_path(reports, f.name, i))
                )
        show.log(
            f"replicating {', '.join(f.name for f in flows)} with {len(workers)} worker "
            f"processes (supervisor pid {os.getpid()})"
        )
        with _signals(stop, force), show.running():
            Supervisor(workers, show.log, grace_s=stop_timeout).run(stop, force, show.tick)
    # Only after a stop: a supervisor that crashed leaves its pid file, and `describe` then
    # reports the flow failed with the log's last line.
    for d in dirs.values():
        remove_pid_file(d, os.getpid())
    show.log("stopped" + (" (workers killed)" if force.is_set() else ""))
    if force.is_set():
        raise typer.Exit(ExitCode.INTERRUPTED)


@contextlib.contextmanager
def _metrics(env: Env, show: _Display, port: int | None, host: str) -> Iterator[None]:
    if port is None:
        yield
        return
    from mm2plan.runtime.metrics import MetricsServer

    try:
        server = MetricsServer(lambda: set(show.report_dirs.values()), port, host)
    except OSError as exc:
        fail(
            env,
            (
                "metrics",
                f"cannot serve metrics on {host}:{port}: {exc}",
                "pick another --metrics-port",
            ),
        )
    show.log(f"metrics on {server.url}")
    try:
        yield
    finally:
        server.close()


class _Display:
    """A live table on a terminal; log lines (and a status line per flow every 30 s) else."""

    def __init__(self, env: Env, topology: str, report_dirs: dict[str, Path]) -> None:
        self.env = env
        self.topology = topology
        self.report_dirs = report_dirs
        self.started = time.time()
        self.rates = _Rates()
        self.live: Any = None
        self.next_summary = time.monotonic() + SUMMARY_EVERY_S

    def log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.env.out.print(f"{stamp} {message}", markup=False, highlight=False, soft_wrap=True)

    def rows(self) -> list[FlowRow]:
        from mm2plan.runtime.engine import workers_problem
        from mm2plan.runtime.statusdir import read_reports
        from mm2plan.views.runtime import FlowRow

        now = time.time()
        out = []
        for name, d in self.report_dirs.items():
            reports = [
                r for r in read_reports(d) if r.flow == name and r.topology in (self.topology, "")
            ]
            problem = workers_problem(reports, now)
            starting = not reports or any(r.state == "starting" for r in reports)
            state = "failed" if problem else "starting" if starting else "running"
            rate = self.rates(name, sum(r.records for r in reports), now)
            out.append(
                FlowRow(name, state, problem, os.getpid(), now - self.started, reports, rate)
            )
        return out

    def _render(self, rows: list[FlowRow]) -> Any:
        from rich.console import Group

        from mm2plan.views.runtime import reasons, status_table

        return Group(status_table(rows, live=True), reasons(rows))

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if not self.env.out.is_terminal:
            yield
            return
        from rich.live import Live

        with Live(self._render(self.rows()), console=self.env.out, refresh_per_second=2) as live:
            self.live = live
            try:
                yield
            finally:
                live.update(self._render(self.rows()))
                self.live = None

    def tick(self) -> None:
        rows = self.rows()
        if self.live is not None:
            self.live.update(self._render(rows))
            return
        now = time.monotonic()
        if now >= self.next_summary:
            from mm2plan.views.runtime import summary_line

            for row in rows:
                self.log(summary_line(row))
            self.next_summary = now + SUMMARY_EVERY_S
