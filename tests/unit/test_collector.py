"""The cycle collector is off while clusters are read and a plan is made (objects by the hundred
thousand, no cycles), and back on afterwards; pauses nest."""

from __future__ import annotations

import gc

from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.core.collector import collector_paused
from mm2plan.core.resources import LiveCluster
from mm2plan.execution.live import read_live
from mm2plan.ports.cluster import DataScope


class Recording(MemoryAdmin):
    seen: list[bool]

    def read_state(self, data: DataScope = "all") -> LiveCluster:
        self.seen.append(gc.isenabled())
        return super().read_state(data)


def test_reading_runs_without_the_collector_and_restores_it() -> None:
    admin = Recording(MemoryCluster("dc1"))
    admin.seen = []
    assert gc.isenabled()
    read_live({"dc1": admin})
    assert admin.seen == [False]
    assert gc.isenabled()


def test_pauses_nest() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
