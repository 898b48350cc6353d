"""The bundled engine: a ReplicationEngine that runs each flow as a background `mm2plan replicate`.

Each flow has a state directory beside the topology file,
`<project>/.mm2plan/runtime/<topology>/<source>-<target>/`:

- `settings.json`: the FlowSpec settings it was started with (what `describe` compares);
- `supervisor.pid`: the supervisor's pid, its start time and mode (`background`: started here;
  `foreground`: a `mm2plan replicate` someone runs, e.g. under systemd); present while it runs;
- `replicator.log`: the background supervisor's and its workers' output;
- `status/`: the workers' ProcessReports (runtime.statusdir).

`start` launches `python -m mm2plan replicate PATH --flow X --status-dir DIR` in a session of
its own (stdin /dev/null, output appended to the log): the replicate command is the supervisor,
restarting its workers with backoff, so nothing else needs to stay running. A pid is trusted only
while the process with it is a `replicate` started at the recorded time (pids are reused).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mm2plan.core.polling import poll
from mm2plan.ports.replication import EngineError, FlowKey, FlowSpec, FlowState, FlowStatus
from mm2plan.runtime.status import ProcessReport
from mm2plan.runtime.statusdir import clear_reports, read_reports, write_json

SETTINGS_FILE = "settings.json"
PID_FILE = "supervisor.pid"
LOG_FILE = "replicator.log"
STATUS_DIR = "status"
LOG_ROTATE_BYTES = 10 * 1024 * 1024
"""At start, a larger log moves to `replicator.log.1` (one generation kept)."""
STALE_REPORT_S = 30.0
"""A running worker that has not reported for this long is reported failed (it hangs)."""


def runtime_root(topology_file: Path) -> Path:
    return topology_file.resolve().parent / ".mm2plan" / "runtime"


def state_dir(topology_file: Path, key: FlowKey) -> Path:
    return runtime_root(topology_file) / key.topology / f"{key.source}-{key.target}"


# --- the pid file and whether its process still runs -------------------------------------------


@dataclass(frozen=True, slots=True)
class PidInfo:
    pid: int
    started_at: float
    mode: str = "background"
    proc_start: str = ""
    """The process's start time as the kernel counts it (Linux), so a reused pid is told apart."""


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc, None where there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except FileNotFoundError:
        pass
    except OSError:
        return None
    if Path("/proc/self").exists():
        return None
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return out.stdout.split() if out.returncode == 0 and out.stdout.strip() else None


def process_start(pid: int) -> str:
    stat = _proc_stat(pid)
    return stat[1] if stat else ""


def _exiting_or_running(info: PidInfo) -> bool:
    """The recorded process exists and is not yet a zombie: an exiting process has released
    its command line (so is_supervisor says no) but may still hold files and sockets."""
    stat = _proc_stat(info.pid)
    if stat is None:
        return False
    return stat[0] not in ("Z", "X") and (not info.proc_start or stat[1] == info.proc_start)


def is_supervisor(info: PidInfo) -> bool:
    """The recorded process still runs and is that `replicate` (not a process with a reused
    pid, not a zombie)."""
    stat = _proc_stat(info.pid)
    if stat is not None and (
        stat[0] in ("Z", "X") or (info.proc_start and stat[1] != info.proc_start)
    ):
        return False
    argv = _cmdline(info.pid) or []
    return "replicate" in argv and any("mm2plan" in a for a in argv)


def write_pid_file(directory: Path, pid: int, mode: str) -> PidInfo:
    info = PidInfo(pid, time.time(), mode, process_start(pid))
    write_json(
        directory / PID_FILE,
        {"pid": pid, "started_at": info.started_at, "mode": mode, "proc_start": info.proc_start},
    )
    return info


def read_pid_file(directory: Path) -> PidInfo | None:
    try:
        d = json.loads((directory / PID_FILE).read_text())
        return PidInfo(int(d["pid"]), float(d["started_at"]), str(d["mode"]), str(d["proc_start"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_pid_file(directory: Path, pid: int) -> None:
    """Only if it still names `pid`: a newer supervisor's file stays."""
    info = read_pid_file(directory)
    if info is None or info.pid == pid:
        with contextlib.suppress(OSError):
            (directory / PID_FILE).unlink()


def live_supervisor(directory: Path) -> PidInfo | None:
    info = read_pid_file(directory)
    return info if info is not None and is_supervisor(info) else None


def log_tail(path: Path, lines: int = 1, max_bytes: int = 64 * 1024) -> list[str]:
    """The last non-empty lines of a log file (read from its end)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:] if lines else []


# --- what a flow is doing ----------------------------------------------------------------------


@dataclass(frozen=True)
class FlowRuntime:
    """All the engine knows of one flow: its status, and what `runtime status` shows."""

    status: FlowStatus
    directory: Path
    supervisor: PidInfo | None = None
    """The live supervisor, if any."""
    reports: Sequence[ProcessReport] = field(default_factory=tuple)

    @property
    def log(self) -> Path:
        return self.directory / LOG_FILE


def _read_settings(directory: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((directory / SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def workers_problem(reports: Sequence[ProcessReport], now: float) -> str:
    """Why the workers say the flow is not copying ("" when they all run or start)."""
    problems = []
    for r in reports:
        who = f"share {r.share}/{r.shares}: " if r.shares > 1 else ""
        if r.state == "failed":
            problems.append(who + (r.reason or "failed"))
        elif r.state in ("running", "starting") and now - r.updated_at > STALE_REPORT_S:
            problems.append(f"{who}no report for {now - r.updated_at:.0f} s (the worker hangs?)")
    return "; ".join(problems)


def inspect_flow(directory: Path, key: FlowKey, now: float | None = None) -> FlowRuntime:
    if not directory.is_dir():
        return FlowRuntime(FlowStatus(key, FlowState.ABSENT), directory)
    settings = _read_settings(directory)
    reports = tuple(
        r
        for r in read_reports(directory / STATUS_DIR)
        if r.flow == key.name and r.topology in (key.topology, "")
    )
    info = read_pid_file(directory)
    if info is None:
        return FlowRuntime(FlowStatus(key, FlowState.STOPPED, settings), directory, None, reports)
    if not is_supervisor(info):
        last = log_tail(directory / LOG_FILE)
        reason = f"its supervisor (pid {info.pid}) is gone" + (
            f"; its log ends: {last[0]}" if last else ""
        )
        return FlowRuntime(
            FlowStatus(key, FlowState.FAILED, settings, reason), directory, None, reports
        )
    problem = workers_problem(reports, time.time() if now is None else now)
    state = FlowState.FAILED if problem else FlowState.RUNNING
    return FlowRuntime(FlowStatus(key, state, settings, problem), directory, info, reports)


# --- the engine ---------------------------------------------------------------------------------

_LAUNCHER = (
    "import subprocess, sys\n"
    "log = open(sys.argv[1], 'ab')\n"
    "p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, "
    "stderr=subprocess.STDOUT, start_new_session=True)\n"
    "print(p.pid)\n"
)
"""Starts the supervisor as a grandchild and exits: the supervisor, in a session of its own,
belongs to init from then on (which reaps it), not to the `apply` that started it."""


class BundledEngine:
    """Flows of one topology file, each run by a background supervisor."""

    name = "bundled"

    def __init__(
        self,
        topology_file: Path,
        *,
        command: Sequence[str] | None = None,
        start_timeout_s: float = 15.0,
        stop_timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`command`: what runs the supervisor (default `python -m mm2plan replicate`), given
        the topology file and the flow's options after it. `start` waits up to
        `start_timeout_s` for the workers' first word (running or failed), `stop` up to
        `stop_timeout_s` for the supervisor to record its progress and exit."""
        self.topology_file = topology_file.resolve()
        self.command = list(command or (sys.executable, "-m", "mm2plan", "replicate"))
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.env = env
        self.warnings: list[str] = []
        """What went wrong without failing the call (a supervisor killed on stop)."""

    def directory(self, key: FlowKey) -> Path:
        return state_dir(self.topology_file, key)

    def known_flows(self, topology: str) -> list[FlowKey]:
        """The flows of `topology` that have a state directory here (named by their
        settings.json, which every supervisor writes)."""
        root = runtime_root(self.topology_file) / topology
        keys = []
        for d in sorted(root.iterdir()) if root.is_dir() else ():
            settings = _read_settings(d) or {}
            source, target = settings.get("source"), settings.get("target")
            if isinstance(source, str) and isinstance(target, str):
                keys.append(FlowKey(topology, source, target))
        return keys

    def inspect(self, key: FlowKey) -> FlowRuntime:
        return inspect_flow(self.directory(key), key)

    def describe(self, key: FlowKey) -> FlowStatus:
        return self.inspect(key).status

    def start(self, spec: FlowSpec) -> None:
        key, d = spec.key, self.directory(spec.key)
        now = self.inspect(key)
        settings = dict(spec.settings)
        if now.status.state is FlowState.RUNNING and dict(now.status.settings or {}) == settings:
            return
        if now.supervisor is not None:
            if now.supervisor.mode == "foreground":
                raise EngineError(
                    key,
                    f"is run by `mm2plan replicate` (pid {now.supervisor.pid}), not by apply, "
                    + ("and it fails" if now.status.reason else "with other settings"),
                    "restart that process (e.g. systemctl restart mm2plan-replicate) to run "
                    "the topology as it is now",
                )
            self._stop(key, d, now.supervisor)
        try:
            d.mkdir(parents=True, exist_ok=True)
            write_json(d / SETTINGS_FILE, settings)
            self._launch(key, d)
        except OSError as exc:
            raise EngineError(
                key, f"cannot start the replicator: {exc}", f"check that {d} is writable"
            ) from None

    def _launch(self, key: FlowKey, d: Path) -> None:
        log = d / LOG_FILE
        with contextlib.suppress(OSError):
            if log.stat().st_size > LOG_ROTATE_BYTES:
                log.replace(log.with_name(LOG_FILE + ".1"))
        with log.open("a") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting\n")
        clear_reports(d / STATUS_DIR, key.name)  # an earlier run's must not answer for this one
        argv = [
            *self.command,
            str(self.topology_file),
            *("--flow", key.name, "--status-dir", str(d / STATUS_DIR), "--detached"),
        ]
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(log), *argv],
            capture_output=True,
            text=True,
            cwd=self.topology_file.parent,
            env=None if self.env is None else dict(self.env),
            check=False,
            timeout=60,
        )
        if launched.returncode != 0 or not launched.stdout.strip().isdigit():
            raise EngineError(
                key,
                f"cannot start the replicator: {launched.stderr.strip() or launched.stdout}",
                f"check that `{' '.join(self.command)}` runs",
            )
        info = write_pid_file(d, int(launched.stdout), "background")
        self._await_start(key, d, info)

    def _await_start(self, key: FlowKey, d: Path, info: PidInfo) -> None:
        """Until every worker said running or failed, the supervisor exited, or the timeout:
        a flow that cannot run fails its apply at once, with the reason."""

        def settled() -> bool:
            if not is_supervisor(info):
                return True
            reports = self.inspect(key).reports
            return bool(reports) and all(r.state != "starting" for r in reports)

        poll(settled, bool, self.start_timeout_s, max_s=0.25)
        hint = f"see `mm2plan runtime logs --flow '{key.name}'` ({d / LOG_FILE})"
        if not is_supervisor(info):
            last = log_tail(d / LOG_FILE)
            raise EngineError(
                key, "the replicator exited at once" + (f": {last[0]}" if last else ""), hint
            )
        status = self.describe(key)
        if status.state is FlowState.FAILED:
            raise EngineError(
                key,
                f"started, but it fails: {status.reason}",
                hint + "; it retries with backoff meanwhile",
            )

    def update(self, spec: FlowSpec) -> None:
        if not self.directory(spec.key).is_dir():
            raise EngineError(spec.key, "is not known to the engine", "start it first")
        self.start(spec)

    def stop(self, key: FlowKey) -> None:
        d = self.directory(key)
        info = read_pid_file(d)
        if info is None:
            return
        if is_supervisor(info):
            self._stop(key, d, info)
        remove_pid_file(d, info.pid)

    def _stop(self, key: FlowKey, d: Path, info: PidInfo) -> None:
        """SIGTERM; the supervisor stops its workers, which record their progress. Past the
        timeout: SIGKILL (its session, so its workers too), and a warning says so."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGTERM)
        if not poll(lambda: is_supervisor(info), lambda alive: not alive, self.stop_timeout_s):
            poll(lambda: _exiting_or_running(info), lambda alive: not alive, 5.0)
            remove_pid_file(d, info.pid)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if info.mode == "background" and os.getpgid(info.pid) == info.pid:
                os.killpg(info.pid, signal.SIGKILL)
            else:
                os.kill(info.pid, signal.SIGKILL)
        poll(lambda: is_supervisor(info), lambda alive: not alive, 5.0)
        message = (
            f"flow {key}: the replicator (pid {info.pid}) did not stop within "
            f"{self.stop_timeout_s:g} s and was killed; what it copied after its last recorded "
            "progress is copied again when it starts"
        )
        self.warnings.append(message)
        with contextlib.suppress(OSError), (d / LOG_FILE).open("a") as out:
            out.write(f"mm2plan: {message}\n")
        remove_pid_file(d, info.pid)
