"""Real processes, fake copying: the supervisor, the engine and `replicate` run their real code
with tests/runtime/fake_worker.py as the worker (no Kafka)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mm2plan.core.polling import poll

HERE = Path(__file__).parent
WORKER = (sys.executable, str(HERE / "fake_worker.py"))
MM2PLAN = (sys.executable, str(HERE / "fake_mm2plan.py"))
TOPOLOGY = """version: 1
name: t
defaults: {replication_factor: 1}
clusters:
  dc1: {bootstrap_servers: "127.0.0.1:1", topics: {orders: {partitions: 1}}}
  dc2: {bootstrap_servers: "127.0.0.1:1"}
flows:
  - {source: dc1, target: dc2, topics: [orders]}
"""


@pytest.fixture
def topology_file(tmp_path: Path) -> Path:
    path = tmp_path / "mm2plan.yaml"
    path.write_text(TOPOLOGY)
    return path


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Sets what the fake replicator does (inherited by every process started after);
    returns the file where each start is logged."""
    starts = tmp_path / "starts.txt"
    monkeypatch.setenv("MM2PLAN_FAKE_STARTS", str(starts))
    monkeypatch.setenv("MM2PLAN_FAKE_COUNTER", str(tmp_path / "counter.txt"))

    def set_mode(mode: str) -> Path:
        monkeypatch.setenv("MM2PLAN_FAKE", mode)
        return starts

    set_mode("run")
    return set_mode


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_for(probe: Callable[[], object], timeout_s: float = 20.0) -> None:
    assert poll(probe, bool, timeout_s), "timed out waiting"
