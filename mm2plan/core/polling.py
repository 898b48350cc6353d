"""Waiting for something to become true, against a deadline: the one loop every wait uses.

Kafka, KRaft and Connect apply changes a moment after they answer, and processes take time to
start and stop; each such wait polls with a growing pause and never sleeps past its deadline.
Two loops are not waits and keep their own shape: the Kafka adapter's connection probe (its
probe's own timeout grows, there is no pause) and its read of a whole topic (a consume loop
that ends at the high watermarks, with a deadline that moves with progress).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    timeout_s: float = 0.0,
    *,
    deadline: float | None = None,
    first_s: float = 0.02,
    max_s: float = 0.5,
) -> T:
    """Call `probe` until `done(result)` or the deadline (`time.monotonic()` based; default
    `timeout_s` from now), pausing `first_s`, then twice as long each time up to `max_s`.

    Returns the last result, done or not: whether "not yet" is an error is the caller's call.
    Exceptions from `probe` propagate (catch inside it what means "not ready yet").
    """
    end = time.monotonic() + timeout_s if deadline is None else deadline
    pause = first_s
    while True:
        result = probe()
        if done(result):
            return result
        remaining = end - time.monotonic()
        if remaining <= 0:
            return result
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, max_s)
