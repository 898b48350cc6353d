"""`mm2plan export`: the topology as MM2's own configs (dedicated mode, Strimzi, Connect)."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from mm2plan.cli.env import Env, env_of
from mm2plan.cli.output import fail, load_topology, show_diagnostics
from mm2plan.planning.export import Export, connect_json, mm2_properties, strimzi
from mm2plan.topology.loader import DEFAULT_FILE

EPILOG = """Examples:

  mm2plan export --format mm2-properties > mm2.properties

  mm2plan export prod.yaml --format strimzi --api-version v1beta2 --out k8s/

  mm2plan export --format connect-json --out connectors/

Secrets are references only: what to provide where MM2 runs is printed on stderr, and
warnings name what MM2's configs cannot say. Exit codes: 0 exported, 1 invalid topology
or unwritable output, 64 usage error."""


class ExportFormat(enum.StrEnum):
    mm2_properties = "mm2-properties"
    strimzi = "strimzi"
    connect_json = "connect-json"


class StrimziApi(enum.StrEnum):
    v1 = "v1"
    v1beta2 = "v1beta2"


def export(
    ctx: typer.Context,
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="mm2-properties: MM2 dedicated mode; strimzi: KafkaMirrorMaker2 resources; "
            "connect-json: one PUT /connectors/<name>/config body per connector.",
            show_default=False,
        ),
    ],
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    api_version: Annotated[
        StrimziApi | None,
        typer.Option(
            "--api-version",
            help="Strimzi API: v1 (Strimzi 0.49 and later, the default) or v1beta2 (older).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Directory to write the files to (default: stdout; connect-json prints one "
            "JSON object of every connector's config).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the topology's flows as MM2's own configs, secrets by reference.

    Reads only the topology: no cluster is contacted.
    """
    env = env_of(ctx)
    if api_version is not None and fmt is not ExportFormat.strimzi:
        raise typer.BadParameter(
            "only --format strimzi has API versions", param_hint="--api-version"
        )
    topology = load_topology(env, path)
    if fmt is ExportFormat.strimzi:
        result = strimzi(topology, (api_version or StrimziApi.v1).value)
    elif fmt is ExportFormat.connect_json:
        result = connect_json(topology)
    else:
        result = mm2_properties(topology)
    show_diagnostics(env, result.diagnostics)
    for need in result.needs:
        env.err.print(f"provide: {need}", markup=False, highlight=False)
    if out is None:
        text = _stdout_text(result, fmt)
        env.out.print(text, markup=False, highlight=False, soft_wrap=True, end="")
        return
    _write(env, result, out)


def _stdout_text(result: Export, fmt: ExportFormat) -> str:
    if fmt is not ExportFormat.connect_json:
        return "".join(f.text for f in result.files)
    configs = {}
    for f in result.files:
        config = json.loads(f.text)
        configs[config["name"]] = config
    return json.dumps(configs, indent=2) + "\n"


def _write(env: Env, result: Export, out: Path) -> None:
    names = [f.name for f in result.files]
    if len(set(names)) != len(names):
        fail(
            env,
            (
                "export",
                "two connectors would share a file name in " + str(out),
                "rename a cluster alias so that no two flows' names differ only by '->'",
            ),
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for f in result.files:
            (out / f.name).write_text(f.text, encoding="utf-8")
    except OSError as exc:
        fail(env, ("export", f"cannot write {out}: {exc.strerror or exc}", ""))
    for f in result.files:
        env.err.print(f"wrote {out / f.name}", markup=False, highlight=False)
