"""The Prometheus collector reads the workers' reports: every metric it serves is documented in
docs/runtime.md, with the values the reports hold."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mm2plan.runtime.metrics import METRICS, ReportCollector, registry_for
from mm2plan.runtime.status import PartitionReport, ProcessReport
from mm2plan.runtime.statusdir import report_path, write_report

DOC = (Path(__file__).parents[2] / "docs" / "runtime.md").read_text()
NOW = 1_000_000.0


def reports(tmp_path: Path) -> Path:
    status = tmp_path / "status"
    running = ProcessReport("t", "dc1->dc2", 0, 2, "running", pid=10, started_at=NOW - 100)
    running.updated_at, running.last_heartbeat_at, running.last_checkpoint_at = (
        NOW - 1,
        NOW - 3,
        NOW - 50,
    )
    running.skipped_loops = 4
    running.partitions = [
        PartitionReport("orders", 0, "dc1.orders", 90, 100, 90, 9000, 10, 2.5, 120.0),
        PartitionReport(
            "orders", 2, "dc1.orders", 5, 5, 5, 500, 0, 0.0, 8.0, failed="RECORD_TOO_LARGE"
        ),
    ]
    failed = ProcessReport("t", "dc1->dc2", 1, 2, "failed", "worker died", updated_at=NOW - 2)
    write_report(report_path(status, "dc1->dc2", 0), running)
    write_report(report_path(status, "dc1->dc2", 1), failed)
    return status


def samples(tmp_path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status = reports(tmp_path)
    collector = ReportCollector(lambda: [status], clock=lambda: NOW)
    out = {}
    for family in collector.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def part(n: int) -> tuple[tuple[str, str], ...]:
    labels = {"topology": "t", "flow": "dc1->dc2", "topic": "orders", "partition": str(n)}
    return tuple(sorted({**labels, "remote_topic": "dc1.orders"}.items()))


def worker(share: int) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"topology": "t", "flow": "dc1->dc2", "share": str(share)}.items()))


def test_partition_metrics_carry_the_reports_values(tmp_path: Path) -> None:
    s = samples(tmp_path)
    p = "mm2plan_replication_"
    assert s[(p + "records_total", part(0))] == 90
    assert s[(p + "bytes_total", part(0))] == 9000
    assert s[(p + "lag_records", part(0))] == 10
    assert s[(p + "lag_seconds", part(0))] == 2.5
    assert s[(p + "latency_seconds", part(0))] == 0.12
    assert s[(p + "next_offset", part(0))] == 90 and s[(p + "end_offset", part(0))] == 100
    assert s[(p + "partition_failed", part(0))] == 0 and s[(p + "partition_failed", part(2))] == 1


def test_worker_metrics_say_who_is_up_and_how_old_its_records_are(tmp_path: Path) -> None:
    s = samples(tmp_path)
    p = "mm2plan_replication_"
    assert s[(p + "worker_up", worker(0))] == 1 and s[(p + "worker_up", worker(1))] == 0
    assert s[(p + "heartbeat_age_seconds", worker(0))] == 3
    assert s[(p + "checkpoint_age_seconds", worker(0))] == 50
    assert s[(p + "report_age_seconds", worker(1))] == 2
    assert (p + "heartbeat_age_seconds", worker(1)) not in s  # never wrote one: no sample
    assert s[(p + "skipped_loops_total", worker(0))] == 4


def test_the_exposition_parses_and_every_name_is_documented(tmp_path: Path) -> None:
    status = reports(tmp_path)
    text = generate_latest(registry_for(lambda: [status])).decode()
    served = {f.name for f in text_string_to_metric_families(text)}
    listed = {re.sub(r"_total$", "", name) for name, _, _, _ in METRICS}
    assert served == listed
    for name, kind, _help, labels in METRICS:
        row = re.search(rf"^\| `{re.escape(name)}` \| {kind} \| `([^`]*)` \|", DOC, re.MULTILINE)
        assert row is not None, f"{name} is not in docs/runtime.md's metrics table"
        assert row.group(1) == ", ".join(labels), name
