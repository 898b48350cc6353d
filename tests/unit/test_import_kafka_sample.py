"""Apache Kafka's own `config/connect-mirror-maker.properties` (tests/data/kafka, with its
origin) imports into a topology that `mm2plan validate` accepts and that runs what MM2 would."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mm2plan.cli import app
from mm2plan.planning.desired import effective_properties
from mm2plan.topology.importer import import_properties
from mm2plan.topology.validate import validate_file

SAMPLE = Path(__file__).parents[1] / "data" / "kafka" / "connect-mirror-maker.properties"


def test_kafkas_sample_imports_into_a_valid_topology(tmp_path: Path) -> None:
    out = tmp_path / "mm2plan.yaml"
    result = CliRunner().invoke(app, ["import", str(SAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    checked = validate_file(str(out))
    assert checked.valid, [d.message for d in checked.diagnostics]
    t = checked.topology
    assert t is not None
    assert {a: c.bootstrap_servers for a, c in t.clusters.items()} == {
        "A": "A_host1:9092,A_host2:9092,A_host3:9092",
        "B": "B_host1:9092,B_host2:9092,B_host3:9092",
    }
    assert [(f.name, f.enabled, f.topics) for f in t.flows] == [
        ("A->B", True, (".*",)),
        ("B->A", True, (".*",)),
    ]
    assert t.defaults.replication_policy == "default" and t.defaults.separator == "."
    assert t.defaults.replication_factor == 1
    for f in t.flows:
        props = effective_properties(t, f)
        assert f.sync_group_offsets is False  # MM2's default, as the file runs
        assert props["refresh.topics.interval.seconds"] == "600"
        assert props["heartbeats.topic.replication.factor"] == "1"


def test_the_one_thing_it_cannot_say_is_reported_at_its_line() -> None:
    result = import_properties(SAMPLE.read_text(), str(SAMPLE))
    assert [(d.code, d.source.line if d.source else None) for d in result.diagnostics] == [
        ("not-representable", 21)  # `clusters = A, B`: MM2 would sync topic ACLs
    ]
    assert "sync.topic.acls.enabled" in result.diagnostics[0].message
