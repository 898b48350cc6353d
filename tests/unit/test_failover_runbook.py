"""The failover/failback runbooks and their offset translation, without brokers."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mm2plan.core.model import App, Cluster, Defaults, Flow, Topology
from mm2plan.core.naming import policy_for
from mm2plan.core.progress import Position
from mm2plan.planning import failover as fo
from mm2plan.views import failover as view

NOW = 1_800_000_000_000


def topology(policy: str = "default", reverse: bool = False) -> Topology:
    flows = [Flow("dc1", "dc2", topics=("orders",))]
    if reverse:
        flows.append(Flow("dc2", "dc1", topics=("orders",)))
    return Topology(
        version=1,
        clusters={"dc1": Cluster("dc1", "h1:9092"), "dc2": Cluster("dc2", "h2:9092")},
        flows=tuple(flows),
        apps=(
            App(
                "shop",
                "User:shop",
                ("dc1", "dc2"),
                consumes=("orders",),
                produces=("orders",),
                groups=("shop",),
            ),
        ),
        defaults=Defaults(replication_policy=policy),
    )


# A gapless copy: upstream 0..999 -> downstream 0..999 (one run), next 1000.
GAPLESS = Position(1000, ((0, 0, 1000),))
# A copy with a gap in the source (a transaction marker at upstream 500): two runs.
GAPPED = Position(1001, ((0, 0, 500), (501, 500, 500)))


def test_exact_translation_both_ways_through_the_runs() -> None:
    assert fo.exact_downstream(GAPLESS, 400) == 400
    assert fo.exact_downstream(GAPLESS, 1000) == 1000  # read to the end
    assert fo.exact_downstream(GAPPED, 500) == 500  # the marker: the next copied record
    assert fo.exact_downstream(GAPPED, 700) == 699
    assert fo.exact_downstream(GAPLESS, 1001) is None  # not copied yet
    assert fo.exact_upstream(GAPPED, 699, 1000) == 700
    assert fo.exact_upstream(GAPPED, 1000, 1000) == 1001  # the whole copy read: next upstream
    assert fo.exact_upstream(GAPLESS, 10, 1000) == 10
    assert fo.exact_upstream(None, 10, 1000) is None


def facts(**kw: object) -> fo.FailoverFacts:
    base: dict[str, object] = {
        "source": "dc1",
        "target": "dc2",
        "now_ms": NOW,
        "heartbeat_ms": NOW - 2000,
        "flow_state": "running",
        "partitions": (fo.PartitionFacts("orders", 0, "dc1.orders", GAPPED, 1000, 1001),),
        "groups": (
            fo.GroupFacts(
                "shop",
                (fo.CheckpointFacts("dc1.orders", 0, 690, 689, NOW - 3000),),
                target_members=0,
                source_members=0,
                source_committed={("orders", 0): 700},
            ),
        ),
        "target_topics": frozenset({"orders", "dc1.orders"}),
    }
    base.update(kw)
    return fo.FailoverFacts(**base)  # type: ignore[arg-type]


def test_the_source_up_and_the_group_idle_translate_exactly_from_its_committed_offset() -> None:
    rb = fo.failover_runbook(topology(), facts(), fo.Options())
    assert [(c.topic, c.partition, c.offset, c.basis) for c in rb.commits] == [
        ("dc1.orders", 0, 699, "mapping")
    ]
    assert not rb.refusals


def test_the_source_gone_translates_from_the_checkpoint_and_fences_later() -> None:
    f = facts(source_error="unreachable")
    rb = fo.failover_runbook(topology(), f, fo.Options())
    assert [(c.offset, c.basis) for c in rb.commits] == [(689, "checkpoint")]
    assert rb.mode == "unplanned"
    assert [b.describe() for b in rb.fence] == ['"User:shop" WRITE topic:orders DENY']
    assert [s.id for s in rb.steps] == [
        "check-target",
        "check-source",
        "rpo",
        "check-groups",
        "stop-replication",
        "commit-offsets",
        "fence",
        "record",
        "repoint-clients",
    ]


def test_a_group_already_past_the_translation_is_never_moved_back() -> None:
    g = fo.GroupFacts(
        "shop",
        (fo.CheckpointFacts("dc1.orders", 0, 690, 689, NOW),),
        target_members=0,
        target_committed={("dc1.orders", 0): 800},
    )
    rb = fo.failover_runbook(topology(), facts(source_error="x", groups=(g,)), fo.Options())
    assert [(c.offset, c.basis) for c in rb.commits] == [(800, "kept")]


def test_refusals_and_forcing() -> None:
    busy = fo.GroupFacts(
        "shop", (fo.CheckpointFacts("dc1.orders", 0, 1, 1, NOW),), target_members=2
    )
    rb = fo.failover_runbook(topology(), facts(groups=(busy,)), fo.Options())
    assert [c.id for c in rb.refusals] == ["groups-active"]
    forced = fo.failover_runbook(
        topology(), facts(groups=(busy,)), fo.Options(force=frozenset({"groups-active"}))
    )
    assert not forced.refusals
    down = fo.failover_runbook(topology(), facts(target_error="refused"), fo.Options())
    assert "target" in [c.id for c in down.refusals]
    drain = fo.failover_runbook(topology(), facts(source_error="gone"), fo.Options(drain=True))
    assert "source" in [c.id for c in drain.refusals]
    behind = (fo.PartitionFacts("orders", 0, "dc1.orders", GAPPED, 1000, 1005, NOW - 4000),)
    lagging = fo.failover_runbook(topology(), facts(partitions=behind), fo.Options(max_lag=3))
    assert [c.id for c in lagging.refusals] == ["lag"]  # 4 records behind
    assert lagging.lag["orders"] == {"records": 4, "seconds": 4.0, "partitions": 1}


def test_drain_fences_first_and_waits_before_stopping() -> None:
    rb = fo.failover_runbook(topology(), facts(), fo.Options(drain=True))
    ids = [s.id for s in rb.steps]
    assert ids.index("fence") < ids.index("drain") < ids.index("stop-replication")
    assert ids.index("stop-replication") < ids.index("commit-offsets")


def test_client_changes_follow_the_naming_policy() -> None:
    rb = fo.failover_runbook(topology(), facts(), fo.Options())
    assert rb.clients[0].subscribe == (r"^(dc1\.)?orders$",)
    assert rb.clients[0].bootstrap_servers == "h2:9092"
    ident = fo.failover_runbook(topology("identity"), facts(), fo.Options())
    assert ident.clients[0].subscribe == ("orders",)
    policy = policy_for("default", ".")
    assert fo.subscription(policy, "dc1", "a.b", local=False) == "dc1.a.b"


def test_json_and_human_carry_the_same_steps() -> None:
    rb = fo.failover_runbook(topology(), facts(source_error="gone"), fo.Options())
    console = Console(file=io.StringIO(), record=True, width=300, color_system=None)
    console.print(view.render_human(rb, execute=False))
    human = console.export_text()
    doc = rb.to_json()
    assert doc["format_version"] == fo.FORMAT_VERSION
    for step in doc["steps"]:
        assert f"{step['number']}. {step['title']}" in human
        for check in step["checks"]:
            assert check["detail"] in " ".join(human.split())
        for action in step["actions"]:
            assert action in human


# --- failback ---------------------------------------------------------------------------------


def record(fence_state: str = "applied") -> dict[str, object]:
    return {
        "state": "done",
        "groups": ["shop"],
        "fence": {
            "cluster": "dc1",
            "state": fence_state,
            "acls": [
                {
                    "principal": "User:shop",
                    "operation": "WRITE",
                    "resource_type": "TOPIC",
                    "resource_name": "orders",
                    "pattern_type": "LITERAL",
                    "permission": "DENY",
                    "host": "*",
                }
            ],
        },
        "partitions": {
            "orders/0": {
                "remote_topic": "dc1.orders",
                "next": 1001,
                "runs": [[0, 0, 500], [501, 500, 500]],
                "remote_end": 1000,
            }
        },
    }


def failback_facts(origin_end: int, committed: dict[tuple[str, int], int]) -> fo.FailbackFacts:
    fwd = [
        fo.ForwardPartition(
            f.topic, f.partition, f.remote_topic, f.position, f.remote_end, origin_end
        )
        for f in fo.forward_partitions(record())
    ]
    reverse = (
        fo.PartitionFacts("orders", 0, "dc2.orders", Position(300, ((0, 0, 300),)), 300, 300),
    )
    return fo.FailbackFacts(
        "dc1",
        "dc2",
        NOW,
        {},
        record(),
        tuple(fwd),
        reverse,
        False,
        "default-failback",
        "running",
        (fo.GroupFacts("shop", (), 0, committed, 0, None),),
        frozenset({"orders"}),
    )


def test_failback_translates_copies_back_and_outage_writes_through_the_reverse_flow() -> None:
    f = failback_facts(1001, {("dc1.orders", 0): 699, ("orders", 0): 120})
    commits = fo.failback_commits(topology(), f, ["shop"], fo.FailbackOptions())
    assert [(c.topic, c.offset, c.basis) for c in commits] == [
        ("dc2.orders", 120, "reverse-mapping"),
        ("orders", 700, "mapping"),
    ]
    rb = fo.failback_runbook(topology(), f, fo.FailbackOptions())
    assert not rb.refusals
    assert rb.clients[0].subscribe == (r"^(dc2\.)?orders$",)
    assert [b.resource_name for b in rb.fence] == ["orders"]  # dc2, during the switch


def test_divergent_records_need_an_explicit_choice() -> None:
    f = failback_facts(1091, {("dc1.orders", 0): 1000})  # 90 records never left dc1
    rb = fo.failback_runbook(topology(), f, fo.FailbackOptions())
    assert [c.id for c in rb.refusals] == ["divergent"]
    assert rb.extra["divergent"] == {"orders-0": 90}
    keep = fo.failback_commits(topology(), f, ["shop"], fo.FailbackOptions(keep_divergent=True))
    assert [(c.offset, c.basis) for c in keep] == [(1001, "mapping")]  # reads the 90
    cut = fo.failback_commits(topology(), f, ["shop"], fo.FailbackOptions(truncate=True))
    assert [(c.offset, c.basis) for c in cut] == [(1091, "truncate")]  # skips them


def test_no_failover_in_effect_refuses() -> None:
    f = fo.FailbackFacts("dc1", "dc2", NOW, {}, None)
    rb = fo.failback_runbook(topology(), f, fo.FailbackOptions())
    assert "failover" in [c.id for c in rb.refusals]


@pytest.mark.parametrize(
    "state,effect", [("done", True), ("in-progress", True), ("failed-back", False)]
)
def test_in_effect(state: str, effect: bool) -> None:
    assert fo.in_effect({"state": state}) is effect
