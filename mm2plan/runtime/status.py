"""What a running replicator says of itself: one snapshot per worker process, as JSON.

The replicator refreshes its snapshot every second or so; `mm2plan replicate` merges its
workers' snapshots, the bundled engine reads them for `describe` (running, failed and why),
`mm2plan runtime status` and `mm2plan status` show them, and the Prometheus endpoint exports
them. Plain data with a `format_version`, so a reader never imports the replicator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT_VERSION = 1


@dataclass(slots=True)
class PartitionReport:
    topic: str
    """The source topic."""
    partition: int
    remote_topic: str
    next_offset: int
    """The next source offset to copy: everything before it is acknowledged by the target."""
    end_offset: int
    """The source partition's end (high watermark) when last read."""
    records: int = 0
    """Copied since this process started."""
    bytes: int = 0
    lag_records: int = 0
    lag_seconds: float = 0.0
    """Age of the oldest source record not yet acknowledged by the target (0 when caught up)."""
    latency_ms: float = 0.0
    """Source timestamp to target acknowledgement, last batch."""
    failed: str = ""
    """Why this partition stopped (a record the target refused): never skipped silently."""


@dataclass(slots=True)
class ProcessReport:
    topology: str
    flow: str
    share: int
    shares: int
    state: str
    """starting | running | failed | stopped"""
    reason: str = ""
    pid: int = 0
    started_at: float = 0.0
    updated_at: float = 0.0
    last_heartbeat_at: float = 0.0
    last_checkpoint_at: float = 0.0
    last_offset_sync_at: float = 0.0
    records: int = 0
    bytes: int = 0
    skipped_loops: int = 0
    """Records not copied because their provenance already holds the target."""
    partitions: list[PartitionReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProcessReport:
        d = {k: v for k, v in d.items() if k != "format_version"}
        parts = [PartitionReport(**p) for p in d.pop("partitions", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known}, partitions=parts)
