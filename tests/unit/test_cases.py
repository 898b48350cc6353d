"""Golden cases: `tests/cases/<name>/topology.yaml` and the expected `diagnostics.txt`.

Set MM2PLAN_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, then
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mm2plan.topology.validate import validate_file

CASES = Path(__file__).parents[1] / "cases"
DIAG_CASES = sorted(p.parent for p in CASES.glob("*/diagnostics.txt"))
UPDATE = os.environ.get("MM2PLAN_UPDATE_GOLDEN") == "1"


def render(case: Path) -> str:
    topology = case / "topology.yaml"
    result = validate_file(str(topology))
    lines = []
    for d in result.diagnostics.sorted():
        where = f"{d.source.line}:{d.source.column}" if d.source else "-"
        lines.append(f"{where} {d.severity.value} {d.code}: {d.message}")
        if d.hint:
            lines.append(f"    hint: {d.hint}")
    return "".join(line + "\n" for line in lines)


def test_there_are_cases() -> None:
    assert len(DIAG_CASES) >= 10


@pytest.mark.parametrize("case", DIAG_CASES, ids=lambda p: p.name)
def test_diagnostics_golden(case: Path) -> None:
    got = render(case)
    expected_file = case / "diagnostics.txt"
    if UPDATE:
        expected_file.write_text(got)
    assert got == expected_file.read_text()
