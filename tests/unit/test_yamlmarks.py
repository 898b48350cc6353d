"""The event-stream YAML builder against PyYAML's own composer: same values, same positions."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mm2plan.core.model import join_path
from mm2plan.topology.yamlmarks import load_yaml


def composed_marks(text: str) -> dict[str, tuple[int, int]]:
    """Path -> (line, column) from PyYAML's node tree: a mapping entry at its key, an item at
    itself, as the validator reports them."""
    out: dict[str, tuple[int, int]] = {}

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = join_path(path, str(yaml.safe_load(yaml.serialize(key))))
                out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = join_path(path, i)
                out[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                walk(item, child)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        out[""] = (root.start_mark.line + 1, root.start_mark.column + 1)
        walk(root, "")
    return out


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "yes",
            "off",
            "~",
            "0x1f",
            "010",
            "1_000",
            "2001-12-14",
            "1e3",
            "-.inf",
            "nullable",
            "offset",
        ]
    ),
)
_docs = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8).filter(lambda k: k != "<<"), inner, max_size=4),
    ),
    max_leaves=25,
)
"""Documents without merge keys (`<<`), which the builder applies its own way (test_loader)."""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs, st.sampled_from([None, True, False]))
def test_values_and_marks_match_pyyaml(doc: Any, flow_style: bool | None) -> None:
    text = yaml.safe_dump(doc, default_flow_style=flow_style)
    loaded = load_yaml(text, "t.yaml")
    assert loaded.diagnostics == []
    assert loaded.value == yaml.safe_load(text)
    got = {path: (m.line, m.column) for path, m in loaded.marks.items()}
    assert got == composed_marks(text)


def test_repeated_plain_scalars_keep_their_types() -> None:
    """Plain scalars are resolved once per text; quoted ones stay strings."""
    text = "a: [3, '3', 3, yes, 'yes', yes, ~, x3, 3.5]\n"
    assert load_yaml(text, "t").value == yaml.safe_load(text)
