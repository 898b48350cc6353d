"""The README's tables are the documentation users read: they must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from mm2plan.cli.exit_codes import ExitCode

README = (Path(__file__).parents[2] / "README.md").read_text()


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_exit_code_table_matches_the_enum() -> None:
    rows = re.findall(r"^\| (\d+) \| ([A-Z_]+) \|", _section("Exit codes"), re.MULTILINE)
    assert {(int(code), name) for code, name in rows} == {(e.value, e.name) for e in ExitCode}


def test_every_diagnostic_code_is_documented() -> None:
    documented = set(re.findall(r"`([a-z][a-z-]+)`", _section("Diagnostics")))
    src = Path(__file__).parents[2] / "mm2plan"
    used = set()
    for path in src.rglob("*.py"):
        text = path.read_text()
        used |= set(
            re.findall(r'(?<![\w.])(?:error|warning|error_text)\(\s*"([a-z][a-z-]+)"', text)
        )
        used |= set(re.findall(r'code="([a-z][a-z-]+)"', text))
    assert used, "no diagnostic codes found"
    assert used <= documented, sorted(used - documented)
