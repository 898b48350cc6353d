"""The supervisor: runs each share of each flow as a worker process and keeps it running.

`mm2plan replicate` is a supervisor. It starts every worker (runtime.worker), restarts one that
dies with exponential backoff (1 s, 2 s, 4 s ... 60 s; back to 1 s once a worker has run for a
minute), and on stop asks every worker to stop (SIGTERM: each records what the target
acknowledged), waits a bounded time, and kills the ones that do not. While a worker waits to be
restarted its report says `failed` and why, so `describe`, `runtime status` and the metrics
tell a failing flow from a running one.

Workers are subprocesses, not multiprocessing children: each is an ordinary process of its own
(seen in `ps`, stopped by the same signal systemd sends), its exit code says how it ended, a
crash inside librdkafka cannot take the supervisor's state with it, and nothing is pickled:
a worker gets a file path and a flow name, and reads its secrets from its own environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mm2plan.runtime.status import ProcessReport
from mm2plan.runtime.statusdir import read_report, write_report

EXIT_FATAL = 78
"""A worker's exit code for a flow that cannot run as configured (sysexits' EX_CONFIG)."""

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 1.0
    max_s: float = 60.0
    stable_s: float = 60.0
    """A worker that ran this long before it failed starts its backoff over."""

    def delay(self, failures: int) -> float:
        """The pause before restart number `failures` (1, 2, ...)."""
        return float(min(self.max_s, self.first_s * 2 ** max(0, failures - 1)))


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    topology: str
    flow: str
    share: int
    shares: int
    argv: tuple[str, ...]
    report: Path
    """The worker's report file: the supervisor writes it while the worker is down."""

    @property
    def label(self) -> str:
        return f"{self.flow}#{self.share}" if self.shares > 1 else self.flow


@dataclass
class _Worker:
    spec: WorkerSpec
    proc: subprocess.Popen[str] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    last_line: str = ""
    reader: threading.Thread | None = field(default=None, repr=False)


def exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(
        self,
        workers: Sequence[WorkerSpec],
        log: Log,
        *,
        output: Log | None = None,
        backoff: Backoff = Backoff(),
        grace_s: float = 40.0,
        poll_s: float = 0.2,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`log`: the supervisor's own events; `output`: each line a worker prints, prefixed
        with its flow (default: `log`)."""
        self.workers = [_Worker(w) for w in workers]
        self.log = log
        self.output = output or log
        self.backoff = backoff
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.env = dict(os.environ if env is None else env)

    def run(
        self,
        stop: threading.Event,
        force: threading.Event | None = None,
        tick: Callable[[], None] | None = None,
        tick_s: float = 1.0,
    ) -> None:
        """Until `stop`; then stops the workers (`force`: kill them without waiting)."""
        next_tick = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                for w in self.workers:
                    self._check(w, now)
                if tick is not None and now >= next_tick:
                    tick()
                    next_tick = now + tick_s
                stop.wait(self.poll_s)
        finally:
            self._stop_all(force or threading.Event())

    def _check(self, w: _Worker, now: float) -> None:
        if w.proc is None:
            if now >= w.restart_at:
                self._spawn(w, now)
            return
        code = w.proc.poll()
        if code is None:
            return
        self._join(w)
        if now - w.started >= self.backoff.stable_s:
            w.failures = 0
        w.failures += 1
        delay = self.backoff.delay(w.failures)
        w.restart_at = now + delay
        w.proc = None
        report = read_report(w.spec.report)
        if code == EXIT_FATAL:  # the worker's own report says why
            why = (report.reason if report and report.reason else "") or w.last_line
            what = f"failed: {why}"
        else:
            what = "stopped without being asked to" if code == 0 else f"died ({exit_reason(code)})"
            what += f": {w.last_line}" if w.last_line and code else ""
            why = f"worker {what}"
        self.log(f"{w.spec.label}: worker {what}; restarting in {delay:g} s")
        self._write_down(w, report, f"{why}; restarting in {delay:g} s")

    def _write_down(self, w: _Worker, last: ProcessReport | None, reason: str) -> None:
        """The worker's report while it is down: its last one (partitions, counts), failed."""
        s = w.spec
        report = last or ProcessReport(s.topology, s.flow, s.share, s.shares, "failed")
        report.topology = report.topology or s.topology
        report.state, report.reason, report.pid = "failed", reason, 0
        report.updated_at = time.time()
        with contextlib.suppress(OSError):
            write_report(s.report, report)

    def _spawn(self, w: _Worker, now: float) -> None:
        s = w.spec
        if w.failures == 0:  # a first start: the report says so until the worker's own
            starting = ProcessReport(s.topology, s.flow, s.share, s.shares, "starting")
            starting.started_at = starting.updated_at = time.time()
            with contextlib.suppress(OSError):
                write_report(s.report, starting)
        try:
            w.proc = subprocess.Popen(
                list(s.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env=self.env,
            )
        except OSError as exc:
            w.failures += 1
            delay = self.backoff.delay(w.failures)
            w.restart_at = now + delay
            self.log(f"{s.label}: cannot start the worker ({exc}); retrying in {delay:g} s")
            self._write_down(w, None, f"cannot start the worker: {exc}")
            return
        w.started = now
        w.last_line = ""
        w.reader = threading.Thread(
            target=self._read_output, args=(w, w.proc), name=f"out-{s.label}", daemon=True
        )
        w.reader.start()
        self.log(f"{s.label}: worker started (pid {w.proc.pid})")

    def _read_output(self, w: _Worker, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            text = line.rstrip()
            if text:
                w.last_line = text
                self.output(f"{w.spec.label}: {text}")
        proc.stdout.close()

    def _join(self, w: _Worker) -> None:
        """The worker's last lines are read (its last line explains a crash)."""
        if w.reader is not None:
            w.reader.join(timeout=2)
            w.reader = None

    def _stop_all(self, force: threading.Event) -> None:
        running = [w for w in self.workers if w.proc is not None and w.proc.poll() is None]
        if running:
            self.log(f"stopping {len(running)} worker(s): each records its progress first")
        for w in running:
            assert w.proc is not None
            with contextlib.suppress(OSError):
                w.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while not force.is_set() and time.monotonic() < deadline:
            if all(w.proc is None or w.proc.poll() is not None for w in running):
                break
            force.wait(self.poll_s)
        for w in running:
            assert w.proc is not None
            if w.proc.poll() is None:
                why = "asked to stop at once" if force.is_set() else f"in {self.grace_s:g} s"
                self.log(
                    f"{w.spec.label}: worker did not stop ({why}): killed; what it copied after "
                    "its last recorded progress is copied again on the next start"
                )
                with contextlib.suppress(OSError):
                    w.proc.kill()
                w.proc.wait()
                self._join(w)
                report = read_report(w.spec.report)
                if report is not None:
                    report.state, report.reason, report.pid = "stopped", "killed on stop", 0
                    report.updated_at = time.time()
                    with contextlib.suppress(OSError):
                        write_report(w.spec.report, report)
            else:
                self._join(w)
                self.log(f"{w.spec.label}: worker stopped")
            w.proc = None
