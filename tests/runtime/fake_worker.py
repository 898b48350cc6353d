"""The real worker (mm2plan.runtime.worker) around a fake Replicator that fails on demand.

The supervisor, engine and replicate tests run it as their worker: everything but the copying
is the real code. MM2PLAN_FAKE says what the fake does:

- `run` (default): reports running (one partition, a record more each report) until stopped;
- `fatal`: raises ReplicatorError at once (a flow that cannot run as configured);
- `crash`: prints a line and dies with exit code 3;
- `crash-N`: crashes on its first N starts (counted in MM2PLAN_FAKE_COUNTER), then runs;
- `hang`: reports running and never stops (the supervisor must kill it).

Each start appends `<time> <pid>` to MM2PLAN_FAKE_STARTS when set.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mm2plan.runtime.status import PartitionReport, ProcessReport


class ReplicatorError(Exception):
    pass


def _starts() -> int:
    counter = os.environ.get("MM2PLAN_FAKE_COUNTER")
    if not counter:
        return 1
    path = Path(counter)
    n = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(n))
    return n


class Replicator:
    def __init__(
        self,
        config: Any,
        share: int = 0,
        shares: int = 1,
        report: Callable[[ProcessReport], None] | None = None,
    ) -> None:
        self.report = ProcessReport(
            config.topology, config.name, share, shares, "starting", pid=os.getpid()
        )
        self.report.started_at = time.time()
        self.report_cb = report or (lambda r: None)

    def _publish(self, state: str, records: int) -> None:
        r = self.report
        r.state, r.updated_at, r.records, r.bytes = state, time.time(), records, records * 10
        r.last_heartbeat_at = r.last_checkpoint_at = r.updated_at
        r.partitions = [
            PartitionReport(
                "orders", 0, "dc1.orders", records, records + 2, records, records * 10, 2, 0.5, 3.0
            )
        ]
        self.report_cb(r)

    def run(self, stop: threading.Event) -> None:
        if starts := os.environ.get("MM2PLAN_FAKE_STARTS"):
            with open(starts, "a") as f:
                f.write(f"{time.time()} {os.getpid()}\n")
        mode = os.environ.get("MM2PLAN_FAKE", "run")
        n = _starts()
        if mode == "fatal":
            raise ReplicatorError("not authorized to write dc1.orders: add the replicator's ACLs")
        if mode == "crash" or (mode.startswith("crash-") and n <= int(mode.split("-")[1])):
            print(f"boom: deterministic crash on start {n}", file=sys.stderr, flush=True)
            os._exit(3)
        records = 0
        while mode == "hang" or not stop.is_set():
            records += 1
            self._publish("running", records)
            time.sleep(0.2)
        self._publish("stopped", records)


fake = types.ModuleType("mm2plan.runtime.replicator")
fake.Replicator = Replicator  # type: ignore[attr-defined]
fake.ReplicatorError = ReplicatorError  # type: ignore[attr-defined]
sys.modules["mm2plan.runtime.replicator"] = fake

from mm2plan.runtime.worker import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
