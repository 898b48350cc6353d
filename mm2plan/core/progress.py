"""The bundled runtime's progress records, as bytes: per source partition of a flow, the next
offset to copy and the recent upstream -> downstream runs, in the compacted `__mm2plan.progress`
topic on the target. Pure, so failover and status read the same format the runtime writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mm2plan.core.offsets import OffsetMap, Run

FORMAT_VERSION = 1
RUNS_KEPT = 64
"""Runs written with each position: the exact window a restart keeps (a gapless source: one)."""


@dataclass(frozen=True, slots=True)
class Position:
    next_offset: int
    runs: tuple[tuple[int, int, int], ...] = ()

    def offset_map(self, max_runs: int) -> OffsetMap:
        m = OffsetMap(max_runs)
        for up, down, n in self.runs:
            m.record(up, down, n)
        return m


def progress_key(topology: str, flow: str, topic: str, partition: int) -> bytes:
    return f"{topology}/{flow}/{topic}/{partition}".encode()


def encode(next_offset: int, runs: Iterable[Run]) -> bytes:
    kept = list(runs)[-RUNS_KEPT:]
    doc = {
        "format_version": FORMAT_VERSION,
        "next": next_offset,
        "runs": [[r.upstream, r.downstream, r.length] for r in kept],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode(value: bytes | None) -> Position | None:
    if not value:
        return None
    try:
        doc: Any = json.loads(value)
        if doc.get("format_version") != FORMAT_VERSION:
            return None
        runs = tuple((int(u), int(d), int(n)) for u, d, n in doc.get("runs", []))
        return Position(int(doc["next"]), runs)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def apply_record(
    positions: dict[tuple[str, int], Position],
    topology: str,
    flow: str,
    key: bytes | None,
    value: bytes | None,
) -> None:
    """Fold one record of the progress topic into `positions` (the flow's, by source
    partition): a later record of a key replaces it, a tombstone or unreadable one removes it;
    other flows' records are left out. The inverse of `progress_key`/`encode`."""
    prefix = f"{topology}/{flow}/"
    name = (key or b"").decode(errors="replace")
    if not name.startswith(prefix):
        return
    topic, _, part = name[len(prefix) :].rpartition("/")
    pos = decode(value)
    if pos is None:
        positions.pop((topic, int(part)), None)
    else:
        positions[(topic, int(part))] = pos
