"""docs/topology.md is the topology file's reference: its tables must match the schema and the
property table in core.properties."""

from __future__ import annotations

import re
from pathlib import Path

from mm2plan.core.properties import RUNTIME_PROPERTIES
from mm2plan.topology.schema import topology_schema

DOC = (Path(__file__).parents[2] / "docs" / "topology.md").read_text()


def _section(title: str) -> str:
    return DOC.split(f"\n{title}\n", 1)[1].split("\n#", 1)[0]


def test_the_property_table_is_core_properties() -> None:
    rows = re.findall(
        r"^\| `([^`]+)` \| ([^|]+) \| `([^`]*)` \| (\w+) \|", _section("### MM2 properties"), re.M
    )
    assert [name for name, *_ in rows] == list(RUNTIME_PROPERTIES)
    for name, default, mm2_default, kind in rows:
        prop = RUNTIME_PROPERTIES[name]
        shown = default.strip()
        assert shown == (
            f"`{prop.default}`" if prop.default else "the topology's `replication_factor`"
        ), name
        assert (mm2_default, kind) == (prop.mm2_default, prop.kind), name


def test_every_flow_and_defaults_key_is_documented() -> None:
    defs = topology_schema()
    for title, keys in (
        ("## `flows[]`", defs["$defs"]["flow"]["properties"]),
        ("## `defaults`", defs["properties"]["defaults"]["properties"]),
    ):
        documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)?", _section(title), re.M))
        names = {n for pair in documented for n in pair if n}
        assert set(keys) <= names, (title, sorted(set(keys) - names))
