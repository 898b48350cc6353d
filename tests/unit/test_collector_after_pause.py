"""After a pause the collector does not scan, at once, everything the pause allocated."""

from __future__ import annotations

import gc

from mm2plan.core.collector import collector_paused


def test_what_the_pause_made_is_not_left_in_the_youngest_generation() -> None:
    with collector_paused():
        kept = [[i] for i in range(50_000)]
    young, _, _ = gc.get_count()
    assert young < 1_000  # it would be ~50,000, all collected by the next allocation
    assert len(kept) == 50_000 and gc.isenabled()
