"""The bundled engine with real supervisors (`replicate` as a detached process) and fake
copying: start, idempotence, update, stop, a flow that cannot run, a supervisor killed, a
reused pid, a foreground supervisor it must not take over, a stop past its timeout."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import MM2PLAN, alive, wait_for

from mm2plan.ports.replication import EngineError, FlowKey, FlowSpec, FlowState
from mm2plan.runtime.engine import BundledEngine, read_pid_file, write_pid_file

KEY = FlowKey("t", "dc1", "dc2")
SETTINGS = {"source": "dc1", "target": "dc2", "topics": ["orders"]}


@pytest.fixture
def engine(topology_file: Path) -> Iterator[BundledEngine]:
    e = BundledEngine(topology_file, command=(*MM2PLAN, "replicate"), stop_timeout_s=30)
    yield e
    e.stop(KEY)


def worker_pids(engine: BundledEngine) -> list[int]:
    return [r.pid for r in engine.inspect(KEY).reports if r.pid]


def test_state_lives_beside_the_topology(engine: BundledEngine, topology_file: Path) -> None:
    assert engine.describe(KEY).state is FlowState.ABSENT
    engine.start(FlowSpec(KEY, SETTINGS))
    d = topology_file.parent / ".mm2plan" / "runtime" / "t" / "dc1-dc2"
    assert engine.directory(KEY) == d
    assert {p.name for p in d.iterdir()} >= {
        "settings.json",
        "supervisor.pid",
        "replicator.log",
        "status",
    }
    assert "dc1->dc2: worker started" in (d / "replicator.log").read_text()


def test_start_is_idempotent_and_update_restarts(
    engine: BundledEngine, fake: Callable[[str], Path]
) -> None:
    engine.start(FlowSpec(KEY, SETTINGS))
    run = engine.inspect(KEY)
    assert run.status.state is FlowState.RUNNING and dict(run.status.settings or {}) == SETTINGS
    assert run.supervisor is not None and run.supervisor.mode == "background"
    first = run.supervisor.pid
    engine.start(FlowSpec(KEY, SETTINGS))
    assert read_pid_file(engine.directory(KEY)).pid == first  # type: ignore[union-attr]
    wider = {**SETTINGS, "topics": ["orders", "payments"]}
    engine.update(FlowSpec(KEY, wider))
    run = engine.inspect(KEY)
    assert run.supervisor is not None and run.supervisor.pid != first and not alive(first)
    assert run.status.state is FlowState.RUNNING and run.status.settings == wider


def test_stop_records_progress_and_keeps_the_flow(engine: BundledEngine) -> None:
    engine.start(FlowSpec(KEY, SETTINGS))
    wait_for(lambda: worker_pids(engine))
    pids = [read_pid_file(engine.directory(KEY)).pid, *worker_pids(engine)]  # type: ignore[union-attr]
    engine.stop(KEY)
    run = engine.inspect(KEY)
    assert run.status.state is FlowState.STOPPED and run.status.settings == SETTINGS
    assert [(r.state, r.reason) for r in run.reports] == [("stopped", "")], run.log.read_text()
    assert engine.warnings == []
    assert [p for p in pids if alive(p)] == []


def test_a_flow_that_cannot_run_fails_its_start_with_the_reason(
    engine: BundledEngine, fake: Callable[[str], Path]
) -> None:
    fake("fatal")
    with pytest.raises(EngineError) as failed:
        engine.start(FlowSpec(KEY, SETTINGS))
    assert "started, but it fails: not authorized to write dc1.orders" in str(failed.value)
    assert "mm2plan runtime logs" in failed.value.hint
    status = engine.describe(KEY)
    assert status.state is FlowState.FAILED and "not authorized" in status.reason
    fake("run")  # fixed outside (the ACL added): the next start restarts it
    engine.start(FlowSpec(KEY, SETTINGS))
    assert engine.describe(KEY).state is FlowState.RUNNING


def test_a_killed_supervisor_reads_as_failed_and_its_workers_stop(engine: BundledEngine) -> None:
    engine.start(FlowSpec(KEY, SETTINGS))
    wait_for(lambda: worker_pids(engine))
    workers = worker_pids(engine)
    supervisor = read_pid_file(engine.directory(KEY)).pid  # type: ignore[union-attr]
    os.kill(supervisor, signal.SIGKILL)
    wait_for(lambda: not alive(supervisor))
    status = engine.describe(KEY)
    assert status.state is FlowState.FAILED
    assert f"its supervisor (pid {supervisor}) is gone" in status.reason
    wait_for(lambda: not any(alive(p) for p in workers), timeout_s=10)
    engine.start(FlowSpec(KEY, SETTINGS))
    assert engine.describe(KEY).state is FlowState.RUNNING


def test_a_reused_pid_is_not_taken_for_the_supervisor(engine: BundledEngine) -> None:
    engine.start(FlowSpec(KEY, SETTINGS))
    engine.stop(KEY)
    write_pid_file(engine.directory(KEY), os.getpid(), "background")  # pytest is no replicate
    assert engine.describe(KEY).state is FlowState.FAILED
    engine.stop(KEY)  # sends nothing to pytest; forgets the stale pid
    assert engine.describe(KEY).state is FlowState.STOPPED


def test_a_foreground_replicate_is_not_taken_over(
    engine: BundledEngine, topology_file: Path
) -> None:
    proc = subprocess.Popen(
        [*MM2PLAN, "replicate", str(topology_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: engine.describe(KEY).state is FlowState.RUNNING)
        run = engine.inspect(KEY)
        assert run.supervisor is not None and run.supervisor.mode == "foreground"
        assert run.supervisor.pid == proc.pid
        other = {**SETTINGS, "topics": ["x"]}
        with pytest.raises(EngineError, match="is run by `mm2plan replicate`"):
            engine.start(FlowSpec(KEY, other))
        engine.stop(KEY)  # destroy and `runtime stop` do stop it
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_supervisor_that_does_not_stop_is_killed_with_its_workers(
    topology_file: Path, fake: Callable[[str], Path]
) -> None:
    fake("hang")
    engine = BundledEngine(topology_file, command=(*MM2PLAN, "replicate"), stop_timeout_s=1)
    engine.start(FlowSpec(KEY, SETTINGS))
    wait_for(lambda: worker_pids(engine))
    pids = [read_pid_file(engine.directory(KEY)).pid, *worker_pids(engine)]  # type: ignore[union-attr]
    engine.stop(KEY)
    wait_for(lambda: not any(alive(p) for p in pids), timeout_s=10)  # SIGKILL is on its way
    assert (
        len(engine.warnings) == 1 and "did not stop within 1 s and was killed" in engine.warnings[0]
    )
    assert engine.describe(KEY).state is FlowState.STOPPED
