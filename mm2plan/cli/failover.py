"""`mm2plan failover` and `mm2plan failback`: the DR runbooks, dry-run by default."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mm2plan.cli.env import Env, env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.output import fail, load_topology
from mm2plan.topology.loader import DEFAULT_FILE

if TYPE_CHECKING:
    from mm2plan.planning.failover import Runbook

FAILOVER_EPILOG = """Examples:

  mm2plan failover --from dc1 --to dc2                 # dry run: the runbook and its checks

  mm2plan failover --from dc1 --to dc2 --execute       # dc1 is gone: move the groups to dc2

  mm2plan failover --from dc1 --to dc2 --drain --execute   # planned: nothing lost or re-read

  mm2plan failover --from dc1 --to dc2 --json | jq '.steps[] | {id, checks}'

  mm2plan failover --from dc1 --to dc2 --execute --force groups-active

Checks --force may name: lag, groups-active, source, fence, checkpoints, flow.

Exit codes: 0 done (or the dry run passes its checks), 1 refused by a check or errors,
3 stopped part-way (re-run: steps already done are not repeated), 64 usage error."""

FAILBACK_EPILOG = """Examples:

  mm2plan failback --to dc1                    # dry run

  mm2plan failback --to dc1 --execute --keep-divergent

  mm2plan failback --to dc1 --execute --truncate

Records dc1 holds that never reached dc2 before it failed ("divergent") need an explicit choice:
--keep-divergent (groups read them on dc1, late) or --truncate (groups and the restored flow
skip them; Kafka cannot cut a partition's tail, so they stay in the log until retention).

Exit codes: 0 done (or the dry run passes its checks), 1 refused or errors, 3 stopped part-way
(re-run to continue), 64 usage error."""


@contextmanager
def _reported(env: Env) -> Iterator[None]:
    from mm2plan.execution.failover import FailoverError
    from mm2plan.ports.cluster import ClusterError
    from mm2plan.ports.replication import EngineError

    try:
        yield
    except FailoverError as exc:
        env.err.print(f"error[{exc.code}]: {exc}")
        if exc.hint:
            env.err.print(f"  hint: {exc.hint}")
        env.err.print("  the steps done so far are recorded: re-run the same command to continue")
        raise typer.Exit(ExitCode.PARTIAL) from None
    except (ClusterError, EngineError) as exc:
        fail(env, (exc.code, str(exc), exc.hint))


def failover(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    source: Annotated[str, typer.Option("--from", help="The cluster to fail over from.")] = "",
    target: Annotated[str, typer.Option("--to", help="The cluster to fail over to.")] = "",
    groups: Annotated[
        str | None, typer.Option("--groups", help="Only the groups this regex matches in full.")
    ] = None,
    apps: Annotated[
        list[str] | None, typer.Option("--apps", help="Only these apps (their groups, topics).")
    ] = None,
    drain: Annotated[
        bool,
        typer.Option("--drain", help="Planned: fence, wait for replication to catch up, move."),
    ] = False,
    execute: Annotated[bool, typer.Option("--execute", help="Perform the steps.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The runbook as JSON.")] = False,
    max_lag: Annotated[
        int | None,
        typer.Option("--max-lag", help="Refuse when more records than this are not replicated."),
    ] = None,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Go on although this check fails.")
    ] = None,
    drain_timeout: Annotated[
        float, typer.Option("--drain-timeout", help="Seconds --drain waits for catch-up.")
    ] = 300.0,
) -> None:
    """Fail the topology's apps over from one cluster to another (a runbook; dry run unless
    --execute)."""
    from mm2plan.execution import failover as ex
    from mm2plan.planning import failover as fo

    env = env_of(ctx)
    topology = load_topology(env, path)
    for alias, what in ((source, "--from"), (target, "--to")):
        if alias not in topology.clusters:
            known = ", ".join(sorted(topology.clusters))
            fail(
                env,
                (
                    "usage",
                    f"{what} {alias or '(missing)'}: not a cluster of {path}",
                    f"one of: {known}",
                ),
            )
    if source == target:
        fail(env, ("usage", "--from and --to name the same cluster", "name two clusters"))
    unknown = [f for f in force or () if f not in fo.FORCEABLE]
    if unknown:
        fail(
            env,
            ("usage", f"--force {unknown[0]}: no such check", "one of: " + ", ".join(fo.FORCEABLE)),
        )
    opts = fo.Options(groups, tuple(apps or ()), drain, max_lag, frozenset(force or ()))
    began = time.monotonic()
    engine = env.engine_factory(topology)
    with _reported(env):
        clusters = ex.connect(topology, (target, source), env.dr_factory)
        try:
            facts = ex.failover_facts(topology, source, target, clusters, engine)
            runbook = fo.failover_runbook(topology, facts, opts)
            _refuse_or_announce(env, runbook, as_json, execute)
            outcome = ex.execute_failover(
                topology,
                runbook,
                facts,
                clusters,
                engine,
                opts,
                _step_printer(env, as_json),
                drain_timeout,
            )
        finally:
            clusters.close()
    whole = round(time.monotonic() - began, 3)
    if as_json:
        _show(env, runbook, True, True, {**outcome.to_json(), "command_seconds": whole})
    else:
        took = outcome.seconds_to_consume
        env.out.print(
            f"Failed over {source} -> {target} in {whole:.1f} s"
            + (
                f"; the groups could consume on {target} {took:.1f} s after the checks"
                if took
                else ""
            )
            + (f"; pending: {', '.join(outcome.pending)}" if outcome.pending else "")
        )
        if outcome.pending:
            env.out.print(
                f"The fence of {source} is pending: run this command again as soon as {source} "
                "answers, before any app can reach it."
            )


def _refuse_or_announce(env: Env, runbook: Runbook, as_json: bool, execute: bool) -> None:
    """A dry run or a refused runbook is shown and ends the command (exit 1 when refused);
    one about to be executed is shown first to people (JSON readers get it with the outcome)."""
    if not execute or runbook.refusals:
        _show(env, runbook, as_json, execute, None)
        raise typer.Exit(ExitCode.ERROR if runbook.refusals else ExitCode.OK)
    if not as_json:
        _show(env, runbook, as_json, execute, None)


def _step_printer(env: Env, as_json: bool) -> Callable[[str, str], None]:
    """Each executed step as one `[step] what happened` line on stderr (none with --json)."""

    def printed(step: str, what: str) -> None:
        if not as_json:
            env.err.print(f"[{step}] {what}", markup=False)

    return printed


def _show(
    env: Env, runbook: Runbook, as_json: bool, execute: bool, outcome: dict[str, Any] | None
) -> None:
    from mm2plan.views import failover as view

    if as_json:
        text = view.render_json(runbook, outcome)
        env.out.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        env.out.print(view.render_human(runbook, execute))


def failback(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    home: Annotated[str, typer.Option("--to", help="The cluster to return to.")] = "",
    current: Annotated[
        str,
        typer.Option(
            "--from", help="The cluster traffic is on now (default: the one it failed over to)."
        ),
    ] = "",
    keep_divergent: Annotated[
        bool,
        typer.Option("--keep-divergent", help="Groups read the records that never left --to."),
    ] = False,
    truncate: Annotated[
        bool,
        typer.Option("--truncate", help="Groups and the restored flow skip those records."),
    ] = False,
    groups: Annotated[
        str | None, typer.Option("--groups", help="Only the groups this regex matches in full.")
    ] = None,
    apps: Annotated[list[str] | None, typer.Option("--apps", help="Only these apps.")] = None,
    execute: Annotated[bool, typer.Option("--execute", help="Perform the steps.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The runbook as JSON.")] = False,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Go on although this check fails.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the reverse flow to catch up.")
    ] = 300.0,
) -> None:
    """Return the apps to the cluster they failed over from: copy the outage's writes back,
    translate the groups, lift the fence, restore the original flow (dry run unless --execute)."""
    from mm2plan.execution import failover as ex
    from mm2plan.planning import failover as fo

    env = env_of(ctx)
    topology = load_topology(env, path)
    if home not in topology.clusters:
        known = ", ".join(sorted(topology.clusters))
        fail(
            env,
            ("usage", f"--to {home or '(missing)'}: not a cluster of {path}", f"one of: {known}"),
        )
    if keep_divergent and truncate:
        fail(env, ("usage", "--keep-divergent and --truncate exclude each other", "choose one"))
    if not current:
        targets = sorted({f.target for f in topology.flows if f.source == home and f.enabled})
        if len(targets) != 1:
            fail(env, ("usage", "name the cluster traffic is on now", "pass --from CLUSTER"))
        current = targets[0]
    if current not in topology.clusters or current == home:
        fail(
            env, ("usage", f"--from {current}: not another cluster of {path}", "name two clusters")
        )
    opts = fo.FailbackOptions(
        keep_divergent, truncate, groups, tuple(apps or ()), frozenset(force or ())
    )
    with _reported(env):
        clusters = ex.connect(topology, (current, home), env.dr_factory)
        try:
            facts = ex.failback_facts(topology, home, current, clusters)
            runbook = fo.failback_runbook(topology, facts, opts)
            _refuse_or_announce(env, runbook, as_json, execute)
            outcome = ex.execute_failback(
                topology,
                runbook,
                facts,
                clusters,
                env.engine_factory,
                opts,
                _step_printer(env, as_json),
                timeout,
            )
        finally:
            clusters.close()
    if as_json:
        _show(env, runbook, True, True, outcome.to_json())
    else:
        env.out.print(f"Failed back {current} -> {home}: the apps may return to {home}.")
