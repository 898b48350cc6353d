"""`mm2plan status` through typer's runner, with fake clusters (the DR port) and a fake bundled
engine: the table and JSON carry the same figures, the exit code follows the SLO, an
unreachable cluster falls back to the runtime's report, the connect engine is "unknown", and
--watch refreshes until Ctrl-C."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.cli import Env, app
from mm2plan.cli import status as status_cli
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.model import Cluster, Topology
from mm2plan.core.progress import Position
from mm2plan.ports.cluster import ClusterError
from mm2plan.ports.dr import TimedCheckpoint
from mm2plan.ports.replication import FlowKey, FlowState, FlowStatus
from mm2plan.runtime.engine import BundledEngine, FlowRuntime
from mm2plan.runtime.status import PartitionReport, ProcessReport

TOPOLOGY = """version: 1
defaults: {replication_factor: 1}
clusters:
  dc1: {bootstrap_servers: "127.0.0.1:1", topics: {orders: {partitions: 2}}}
  dc2: {bootstrap_servers: "127.0.0.1:2"}
flows:
  - {source: dc1, target: dc2, topics: [orders]}
slo: {max_lag_records: 100, max_lag_seconds: 30}
"""


@dataclass
class FakeDr:
    """A DrCluster over dicts; `down` makes every call fail as an unreachable cluster would."""

    alias: str
    down: bool = False
    topics: list[str] = field(default_factory=list)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    beats: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    cps: dict[tuple[str, str, int], TimedCheckpoint] = field(default_factory=dict)
    timestamps: dict[tuple[str, int, int], int] = field(default_factory=dict)
    failovers: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise ClusterError(self.alias, "cannot reach bootstrap servers while connecting")

    def probe(self) -> None:
        self._check("probe")

    def topic_names(self) -> list[str]:
        self._check("topic_names")
        return list(self.topics)

    def end_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        self._check("end_offsets")
        return {tp: o for tp, o in self.ends.items() if tp[0] in topics}

    def progress(self, topology: str, flow: str) -> dict[tuple[str, int], Position]:
        self._check("progress")
        return {tp: Position(o) for tp, o in self.positions.items()}

    def heartbeats(self, topic: str) -> dict[tuple[str, str], int]:
        self._check(f"heartbeats {topic}")
        return dict(self.beats.get(topic, {}))

    def checkpoints(self, topic: str) -> dict[tuple[str, str, int], TimedCheckpoint]:
        self._check(f"checkpoints {topic}")
        return dict(self.cps)

    def record_timestamp(self, topic: str, partition: int, offset: int) -> int | None:
        self._check("record_timestamp")
        return self.timestamps.get((topic, partition, offset))

    def failover_records(self) -> dict[str, dict[str, Any]]:
        self._check("failover_records")
        return dict(self.failovers)

    def close(self) -> None:
        pass


class FakeEngine(BundledEngine):
    """The bundled engine's view, without processes: a fixed state and reports."""

    def __init__(self, path: Path, state: FlowState, reports: Sequence[ProcessReport]) -> None:
        super().__init__(path)
        self.state = state
        self.reports = list(reports)

    def inspect(self, key: FlowKey) -> FlowRuntime:
        status = FlowStatus(key, self.state, {})
        return FlowRuntime(status, Path("/nonexistent"), None, self.reports)


def report(records: int = 500, lag: int = 0, updated_ago: float = 1.0) -> ProcessReport:
    now = time.time()
    pending = 4.0 if lag else 0.0
    return ProcessReport(
        topology="default",
        flow="dc1->dc2",
        share=0,
        shares=1,
        state="running",
        started_at=now - 100,
        updated_at=now - updated_ago,
        last_heartbeat_at=now - 1,
        last_checkpoint_at=now - 2,
        records=records,
        partitions=[
            PartitionReport("orders", 0, "dc1.orders", 50 - lag, 50, records, 0, lag, pending),
            PartitionReport("orders", 1, "dc1.orders", 20, 20, 0),
        ],
    )


def clusters(lag: int = 0) -> dict[str, FakeDr]:
    now_ms = int(time.time() * 1000)
    dc1 = FakeDr(
        "dc1",
        topics=["orders", "other", "__consumer_offsets", "heartbeats"],
        ends={("orders", 0): 50, ("orders", 1): 20, ("other", 0): 9},
        timestamps={("orders", 0, 50 - lag): now_ms - 45_000},
    )
    dc2 = FakeDr(
        "dc2",
        positions={("orders", 0): 50 - lag, ("orders", 1): 20},
        beats={"heartbeats": {("dc1", "dc2"): now_ms - 1500}, "dc1.heartbeats": {}},
    )
    return {"dc1": dc1, "dc2": dc2}


def run(
    topo: Path,
    *args: str,
    fakes: Mapping[str, FakeDr],
    state: FlowState = FlowState.RUNNING,
    reports: Sequence[ProcessReport] = (),
    engine: Any = "fake",
) -> tuple[int, str, str]:
    out = Console(file=io.StringIO(), record=True, width=160, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=160, color_system=None)

    def engine_factory(t: Topology) -> Any:
        return FakeEngine(Path(t.file), state, reports) if engine == "fake" else engine

    def dr_factory(cluster: Cluster) -> Any:
        return fakes[cluster.alias]

    env = Env(
        out=out,
        err=err,
        stdin_isatty=lambda: False,
        engine_factory=engine_factory,
        dr_factory=dr_factory,
    )
    result = CliRunner().invoke(app, ["status", str(topo), *args], obj=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + result.stdout, err.export_text()


@pytest.fixture
def topo(tmp_path: Path) -> Path:
    p = tmp_path / "mm2plan.yaml"
    p.write_text(TOPOLOGY)
    return p


def test_help_has_examples_and_the_exit_codes() -> None:
    result = CliRunner().invoke(app, ["status", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and "Exit codes: 0" in result.stdout


def test_within_the_slo_exits_0_and_json_says_the_same(topo: Path) -> None:
    fakes = clusters()
    code, out, _ = run(topo, fakes=fakes, reports=[report()])
    assert code == ExitCode.OK, out
    assert "dc1->dc2" in out and "running" in out and "  orders " in out
    assert "1 flow running within the SLO (lag <= 100 records and 30 s)." in out
    assert "other" not in out.split("within")[0]  # the flow selects orders (and heartbeats)
    code, out, _ = run(topo, "--json", fakes=clusters(), reports=[report()])
    doc = json.loads(out)
    assert code == 0 and doc["format_version"] == 1 and doc["within_slo"]
    [flow] = doc["flows"]
    assert flow["state"] == "running" and flow["engine"] == "bundled"
    assert flow["lag_records"] == {"value": 0, "verdict": "ok", "basis": "kafka", "limit": 100}
    assert flow["heartbeat_age_s"]["verdict"] == "ok"
    assert 1 <= flow["heartbeat_age_s"]["value"] < 5
    assert flow["throughput"]["value"] == pytest.approx(5.05, abs=0.1)
    assert flow["throughput"]["note"] == "average since the workers started"
    assert [t["topic"] for t in flow["topics"]] == ["heartbeats", "orders"]
    assert doc["clusters"]["dc1"] == {"reachable": True, "error": None}


def test_lag_over_the_slo_exits_1_with_the_reason_and_partitions_with_v(topo: Path) -> None:
    fakes = clusters(lag=200)
    fakes["dc1"].ends[("orders", 0)] = 250
    fakes["dc2"].positions[("orders", 0)] = 50
    fakes["dc1"].timestamps = {("orders", 0, 50): int((time.time() - 45) * 1000)}
    code, out, _ = run(topo, "-v", fakes=fakes, reports=[report()])
    assert code == ExitCode.ERROR
    assert "1 of 1 flow outside the SLO" in out
    assert "lag 200 records > 100 (slo.max_lag_records)" in out
    assert "(slo.max_lag_seconds)" in out
    assert "orders -> dc1.orders" in out and "0: next 50 / end 250" in out
    doc = json.loads(run(topo, "--json", fakes=fakes, reports=[report()])[1])
    [flow] = doc["flows"]
    assert flow["lag_records"]["verdict"] == "breach" and not flow["within_slo"]
    orders = next(t for t in flow["topics"] if t["topic"] == "orders")
    assert orders["partitions"][0] == {
        "partition": 0,
        "next_offset": 50,
        "end_offset": 250,
        "lag_records": 200,
        "lag_seconds": pytest.approx(45, abs=2),
    }


def test_a_stopped_runtime_still_gets_its_lag_from_kafka(topo: Path) -> None:
    fakes = clusters(lag=5)
    code, out, _ = run(topo, "--json", fakes=fakes, state=FlowState.STOPPED)
    doc = json.loads(out)
    [flow] = doc["flows"]
    assert code == 1 and flow["state"] == "stopped" and flow["problems"][0] == "stopped"
    assert flow["lag_records"]["value"] == 5 and flow["lag_records"]["basis"] == "kafka"


def test_an_unreachable_source_uses_the_runtimes_last_report_and_says_so(topo: Path) -> None:
    fakes = clusters()
    fakes["dc1"].down = True
    code, out, _ = run(topo, fakes=fakes, reports=[report(lag=3, updated_ago=5)])
    # 3 records, ~9 s: within, but only by the report: the check cannot vouch for it
    assert code == ExitCode.ERROR, out
    assert "lag from the runtime's last report (5 s ago): cluster dc1: cannot reach" in out
    assert re.search(r"lag 3 records / [\d.]+ s by the runtime's last report only", out), out
    assert "dc1: not reachable" in out
    assert fakes["dc1"].calls == ["probe"]  # asked once, not again for each read
    doc = json.loads(run(topo, "--json", fakes=fakes, reports=[report(lag=3)])[1])
    lag = doc["flows"][0]["lag_records"]
    assert (lag["value"], lag["basis"], lag["verdict"]) == (3, "runtime", "unknown")
    assert doc["clusters"]["dc1"]["reachable"] is False


def test_both_unreachable_and_no_report_is_unknown_and_fails(topo: Path) -> None:
    fakes = clusters()
    fakes["dc1"].down = fakes["dc2"].down = True
    code, out, _ = run(topo, fakes=fakes, state=FlowState.ABSENT)
    assert code == ExitCode.ERROR
    assert "lag unknown" in out and "no heartbeat" in out


def test_the_connect_engine_says_unknown_not_supported(topo: Path) -> None:
    topo.write_text(TOPOLOGY + "runtime: {engine: connect}\n")
    code, out, _ = run(topo, "--json", fakes=clusters(), engine=None)
    [flow] = json.loads(out)["flows"]
    assert code == 1 and flow["engine"] == "connect" and flow["state"] == "unknown"
    assert flow["reason"] == "unknown (connect engine not yet supported)"
    assert flow["heartbeat_age_s"]["verdict"] == "ok"


def test_failovers_in_effect_and_fences_are_shown(topo: Path) -> None:
    fakes = clusters()
    rec = {
        "format_version": 1,
        "kind": "failover",
        "topology": "default",
        "from": "dc1",
        "to": "dc2",
        "state": "done",
        "mode": "unplanned",
        "started_at": "2024-05-01T10:00:00Z",
        "finished_at": "2024-05-01T10:00:07Z",
        "by": "ops@host",
        "fence": {"cluster": "dc1", "state": "pending", "acls": [{}]},
    }
    fakes["dc2"].failovers = {"default/dc1->dc2": rec}
    code, out, _ = run(topo, fakes=fakes, state=FlowState.STOPPED)
    assert code == 1
    assert "failover in effect: dc1 -> dc2, done, unplanned" in out
    assert "fenced: dc1 (pending, 1 ACL" in out
    assert "stopped on purpose until `mm2plan failback --to dc1`" in out
    doc = json.loads(run(topo, "--json", fakes=fakes, state=FlowState.STOPPED)[1])
    assert doc["failovers"][0]["key"] == "default/dc1->dc2"
    assert doc["fenced"] == [{"cluster": "dc1", "state": "pending", "failover": "default/dc1->dc2"}]


def test_watch_refreshes_until_ctrl_c_and_exits_with_the_last_code(
    topo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    naps: list[float] = []

    def nap(s: float) -> None:
        naps.append(s)
        if len(naps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(status_cli, "_sleep", nap)
    code, out, _ = run(
        topo, "--watch", "--json", "--interval", "1", fakes=clusters(), reports=[report()]
    )
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert code == 0 and len(lines) == 3 and naps == [1, 1, 1]
    # a later refresh measures throughput between two reports
    assert lines[1]["flows"][0]["throughput"]["note"] in (
        "since the last refresh",
        "average since the workers started",
    )
    naps.clear()
    code, out, _ = run(topo, "--watch", fakes=clusters(lag=500), reports=[report()])
    assert code == 1 and "outside the SLO" in out
