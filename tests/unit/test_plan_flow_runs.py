"""Plan reads how each recorded flow runs (its engine's word): one that does not run as recorded
is an update whose reason says why; what flows do never makes a saved plan stale."""

from __future__ import annotations

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster, MemoryEngine
from mm2plan.core.addresses import Kind
from mm2plan.core.model import Topology
from mm2plan.execution.apply import Applier
from mm2plan.execution.live import read_live
from mm2plan.execution.session import flow_runs, held_flows
from mm2plan.planning.plan import Action, Change
from mm2plan.planning.planner import FlowRun, make_plan
from mm2plan.ports.replication import FlowKey, FlowState, FlowStatus
from mm2plan.topology.loader import load_text

TOPOLOGY = """version: 1
defaults: {replication_factor: 1}
clusters:
  dc1: {bootstrap_servers: a, topics: {orders: {partitions: 2}}}
  dc2: {bootstrap_servers: b}
flows:
  - {source: dc1, target: dc2, topics: [orders]}
"""
KEY = FlowKey("default", "dc1", "dc2")


def applied() -> tuple[Topology, dict[str, MemoryAdmin], MemoryEngine]:
    loaded = load_text(TOPOLOGY, "t.yaml")
    assert loaded.topology is not None
    topology = loaded.topology
    admins = {a: MemoryAdmin(MemoryCluster(a)) for a in topology.clusters}
    engine = MemoryEngine()
    Applier(admins, engine=engine).run(make_plan(topology, read_live(admins)).changes)
    return topology, admins, engine


def flow_change(topology: Topology, admins: dict[str, MemoryAdmin], engine: MemoryEngine) -> Change:
    plan = make_plan(topology, read_live(admins), flows=flow_runs(topology, engine))
    [change] = [c for c in plan.changes if c.kind is Kind.REPLICATION]
    return change


def test_a_running_flow_with_its_settings_is_up_to_date() -> None:
    topology, admins, engine = applied()
    assert flow_change(topology, admins, engine).action is Action.NOOP


def test_a_failed_flow_is_restarted_with_the_reason_shown() -> None:
    topology, admins, engine = applied()
    settings = engine.flows[KEY].settings
    engine.flows[KEY] = FlowStatus(KEY, FlowState.FAILED, settings, "TOPIC_AUTHORIZATION_FAILED")
    change = flow_change(topology, admins, engine)
    assert change.action is Action.UPDATE and change.before == change.after
    assert change.reason == "flow is failed: TOPIC_AUTHORIZATION_FAILED; apply restarts it"


def test_a_stopped_or_unknown_flow_is_started() -> None:
    topology, admins, engine = applied()
    engine.stop(KEY)
    change = flow_change(topology, admins, engine)
    assert (change.action, change.reason) == (Action.UPDATE, "flow is stopped; apply starts it")
    del engine.flows[KEY]
    change = flow_change(topology, admins, engine)
    assert change.action is Action.UPDATE and "its engine knows nothing of it" in change.reason
    # apply starts it (update would refuse a flow the engine does not know) and converges
    Applier(admins, engine=engine).run([change])
    assert engine.calls[-1] == ("start", KEY)
    assert flow_change(topology, admins, engine).action is Action.NOOP


def test_a_flow_running_other_settings_is_restarted_with_a_diff() -> None:
    topology, admins, engine = applied()
    running = dict(engine.flows[KEY].settings or {})
    engine.flows[KEY] = FlowStatus(KEY, FlowState.RUNNING, {**running, "topics": ["old"]})
    change = flow_change(topology, admins, engine)
    assert change.action is Action.UPDATE and change.reason.startswith("config differs")
    assert change.before is not None and change.before.to_json()["topics"] == ["old"]
    Applier(admins, engine=engine).run([change])
    assert engine.calls[-1] == ("update", KEY)
    assert flow_change(topology, admins, engine).action is Action.NOOP


def test_flow_runs_do_not_change_the_fingerprint() -> None:
    topology, admins, engine = applied()
    live = read_live(admins)
    running = make_plan(topology, live, flows=flow_runs(topology, engine))
    failed = make_plan(topology, live, flows={"dc1->dc2": FlowRun("failed", None, "boom")})
    assert running.fingerprint == failed.fingerprint == make_plan(topology, live).fingerprint
    assert failed.has_changes and not running.has_changes


def test_a_flow_a_failover_stopped_is_held_not_restarted() -> None:
    topology, admins, engine = applied()
    engine.stop(KEY)
    live = read_live(admins)
    dc2 = live.clusters["dc2"]
    record = {"state": "done", "started_at": "2026-12-02T03:00:00Z"}
    held_live = type(live)(
        {
            **live.clusters,
            "dc2": type(dc2)(
                dc2.alias, dc2.topics, dc2.acls, dc2.owned, {"default/dc1->dc2": record}
            ),
        }
    )
    held = held_flows(topology, held_live)
    assert "failback --to dc1" in held["dc1->dc2"]
    plan = make_plan(topology, held_live, flows=flow_runs(topology, engine, held))
    [change] = [c for c in plan.changes if c.kind is Kind.REPLICATION]
    assert change.action is Action.NOOP
    # once failed back, the record no longer holds it: apply would start it again
    record["state"] = "failed-back"
    assert held_flows(topology, held_live) == {}
