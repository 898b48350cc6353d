"""`mm2plan replicate` and `mm2plan runtime status|stop|logs` through typer's runner, and what
`plan` shows of flows that do not run as recorded. Flows started here run real supervisors
around a fake replicator (tests/runtime/fake_worker.py)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster, MemoryEngine
from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.model import Cluster
from mm2plan.ports.replication import FlowKey, FlowSpec, FlowState, FlowStatus
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
KEY = FlowKey("default", "dc1", "dc2")


def run(
    *args: str, engine: MemoryEngine | None = None, clusters: dict[str, MemoryCluster] | None = None
) -> tuple[int, str, str]:
    out = Console(file=io.StringIO(), record=True, width=140, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=140, color_system=None)
    known = clusters if clusters is not None else {}

    def factory(cluster: Cluster) -> MemoryAdmin:
        return MemoryAdmin(known.setdefault(cluster.alias, MemoryCluster(cluster.alias)))

    env = Env(
        out=out,
        err=err,
        admin_factory=factory,
        stdin_isatty=lambda: False,
        engine_factory=lambda _t: engine or MemoryEngine(),
    )
    result = CliRunner().invoke(app, list(args), obj=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + result.stdout, err.export_text()


@pytest.fixture
def topo(tmp_path: Path) -> Path:
    p = tmp_path / "mm2plan.yaml"
    p.write_text(TOPOLOGY)
    return p


@pytest.fixture
def started(topo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BundledEngine]:
    monkeypatch.setenv("MM2PLAN_FAKE", "run")
    engine = BundledEngine(topo, command=(sys.executable, str(FAKE_MM2PLAN), "replicate"))
    engine.start(FlowSpec(KEY, {"source": "dc1", "target": "dc2"}))
    yield engine
    engine.stop(KEY)


def test_help_has_examples() -> None:
    for cmd in (["replicate"], ["runtime", "status"], ["runtime", "stop"], ["runtime", "logs"]):
        code, out, _ = run(*cmd, "--help")
        assert code == 0 and "Examples:" in out, cmd
    code, out, _ = run("runtime", "--help")
    assert code == 0 and all(c in out for c in ("status", "stop", "logs"))


def test_status_of_a_flow_never_started_is_absent_and_exits_1(topo: Path) -> None:
    code, out, _ = run("runtime", "status", str(topo))
    assert code == ExitCode.ERROR and "dc1->dc2" in out and "absent" in out
    code, out, _ = run("runtime", "status", str(topo), "--json")
    doc = json.loads(out)
    assert code == 1 and doc["format_version"] == "1" and doc["running"] is False
    assert doc["flows"][0]["state"] == "absent" and doc["flows"][0]["pid"] is None


def test_status_stop_and_logs_of_a_running_flow(topo: Path, started: BundledEngine) -> None:
    code, out, _ = run("runtime", "status", str(topo), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["running"] is True, out
    [flow] = doc["flows"]
    assert flow["state"] == "running" and flow["pid"] == started.inspect(KEY).supervisor.pid  # type: ignore[union-attr]
    assert flow["partitions"] == 1 and flow["workers"][0]["format_version"] == 1
    code, out, _ = run("runtime", "status", str(topo))
    assert code == 0 and "running" in out and "partitions" in out

    code, out, _ = run("runtime", "logs", str(topo), "-n", "50")
    assert code == 0 and "dc1->dc2: worker started" in out
    code, out, _ = run("runtime", "logs", str(topo), "-n", "1")
    assert code == 0 and len(out.strip().splitlines()) == 1

    code, out, _ = run("runtime", "stop", str(topo))
    assert code == 0 and "dc1->dc2: stopped" in out
    assert started.describe(KEY).state is FlowState.STOPPED
    code, out, _ = run("runtime", "status", str(topo))
    assert code == 1 and "stopped" in out
    code, out, _ = run("runtime", "stop", str(topo), "--flow", "dc1->dc2")
    assert code == 0 and "dc1->dc2: was not running" in out


def test_unknown_flows_are_named_with_a_suggestion(topo: Path) -> None:
    code, _, err = run("runtime", "stop", str(topo), "--flow", "dc1->dc3")
    assert code == 1 and "no flow dc1->dc3" in err and "did you mean 'dc1->dc2'?" in err
    code, _, err = run("replicate", str(topo), "--flow", "dc1->dc3")
    assert code == 1 and "error[unknown-flow]" in err and "did you mean 'dc1->dc2'?" in err


def test_connect_topologies_are_not_run_here_unless_named(topo: Path) -> None:
    topo.write_text(TOPOLOGY + "runtime: {engine: connect}\n")
    code, _, err = run("replicate", str(topo))
    assert code == 1 and "run on connect (runtime.engine)" in err and "--flow" in err
    code, _, err = run("runtime", "status", str(topo))
    assert code == 1 and "not on the bundled runtime" in err


def test_plan_shows_flows_that_do_not_run_as_recorded(topo: Path) -> None:
    engine = MemoryEngine()
    clusters: dict[str, MemoryCluster] = {}
    assert run("apply", str(topo), "--auto-approve", engine=engine, clusters=clusters)[0] == 0
    assert run("plan", str(topo), "--detailed-exitcode", engine=engine, clusters=clusters)[0] == 0
    settings = engine.flows[KEY].settings
    engine.flows[KEY] = FlowStatus(
        KEY, FlowState.FAILED, settings, "TOPIC_AUTHORIZATION_FAILED: dc1.orders"
    )
    code, out, _ = run("plan", str(topo), "--detailed-exitcode", engine=engine, clusters=clusters)
    assert code == ExitCode.CHANGES
    assert (
        'dc2.replication["dc1->dc2"] will be updated in-place (flow is failed: '
        "TOPIC_AUTHORIZATION_FAILED: dc1.orders; apply restarts it)"
    ) in out
    assert "{" not in out.split("restarts it)")[1].split("Plan:")[0]  # nothing to diff
    code, out, _ = run("apply", str(topo), "--auto-approve", engine=engine, clusters=clusters)
    assert code == 0 and 'dc2.replication["dc1->dc2"]: update applied' in out
    assert engine.calls[-1] == ("update", KEY)
    assert run("plan", str(topo), "--detailed-exitcode", engine=engine, clusters=clusters)[0] == 0
