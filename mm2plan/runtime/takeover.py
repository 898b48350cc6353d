"""Where to start a partition no progress record covers: after what MM2 (or an earlier copy)
already wrote, read from MM2's offset syncs and the target's end, so nothing is copied twice.

An offset sync says the record at upstream U was written downstream at D. If the remote
partition ends at E > D, the E - D - 1 records after D are the ones after U, so copying resumes
at U + (E - D). On a source partition without offset gaps that is exact; where the source has
gaps after U (compaction, transaction markers) it lands earlier than the true position, so some
records are copied again: never lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mm2plan.runtime.records import OffsetSync, RecordFormatError


@dataclass(frozen=True, slots=True)
class Start:
    offset: int | None
    """None: the source partition's beginning."""
    why: str


def last_syncs(
    records: list[tuple[bytes | None, bytes | None]],
) -> dict[tuple[str, int], OffsetSync]:
    """The newest sync per source partition, from an offset-syncs topic read in order."""
    out: dict[tuple[str, int], OffsetSync] = {}
    for key, value in records:
        if key is None or value is None:
            continue
        try:
            sync = OffsetSync.parse(key, value)
        except RecordFormatError:
            continue
        out[(sync.topic, sync.partition)] = sync
    return out


def start_after(sync: OffsetSync | None, target_end: int) -> Start:
    """The first source offset to copy into a remote partition that ends at `target_end`."""
    if target_end <= 0:
        return Start(None, "the remote partition is empty: copying from the source's start")
    if sync is None:
        return Start(
            None,
            f"the remote partition already holds records (ends at {target_end}) and no "
            "progress or offset sync says which: copying from the source's start "
            "(records already there are copied again)",
        )
    if target_end <= sync.downstream_offset:
        return Start(
            sync.upstream_offset,
            f"offset sync {sync.upstream_offset}->{sync.downstream_offset} is past the remote "
            f"partition's end {target_end} (records lost on the target?): resuming at the sync",
        )
    nxt = sync.upstream_offset + (target_end - sync.downstream_offset)
    return Start(
        nxt,
        f"taking over: offset sync {sync.upstream_offset}->{sync.downstream_offset} and the "
        f"remote end {target_end} put the next record at source offset {nxt}",
    )


def starts(
    syncs: Mapping[tuple[str, int], OffsetSync], ends: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], Start]:
    """Per source partition (topic, partition) -> Start, `ends` keyed the same way (the end
    offset of its remote partition)."""
    return {tp: start_after(syncs.get(tp), end) for tp, end in ends.items()}
