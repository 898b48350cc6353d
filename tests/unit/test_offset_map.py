"""Exact translation: a group resumes downstream at the first record it had not read upstream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mm2plan.core.offsets import OffsetMap


def test_one_run_for_a_source_without_gaps() -> None:
    m = OffsetMap()
    for i in range(1000):
        m.record(100 + i, 7 + i)
    assert len(m.runs) == 1
    assert m.translate(100) == 7
    assert m.translate(600) == 507
    assert m.translate(1100) == 1007  # caught up: the downstream end
    assert m.translate(99) is None and m.translate(1101) is None


def test_gaps_resume_at_the_next_copied_record() -> None:
    m = OffsetMap()
    m.record(0, 0, 10)  # upstream 0-9 -> 0-9
    m.record(15, 10, 5)  # 10-14 were transaction markers: 15-19 -> 10-14
    assert m.translate(12) == 10
    assert m.translate(17) == 12
    assert m.window == (0, 20)


def test_the_window_slides_past_max_runs() -> None:
    m = OffsetMap(max_runs=2)
    m.record(0, 0)
    m.record(2, 1)
    m.record(4, 2)
    assert m.window == (2, 5)
    assert m.translate(0) is None and m.translate(4) == 2


def test_offsets_never_go_back() -> None:
    m = OffsetMap()
    m.record(10, 10, 5)
    with pytest.raises(ValueError, match="went back"):
        m.record(12, 20)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5)), min_size=1, max_size=40))
def test_translation_is_exact(steps: list[tuple[int, int]]) -> None:
    """Against a brute-force record list: resume at the downstream offset of the first copied
    record whose upstream offset is at least the group's next offset."""
    m = OffsetMap()
    copied: list[tuple[int, int]] = []
    up, down = 5, 0
    for gap, count in steps:
        up += gap
        m.record(up, down, count)
        copied += [(up + i, down + i) for i in range(count)]
        up, down = up + count, down + count
    for u in range(copied[0][0], up + 1):
        expected = next((d for cu, d in copied if cu >= u), down)
        assert m.translate(u) == expected, u
