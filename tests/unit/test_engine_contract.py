"""The ReplicationEngine contract: what apply, failover and status may rely on of any engine.

Parametrized over every engine there is: the memory fake, and the bundled runtime with its real
supervisor processes around a fake replicator (tests/runtime/fake_worker.py: no Kafka needed);
the Kafka Connect engine joins the list (with its lab fixtures) when it lands, so none can drift.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mm2plan.adapters.memory import MemoryEngine
from mm2plan.ports.replication import (
    EngineError,
    FlowKey,
    FlowSpec,
    FlowState,
    ReplicationEngine,
)
from mm2plan.runtime.engine import BundledEngine

FAKE_MM2PLAN = Path(__file__).parents[1] / "runtime" / "fake_mm2plan.py"
TOPOLOGY = """version: 1
defaults: {replication_factor: 1}
clusters:
  dc1: {bootstrap_servers: "127.0.0.1:1", topics: {orders: {partitions: 1}}}
  dc2: {bootstrap_servers: "127.0.0.1:1"}
flows:
  - {source: dc1, target: dc2, topics: [orders]}
"""


def _bundled(tmp_path: Path) -> BundledEngine:
    path = tmp_path / "mm2plan.yaml"
    path.write_text(TOPOLOGY)
    return BundledEngine(path, command=(sys.executable, str(FAKE_MM2PLAN), "replicate"))


ENGINES: dict[str, Callable[[Path], ReplicationEngine]] = {
    "memory": lambda _tmp: MemoryEngine(),
    "bundled": _bundled,
}
KEY = FlowKey("default", "dc1", "dc2")
SETTINGS = {"source": "dc1", "target": "dc2", "topics": ["orders"]}


@pytest.fixture(params=sorted(ENGINES))
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReplicationEngine]:
    monkeypatch.setenv("MM2PLAN_FAKE", "run")
    e = ENGINES[request.param](tmp_path)
    yield e
    for key in (KEY, FlowKey("team", "dc1", "dc2")):
        e.stop(key)


def test_an_unknown_flow_is_absent(engine: ReplicationEngine) -> None:
    status = engine.describe(KEY)
    assert (status.key, status.state, status.settings) == (KEY, FlowState.ABSENT, None)


def test_start_runs_with_the_settings_and_is_idempotent(engine: ReplicationEngine) -> None:
    engine.start(FlowSpec(KEY, SETTINGS))
    engine.start(FlowSpec(KEY, SETTINGS))
    status = engine.describe(KEY)
    assert status.state is FlowState.RUNNING and dict(status.settings or {}) == SETTINGS


def test_update_changes_the_settings_of_a_known_flow_only(engine: ReplicationEngine) -> None:
    with pytest.raises(EngineError) as unknown:
        engine.update(FlowSpec(KEY, SETTINGS))
    assert unknown.value.key == KEY
    engine.start(FlowSpec(KEY, SETTINGS))
    wider = {**SETTINGS, "topics": ["orders", "payments"]}
    engine.update(FlowSpec(KEY, wider))
    status = engine.describe(KEY)
    assert status.state is FlowState.RUNNING and dict(status.settings or {}) == wider


def test_stop_keeps_the_flow_known_and_is_idempotent(engine: ReplicationEngine) -> None:
    engine.stop(KEY)  # nothing to stop: fine
    engine.start(FlowSpec(KEY, SETTINGS))
    engine.stop(KEY)
    engine.stop(KEY)
    status = engine.describe(KEY)
    assert status.state is FlowState.STOPPED and dict(status.settings or {}) == SETTINGS
    engine.start(FlowSpec(KEY, SETTINGS))
    assert engine.describe(KEY).state is FlowState.RUNNING


def test_flows_of_two_topologies_are_apart(engine: ReplicationEngine) -> None:
    other = FlowKey("team", "dc1", "dc2")
    engine.start(FlowSpec(KEY, SETTINGS))
    assert engine.describe(other).state is FlowState.ABSENT
    assert str(other) == "team/dc1->dc2" and str(KEY) == "dc1->dc2"
