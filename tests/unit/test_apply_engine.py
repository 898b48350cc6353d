"""Apply drives replication through the engine port: start, update, stop, one flow at a time."""

from __future__ import annotations

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster, MemoryEngine
from mm2plan.core.addresses import Kind
from mm2plan.core.model import Topology
from mm2plan.execution.apply import Applier, Status
from mm2plan.execution.live import read_live
from mm2plan.planning.planner import make_plan
from mm2plan.ports.replication import FlowKey, FlowState
from mm2plan.topology.loader import load_text

TOPOLOGY = """version: 1
defaults: {replication_factor: 1}
clusters:
  dc1: {bootstrap_servers: a, topics: {orders: {partitions: 2}}}
  dc2: {bootstrap_servers: b}
flows:
  - {source: dc1, target: dc2, topics: [orders]}
"""

DC1_DC2 = FlowKey("default", "dc1", "dc2")


def _topology(text: str = TOPOLOGY) -> Topology:
    loaded = load_text(text, "t.yaml")
    assert loaded.topology is not None, loaded.diagnostics
    return loaded.topology


def _apply(topology: Topology, clusters: dict[str, MemoryCluster], engine: MemoryEngine) -> Applier:
    admins = {a: MemoryAdmin(clusters.setdefault(a, MemoryCluster(a))) for a in topology.clusters}
    plan = make_plan(topology, read_live(admins))
    applier = Applier(admins, engine=engine, owner=topology.name)
    applier.run(plan.changes)
    return applier


def test_new_flow_starts_on_the_engine_and_replan_is_empty() -> None:
    clusters: dict[str, MemoryCluster] = {}
    engine = MemoryEngine()
    topology = _topology()
    report = _apply(topology, clusters, engine).report
    flows = [r for r in report.results if r.change.kind is Kind.REPLICATION]
    assert [r.status for r in flows] == [Status.APPLIED]
    status = engine.describe(DC1_DC2)
    assert status.state is FlowState.RUNNING
    assert status.settings is not None and status.settings["topics"] == ["orders"]

    admins = {a: MemoryAdmin(clusters[a]) for a in topology.clusters}
    assert not make_plan(topology, read_live(admins)).has_changes


def test_changed_flow_updates_and_removed_flow_stops() -> None:
    clusters: dict[str, MemoryCluster] = {}
    engine = MemoryEngine()
    _apply(_topology(), clusters, engine)

    _apply(
        _topology(TOPOLOGY.replace("topics: [orders]}", "topics: [orders, x]}")), clusters, engine
    )
    status = engine.describe(DC1_DC2)
    assert status.state is FlowState.RUNNING
    assert status.settings is not None and status.settings["topics"] == ["orders", "x"]

    _apply(_topology(TOPOLOGY.split("flows:")[0]), clusters, engine)
    assert engine.describe(DC1_DC2).state is FlowState.STOPPED
    assert [verb for verb, _ in engine.calls] == ["start", "update", "stop"]


def test_a_failing_flow_fails_alone_and_is_retried_by_the_next_apply() -> None:
    clusters: dict[str, MemoryCluster] = {}
    engine = MemoryEngine()
    engine.fail.add(DC1_DC2)
    report = _apply(_topology(), clusters, engine).report
    by_kind = {r.change.kind: r for r in report.results}
    assert by_kind[Kind.REPLICATION].status is Status.FAILED
    assert "injected failure on start" in by_kind[Kind.REPLICATION].detail
    assert by_kind[Kind.TOPIC].status is Status.APPLIED
    assert not report.complete

    engine.fail.clear()
    retried = _apply(_topology(), clusters, engine).report
    assert [r.change.kind for r in retried.results] == [Kind.REPLICATION]
    assert retried.complete and engine.describe(DC1_DC2).state is FlowState.RUNNING


def test_without_an_engine_flows_stay_pending() -> None:
    clusters: dict[str, MemoryCluster] = {}
    topology = _topology()
    admins = {a: MemoryAdmin(clusters.setdefault(a, MemoryCluster(a))) for a in topology.clusters}
    report = Applier(admins).run(make_plan(topology, read_live(admins)).changes)
    flows = [r for r in report.results if r.change.kind is Kind.REPLICATION]
    assert [r.status for r in flows] == [Status.PENDING]
    assert "no replication runtime" in flows[0].detail
