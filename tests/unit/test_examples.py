"""Every example is a validate case: valid ones pass clean, invalid ones fail with their code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mm2plan.topology.validate import validate_file

EXAMPLES = Path(__file__).parents[2] / "examples"
VALID = sorted(EXAMPLES.glob("*.yaml"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert len(VALID) >= 3
    assert len(INVALID) >= 10


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_has_no_diagnostics_but_the_warnings_it_names(path: Path) -> None:
    """`# warns: CODE ...` names the warnings a valid example shows on purpose."""
    warns = re.search(r"^# warns: (.+)$", path.read_text(), re.MULTILINE)
    expected = sorted(warns.group(1).split()) if warns else []
    result = validate_file(str(path))
    assert result.valid
    assert sorted(d.code for d in result.diagnostics) == expected, list(result.diagnostics)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails_with_its_code(path: Path) -> None:
    expected = re.search(r"^# expect: (\S+)", path.read_text(), re.MULTILINE)
    assert expected, f"{path} must say '# expect: CODE'"
    result = validate_file(str(path))
    assert not result.valid
    assert expected.group(1) in result.diagnostics.codes()
    for d in result.diagnostics:
        assert d.source is not None and d.source.file == str(path), d


@pytest.mark.parametrize("path", VALID + INVALID, ids=lambda p: p.name)
def test_examples_point_editors_at_the_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema = (path.parent / first.split("=", 1)[1]).resolve()
    assert schema.name == "topology.schema.json" and schema.exists()
