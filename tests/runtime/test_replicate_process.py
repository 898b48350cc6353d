"""`mm2plan replicate` as a process (fake copying): SIGTERM stops it cleanly with exit 0, a second
Ctrl-C kills the workers (130), the metrics endpoint serves the workers' reports, a flow that
another supervisor runs is refused."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import MM2PLAN, alive, wait_for

from mm2plan.runtime.engine import read_pid_file
from mm2plan.runtime.statusdir import read_report, report_path

STATE = Path(".mm2plan") / "runtime" / "t" / "dc1-dc2"


@contextmanager
def replicate(*args: str, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*MM2PLAN, "replicate", "mm2plan.yaml", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def running(state: Path, share: int = 0) -> bool:
    r = read_report(report_path(state / "status", "dc1->dc2", share))
    return r is not None and r.state == "running"


def test_sigterm_stops_every_worker_cleanly_and_exits_0(
    topology_file: Path, fake: Callable[[str], Path]
) -> None:
    state = topology_file.parent / STATE
    with replicate("--processes", "2", cwd=topology_file.parent) as proc:
        wait_for(lambda: running(state, 0) and running(state, 1))
        info = read_pid_file(state)
        assert info is not None and (info.pid, info.mode) == (proc.pid, "foreground")
        workers = [
            r.pid
            for i in (0, 1)
            if (r := read_report(report_path(state / "status", "dc1->dc2", i)))
        ]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "replicating dc1->dc2 with 2 worker processes" in out
    assert out.count("worker stopped") == 2 and out.rstrip().endswith("stopped")
    assert "dc1->dc2#1: INFO mm2plan.worker: copying share 1 of 2" in out
    assert read_pid_file(state) is None and not any(alive(p) for p in workers)
    assert (state / "settings.json").exists()  # what plan compares with
    report = read_report(report_path(state / "status", "dc1->dc2", 0))
    assert report is not None and report.state == "stopped"


def test_a_second_ctrl_c_kills_the_workers_and_exits_130(
    topology_file: Path, fake: Callable[[str], Path]
) -> None:
    fake("hang")
    state = topology_file.parent / STATE
    with replicate(cwd=topology_file.parent) as proc:
        wait_for(lambda: running(state))
        proc.send_signal(signal.SIGINT)
        assert proc.stdout is not None
        for line in proc.stdout:  # the first is being handled: workers asked to stop
            if "stopping 1 worker(s)" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "worker did not stop (asked to stop at once): killed" in out


def test_metrics_serve_the_reports(topology_file: Path, fake: Callable[[str], Path]) -> None:
    state = topology_file.parent / STATE
    with replicate(
        "--metrics-port", "0", "--metrics-host", "127.0.0.1", cwd=topology_file.parent
    ) as proc:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if m := re.search(r"metrics on (http://\S+)", line):
                url = m.group(1)
                break
        wait_for(lambda: running(state))
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    labels = 'flow="dc1->dc2",partition="0",remote_topic="dc1.orders",topic="orders",topology="t"'
    assert re.search(r"mm2plan_replication_records_total\{" + re.escape(labels) + r"\} [1-9]", text)
    assert f"mm2plan_replication_lag_records{{{labels}}} 2.0" in text
    assert 'mm2plan_replication_worker_up{flow="dc1->dc2",share="0",topology="t"} 1.0' in text
    assert "mm2plan_replication_heartbeat_age_seconds{" in text


def test_a_flow_another_supervisor_runs_is_refused(
    topology_file: Path, fake: Callable[[str], Path]
) -> None:
    state = topology_file.parent / STATE
    with replicate(cwd=topology_file.parent) as first:
        wait_for(lambda: running(state))
        second = subprocess.run(
            [*MM2PLAN, "replicate", "mm2plan.yaml"],
            cwd=topology_file.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert f"flow dc1->dc2 already runs under pid {first.pid} (foreground)" in second.stderr
        assert "mm2plan runtime stop --flow 'dc1->dc2'" in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0


def test_logs_follow_prints_new_lines_until_ctrl_c(
    topology_file: Path, fake: Callable[[str], Path]
) -> None:
    log = topology_file.parent / STATE / "replicator.log"
    log.parent.mkdir(parents=True)
    log.write_text("first\n")
    (log.parent / "settings.json").write_text('{"source": "dc1", "target": "dc2"}')
    proc = subprocess.Popen(
        [sys.executable, "-m", "mm2plan", "runtime", "logs", "--follow"],
        cwd=topology_file.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "first\n"
        with log.open("a") as f:
            f.write("second, half")
            f.flush()
            f.write(" a line\n")
        assert proc.stdout.readline() == "second, half a line\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
