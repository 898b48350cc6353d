"""What a command may touch outside the core, injected so tests can replace every part."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import typer
from rich.console import Console

from mm2plan.core.model import Cluster
from mm2plan.ports.cluster import ClusterConnection, ConnectionFactory


def _default_admin_factory(cluster: Cluster) -> ClusterConnection:
    """confluent-kafka is imported only by commands that talk to a cluster."""
    from mm2plan.adapters.kafka.confluent import confluent_admin_factory

    admin: ClusterConnection = confluent_admin_factory(cluster)
    return admin


@dataclass
class Env:
    """Tests build one with captured consoles, an in-memory admin factory and a scripted stdin."""

    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )
    admin_factory: ConnectionFactory = _default_admin_factory
    stdin_isatty: Callable[[], bool] = field(
        default=lambda: sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()
    )
    read_line: Callable[[], str] = field(
        default=lambda: sys.stdin.readline() if sys.stdin is not None else ""
    )


def env_of(ctx: typer.Context) -> Env:
    """The injected Env; the root command makes the default one, and subcommands inherit it."""
    if not isinstance(ctx.obj, Env):
        ctx.obj = Env()
    return ctx.obj
