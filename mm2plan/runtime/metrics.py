"""Prometheus metrics of the bundled runtime, built from the workers' ProcessReports.

A custom collector reads the status directories at each scrape: the workers stay free of any
metrics code and of a registry shared across processes, and a scrape shows exactly what
`mm2plan runtime status` shows. Counters count since a worker started (a restarted worker
starts again from 0, which Prometheus' rate() treats as a counter reset). The names and their
meaning are documented in docs/runtime.md (METRICS below is the one list).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from mm2plan.runtime.status import PartitionReport, ProcessReport
from mm2plan.runtime.statusdir import read_reports

PREFIX = "mm2plan_replication_"
FRESH_S = 30.0
"""A running worker whose report is older than this is not counted as up."""

PARTITION_LABELS = ("topology", "flow", "topic", "partition", "remote_topic")
WORKER_LABELS = ("topology", "flow", "share")

_PARTITION: Sequence[tuple[str, str, str, Callable[[PartitionReport], float]]] = (
    ("records", "counter", "records copied to the target and acknowledged", lambda p: p.records),
    ("bytes", "counter", "value bytes produced to the target", lambda p: p.bytes),
    (
        "latency_seconds",
        "gauge",
        "source record timestamp to its acknowledgement by the target, last batch",
        lambda p: p.latency_ms / 1000,
    ),
    (
        "lag_seconds",
        "gauge",
        "age of the oldest source record the target has not acknowledged (0: caught up)",
        lambda p: p.lag_seconds,
    ),
    (
        "lag_records",
        "gauge",
        "source records not yet acknowledged by the target (end offset - next offset)",
        lambda p: p.lag_records,
    ),
    ("next_offset", "gauge", "next source offset to copy", lambda p: p.next_offset),
    ("end_offset", "gauge", "source partition end offset when last read", lambda p: p.end_offset),
    (
        "partition_failed",
        "gauge",
        "1 when the partition stopped on a record the target refused",
        lambda p: 1.0 if p.failed else 0.0,
    ),
)

_WORKER_AGES: Sequence[tuple[str, str, Callable[[ProcessReport], float]]] = (
    (
        "checkpoint_age_seconds",
        "since the worker last wrote checkpoints",
        lambda r: r.last_checkpoint_at,
    ),
    (
        "heartbeat_age_seconds",
        "since the worker last wrote a heartbeat",
        lambda r: r.last_heartbeat_at,
    ),
    (
        "offset_sync_age_seconds",
        "since the worker last wrote an offset sync",
        lambda r: r.last_offset_sync_at,
    ),
    ("report_age_seconds", "since the worker last reported", lambda r: r.updated_at),
)

UP_HELP = "1 while the worker runs and reports"
SKIPPED_HELP = "records not copied because their provenance holds the target"

METRICS: Sequence[tuple[str, str, str, Sequence[str]]] = (
    *(
        (PREFIX + n + ("_total" if t == "counter" else ""), t, h, PARTITION_LABELS)
        for n, t, h, _ in _PARTITION
    ),
    *((PREFIX + n, "gauge", "seconds " + h, WORKER_LABELS) for n, h, _ in _WORKER_AGES),
    (PREFIX + "worker_up", "gauge", UP_HELP, WORKER_LABELS),
    (PREFIX + "skipped_loops_total", "counter", SKIPPED_HELP, WORKER_LABELS),
)
"""(name as scraped, type, help, labels): what docs/runtime.md lists."""


class ReportCollector(Collector):
    """Reads the reports under `status_dirs` (a callable: the directories may change)."""

    def __init__(
        self,
        status_dirs: Callable[[], Iterable[Path]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.status_dirs = status_dirs
        self.clock = clock

    def reports(self) -> list[ProcessReport]:
        seen: dict[tuple[str, str, int], ProcessReport] = {}
        for d in self.status_dirs():
            for r in read_reports(d):
                seen[(r.topology, r.flow, r.share)] = r
        return list(seen.values())

    def collect(self) -> Iterator[Metric]:
        reports = self.reports()
        now = self.clock()
        for name, kind, doc, value in _PARTITION:
            family: CounterMetricFamily | GaugeMetricFamily
            if kind == "counter":
                family = CounterMetricFamily(PREFIX + name, doc, labels=PARTITION_LABELS)
            else:
                family = GaugeMetricFamily(PREFIX + name, doc, labels=PARTITION_LABELS)
            for r in reports:
                for p in r.partitions:
                    labels = [r.topology, r.flow, p.topic, str(p.partition), p.remote_topic]
                    family.add_metric(labels, float(value(p)))
            yield family
        for name, doc, at in _WORKER_AGES:
            gauge = GaugeMetricFamily(PREFIX + name, "seconds " + doc, labels=WORKER_LABELS)
            for r in reports:
                if at(r) > 0:
                    gauge.add_metric(_worker(r), max(0.0, now - at(r)))
            yield gauge
        up = GaugeMetricFamily(PREFIX + "worker_up", UP_HELP, labels=WORKER_LABELS)
        skipped = CounterMetricFamily(PREFIX + "skipped_loops", SKIPPED_HELP, labels=WORKER_LABELS)
        for r in reports:
            running = r.state == "running" and now - r.updated_at <= FRESH_S
            up.add_metric(_worker(r), 1.0 if running else 0.0)
            skipped.add_metric(_worker(r), float(r.skipped_loops))
        yield up
        yield skipped


def _worker(r: ProcessReport) -> list[str]:
    return [r.topology, r.flow, str(r.share)]


def registry_for(status_dirs: Callable[[], Iterable[Path]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(status_dirs))
    return registry


class MetricsServer:
    """`/metrics` over HTTP on a thread; port 0 picks a free port (`port` says which)."""

    def __init__(self, status_dirs: Callable[[], Iterable[Path]], port: int, host: str) -> None:
        self._server, self._thread = start_http_server(port, host, registry_for(status_dirs))
        self.host = host
        self.port = int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
