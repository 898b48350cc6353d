"""`mm2plan status`: each flow's state, lag, throughput, heartbeat and checkpoint ages, and the
failovers and fences in effect, against the topology's slo; exit 0 within it, 1 outside.

This module reads (the engine and its reports, every cluster through the DR port, each probed
once per refresh and in parallel, so one unreachable cluster costs one timeout); the judgement
is planning.status's, the rendering views.status's."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mm2plan.cli import interrupts
from mm2plan.cli.env import Env, env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.output import load_topology
from mm2plan.topology.loader import DEFAULT_FILE

if TYPE_CHECKING:
    from mm2plan.core.model import Flow, Topology
    from mm2plan.planning.status import FlowFacts, StatusReport, WorkerFacts
    from mm2plan.ports.dr import DrCluster
    from mm2plan.ports.replication import ReplicationEngine

T = TypeVar("T")

EPILOG = """Examples:

  mm2plan status

  mm2plan status prod.yaml -v                     # lag per partition too

  mm2plan status --watch --interval 5             # refresh in place until Ctrl-C

  mm2plan status --json | jq '.flows[] | {flow, state, lag: .lag_records.value}'

  */5 * * * * mm2plan status prod.yaml >/dev/null || alert "DR outside its SLO"

Lag comes from Kafka (the source's end offsets minus the runtime's progress on the target),
so it is right while the runtime is down; when a cluster does not answer, from the runtime's
last report, and the output says so. Green: within the topology's slo, as read from the
clusters; red: outside it; yellow: unknown, or within it by the runtime's report alone. Yellow
fails the check too, except a checkpoint's age, which never decides the exit code (checkpoints
are written when a group's offsets move: an idle group's last one is old and still exact).

Exit codes: 0 every flow runs within the SLO, 1 a flow is not running, outside the SLO or cannot
be checked (or errors), 64 usage error. --watch exits on Ctrl-C with the code of its last
refresh (130 if none finished)."""

_sleep = time.sleep
"""Between refreshes of --watch (tests replace it)."""


class _Clusters:
    """One refresh's DR connection per cluster: all probed at once, a cluster that did not
    answer is not asked again in this refresh, and every read's error is kept for the notes."""

    def __init__(self, env: Env, topology: Topology) -> None:
        self.errors: dict[str, str] = {}
        self._dr: dict[str, DrCluster] = {}
        aliases = sorted(topology.clusters)
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(aliases)))) as pool:
            for alias, result in zip(
                aliases,
                pool.map(lambda a: self._open(env, topology, a), aliases),
                strict=True,
            ):
                if isinstance(result, str):
                    self.errors[alias] = result
                else:
                    self._dr[alias] = result

    @staticmethod
    def _open(env: Env, topology: Topology, alias: str) -> DrCluster | str:
        from mm2plan.ports.cluster import ClusterError

        try:
            dr = env.dr_factory(topology.clusters[alias])
        except ClusterError as exc:
            return str(exc)
        try:
            dr.probe()
        except ClusterError as exc:
            with contextlib.suppress(Exception):
                dr.close()
            return str(exc)
        return dr

    def call(self, alias: str, read: Callable[[DrCluster], T]) -> tuple[T | None, str]:
        """(result, "") or (None, why)."""
        from mm2plan.ports.cluster import ClusterError

        dr = self._dr.get(alias)
        if dr is None:
            return None, self.errors.get(alias, f"cluster {alias} is not in the topology")
        try:
            return read(dr), ""
        except ClusterError as exc:
            return None, str(exc)

    def close(self) -> None:
        for dr in self._dr.values():
            with contextlib.suppress(Exception):
                dr.close()


def _engine_state(
    engine: ReplicationEngine | None, topology: Topology, flow: Flow
) -> tuple[str, str, str, tuple[WorkerFacts, ...]]:
    """(engine, state, reason, the workers' reports)."""
    from mm2plan.ports.replication import EngineError, FlowKey
    from mm2plan.runtime.engine import BundledEngine

    if engine is None:
        name = topology.runtime.engine
        return name, "unknown", f"unknown ({name} engine not yet supported)", ()
    key = FlowKey(topology.name, flow.source, flow.target)
    try:
        if isinstance(engine, BundledEngine):
            run = engine.inspect(key)
            return engine.name, run.status.state.value, run.status.reason, _workers(run.reports)
        st = engine.describe(key)
    except EngineError as exc:
        return engine.name, "unknown", str(exc), ()
    return engine.name, st.state.value, st.reason, ()


def _workers(reports: Sequence[Any]) -> tuple[WorkerFacts, ...]:
    from mm2plan.planning.status import ReportedPartition, WorkerFacts

    return tuple(
        WorkerFacts(
            share=r.share,
            state=r.state,
            started_at=r.started_at,
            updated_at=r.updated_at,
            records=r.records,
            last_heartbeat_at=r.last_heartbeat_at,
            last_checkpoint_at=r.last_checkpoint_at,
            partitions=tuple(
                ReportedPartition(
                    p.topic, p.partition, p.next_offset, p.end_offset, p.lag_records, p.lag_seconds
                )
                for p in r.partitions
            ),
        )
        for r in reports
    )


def _flow_facts(
    topology: Topology,
    flow: Flow,
    engine: ReplicationEngine | None,
    clusters: _Clusters,
    previous: Mapping[str, tuple[WorkerFacts, ...]],
) -> FlowFacts:
    from mm2plan.core.filters import topic_filter
    from mm2plan.core.naming import policy_for
    from mm2plan.planning.status import FlowFacts, unreplicated
    from mm2plan.runtime.selection import selected_topics

    name, state, reason, workers = _engine_state(engine, topology, flow)
    d = topology.defaults
    policy = policy_for(d.replication_policy, d.separator)
    src, dst = flow.source, flow.target
    target_errors: list[str] = []
    source_errors: list[str] = []

    def on(alias: str, errors: list[str], read: Callable[[DrCluster], T]) -> T | None:
        result, error = clusters.call(alias, read)
        if error and error not in errors:
            errors.append(error)
        return result

    next_offsets = None
    if name == "bundled":
        progress = on(dst, target_errors, lambda dr: dr.progress(topology.name, flow.name))
        if progress is not None:
            next_offsets = {tp: pos.next_offset for tp, pos in progress.items()}
    local_hb, remote_hb = (
        policy.heartbeats_topic(),
        policy.format_remote_topic(src, policy.heartbeats_topic()),
    )
    beats: list[tuple[int, str]] = []
    own = on(dst, target_errors, lambda dr: dr.heartbeats(local_hb)) or {}
    if (src, dst) in own:
        beats.append((own[(src, dst)], local_hb))
    copied = on(dst, target_errors, lambda dr: dr.heartbeats(remote_hb)) or {}
    if copied:
        beats.append((max(copied.values()), remote_hb))
    cp_topic = policy.checkpoints_topic(src)
    cps = on(dst, target_errors, lambda dr: dr.checkpoints(cp_topic)) or {}
    newest_cp = max((c.timestamp_ms for c in cps.values()), default=None)

    names = on(src, source_errors, lambda dr: dr.topic_names())
    topics = ends = None
    first: dict[tuple[str, int], int | None] = {}
    if names is not None:
        topics = tuple(selected_topics(names, policy, dst, topic_filter(flow)))
        ends = on(src, source_errors, lambda dr: dr.end_offsets(topics or ()))
    if ends is not None and next_offsets is not None:
        first = _first_uncopied(clusters, src, unreplicated(ends, next_offsets))
    return FlowFacts(
        flow=flow,
        engine=name,
        state=state,
        reason=reason,
        workers=workers,
        previous_workers=previous.get(flow.name),
        source_topics=topics,
        end_offsets=ends,
        next_offsets=next_offsets,
        first_unreplicated_ms=first,
        source_error="; ".join(source_errors),
        target_error="; ".join(target_errors),
        heartbeat_ms=max(beats)[0] if beats else None,
        heartbeat_topic=max(beats)[1] if beats else local_hb,
        checkpoint_ms=newest_cp,
        checkpoint_topic=cp_topic,
    )


def _first_uncopied(
    clusters: _Clusters, alias: str, todo: Sequence[tuple[str, int, int]]
) -> dict[tuple[str, int], int | None]:
    """The timestamp of each lagging partition's first uncopied record (lag seconds)."""
    out: dict[tuple[str, int], int | None] = {}
    for topic, partition, offset in todo:

        def read(dr: DrCluster, t: str = topic, p: int = partition, o: int = offset) -> int | None:
            return dr.record_timestamp(t, p, o)

        ts, error = clusters.call(alias, read)
        if not error:
            out[(topic, partition)] = ts
    return out


def read_status(
    env: Env,
    topology: Topology,
    engine: ReplicationEngine | None,
    previous: Mapping[str, tuple[WorkerFacts, ...]] | None = None,
) -> tuple[StatusReport, dict[str, tuple[WorkerFacts, ...]]]:
    """One refresh: everything read, then judged; and each flow's reports, for the next
    refresh's throughput."""
    from mm2plan.planning.status import assess

    clusters = _Clusters(env, topology)
    try:
        facts = [
            _flow_facts(topology, f, engine, clusters, previous or {})
            for f in topology.enabled_flows()
        ]
        records: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        for alias in sorted(topology.clusters):
            found, _error = clusters.call(alias, lambda dr: dr.failover_records())
            if found is not None:
                records[alias] = found
        report = assess(topology, facts, records, clusters.errors, time.time())
        return report, {f.flow.name: f.workers for f in facts}
    finally:
        clusters.close()


def _exit_code(report: StatusReport) -> ExitCode:
    return ExitCode.OK if report.within_slo else ExitCode.ERROR


def status(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh in place until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.5, help="Seconds between refreshes (--watch).")
    ] = 2.0,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the status as JSON (--watch: one line per refresh)."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Lag per partition too.")
    ] = False,
) -> None:
    """Show each flow's state, lag, throughput and heartbeat/checkpoint ages, and the
    failovers and fences in effect, against the topology's slo."""
    env = env_of(ctx)
    topology = load_topology(env, path)
    engine = env.engine_factory(topology)
    if not watch:
        report, _ = read_status(env, topology, engine)
        if interrupts.happened():
            raise KeyboardInterrupt
        _show(env, report, as_json, verbose)
        raise typer.Exit(_exit_code(report))
    raise typer.Exit(_watch(env, topology, engine, interval, as_json, verbose))


def _show(env: Env, report: StatusReport, as_json: bool, verbose: bool) -> None:
    from mm2plan.views.status import status_json, status_view

    if as_json:
        env.out.print(status_json(report), markup=False, highlight=False, soft_wrap=True)
    else:
        env.out.print(status_view(report, verbose))


def _watch(
    env: Env,
    topology: Topology,
    engine: ReplicationEngine | None,
    interval: float,
    as_json: bool,
    verbose: bool,
) -> ExitCode:
    """Until Ctrl-C; the code of the last refresh that finished."""
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    from mm2plan.views.status import status_json, status_view

    last: ExitCode | None = None
    previous: dict[str, tuple[WorkerFacts, ...]] = {}
    live = None if as_json else Live(console=env.out, auto_refresh=False)
    try:
        if live is not None:
            live.start()
        while True:
            report, previous = read_status(env, topology, engine, previous)
            if interrupts.happened():
                break
            last = _exit_code(report)
            if live is None:
                env.out.print(
                    status_json(report, compact=True), markup=False, highlight=False, soft_wrap=True
                )
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(report.generated_at))
                head = Text(f"{stamp}, every {interval:g} s; Ctrl-C to stop\n", "dim")
                live.update(Group(head, status_view(report, verbose)), refresh=True)
            _sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
    if last is None:
        raise KeyboardInterrupt
    return last
