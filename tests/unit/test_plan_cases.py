"""Golden plan cases: `tests/cases/<name>/topology.yaml` + recorded `live.json` -> the expected
`plan.txt` (human view, with diagnostics) and `plan.json`. Every appliable case is then applied
to in-memory clusters, and the replan must be empty (idempotence).

MM2PLAN_UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.core.model import Topology
from mm2plan.core.resources import LiveState
from mm2plan.execution.apply import Applier, ApplyRefused, check_applicable
from mm2plan.execution.live import read_live
from mm2plan.planning.planner import make_plan
from mm2plan.topology.loader import load_text
from mm2plan.views.diagnostics import render_text
from mm2plan.views.plan import render_human

CASES = Path(__file__).parents[1] / "cases"
PLAN_CASES = sorted(p.parent for p in CASES.glob("*/live.json"))
UPDATE = os.environ.get("MM2PLAN_UPDATE_GOLDEN") == "1"


def load_case(case: Path) -> tuple[Topology, LiveState]:
    result = load_text((case / "topology.yaml").read_text(), "topology.yaml")
    assert result.topology is not None, list(result.diagnostics)
    assert not result.diagnostics.has_errors(), list(result.diagnostics)
    return result.topology, LiveState.from_json(json.loads((case / "live.json").read_text()))


def check_golden(path: Path, got: str) -> None:
    if UPDATE:
        path.write_text(got)
    assert got == path.read_text()


def test_there_are_plan_cases() -> None:
    assert len(PLAN_CASES) >= 11


@pytest.mark.parametrize("case", PLAN_CASES, ids=lambda p: p.name)
def test_plan_golden(case: Path) -> None:
    topology, live = load_case(case)
    plan = make_plan(topology, live)
    text = render_text(list(plan.diagnostics), lambda f: None).plain + render_human(plan).plain
    check_golden(case / "plan.txt", text)
    check_golden(case / "plan.json", json.dumps(plan.to_json(), indent=2) + "\n")


@pytest.mark.parametrize("case", PLAN_CASES, ids=lambda p: p.name)
def test_apply_then_replan_is_empty(case: Path) -> None:
    topology, live = load_case(case)
    plan = make_plan(topology, live)
    if plan.has_errors:  # conflicting-topic, partition-decrease: apply must refuse, untouched
        with pytest.raises(ApplyRefused, match="the plan has errors"):
            check_applicable(plan, allow_destroy=True)
        return
    clusters = {a: MemoryCluster.from_live(c) for a, c in live.clusters.items()}
    for alias in topology.clusters:
        clusters.setdefault(alias, MemoryCluster(alias))
    admins = {a: MemoryAdmin(c) for a, c in clusters.items() if a in topology.clusters}
    report = Applier(admins, owner=topology.name).run(plan.effective)
    assert report.complete, [(r.change.address, r.detail) for r in report.results]
    replan = make_plan(topology, read_live(admins))
    assert [(c.address, c.action.value, c.before, c.after) for c in replan.effective] == []
