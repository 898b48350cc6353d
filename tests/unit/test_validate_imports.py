"""`validate` of a valid, prefixing topology imports only what it uses: not networkx (only
cycles under identity naming and `dependents` need it), not jsonschema (only an invalid file
needs its explanations), nothing that talks to Kafka, plans or runs the lab."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
NOT_FOR_VALIDATE = (
    "networkx",
    "jsonschema",
    "confluent_kafka",
    "rich.progress",
    "mm2plan.planning",
    "mm2plan.execution",
    "mm2plan.lab",
    "mm2plan.adapters",
)


def imported_by(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return set(out.split())


def test_validating_a_valid_file_imports_none_of_the_rest() -> None:
    modules = imported_by(
        "from mm2plan.topology.validate import validate_file\n"
        "assert validate_file('examples/active-passive.yaml').valid"
    )
    assert "mm2plan.core.graph" in modules
    assert sorted(m for m in modules if m.startswith(NOT_FOR_VALIDATE)) == []


def test_identity_cycles_still_find_networkx() -> None:
    modules = imported_by(
        "from mm2plan.topology.validate import validate_file\n"
        "assert not validate_file('tests/cases/identity-ring-cycle/topology.yaml').valid"
    )
    assert "networkx" in modules
