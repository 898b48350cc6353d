"""`mm2plan graph`: the clusters and flows, and with --topics where every topic comes from."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from mm2plan.cli.env import env_of
from mm2plan.cli.output import load_valid
from mm2plan.topology.loader import DEFAULT_FILE
from mm2plan.views import graph as graph_view

EPILOG = """Examples:

  mm2plan graph --topics

  mm2plan graph -f dot | dot -Tsvg > topology.svg

  mm2plan graph -f mermaid >> README.md"""


class GraphFormat(enum.StrEnum):
    text = "text"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


def graph(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="Output format.")
    ] = GraphFormat.text,
    topics: Annotated[
        bool,
        typer.Option(
            "--topics", help="Show the topics each cluster will hold and where each came from."
        ),
    ] = False,
) -> None:
    """Draw the clusters and flows (and, with --topics, every topic's origin)."""
    env = env_of(ctx)
    result = load_valid(env, path)
    assert result.graph is not None
    env.out.print(
        graph_view.RENDERERS[fmt.value](result.graph, topics),
        markup=False,
        highlight=False,
        soft_wrap=True,
        end="",
    )
