"""The CLI as a process: exit codes, Ctrl-C, and what it imports (README "Exit codes")."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.model import Cluster
from mm2plan.ports.cluster import ClusterAdmin, NewTopic, Results

ROOT = Path(__file__).parents[2]


def mm2plan(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """`python -m mm2plan` of this tree (cwd is the project root), without a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "mm2plan", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def topology(tmp_path: Path, bootstrap: str) -> Path:
    p = tmp_path / "mm2plan.yaml"
    p.write_text(
        f"""version: 1
defaults: {{replication_factor: 1}}
clusters:
  dc1: {{bootstrap_servers: "{bootstrap}", topics: {{orders: {{partitions: 1}}}}}}
  dc2: {{bootstrap_servers: "{bootstrap}"}}
flows:
  - {{source: dc1, target: dc2, topics: [orders]}}
"""
    )
    return p


def test_ctrl_c_during_a_cluster_read_exits_130_at_once(tmp_path: Path) -> None:
    """A broker that accepts the connection and never answers: `plan` blocks reading it (for
    15 s per try) until Ctrl-C, which must end it with 130 and one line, not a traceback."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        path = topology(tmp_path, f"127.0.0.1:{port}")
        proc = subprocess.Popen(
            [sys.executable, "-m", "mm2plan", "plan", str(path)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            silent.settimeout(60)
            conn, _ = silent.accept()  # the command is running: it is talking to the cluster
            with conn:
                proc.send_signal(signal.SIGINT)
                # Well under the 15 s the read would wait: Ctrl-C does not wait for it.
                out, err = proc.communicate(timeout=10)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.INTERRUPTED, (out, err)
    assert "interrupted" in err
    assert "Traceback" not in err + out


def test_ctrl_c_in_a_command_is_130_and_one_line() -> None:
    def interrupted(cluster: Cluster) -> ClusterAdmin:
        raise KeyboardInterrupt

    env = Env(admin_factory=interrupted, stdin_isatty=lambda: False)
    r = CliRunner().invoke(app, ["plan", str(ROOT / "examples" / "active-passive.yaml")], obj=env)
    assert r.exit_code == ExitCode.INTERRUPTED, r.output
    assert r.stderr.strip() == "interrupted"
    assert isinstance(r.exception, SystemExit)


def test_ctrl_c_during_apply_releases_the_lock(tmp_path: Path) -> None:
    clusters: dict[str, MemoryCluster] = {}
    locked: list[str] = []

    class Interrupted(MemoryAdmin):
        def acquire_lock(self, holder: Mapping[str, Any], force: bool = False) -> None:
            super().acquire_lock(holder, force)
            locked.append(self.alias)

        def create_topics(self, topics: Sequence[NewTopic]) -> Results:
            raise KeyboardInterrupt  # as if Ctrl-C landed while topics were being created

    def factory(cluster: Cluster) -> ClusterAdmin:
        return Interrupted(clusters.setdefault(cluster.alias, MemoryCluster(cluster.alias)))

    env = Env(admin_factory=factory, stdin_isatty=lambda: False)
    path = topology(tmp_path, "127.0.0.1:1")
    r = CliRunner().invoke(app, ["apply", str(path), "--auto-approve"], obj=env)
    assert r.exit_code == ExitCode.INTERRUPTED, r.output
    assert r.stderr.strip() == "interrupted"
    assert sorted(locked) == ["dc1", "dc2"]  # apply had taken the lock on both
    assert all(c.lock is None for c in clusters.values())


def test_usage_errors_exit_64_from_the_process(tmp_path: Path) -> None:
    for args in (
        ["--no-such-option"],
        ["no-such-command"],
        ["validate", "--format", "xml"],
        ["sandbox", "up", "--clusters", "a,a", "--dir", str(tmp_path / "sbx")],
        [],  # no command: help, and a usage error
    ):
        r = mm2plan(*args)
        assert r.returncode == ExitCode.USAGE, (args, r.stderr)
        assert "Usage:" in r.stderr and "Traceback" not in r.stderr, args
    r = mm2plan("validate", "--help")
    assert r.returncode == 0 and "Usage:" in r.stdout


def test_click_classes_are_not_patched() -> None:
    """64 comes from the root command, not from changing typer's (vendored) click classes."""
    usage_error = typer.BadParameter.__base__
    assert usage_error is not None and usage_error.__name__ == "UsageError"
    assert usage_error.exit_code == 2  # type: ignore[attr-defined]
    r = CliRunner().invoke(app, ["validate", "--format", "xml"])
    assert r.exit_code == ExitCode.USAGE
    assert usage_error.exit_code == 2  # type: ignore[attr-defined]


def test_runs_without_click_installed() -> None:
    """typer >= 0.26 vendors click and does not depend on it: neither does mm2plan."""
    code = (
        "import sys; sys.modules['click'] = None  # importing it now fails\n"
        "from mm2plan.cli import main; main(['validate', 'examples/active-passive.yaml'])"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr
    assert "is valid" in r.stderr
