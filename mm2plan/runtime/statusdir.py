"""Where the workers' ProcessReports live: one JSON file per worker, written whole or not at all.

A worker rewrites its file about once a second (temp file + rename, so a reader never sees half
a report); the supervisor writes it for a worker that died; the engine's `describe`,
`mm2plan runtime status` and the Prometheus endpoint read them. Each reader reads the files
again each time: the directory is the only channel, so no reader ever holds a worker's secrets.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from mm2plan.runtime.status import ProcessReport


def flow_dir_name(flow: str) -> str:
    """`dc1->dc2` as a file-name part: `dc1-dc2` (the state directories' spelling)."""
    return flow.replace("->", "-")


def report_path(status_dir: Path, flow: str, share: int) -> Path:
    return status_dir / f"{flow_dir_name(flow)}.{share}.json"


def write_json(path: Path, doc: object) -> None:
    """Atomically: a reader sees the old content or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


def write_report(path: Path, report: ProcessReport) -> None:
    write_json(path, report.to_json())


def read_report(path: Path) -> ProcessReport | None:
    """None when the file is missing or not a report (another version, or damaged)."""
    try:
        doc = json.loads(path.read_text())
        return ProcessReport.from_json(doc) if isinstance(doc, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def read_reports(status_dir: Path) -> list[ProcessReport]:
    """Every report in the directory, by flow and share."""
    try:
        paths = sorted(status_dir.glob("*.json"))
    except OSError:
        return []
    reports = [r for r in (read_report(p) for p in paths) if r is not None]
    return sorted(reports, key=lambda r: (r.topology, r.flow, r.share))


def clear_reports(status_dir: Path, flow: str) -> None:
    """A flow's reports from an earlier run: a new supervisor starts from none."""
    for path in status_dir.glob(f"{flow_dir_name(flow)}.*.json"):
        with contextlib.suppress(OSError):
            path.unlink()
