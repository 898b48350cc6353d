"""A flow's runtime keys end to end: what the plan shows of them, the ACLs the bundled runtime
needs beyond MM2's, and which engine can honour them (validate)."""

from __future__ import annotations

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.core.bookkeeping import PROGRESS_TOPIC
from mm2plan.core.model import Topology
from mm2plan.core.properties import RUNTIME_PROPERTIES
from mm2plan.core.resources import LITERAL, PREFIXED, AclBinding, LiveState
from mm2plan.execution.apply import Applier
from mm2plan.execution.live import read_live
from mm2plan.planning.desired import build_desired, replication_settings
from mm2plan.planning.plan import Action
from mm2plan.planning.planner import make_plan
from mm2plan.topology.loader import load_text
from mm2plan.topology.validate import Validation, validate_loaded

FLOW = """version: 1
defaults: {{replication_factor: 2}}
runtime: {{engine: {engine}}}
clusters:
  dc1: {{bootstrap_servers: "dc1:9092", replicator_principal: "User:mm2", topics: {{orders: {{}}}}}}
  dc2: {{bootstrap_servers: "dc2:9092", replicator_principal: "User:mm2"}}
flows:
  - source: dc1
    target: dc2
    topics: [orders]
    exactly_once: {exactly_once}
    properties: {properties}
"""


def topology(
    engine: str = "bundled", exactly_once: bool = False, properties: str = "{}"
) -> Topology:
    text = FLOW.format(engine=engine, exactly_once=str(exactly_once).lower(), properties=properties)
    result = load_text(text, "t.yaml")
    assert result.topology is not None and not result.diagnostics.has_errors()
    return result.topology


def settings(t: Topology) -> dict[str, object]:
    return replication_settings(t, t.flows[0])


def test_settings_carry_every_runtime_property_with_its_default_or_override() -> None:
    plain = settings(topology())
    assert (plain["exactly_once"], plain["loop_prevention"]) == (False, "none")
    for name, prop in RUNTIME_PROPERTIES.items():
        # an internal topic's empty replication factor is the topology's
        assert plain[name] == (prop.default or "2"), name
    assert plain["sync.group.offsets.enabled"] is True  # the keys there were before stay

    tuned = settings(
        topology(
            exactly_once=True,
            properties="{tasks.max: 3, heartbeats.topic.replication.factor: 1, "
            "source.consumer.fetch.max.bytes: 1048576}",
        )
    )
    assert tuned["exactly_once"] is True
    assert (tuned["tasks.max"], tuned["heartbeats.topic.replication.factor"]) == ("3", "1")
    assert tuned["source.consumer.fetch.max.bytes"] == "1048576"
    assert tuned["checkpoints.topic.replication.factor"] == "2"
    assert {k: v for k, v in tuned.items() if plain.get(k) != v} == {
        "exactly_once": True,
        "tasks.max": "3",
        "heartbeats.topic.replication.factor": "1",
        "source.consumer.fetch.max.bytes": "1048576",
    }


def applied(t: Topology) -> dict[str, MemoryAdmin]:
    admins = {a: MemoryAdmin(MemoryCluster(a)) for a in ("dc1", "dc2")}
    assert Applier(admins).run(make_plan(t, read_live(admins)).effective).complete
    return admins


def test_a_changed_property_or_exactly_once_is_an_update_of_the_flow() -> None:
    admins = applied(topology())
    assert make_plan(topology(), read_live(admins)).effective == ()

    plan = make_plan(
        topology(properties="{refresh.topics.interval.seconds: 60}"), read_live(admins)
    )
    (change,) = plan.effective
    assert (str(change.address), change.action) == ('dc2.replication["dc1->dc2"]', Action.UPDATE)
    assert change.before is not None and change.after is not None
    before, after = change.before.to_json(), change.after.to_json()
    assert (
        before["refresh.topics.interval.seconds"],
        after["refresh.topics.interval.seconds"],
    ) == (
        "5",
        "60",
    )

    updates = [
        c.address
        for c in make_plan(topology(exactly_once=True), read_live(admins)).effective
        if c.action is Action.UPDATE
    ]
    assert [str(a) for a in updates] == ['dc2.replication["dc1->dc2"]']


def target_acls(t: Topology) -> set[AclBinding]:
    return build_desired(t, LiveState({})).acls["dc2"]


def runtime_acls(t: Topology) -> set[AclBinding]:
    """The target's replicator ACLs on what MM2 itself never touches."""
    return {
        a
        for a in target_acls(t)
        if a.resource_name == PROGRESS_TOPIC
        or a.resource_type == "TRANSACTIONAL_ID"
        or a.operation == "IDEMPOTENT_WRITE"
    }


def test_the_bundled_runtime_may_keep_its_progress_on_the_target() -> None:
    assert runtime_acls(topology()) == {
        AclBinding("User:mm2", op, "TOPIC", PROGRESS_TOPIC, LITERAL)
        for op in ("READ", "WRITE", "DESCRIBE", "CREATE")
    }
    source = build_desired(topology(), LiveState({})).acls["dc1"]
    assert not any(a.resource_name == PROGRESS_TOPIC for a in source)


def test_exactly_once_adds_transactions_and_idempotent_writes() -> None:
    extra = runtime_acls(topology(exactly_once=True)) - runtime_acls(topology())
    assert extra == {
        AclBinding("User:mm2", "WRITE", "TRANSACTIONAL_ID", "mm2plan-", PREFIXED),
        AclBinding("User:mm2", "DESCRIBE", "TRANSACTIONAL_ID", "mm2plan-", PREFIXED),
        AclBinding("User:mm2", "IDEMPOTENT_WRITE", "CLUSTER", "kafka-cluster", LITERAL),
    }


def test_mm2_on_connect_gets_only_mm2s_acls() -> None:
    assert runtime_acls(topology("connect", exactly_once=True)) == set()
    bundled = target_acls(topology())
    assert target_acls(topology("connect")) == bundled - runtime_acls(topology())


def test_the_memory_fake_takes_the_runtime_acls_and_refuses_names_kafka_does_not_know() -> None:
    admin = MemoryAdmin(MemoryCluster("dc2"))
    wanted = sorted(runtime_acls(topology(exactly_once=True)))
    assert admin.create_acls(wanted) == dict.fromkeys(wanted)
    bad = [
        AclBinding("User:mm2", "FLY", "TOPIC", "orders"),
        AclBinding("User:mm2", "READ", "BROKER", "kafka-cluster"),
    ]
    results = admin.create_acls(bad)
    assert [(e.code if e else None) for e in results.values()] == ["INVALID_REQUEST"] * 2
    acls = admin.read_state().acls
    assert acls is not None and set(wanted) <= acls and not set(bad) & acls


RING = """version: 1
defaults: {{replication_policy: identity}}
runtime: {{engine: {engine}}}
clusters:
  a: {{bootstrap_servers: "a:9092", topics: {{orders: {{}}}}}}
  b: {{bootstrap_servers: "b:9092"}}
  c: {{bootstrap_servers: "c:9092"}}
flows:
  - {{source: a, target: b, loop_prevention: headers}}
  - {{source: b, target: c, loop_prevention: {second}}}
  - {{source: c, target: a, loop_prevention: headers, exactly_once: {exactly_once}}}
"""


def ring(
    engine: str = "bundled", second: str = "headers", exactly_once: bool = False
) -> Validation:
    text = RING.format(engine=engine, second=second, exactly_once=str(exactly_once).lower())
    return validate_loaded(load_text(text, "t.yaml"))


def test_an_identity_cycle_the_bundled_runtime_breaks_is_a_warning() -> None:
    """The ring's expansion still ends: a copy that arrives where its name already is goes
    no further."""
    result = ring()
    assert result.valid
    (d,) = result.diagnostics
    assert (d.severity.value, d.code, d.path) == ("warning", "replication-cycle", "flows[0]")
    assert "never copies a record into a cluster it has been in" in d.message
    assert "MM2 on Connect would loop" in d.hint
    assert result.graph is not None and not result.graph.truncated
    assert {("b", "orders"), ("c", "orders")} <= set(result.graph.held())


def test_a_cycle_with_one_unmarked_flow_is_an_error_that_names_it() -> None:
    (d,) = ring(second="none").diagnostics
    assert (d.severity.value, d.code) == ("error", "replication-cycle")
    assert d.hint.endswith("or set loop_prevention: headers on b->c (flows[1])")


def test_connect_cannot_prevent_loops_and_warns_of_exactly_once() -> None:
    diags = ring("connect", exactly_once=True).diagnostics
    assert [(d.severity.value, d.code, d.source.line if d.source else 0) for d in diags] == [
        ("error", "unsupported-by-engine", 9),
        ("error", "unsupported-by-engine", 10),
        ("error", "unsupported-by-engine", 11),
        ("warning", "unsupported-by-engine", 11),
        ("error", "replication-cycle", 9),
    ]
    plain = validate_loaded(
        load_text(FLOW.format(engine="connect", exactly_once="true", properties="{}"), "t.yaml")
    )
    assert plain.valid
    (d,) = plain.diagnostics
    assert (d.severity.value, d.code) == ("warning", "unsupported-by-engine")
    assert "KIP-618" in d.message
