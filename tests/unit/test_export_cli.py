"""`mm2plan export` and `mm2plan import` through the CLI: streams, files, exit codes, and no
secret on any of them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.cli import Env, app
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.core.javaprops import parse

SECRET = "hunter2-do-not-print"
TOPOLOGY = f"""\
version: 1
clusters:
  dc1:
    bootstrap_servers: dc1:9092
    config:
      security.protocol: SASL_PLAINTEXT
      sasl.mechanism: SCRAM-SHA-512
      sasl.username: mirror
      sasl.password: {SECRET}
  dc2:
    bootstrap_servers: dc2:9092
flows:
  - source: dc1
    target: dc2
    topics: [orders]
"""


def run(*args: str) -> tuple[int, str, str]:
    out = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    err = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    result = CliRunner().invoke(app, list(args), obj=Env(out=out, err=err))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text() + result.stdout, err.export_text() + result.stderr


def topology_file(tmp_path: Path) -> Path:
    path = tmp_path / "mm2plan.yaml"
    path.write_text(TOPOLOGY)
    return path


def test_export_to_stdout_with_what_to_provide_on_stderr(tmp_path: Path) -> None:
    code, out, err = run("export", str(topology_file(tmp_path)), "--format", "mm2-properties")
    assert code == ExitCode.OK
    props = {e.key: e.value for e in parse(out)}
    assert props["dc1->dc2.topics"] == "orders"
    assert "${env:MM2PLAN_DC1_SASL_PASSWORD}" in props["dc1.sasl.jaas.config"]
    assert "invented-reference" in err and "mm2plan.yaml:9" in err
    assert "provide: ${env:MM2PLAN_DC1_SASL_PASSWORD}" in err
    assert SECRET not in out + err


def test_export_every_format_into_a_directory(tmp_path: Path) -> None:
    path = topology_file(tmp_path)
    for fmt, extra, files in (
        ("mm2-properties", [], ["mm2.properties"]),
        ("strimzi", ["--api-version", "v1beta2"], ["kafkamirrormaker2.yaml"]),
        (
            "connect-json",
            [],
            [
                "default.dc1-to-dc2.MirrorCheckpointConnector.json",
                "default.dc1-to-dc2.MirrorHeartbeatConnector.json",
                "default.dc1-to-dc2.MirrorSourceConnector.json",
            ],
        ),
    ):
        out_dir = tmp_path / fmt
        code, out, err = run("export", str(path), "-f", fmt, *extra, "--out", str(out_dir))
        assert code == ExitCode.OK, err
        assert sorted(p.name for p in out_dir.iterdir()) == files
        assert out == "" and all(f"wrote {out_dir / f}" in err for f in files)
        for f in out_dir.iterdir():
            assert SECRET not in f.read_text()
    kmm2 = yaml.safe_load((tmp_path / "strimzi" / "kafkamirrormaker2.yaml").read_text())
    assert kmm2["apiVersion"] == "kafka.strimzi.io/v1beta2"


def test_connect_json_on_stdout_is_one_object_by_connector_name(tmp_path: Path) -> None:
    code, out, _ = run("export", str(topology_file(tmp_path)), "-f", "connect-json")
    assert code == ExitCode.OK
    configs = json.loads(out)
    assert sorted(configs) == [
        "default.dc1->dc2.MirrorCheckpointConnector",
        "default.dc1->dc2.MirrorHeartbeatConnector",
        "default.dc1->dc2.MirrorSourceConnector",
    ]


def test_export_usage_and_invalid_topology(tmp_path: Path) -> None:
    path = topology_file(tmp_path)
    assert run("export", str(path))[0] == ExitCode.USAGE  # --format is required
    assert run("export", str(path), "-f", "xml")[0] == ExitCode.USAGE
    code, _, err = run("export", str(path), "-f", "connect-json", "--api-version", "v1")
    assert code == ExitCode.USAGE and "strimzi" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nclusters: {dc1: {bootstrap_servers: x:1}}\n"
        "flows: [{source: dc1, target: nope}]\n"
    )
    code, out, err = run("export", str(bad), "-f", "strimzi")
    assert code == ExitCode.ERROR and out == "" and "unknown-cluster" in err
    assert "Examples:" in run("export", "--help")[1]


def test_import_writes_the_topology_and_reports_at_file_line(tmp_path: Path) -> None:
    props = tmp_path / "mm2.properties"
    props.write_text(
        "clusters = a, b\n"
        "a.bootstrap.servers = a:9092\n"
        "b.bootstrap.servers = b:9092\n"
        "a.sasl.mechanism = PLAIN\n"
        "a.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
        f'required username="u" password="{SECRET}";\n'
        "a->b.enabled = true\n"
        "a->b.unknown.thing = 1\n"
        "b->a.enabled = false\n"
        "b->a.emit.heartbeats.enabled = false\n"
    )
    out_file = tmp_path / "mm2plan.yaml"
    code, out, err = run("import", str(props), "-o", str(out_file))
    assert code == ExitCode.OK, err
    assert f"{props}:7:1" in err and "a->b.unknown.thing" in err
    assert f"{props}:5:1" in err and "MM2PLAN_A_SASL_PASSWORD" in err
    assert SECRET not in out + err + out_file.read_text()
    assert "(sensitive)" in err  # the excerpt of line 5 is masked
    assert run("validate", str(out_file))[0] == ExitCode.OK
    code, _, err = run("import", str(props), "-o", str(out_file))
    assert code == ExitCode.ERROR and "--force" in err
    assert run("import", str(props), "-o", str(out_file), "--force")[0] == ExitCode.OK
    code, out, _ = run("import", str(props), "--name", "dr")
    assert code == ExitCode.OK and yaml.safe_load(out)["name"] == "dr"


def test_import_of_a_file_that_is_not_mm2s(tmp_path: Path) -> None:
    other = tmp_path / "worker.properties"
    other.write_text("bootstrap.servers = x:9092\n")
    code, out, err = run("import", str(other))
    assert code == ExitCode.ERROR and out == "" and "mm2-config" in err
    code, _, err = run("import", str(tmp_path / "missing.properties"))
    assert code == ExitCode.ERROR and "file-not-found" in err
