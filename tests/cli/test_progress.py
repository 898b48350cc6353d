"""Progress while clusters are read: on a terminal's stderr only, never in piped output."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.cli import Env, app
from mm2plan.core.model import Cluster

EXAMPLE = Path(__file__).parents[2] / "examples" / "active-passive.yaml"


def _plan(err_is_terminal: bool) -> tuple[int, str, str]:
    clusters: dict[str, MemoryCluster] = {}

    def factory(cluster: Cluster) -> MemoryAdmin:
        return MemoryAdmin(clusters.setdefault(cluster.alias, MemoryCluster(cluster.alias)))

    out, err = io.StringIO(), io.StringIO()
    env = Env(
        out=Console(file=out, width=100, color_system=None),
        err=Console(file=err, width=100, force_terminal=err_is_terminal),
        admin_factory=factory,
        stdin_isatty=lambda: False,
    )
    result = CliRunner().invoke(app, ["plan", str(EXAMPLE)], obj=env)
    return result.exit_code, out.getvalue(), err.getvalue()


def test_a_terminal_sees_the_clusters_being_read() -> None:
    code, out, err = _plan(err_is_terminal=True)
    assert code == 0
    assert "Reading dc1, dc2" in err
    assert "Reading" not in out


def test_piped_stderr_gets_no_progress() -> None:
    code, _, err = _plan(err_is_terminal=False)
    assert code == 0
    assert "Reading" not in err
