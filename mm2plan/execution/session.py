"""A command's session with the clusters: their admins, the apply lock, live reads, saved plans.

plan, apply and destroy use it today; failover and status will too. It raises domain errors
(`ClusterError`, `LiveReadError`, `Refused`) and prints nothing: the CLI decides how they look.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mm2plan.core.graph import TopologyGraph
from mm2plan.core.model import Topology
from mm2plan.core.resources import LiveState
from mm2plan.execution.errors import Refused
from mm2plan.execution.live import ClusterRead, read_live
from mm2plan.planning.failover import in_effect, record_key
from mm2plan.planning.plan import Plan, load_plan
from mm2plan.planning.planner import FlowRun, make_destroy_plan, make_plan
from mm2plan.ports.cluster import ClusterConnection, ClusterError, ConnectionFactory
from mm2plan.ports.replication import FlowKey, ReplicationEngine

Admins = dict[str, ClusterConnection]


def lock_holder(command: str) -> dict[str, Any]:
    """Who holds a lock, as another apply will be told."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "user": getpass.getuser(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
    }


@contextmanager
def connected(topology: Topology, factory: ConnectionFactory) -> Iterator[Admins]:
    """One admin per cluster for the session's lifetime, all closed at its end."""
    admins: Admins = {}
    try:
        for alias, cluster in topology.clusters.items():
            admins[alias] = factory(cluster)
        yield admins
    finally:
        for admin in admins.values():
            admin.close()


@contextmanager
def locked(
    admins: Admins,
    command: str,
    force_unlock: bool = False,
    on_release_error: Callable[[ClusterError], None] = lambda exc: None,
) -> Iterator[None]:
    """The apply lock on every cluster, taken in sorted order so two applies cannot deadlock.
    A lock that cannot be released is reported, not raised: the work under it is done."""
    held: list[ClusterConnection] = []
    try:
        for alias in sorted(admins):
            admins[alias].acquire_lock(lock_holder(command), force=force_unlock)
            held.append(admins[alias])
        yield
    finally:
        for admin in reversed(held):
            try:
                admin.release_lock()
            except ClusterError as exc:
                on_release_error(exc)


def read_plan(
    topology: Topology,
    admins: Admins,
    targets: tuple[str, ...] = (),
    destroy: bool = False,
    progress: ClusterRead | None = None,
    graph: TopologyGraph | None = None,
    engine: ReplicationEngine | None = None,
) -> Plan:
    """Read every cluster (raises LiveReadError naming each that failed) and plan against it.
    `graph`: the one validate built, so that the command builds it once. Whether a topic holds
    data is read for owned topics only: the only ones a plan may delete (and fingerprint).
    `engine`: asked how each enabled flow runs, so that a failed, stopped or differently
    configured flow is planned as an update (raises EngineError)."""
    live = read_live(admins, progress, data="owned")
    if destroy:
        return make_destroy_plan(topology, live)
    flows = flow_runs(topology, engine, held_flows(topology, live)) if engine is not None else None
    return make_plan(topology, live, targets, graph, flows)


def held_flows(topology: Topology, live: LiveState) -> dict[str, str]:
    """Flows a failover in effect stopped, by name, with why: `apply` must not restart one
    (it would copy a returning primary's divergent records); `failback` restores it."""
    out: dict[str, str] = {}
    for flow in topology.enabled_flows():
        key = record_key(topology.name, flow.source, flow.target)
        for lc in live.clusters.values():
            rec = lc.failovers.get(key)
            if in_effect(rec):
                assert rec is not None
                out[flow.name] = (
                    f"held by the failover {flow.source} -> {flow.target} "
                    f"({rec.get('state')}, {rec.get('started_at')}): `mm2plan failback "
                    f"--to {flow.source}` restores it"
                )
    return out


def flow_runs(
    topology: Topology, engine: ReplicationEngine, held: Mapping[str, str] | None = None
) -> dict[str, FlowRun]:
    """Each enabled flow's run, as its engine describes it, by flow name."""
    out = {}
    for flow in topology.enabled_flows():
        status = engine.describe(FlowKey(topology.name, flow.source, flow.target))
        out[flow.name] = FlowRun(
            status.state.value, status.settings, status.reason, (held or {}).get(flow.name, "")
        )
    return out


def is_plan_file(path: Path) -> bool:
    """A saved plan is a JSON object with a fingerprint and changes; a topology (YAML, which
    may be written as JSON) has neither."""
    try:
        with path.open("rb") as f:
            if not f.read(64).lstrip().startswith(b"{"):
                return False
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "fingerprint" in doc and "changes" in doc


def saved_plan(path: Path) -> Plan | None:
    """The plan saved at `path`, or None when `path` is a topology. Raises PlanFileError for a
    plan file that cannot be read."""
    return load_plan(path) if is_plan_file(path) else None


def check_fresh(saved: Plan, current: Plan) -> None:
    """Terraform's rule: a saved plan applies only to the world it was made against."""
    if saved.fingerprint != current.fingerprint:
        raise Refused(
            "stale-plan",
            "the saved plan is stale: the topology or the clusters changed since it was made",
            "run `mm2plan plan -o FILE` again, review it",
        )
