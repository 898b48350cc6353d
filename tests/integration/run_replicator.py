"""Runs one flow of a topology with the bundled Replicator until SIGTERM or SIGINT: the process
the fault tests kill -9 and restart (until `mm2plan replicate` exists, this is the foreground
runner they use).

    python run_replicator.py TOPOLOGY.yaml [FLOW_INDEX] [REPORT.json]

Each report the replicator publishes is written (atomically) to REPORT.json when given.
SIGUSR1 dumps every thread's stack to stderr (a hung replicator says where it is).
Exit 0 after a clean stop, 1 when the flow cannot run (the reason on stderr).
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from mm2plan.runtime.config import flow_config
from mm2plan.runtime.replicator import Replicator
from mm2plan.runtime.status import ProcessReport
from mm2plan.topology.loader import load_file


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID`: every thread's stack, to the log
    path = Path(argv[1])
    index = int(argv[2]) if len(argv) > 2 else 0
    report_path = Path(argv[3]) if len(argv) > 3 else None
    loaded = load_file(path)
    if loaded.topology is None:
        print(f"{path}: not a valid topology: {loaded.diagnostics}", file=sys.stderr)
        return 1
    topology = loaded.topology
    cfg = flow_config(topology, topology.flows[index])
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def report(r: ProcessReport) -> None:
        if report_path is None:
            return
        tmp = report_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(r.to_json()))
        tmp.replace(report_path)

    Replicator(cfg, share=0, shares=1, report=report).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
