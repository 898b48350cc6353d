"""Exact offset translation: which downstream offset a group should resume at, record for record.

MM2 keeps at most 64 exponentially spaced offset syncs per partition and translates a committed
upstream offset to the last sync's downstream offset + 1, so a failed-over group re-reads what
lies between. The bundled runtime knows where it wrote every record; runs of contiguous offsets
(upstream n, n+1, ... copied to downstream m, m+1, ...) make that cheap to keep: one run per
gap in the source (compaction, transaction markers) or restart, not one entry per record.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

DEFAULT_MAX_RUNS = 4096
"""Runs kept per partition: the window of exact translation. A source without gaps needs one."""


@dataclass(slots=True)
class Run:
    upstream: int
    downstream: int
    length: int

    @property
    def upstream_end(self) -> int:
        return self.upstream + self.length

    @property
    def downstream_end(self) -> int:
        return self.downstream + self.length


class OffsetMap:
    """One partition's upstream -> downstream mapping, oldest runs dropped past `max_runs`."""

    def __init__(self, max_runs: int = DEFAULT_MAX_RUNS) -> None:
        if max_runs < 1:
            raise ValueError("max_runs must be at least 1")
        self.max_runs = max_runs
        self.runs: deque[Run] = deque()

    def record(self, upstream: int, downstream: int, count: int = 1) -> None:
        """`count` records copied from `upstream`... to `downstream`...; offsets only grow."""
        if count < 1:
            return
        last = self.runs[-1] if self.runs else None
        if last is not None:
            if upstream < last.upstream_end or downstream < last.downstream_end:
                raise ValueError(
                    f"offsets went back: upstream {upstream} downstream {downstream} after "
                    f"{last.upstream_end - 1} -> {last.downstream_end - 1}"
                )
            if upstream == last.upstream_end and downstream == last.downstream_end:
                last.length += count
                return
        self.runs.append(Run(upstream, downstream, count))
        if len(self.runs) > self.max_runs:
            self.runs.popleft()

    @property
    def window(self) -> tuple[int, int] | None:
        """The upstream offsets translated exactly: [first copied, next not yet copied]."""
        if not self.runs:
            return None
        return self.runs[0].upstream, self.runs[-1].upstream_end

    def translate(self, upstream: int) -> int | None:
        """Where a group whose next upstream offset is `upstream` resumes downstream, so that it
        reads every record it had not read and none it had; None outside the window (before
        it: dropped or never seen; after it: not copied yet, so not translatable exactly)."""
        window = self.window
        if window is None or not window[0] <= upstream <= window[1]:
            return None
        if upstream == window[1]:
            return self.runs[-1].downstream_end
        starts = [r.upstream for r in self.runs]
        i = bisect_right(starts, upstream) - 1
        run = self.runs[i]
        if upstream < run.upstream_end:
            return run.downstream + (upstream - run.upstream)
        # In a gap of the source (offsets that held no record to copy): the next copied one.
        return self.runs[i + 1].downstream
