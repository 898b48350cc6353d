"""`mm2plan plan` builds the topology graph once: validate's graph is the planner's, and live
topics the flows would copy are added to it rather than built into another."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.cli import Env, app
from mm2plan.core.graph import TopologyGraph
from mm2plan.core.model import Cluster
from mm2plan.core.resources import LiveTopic

TOPOLOGY = """version: 1
defaults: {replication_factor: 1}
clusters:
  dc1: {bootstrap_servers: "dc1:9092", topics: {orders: {partitions: 2}}}
  dc2: {bootstrap_servers: "dc2:9092"}
flows:
  - {source: dc1, target: dc2, topics: [".*"]}
"""


def test_plan_builds_the_graph_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    init = TopologyGraph.__init__

    def counting(self: TopologyGraph, *args: Any, **kwargs: Any) -> None:
        builds.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(TopologyGraph, "__init__", counting)
    path = tmp_path / "mm2plan.yaml"
    path.write_text(TOPOLOGY)
    dc1 = MemoryCluster("dc1", {"undeclared": LiveTopic("undeclared", 1, 1)})
    clusters = {"dc1": dc1, "dc2": MemoryCluster("dc2")}

    def factory(cluster: Cluster) -> MemoryAdmin:
        return MemoryAdmin(clusters[cluster.alias])

    out = io.StringIO()
    env = Env(
        out=Console(file=out, width=100, color_system=None),
        err=Console(file=io.StringIO(), width=100, color_system=None),
        admin_factory=factory,
        stdin_isatty=lambda: False,
    )
    result = CliRunner().invoke(app, ["plan", str(path)], obj=env)
    assert result.exit_code == 0, result.output
    assert 'dc2.topic["dc1.undeclared"] will be created' in out.getvalue()
    assert len(builds) == 1
