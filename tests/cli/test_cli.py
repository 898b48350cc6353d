"""The CLI through typer's runner, with an injected Env: stdout, stderr and exit codes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mm2plan import __version__
from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster, MemoryEngine
from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.model import Cluster
from mm2plan.core.resources import LiveState

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
SECRET = "hunter2-do-not-print"


class Captured:
    def __init__(
        self, clusters: dict[str, MemoryCluster] | None = None, tty: bool = False, answer: str = ""
    ) -> None:
        self.clusters = clusters if clusters is not None else {}
        self.engine = MemoryEngine()
        self.out = Console(file=io.StringIO(), record=True, width=100, color_system=None)
        self.err = Console(file=io.StringIO(), record=True, width=100, color_system=None)
        self.env = Env(
            out=self.out,
            err=self.err,
            admin_factory=self.factory,
            stdin_isatty=lambda: tty,
            read_line=lambda: answer + "\n",
            engine_factory=lambda _topology: self.engine,
        )

    def factory(self, cluster: Cluster) -> MemoryAdmin:
        return MemoryAdmin(self.clusters.setdefault(cluster.alias, MemoryCluster(cluster.alias)))

    def run(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args), obj=self.env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        out = self.out.export_text() + result.stdout
        return result.exit_code, out, self.err.export_text()


def test_version() -> None:
    code, out, _ = Captured().run("--version")
    assert code == 0 and __version__ in out


def test_help_has_examples() -> None:
    for cmd in ("validate", "graph", "plan", "apply", "destroy"):
        code, out, _ = Captured().run(cmd, "--help")
        assert code == 0 and "Examples:" in out, cmd


def test_usage_error_exits_64() -> None:
    code, _, _ = Captured().run("validate", "--format", "xml")
    assert code == ExitCode.USAGE
    code, _, _ = Captured().run("no-such-command")
    assert code == ExitCode.USAGE


def test_validate_valid_example() -> None:
    code, _, err = Captured().run("validate", str(EXAMPLES / "active-passive.yaml"))
    assert code == 0 and "is valid" in err


def test_validate_points_at_the_line(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text(
        "version: 1\nclusters:\n  dc1: {bootstrap_servers: a, topics: {o: {}}}\n"
        "flows:\n  - {source: dc1, target: dcX}\n"
    )
    code, _, err = Captured().run("validate", str(p))
    assert code == ExitCode.ERROR
    assert "error[unknown-cluster]" in err
    assert f"--> {p}:5:19" in err
    assert "5 |   - {source: dc1, target: dcX}" in err
    assert re.search(r"\| +\^", err)


def test_validate_json_format() -> None:
    code, out, _ = Captured().run(
        "validate", "-f", "json", str(EXAMPLES / "invalid" / "identity-active-active.yaml")
    )
    doc = json.loads(out)
    assert code == 1
    assert doc["format_version"] == "1" and doc["valid"] is False
    assert doc["error_count"] >= 1
    d = doc["diagnostics"][0]
    assert set(d) == {"severity", "code", "message", "hint", "file", "line", "column", "path"}
    assert d["code"] == "replication-cycle"


def test_validate_github_format() -> None:
    path = str(EXAMPLES / "invalid" / "unknown-cluster.yaml")
    code, out, _ = Captured().run("validate", "--format", "github", path)
    assert code == 1
    assert re.search(
        r"^::error file=.*unknown-cluster\.yaml,line=\d+,col=\d+,"
        r"title=unknown-cluster::",
        out,
        re.MULTILINE,
    )


def test_strict_fails_on_warnings() -> None:
    path = str(ROOT / "tests" / "cases" / "isolated-cluster" / "topology.yaml")
    assert Captured().run("validate", path)[0] == 0
    assert Captured().run("validate", "--strict", path)[0] == 1


def test_validate_many_files_for_pre_commit() -> None:
    files = [str(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    code, _, err = Captured().run("validate", *files)
    assert code == 0 and f"{len(files)} files is valid" in err


def test_validate_missing_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = Captured().run("validate")
    assert code == 1 and "file-not-found" in err and "mm2plan.yaml" in err


@pytest.mark.parametrize("fmt", ["text", "dot", "mermaid", "json"])
def test_graph_formats(fmt: str) -> None:
    code, out, _ = Captured().run(
        "graph", str(EXAMPLES / "active-passive.yaml"), "-f", fmt, "--topics"
    )
    assert code == 0
    assert "dc1.orders" in out


def test_graph_topics_shows_origins() -> None:
    code, out, _ = Captured().run("graph", str(EXAMPLES / "active-passive.yaml"), "--topics")
    assert code == 0
    assert "dc1.orders <- dc1:orders" in out


def test_graph_refuses_invalid_topology() -> None:
    code, _, err = Captured().run("graph", str(EXAMPLES / "invalid" / "self-replication.yaml"))
    assert code == 1 and "self-replication" in err


SANDBOX = f"""version: 1
defaults: {{replication_factor: 1}}
clusters:
  dc1:
    bootstrap_servers: "127.0.0.1:1"
    config: {{sasl.password: "{SECRET}"}}
    topics: {{orders: {{partitions: 3, config: {{retention.ms: "1000"}}}}}}
  dc2: {{bootstrap_servers: "127.0.0.1:2"}}
flows:
  - {{source: dc1, target: dc2, topics: [orders]}}
"""


@pytest.fixture
def topo(tmp_path: Path) -> Path:
    p = tmp_path / "mm2plan.yaml"
    p.write_text(SANDBOX)
    return p


def test_plan_apply_replan(topo: Path) -> None:
    cap = Captured()
    code, out, _ = cap.run("plan", str(topo), "--detailed-exitcode")
    assert code == ExitCode.CHANGES
    assert '+ topic topic["dc1.orders"]' in out or 'dc2.topic["dc1.orders"]' in out
    assert "Plan: " in out and "to add" in out
    code, out, _ = cap.run("apply", str(topo), "--auto-approve")
    assert code == 0, out
    assert "Apply complete" in out
    code, out, _ = cap.run("plan", str(topo), "--detailed-exitcode")
    assert code == 0 and "No changes" in out


def test_apply_without_tty_or_approval_refuses(topo: Path) -> None:
    cap = Captured(tty=False)
    code, _, err = cap.run("apply", str(topo))
    assert code == ExitCode.ERROR and "--auto-approve" in err
    assert set(cap.clusters["dc1"].topics) <= {"__mm2plan.state"}  # only the bookkeeping topic


def test_apply_asks_yes_on_a_tty(topo: Path) -> None:
    assert Captured(tty=True, answer="no").run("apply", str(topo))[0] == 1
    cap = Captured(tty=True, answer="yes")
    assert cap.run("apply", str(topo))[0] == 0
    assert "orders" in cap.clusters["dc1"].topics


def test_saved_plan_applies_and_stale_plan_is_refused(topo: Path, tmp_path: Path) -> None:
    cap = Captured()
    planfile = tmp_path / "p.plan"
    assert cap.run("plan", str(topo), "-o", str(planfile))[0] == 0
    cap.clusters["dc1"].topics.clear()  # someone changed the cluster meanwhile
    cap.run("apply", str(topo), "--auto-approve")
    code, _, err = cap.run("apply", str(planfile))
    assert code == 1 and "stale" in err
    assert cap.run("plan", str(topo), "-o", str(planfile))[0] == 0
    code, out, _ = cap.run("apply", str(planfile))
    assert code == 0 and "No changes" in out


def test_saved_plan_applies_on_fresh_clusters(topo: Path, tmp_path: Path) -> None:
    """Taking the lock creates mm2plan's own topics; that must not make the plan stale."""
    cap = Captured()
    planfile = tmp_path / "first.plan"
    assert cap.run("plan", str(topo), "-o", str(planfile))[0] == 0
    code, out, err = cap.run("apply", str(planfile))
    assert code == 0, out + err
    assert cap.run("plan", str(topo), "--detailed-exitcode")[0] == 0


def test_partial_apply_exits_3_and_rerun_finishes(topo: Path) -> None:
    cap = Captured()
    cap.run("plan", str(topo))
    cap.clusters["dc1"].fail_topics.add("orders")
    code, out, _ = cap.run("apply", str(topo), "--auto-approve")
    assert code == ExitCode.PARTIAL
    assert re.search(r'dc2\.topic\["dc1\.orders"\]: create skipped', out)
    assert "PARTLY DONE" in out
    cap.clusters["dc1"].fail_topics.clear()
    assert cap.run("apply", str(topo), "--auto-approve")[0] == 0
    assert cap.run("plan", str(topo), "--detailed-exitcode")[0] == 0


def test_concurrent_apply_is_refused_and_lock_can_be_broken(topo: Path) -> None:
    cap = Captured()
    cap.run("plan", str(topo))
    cap.clusters["dc2"].lock = {"host": "elsewhere", "pid": 1}
    code, _, err = cap.run("apply", str(topo), "--auto-approve")
    assert code == 1 and "lock" in err and "--force-unlock" in err
    assert "orders" not in cap.clusters["dc1"].topics
    assert cap.run("apply", str(topo), "--auto-approve", "--force-unlock")[0] == 0
    assert cap.clusters["dc2"].lock is None


def test_unreachable_cluster_is_one_clear_error(topo: Path) -> None:
    cap = Captured()
    cap.run("plan", str(topo))
    cap.clusters["dc2"].unreachable = True
    code, out, err = cap.run("plan", str(topo))
    assert code == 1 and "cluster dc2" in err and "bootstrap" in err
    assert "Traceback" not in out + err


def test_destroy_needs_typed_confirmation(topo: Path) -> None:
    cap = Captured()
    cap.run("apply", str(topo), "--auto-approve")
    assert cap.run("destroy", str(topo))[0] == 1
    assert "orders" in cap.clusters["dc1"].topics
    cap.env.stdin_isatty = lambda: True
    cap.env.read_line = lambda: "destroy\n"
    code, out, _ = cap.run("destroy", str(topo))
    assert code == 0, out
    assert "orders" not in cap.clusters["dc1"].topics
    assert "dc1.orders" not in cap.clusters["dc2"].topics


def test_removed_topic_needs_allow_destroy(topo: Path) -> None:
    cap = Captured()
    cap.run("apply", str(topo), "--auto-approve")
    topo.write_text(SANDBOX.replace("topics: [orders]", "topics: [nothing]"))
    code, _, err = cap.run("apply", str(topo), "--auto-approve")
    assert code == 1 and "--allow-destroy" in err
    assert "dc1.orders" in cap.clusters["dc2"].topics
    assert cap.run("apply", str(topo), "--auto-approve", "--allow-destroy")[0] == 0
    assert "dc1.orders" not in cap.clusters["dc2"].topics


def test_secrets_never_printed(topo: Path, tmp_path: Path) -> None:
    cap = Captured()
    planfile = tmp_path / "p.plan"
    outputs = []
    for args in (
        ("validate", str(topo)),
        ("validate", "-f", "json", str(topo)),
        ("plan", str(topo)),
        ("plan", "--json", str(topo)),
        ("plan", str(topo), "-o", str(planfile)),
        ("apply", str(topo), "--auto-approve"),
        ("graph", str(topo), "-f", "json"),
    ):
        _, out, err = cap.run(*args)
        outputs.append(out + err)
    outputs.append(planfile.read_text())
    for rec in cap.clusters["dc1"].owned.values():
        outputs.append(json.dumps(rec))
    for text in outputs:
        assert SECRET not in text


def test_target_plans_an_address_and_what_it_depends_on(topo: Path, tmp_path: Path) -> None:
    cap = Captured()
    code, out, _ = cap.run("plan", str(topo), "--json", "--target", 'dc2.topic["dc1.orders"]')
    assert code == 0
    addresses = {c["address"] for c in json.loads(out)["changes"]}
    assert addresses == {'dc2.topic["dc1.orders"]', 'dc1.topic["orders"]'}
    planfile = tmp_path / "t.plan"
    assert (
        cap.run("plan", str(topo), "--target", 'dc2.topic["dc1.orders"]', "-o", str(planfile))[0]
        == 0
    )
    assert cap.run("apply", str(planfile))[0] == 0
    assert set(cap.clusters["dc2"].topics) == {"dc1.orders", "__mm2plan.state"}
    assert "heartbeats" not in cap.clusters["dc2"].topics  # outside the target: untouched


def test_plan_json_with_errors_says_on_stderr_that_it_cannot_be_applied(tmp_path: Path) -> None:
    case = ROOT / "tests" / "cases" / "plan-partition-decrease"
    live = LiveState.from_json(json.loads((case / "live.json").read_text()))
    clusters = {a: MemoryCluster.from_live(lc) for a, lc in live.clusters.items()}
    topology = tmp_path / "t.yaml"
    topology.write_text((case / "topology.yaml").read_text())
    code, out, err = Captured(clusters).run("plan", str(topology), "--json")
    assert code == ExitCode.ERROR
    assert json.loads(out)["diagnostics"][0]["code"] == "partition-decrease"
    assert "The plan cannot be applied: 1 error (partition-decrease)" in err


def test_an_error_after_ctrl_c_is_reported_as_the_interrupt(
    topo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """librdkafka turns a Ctrl-C while it builds a client into a config error: the command must
    still end as interrupted (130), not blame the cluster's config."""
    from mm2plan.cli import interrupts
    from mm2plan.ports.cluster import ClusterError

    def swallowed_ctrl_c(cluster: Cluster) -> MemoryAdmin:
        interrupts._seen.set()  # what the entry point's SIGINT handler records
        raise ClusterError(cluster.alias, "invalid client configuration: expected ...")

    monkeypatch.setattr(interrupts, "_seen", interrupts.threading.Event())
    cap = Captured()
    cap.env.admin_factory = swallowed_ctrl_c
    code, _, err = cap.run("plan", str(topo))
    assert code == ExitCode.INTERRUPTED
    assert "interrupted" in err and "invalid client configuration" not in err
