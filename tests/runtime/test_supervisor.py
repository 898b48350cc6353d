"""The supervisor with real worker processes: restarts with backoff, a flow that cannot run
reported failed with its reason, a clean stop on request, a kill past the grace period."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import WORKER, alive, wait_for

from mm2plan.runtime.statusdir import read_report, report_path
from mm2plan.runtime.supervise import Backoff, Supervisor, WorkerSpec

FLOW = "dc1->dc2"
FAST = Backoff(first_s=0.25, max_s=1.0, stable_s=60)


def specs(topology_file: Path, status: Path, shares: int = 1) -> list[WorkerSpec]:
    return [
        WorkerSpec(
            "t",
            FLOW,
            i,
            shares,
            (
                *WORKER,
                *("--topology", str(topology_file), "--flow", FLOW, "--share", str(i)),
                *("--shares", str(shares), "--status-dir", str(status)),
            ),
            report_path(status, FLOW, i),
        )
        for i in range(shares)
    ]


class Run:
    def __init__(self, supervisor: Supervisor, lines: list[str]) -> None:
        self.supervisor = supervisor
        self.lines = lines
        self.stop = threading.Event()
        self.thread = threading.Thread(target=supervisor.run, args=(self.stop,))

    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def supervised(workers: list[WorkerSpec], **kw: object) -> Iterator[Run]:
    lines: list[str] = []
    run = Run(Supervisor(workers, lines.append, **kw), lines)  # type: ignore[arg-type]
    run.thread.start()
    try:
        yield run
    finally:
        run.stop.set()
        run.thread.join(timeout=60)
        assert not run.thread.is_alive()


def test_backoff_doubles_from_1_s_up_to_60_s() -> None:
    assert [Backoff().delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_crashing_worker_is_restarted_with_growing_pauses(
    topology_file: Path, tmp_path: Path, fake: Callable[[str], Path]
) -> None:
    starts = fake("crash")
    with supervised(specs(topology_file, tmp_path / "s"), backoff=FAST) as run:
        wait_for(lambda: "restarting in 1 s" in run.text())
        report = read_report(report_path(tmp_path / "s", FLOW, 0))
    delays = [float(d) for d in re.findall(r"restarting in ([\d.]+) s", run.text())]
    assert delays[:3] == [0.25, 0.5, 1.0]
    assert "died (exit code 3): boom: deterministic crash on start 1" in run.text()
    times = [float(line.split()[0]) for line in starts.read_text().splitlines()]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 2 and all(g >= d for g, d in zip(gaps, delays, strict=False))
    assert report is not None and report.state == "failed"
    assert "died (exit code 3)" in report.reason and "restarting in" in report.reason


def test_a_worker_that_cannot_run_is_failed_with_its_reason_and_retried(
    topology_file: Path, tmp_path: Path, fake: Callable[[str], Path]
) -> None:
    starts = fake("fatal")
    with supervised(specs(topology_file, tmp_path / "s"), backoff=FAST) as run:
        wait_for(lambda: len(starts.read_text().splitlines()) >= 2 if starts.exists() else False)
        report = read_report(report_path(tmp_path / "s", FLOW, 0))
    assert report is not None and report.state == "failed" and report.topology == "t"
    assert report.reason.startswith("not authorized to write dc1.orders")
    assert "worker failed: not authorized to write dc1.orders" in run.text()


def test_a_worker_that_recovers_runs_on(
    topology_file: Path, tmp_path: Path, fake: Callable[[str], Path]
) -> None:
    fake("crash-2")
    path = report_path(tmp_path / "s", FLOW, 0)
    with supervised(specs(topology_file, tmp_path / "s"), backoff=FAST) as run:
        wait_for(lambda: (r := read_report(path)) is not None and r.state == "running")
    assert run.text().count("died (exit code 3)") == 2
    report = read_report(path)
    assert report is not None and report.state == "stopped"  # recorded on the way out


def test_stop_lets_each_worker_record_its_progress(
    topology_file: Path, tmp_path: Path, fake: Callable[[str], Path]
) -> None:
    fake("run")
    status = tmp_path / "s"
    workers = specs(topology_file, status, shares=2)
    with supervised(workers) as run:
        wait_for(
            lambda: all(
                (r := read_report(w.report)) is not None and r.state == "running" for w in workers
            )
        )
        pids = [r.pid for w in workers if (r := read_report(w.report)) is not None]
    reports = [read_report(w.report) for w in workers]
    assert [(r.share, r.shares, r.state) for r in reports if r] == [
        (0, 2, "stopped"),
        (1, 2, "stopped"),
    ]
    assert run.text().count("worker stopped") == 2 and "killed" not in run.text()
    assert not any(alive(pid) for pid in pids)


def test_a_worker_that_does_not_stop_is_killed_after_the_grace_period(
    topology_file: Path, tmp_path: Path, fake: Callable[[str], Path]
) -> None:
    fake("hang")
    workers = specs(topology_file, tmp_path / "s")
    with supervised(workers, grace_s=0.5) as run:
        wait_for(lambda: (r := read_report(workers[0].report)) is not None and r.state == "running")
        report = read_report(workers[0].report)
    assert report is not None
    assert "worker did not stop (in 0.5 s): killed" in run.text()
    assert not alive(report.pid)
    last = read_report(workers[0].report)
    assert last is not None and (last.state, last.reason) == ("stopped", "killed on stop")
