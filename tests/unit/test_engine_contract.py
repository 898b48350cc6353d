"""The ReplicationEngine contract: what apply, failover and status may rely on of any engine.

Parametrized over every engine there is: today the memory fake; the bundled runtime and the
Kafka Connect engine join the list (with their lab fixtures) when they land, so none can drift.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mm2plan.adapters.memory import MemoryEngine
from mm2plan.ports.replication import (
    EngineError,
    FlowKey,
    FlowSpec,
    FlowState,
    ReplicationEngine,
)

ENGINES: dict[str, Callable[[], ReplicationEngine]] = {"memory": MemoryEngine}
KEY = FlowKey("default", "dc1", "dc2")
SETTINGS = {"source": "dc1", "target": "dc2", "topics": ["orders"]}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> ReplicationEngine:
    return ENGINES[request.param]()


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
