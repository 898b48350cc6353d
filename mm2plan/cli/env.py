"""What a command may touch outside the core, injected so tests can replace every part."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from mm2plan.core.model import Cluster, Topology
from mm2plan.ports.cluster import ClusterConnection, ConnectionFactory
from mm2plan.ports.dr import DrCluster
from mm2plan.ports.replication import ReplicationEngine


def _default_admin_factory(cluster: Cluster) -> ClusterConnection:
    """confluent-kafka is imported only by commands that talk to a cluster."""
    from mm2plan.adapters.kafka.confluent import confluent_admin_factory

    admin: ClusterConnection = confluent_admin_factory(cluster)
    return admin


def _default_dr_factory(cluster: Cluster) -> DrCluster:
    """Failover, failback and status read MM2's topics and groups through this."""
    from mm2plan.adapters.kafka.dr import dr_factory

    dr: DrCluster = dr_factory(cluster)
    return dr


def _default_engine_factory(topology: Topology) -> ReplicationEngine | None:
    """The topology's engine: the bundled runtime, run beside the topology file, or MM2's
    connectors on the Kafka Connect cluster at runtime.connect.url (httpx loads only then)."""
    if topology.runtime.engine == "connect":
        from mm2plan.adapters.connect.engine import ConnectEngine

        return ConnectEngine(topology)
    if topology.runtime.engine != "bundled":
        return None
    from mm2plan.runtime.engine import BundledEngine

    return BundledEngine(Path(topology.file))


WORKER_COMMAND = (sys.executable, "-m", "mm2plan.runtime.worker")
"""What `mm2plan replicate` runs for each share (its options follow)."""


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
    engine_factory: Callable[[Topology], ReplicationEngine | None] = _default_engine_factory
    """The replication engine of a topology (None: flows are recorded, not started)."""
    worker_command: Sequence[str] = WORKER_COMMAND
    dr_factory: Callable[[Cluster], DrCluster] = _default_dr_factory
    """One cluster's disaster-recovery view (failover, failback, status)."""


def env_of(ctx: typer.Context) -> Env:
    """The injected Env; the root command makes the default one, and subcommands inherit it."""
    if not isinstance(ctx.obj, Env):
        ctx.obj = Env()
    return ctx.obj
