"""The one wait loop: stops when done, returns the last result at the deadline, backs off."""

from __future__ import annotations

import time

import pytest

from mm2plan.core.polling import poll


def test_returns_as_soon_as_done() -> None:
    calls = iter(range(10))
    assert poll(lambda: next(calls), lambda n: n == 3, timeout_s=5) == 3


def test_returns_the_last_result_at_the_deadline() -> None:
    started = time.monotonic()
    result = poll(lambda: "pending", lambda r: r == "done", timeout_s=0.2)
    assert result == "pending"
    assert time.monotonic() - started >= 0.2


def test_pauses_grow_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    def sleep(s: float) -> None:
        pauses.append(s)
        clock[0] += s

    monkeypatch.setattr(time, "sleep", sleep)
    poll(lambda: 0, lambda _: False, timeout_s=2.0, first_s=0.1, max_s=0.4)
    assert pauses[:4] == [0.1, 0.2, 0.4, 0.4]
    assert sum(pauses) == pytest.approx(2.0)  # never past the deadline


def test_probe_errors_propagate() -> None:
    def boom() -> int:
        raise RuntimeError("dead")

    with pytest.raises(RuntimeError, match="dead"):
        poll(boom, lambda _: True, timeout_s=1)
