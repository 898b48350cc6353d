"""`mm2plan status`'s judgement (planning.status), with no broker: lag from Kafka and from the
runtime's reports, the SLO's colours and the exit verdict, throughput, heartbeat and checkpoint
ages, and which failovers are in effect."""

from __future__ import annotations

from typing import Any

from mm2plan.core.model import Cluster, Flow, Slo, Topology
from mm2plan.planning.status import (
    FlowFacts,
    ReportedPartition,
    Verdict,
    WorkerFacts,
    assess,
    assess_flow,
    kafka_lag,
    merge_failovers,
    report_lag,
    throughput,
    unreplicated,
)

NOW = 1_700_000_000.0
SLO = Slo(max_lag_records=100, max_lag_seconds=30)
FLOW = Flow("dc1", "dc2", topics=("orders",))


def facts(**kw: Any) -> FlowFacts:
    base: dict[str, Any] = {
        "flow": FLOW,
        "engine": "bundled",
        "state": "running",
        "source_topics": ("orders",),
        "end_offsets": {("orders", 0): 10, ("orders", 1): 5},
        "next_offsets": {("orders", 0): 10, ("orders", 1): 5},
        "heartbeat_ms": int((NOW - 1) * 1000),
        "heartbeat_topic": "heartbeats",
        "checkpoint_ms": int((NOW - 2) * 1000),
        "checkpoint_topic": "dc1.checkpoints.internal",
    }
    base.update(kw)
    return FlowFacts(**base)


def worker(**kw: Any) -> WorkerFacts:
    base: dict[str, Any] = {
        "share": 0,
        "state": "running",
        "started_at": NOW - 100,
        "updated_at": NOW - 1,
        "records": 990,
    }
    base.update(kw)
    return WorkerFacts(**base)


def test_lag_is_the_source_end_minus_the_progress_and_seconds_the_first_uncopied_record() -> None:
    ends = {("orders", 0): 10, ("orders", 1): 7, ("orders", 2): 0}
    nxt = {("orders", 0): 10, ("orders", 1): 4}
    assert unreplicated(ends, nxt) == [("orders", 1, 4)]
    # a partition without progress is copied from its start
    assert unreplicated({("new", 0): 3}, {}) == [("new", 0, 0)]
    parts = kafka_lag(ends, nxt, {("orders", 1): int((NOW - 12.5) * 1000)}, NOW)
    by = {(p.topic, p.partition): p for p in parts}
    assert (by["orders", 0].records, by["orders", 0].seconds) == (0, 0.0)
    assert (by["orders", 1].records, by["orders", 1].seconds) == (3, 12.5)
    assert by["orders", 2].records == 0
    # a timestamp not read: unknown seconds; no record there (markers only): 0 s
    assert kafka_lag(ends, nxt, {}, NOW)[1].seconds is None
    assert kafka_lag(ends, nxt, {("orders", 1): None}, NOW)[1].seconds == 0.0


def test_within_the_slo_is_green_and_passes() -> None:
    h = assess_flow(facts(), SLO, NOW)
    assert h.within_slo and h.problems == ()
    assert h.lag_records.value == 0 and h.lag_records.verdict is Verdict.OK
    assert h.lag_records.basis == "kafka"
    assert h.lag_seconds.verdict is Verdict.OK
    assert h.heartbeat_age.verdict is Verdict.OK and h.heartbeat_age.value == 1.0
    assert h.checkpoint_age.verdict is Verdict.OK
    [t] = h.topics
    assert (t.topic, t.remote_topic, len(t.partitions)) == ("orders", "dc1.orders", 2)


def test_lag_over_the_slo_is_red_and_fails_with_the_reason() -> None:
    f = facts(
        end_offsets={("orders", 0): 500},
        next_offsets={("orders", 0): 100},
        first_unreplicated_ms={("orders", 0): int((NOW - 90) * 1000)},
    )
    h = assess_flow(f, SLO, NOW)
    assert not h.within_slo
    assert h.lag_records.value == 400 and h.lag_records.verdict is Verdict.BREACH
    assert h.lag_seconds.value == 90 and h.lag_seconds.verdict is Verdict.BREACH
    assert "lag 400 records > 100 (slo.max_lag_records)" in h.problems
    assert "lag 90 s > 30 (slo.max_lag_seconds)" in h.problems
    assert h.topics[0].lag_records.verdict is Verdict.BREACH


def test_the_slo_bounds_the_flow_total_not_each_topic() -> None:
    f = facts(
        source_topics=("a", "b"),
        end_offsets={("a", 0): 60, ("b", 0): 60},
        next_offsets={},
        first_unreplicated_ms={("a", 0): int(NOW * 1000), ("b", 0): int(NOW * 1000)},
    )
    h = assess_flow(f, SLO, NOW)
    assert [t.lag_records.verdict for t in h.topics] == [Verdict.OK, Verdict.OK]
    assert h.lag_records.value == 120 and h.lag_records.verdict is Verdict.BREACH


def test_a_stopped_flow_fails_and_kafka_still_gives_its_lag() -> None:
    f = facts(
        state="stopped",
        end_offsets={("orders", 0): 20},
        next_offsets={("orders", 0): 15},
        first_unreplicated_ms={("orders", 0): int((NOW - 3) * 1000)},
    )
    h = assess_flow(f, SLO, NOW)
    assert h.state_verdict is Verdict.BREACH and not h.within_slo
    assert h.problems[0] == "stopped"
    assert (h.lag_records.value, h.lag_records.basis) == (5, "kafka")
    assert h.throughput.value is None


def test_an_unreachable_source_falls_back_to_the_runtimes_last_report_and_says_so() -> None:
    reported = worker(
        updated_at=NOW - 10,
        partitions=(ReportedPartition("orders", 0, 90, 100, 10, 5.0),),
    )
    f = facts(
        end_offsets=None,
        source_topics=None,
        source_error="cluster dc1: cannot reach bootstrap servers",
        workers=(reported,),
    )
    h = assess_flow(f, SLO, NOW)
    assert h.lag_records.basis == "runtime" and h.lag_records.value == 10
    # within the SLO, but by the report alone: yellow, and the check fails
    assert h.lag_records.verdict is Verdict.UNKNOWN and not h.within_slo
    assert h.problems == ("lag 10 records / 15 s by the runtime's last report only",)
    # what was pending 5 s before the report has waited 10 s more since
    assert h.lag_seconds.value == 15.0
    assert any("runtime's last report (10 s ago): cluster dc1: cannot reach" in n for n in h.notes)
    assert report_lag([reported], NOW)[0].next_offset == 90


def test_nothing_to_go_by_is_unknown_yellow_and_fails() -> None:
    f = facts(end_offsets=None, source_topics=None, source_error="dc1 down")
    h = assess_flow(f, SLO, NOW)
    assert h.lag_records.verdict is Verdict.UNKNOWN and h.lag_records.value is None
    assert h.problems == ("lag unknown",)
    assert any(n.startswith("lag unknown: dc1 down") for n in h.notes)


def test_the_connect_engine_is_unknown_not_a_crash() -> None:
    f = facts(
        engine="connect",
        state="unknown",
        reason="unknown (connect engine not yet supported)",
        next_offsets=None,
    )
    h = assess_flow(f, SLO, NOW)
    assert h.state_verdict is Verdict.UNKNOWN and not h.within_slo
    assert h.lag_records.verdict is Verdict.UNKNOWN
    assert h.heartbeat_age.verdict is Verdict.OK  # MM2 writes heartbeats too


def test_heartbeats_old_missing_disabled_and_from_the_report() -> None:
    old = assess_flow(facts(heartbeat_ms=int((NOW - 40) * 1000)), SLO, NOW)
    assert old.heartbeat_age.verdict is Verdict.BREACH and old.heartbeat_age.limit == 31
    assert "(slo.max_lag_seconds + the heartbeat interval)" in old.problems[0]
    none = assess_flow(facts(heartbeat_ms=None), SLO, NOW)
    assert none.heartbeat_age.verdict is Verdict.UNKNOWN and not none.within_slo
    off = Flow("dc1", "dc2", emit_heartbeats=False)
    disabled = assess_flow(facts(flow=off, heartbeat_ms=None), SLO, NOW)
    assert disabled.heartbeat_age.verdict is Verdict.INFO and disabled.within_slo
    f = facts(
        heartbeat_ms=None,
        checkpoint_ms=None,
        target_error="cluster dc2: unreachable",
        next_offsets=None,
        workers=(
            worker(
                last_heartbeat_at=NOW - 2,
                partitions=(ReportedPartition("orders", 0, 1, 1, 0, 0.0),),
            ),
        ),
    )
    h = assess_flow(f, SLO, NOW)
    assert (h.heartbeat_age.value, h.heartbeat_age.basis) == (2.0, "runtime")
    assert h.heartbeat_age.verdict is Verdict.UNKNOWN
    assert "last heartbeat 2 s ago by the runtime's report only" in h.problems
    far = facts(heartbeat_ms=None, target_error="x", workers=(worker(last_heartbeat_at=NOW - 99),))
    assert assess_flow(far, SLO, NOW).heartbeat_age.verdict is Verdict.BREACH
    assert "cluster dc2: unreachable" in h.heartbeat_age.note


def test_an_old_or_missing_checkpoint_is_yellow_but_does_not_fail() -> None:
    old = assess_flow(facts(checkpoint_ms=int((NOW - 3600) * 1000)), SLO, NOW)
    assert old.checkpoint_age.verdict is Verdict.UNKNOWN and old.within_slo
    assert "idle" in old.checkpoint_age.note
    none = assess_flow(facts(checkpoint_ms=None), SLO, NOW)
    assert none.checkpoint_age.value is None and none.within_slo
    assert none.checkpoint_age.verdict is Verdict.INFO
    assert "no group" in none.checkpoint_age.note


def test_throughput_between_refreshes_or_over_the_uptime() -> None:
    now = [worker(records=1000, updated_at=NOW)]
    avg = throughput(now, None, "running")
    assert avg.value == 10.0 and avg.note == "average since the workers started"
    prev = [worker(records=800, updated_at=NOW - 2)]
    delta = throughput(now, prev, "running")
    assert delta.value == 100.0 and delta.note == "since the last refresh"
    # a restarted worker (another start) is not compared with the one before it
    restarted = [worker(records=800, updated_at=NOW - 2, started_at=NOW - 500)]
    assert throughput(now, restarted, "running").note == "average since the workers started"
    assert throughput(now, None, "stopped").value is None


def record(frm: str, to: str, state: str, **kw: Any) -> dict[str, Any]:
    return {
        "format_version": 1,
        "kind": "failover",
        "topology": "default",
        "from": frm,
        "to": to,
        "state": state,
        "mode": "unplanned",
        "started_at": "2024-05-01T10:00:00Z",
        "finished_at": "2024-05-01T10:00:07Z" if state != "in-progress" else None,
        "by": "ops@host",
        "fence": {"cluster": frm, "state": "applied", "acls": [{}, {}]},
        **kw,
    }


def test_failovers_in_effect_are_merged_over_clusters_and_mark_their_flow() -> None:
    done = record("dc1", "dc2", "done")
    stale = record("dc1", "dc2", "in-progress")
    other_topology = {**record("dc3", "dc4", "done"), "topology": "other"}
    views = merge_failovers(
        "default",
        {
            "dc2": {"default/dc1->dc2": done},
            "dc1": {"default/dc1->dc2": stale, "other/dc3->dc4": other_topology},
        },
    )
    [v] = views
    assert (v.state, v.seen_on, v.in_effect, v.fenced) == ("done", ("dc1", "dc2"), True, True)
    assert (v.fence_cluster, v.fence_acls) == ("dc1", 2)
    back = record("dc1", "dc2", "failed-back", updated_at="2024-05-02T00:00:00Z")
    back["fence"] = {"cluster": "dc1", "state": "lifted", "acls": []}
    [b] = merge_failovers("default", {"dc2": {"default/dc1->dc2": done}, "dc1": {"k": back}})[1:]
    assert not b.in_effect and not b.fenced

    topology = Topology(
        1,
        {"dc1": Cluster("dc1", "x:1"), "dc2": Cluster("dc2", "x:2")},
        flows=(FLOW,),
        slo=SLO,
    )
    report = assess(
        topology,
        [facts(state="stopped")],
        {"dc2": {"default/dc1->dc2": done}},
        {"dc1": "cluster dc1: unreachable"},
        NOW,
    )
    assert [f.key for f in report.failovers] == ["default/dc1->dc2"]
    assert [f.fence_cluster for f in report.fenced] == ["dc1"]
    assert report.clusters == {"dc1": "cluster dc1: unreachable", "dc2": ""}
    [flow] = report.flows
    assert flow.failovers == report.failovers
    assert any("stopped on purpose" in n and "failback --to dc1" in n for n in flow.notes)
    assert not report.within_slo


def test_the_report_passes_only_with_flows_all_within() -> None:
    topology = Topology(1, {"dc1": Cluster("dc1", "x:1"), "dc2": Cluster("dc2", "x:2")}, slo=SLO)
    assert assess(topology, [facts()], {}, {}, NOW).within_slo
    assert not assess(topology, [], {}, {}, NOW).within_slo
    assert not assess(topology, [facts(), facts(state="failed")], {}, {}, NOW).within_slo
