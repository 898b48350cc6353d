"""`python -m mm2plan.runtime.worker`: one share of one flow, in a process of its own.

`mm2plan replicate` (the supervisor) starts one worker per share. A worker is told only where the
topology file is and which flow and share it runs: it loads the file and resolves the flow's
secrets itself, from its own environment, so no secret crosses a pipe or a file. It speaks to
its supervisor through its exit code and its ProcessReport file (runtime.statusdir):

- exit 0 (`EXIT_STOPPED`): asked to stop (SIGTERM or SIGINT); what the target acknowledged is
  recorded as progress;
- exit 78 (`EXIT_FATAL`, sysexits' EX_CONFIG): the flow cannot run as configured (an invalid
  topology, an unresolvable secret, a ReplicatorError such as a missing ACL); its report says
  `failed` and why; the supervisor retries with backoff, since the cause is often fixed outside;
- anything else (an uncaught exception, a signal): a crash, which the supervisor reports.

A worker whose supervisor dies (kill -9) stops by itself within a second: it is never left
copying with nobody to watch it while a new supervisor starts another copy of it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from mm2plan.core.model import Flow, Topology
from mm2plan.runtime.config import ConfigError, FlowConfig, flow_config
from mm2plan.runtime.replicator import Replicator, ReplicatorError
from mm2plan.runtime.status import ProcessReport
from mm2plan.runtime.statusdir import report_path, write_report
from mm2plan.runtime.supervise import EXIT_FATAL
from mm2plan.topology.validate import validate_file

EXIT_STOPPED = 0

log = logging.getLogger("mm2plan.worker")


def find_flow(topology: Topology, name: str) -> Flow | None:
    return next((f for f in topology.flows if f.name == name), None)


def load_config(topology_file: Path, flow_name: str) -> FlowConfig:
    """The flow's FlowConfig from the file as it is now; ConfigError says what to fix."""
    checked = validate_file(str(topology_file))
    topology = checked.topology
    if topology is None or not checked.valid:
        raise ConfigError(
            f"{topology_file} is not a valid topology: see `mm2plan validate {topology_file}`"
        )
    flow = find_flow(topology, flow_name)
    if flow is None:
        raise ConfigError(f"flow {flow_name} is not in {topology_file}")
    if not flow.enabled:
        raise ConfigError(f"flow {flow_name} is disabled in {topology_file}")
    return flow_config(topology, flow)


def run_share(
    topology_file: Path,
    flow_name: str,
    share: int,
    shares: int,
    status_dir: Path,
    stop: threading.Event,
) -> int:
    """Runs until `stop`; returns the exit code (module docstring)."""
    path = report_path(status_dir, flow_name, share)
    started = time.time()

    def fatal(topology: str, reason: str) -> int:
        log.error("%s", reason)
        report = ProcessReport(topology, flow_name, share, shares, "failed", reason, os.getpid())
        report.started_at, report.updated_at = started, time.time()
        write_report(path, report)
        return EXIT_FATAL

    try:
        config = load_config(topology_file, flow_name)
    except ConfigError as exc:
        return fatal("", str(exc))
    log.info("copying share %d of %d", share, shares)
    try:
        Replicator(config, share, shares, lambda r: write_report(path, r)).run(stop)
    except ReplicatorError as exc:
        return fatal(config.topology, str(exc))
    log.info("stopped")
    return EXIT_STOPPED


def watch_parent(stop: threading.Event, interval_s: float = 1.0) -> threading.Thread:
    """Stop when the supervisor is gone (this process was handed to another parent)."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(interval_s):
            if os.getppid() != parent:
                log.warning("the supervisor (pid %d) is gone: stopping", parent)
                stop.set()

    thread = threading.Thread(target=watch, name="watch-parent", daemon=True)
    thread.start()
    return thread


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mm2plan.runtime.worker",
        description="One share of one flow (started by `mm2plan replicate`, not by hand).",
    )
    p.add_argument("--topology", required=True, type=Path, help="the topology file")
    p.add_argument("--flow", required=True, help="source->target")
    p.add_argument("--share", type=int, default=0)
    p.add_argument("--shares", type=int, default=1)
    p.add_argument("--status-dir", required=True, type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    watch_parent(stop)
    return run_share(args.topology, args.flow, args.share, args.shares, args.status_dir, stop)


if __name__ == "__main__":
    sys.exit(main())
