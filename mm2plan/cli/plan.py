"""`mm2plan plan`, `apply` and `destroy`: the Terraform loop against the live clusters.

The work is in `mm2plan.execution` (sessions, the lock, stale plans, the apply walker); this
module only turns its results and errors into output and exit codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mm2plan.cli.env import Env, env_of
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.output import fail, load_topology, load_valid, show_diagnostics
from mm2plan.topology.loader import DEFAULT_FILE

if TYPE_CHECKING:  # the planner, the walker and the views load when a command runs them
    from mm2plan.core.graph import TopologyGraph
    from mm2plan.core.model import Topology
    from mm2plan.execution import session
    from mm2plan.execution.apply import ChangeResult
    from mm2plan.planning.plan import Plan
    from mm2plan.ports.cluster import ClusterError
    from mm2plan.ports.replication import ReplicationEngine

PLAN_EPILOG = """Examples:

  mm2plan plan

  mm2plan plan prod.yaml -o prod.plan

  mm2plan plan --detailed-exitcode   # 0 no changes, 1 error, 2 changes

  mm2plan plan --json | jq '.changes[].address'

  mm2plan plan --target 'dc2.topic["dc1.orders"]'"""

APPLY_EPILOG = """Examples:

  mm2plan apply                       # plan, show, ask for 'yes'

  mm2plan plan -o tf.plan && mm2plan apply tf.plan

  mm2plan apply --auto-approve --parallelism 8

  mm2plan apply --allow-destroy       # the plan deletes topics"""

DESTROY_EPILOG = """Examples:

  mm2plan destroy

  mm2plan destroy --auto-approve"""


@contextmanager
def _reported(env: Env) -> Iterator[None]:
    """The execution layer's errors as one clear message each, and exit 1."""
    from mm2plan.execution.errors import Refused
    from mm2plan.execution.live import LiveReadError
    from mm2plan.planning.plan import PlanFileError
    from mm2plan.ports.cluster import ClusterError
    from mm2plan.ports.replication import EngineError

    try:
        yield
    except LiveReadError as exc:
        fail(env, *((e.code, str(e), e.hint) for e in exc.errors))
    except ClusterError as exc:
        fail(env, (exc.code, str(exc), exc.hint))
    except Refused as exc:
        fail(env, (exc.code, str(exc), exc.hint))
    except PlanFileError as exc:
        fail(env, ("plan-file", str(exc), "make a new one: mm2plan plan -o FILE"))
    except EngineError as exc:
        fail(env, (exc.code, str(exc), exc.hint))


def _read_plan(
    env: Env,
    topology: Topology,
    admins: session.Admins,
    targets: tuple[str, ...] = (),
    destroy: bool = False,
    graph: TopologyGraph | None = None,
    engine: ReplicationEngine | None = None,
) -> Plan:
    """Reads with a progress bar on stderr (a terminal only: nothing lands in a CI log); the
    engine says how each flow runs."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mm2plan.execution import session

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns,
        TimeElapsedColumn(),
        console=env.err,
        transient=True,
        disable=not env.err.is_terminal,
    ) as bar:
        task = bar.add_task("Reading " + ", ".join(sorted(admins)), total=len(admins))
        return session.read_plan(
            topology, admins, targets, destroy, lambda _alias: bar.advance(task), graph, engine
        )


def _locked(
    env: Env, admins: session.Admins, command: str, force_unlock: bool
) -> AbstractContextManager[None]:
    from mm2plan.execution import session

    def warn(exc: ClusterError) -> None:
        env.err.print(f"warning: could not release the lock: {exc}", markup=False)

    return session.locked(admins, command, force_unlock, warn)


def plan(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Save the plan to FILE for `mm2plan apply FILE`."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when the plan has changes.")
    ] = False,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target", help="Only this address (or address prefix) and what it depends on."
        ),
    ] = None,
) -> None:
    """Show what apply would change on the live clusters (reads only)."""
    from mm2plan.execution import session
    from mm2plan.planning.plan import save_plan
    from mm2plan.views import plan as plan_view

    env = env_of(ctx)
    loaded = load_valid(env, path)
    topology = loaded.topology
    assert topology is not None
    engine = env.engine_factory(topology)
    with _reported(env), session.connected(topology, env.admin_factory) as admins:
        the_plan = _read_plan(
            env, topology, admins, tuple(target or ()), graph=loaded.graph, engine=engine
        )
    show_diagnostics(env, the_plan.diagnostics)
    if as_json:
        env.out.print(
            plan_view.render_json(the_plan), markup=False, highlight=False, soft_wrap=True
        )
    else:
        env.out.print(plan_view.render_human(the_plan), end="")
    if the_plan.has_errors:
        if as_json:  # the human text says why it cannot be applied; JSON readers get it here
            env.err.print(plan_view.cannot_apply(the_plan), end="")
        raise typer.Exit(ExitCode.ERROR)
    if out is not None:
        save_plan(the_plan, out)
        env.err.print(
            f"Saved the plan to {out}. Apply exactly it with: mm2plan apply {out}",
            markup=False,
            highlight=False,
        )
    if detailed_exitcode and the_plan.has_changes:
        raise typer.Exit(ExitCode.CHANGES)


def _confirm(env: Env, prompt: str, word: str) -> bool:
    if not env.stdin_isatty():
        return False
    env.err.print(prompt, markup=False, highlight=False)
    env.err.print(
        f"  Only '{word}' will be accepted to approve.\n\n  Enter a value: ",
        end="",
        markup=False,
        highlight=False,
    )
    return env.read_line().strip() == word


def _run_apply(
    env: Env,
    the_plan: Plan,
    admins: session.Admins,
    parallelism: int,
    allow_destroy: bool,
    engine: ReplicationEngine | None,
) -> None:
    from mm2plan.execution.apply import Applier, check_applicable
    from mm2plan.views import plan as plan_view

    check_applicable(the_plan, allow_destroy)
    changes = the_plan.effective
    if not changes:
        env.out.print("No changes. The clusters match the topology.", style="bold green")
        return
    from rich.progress import Progress

    with Progress(console=env.err, transient=True) as bar:
        task = bar.add_task("Applying", total=len(changes))

        def progress(result: ChangeResult) -> None:
            bar.advance(task)
            env.out.print(plan_view.render_result(result))

        applier = Applier(admins, parallelism, progress, the_plan.topology_name, engine)
        report = applier.run(changes)
    for warning in getattr(engine, "warnings", ()):
        env.err.print(f"warning: {warning}", markup=False, highlight=False)
    env.out.print(plan_view.render_report(report))
    if not report.complete:
        raise typer.Exit(ExitCode.PARTIAL)


def apply(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Topology file, or a plan saved by `plan -o`.")
    ] = Path(DEFAULT_FILE),
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Do not ask for 'yes'.")
    ] = False,
    parallelism: Annotated[
        int, typer.Option("--parallelism", min=1, max=64, help="Clusters changed at once.")
    ] = 4,
    allow_destroy: Annotated[
        bool, typer.Option("--allow-destroy", help="Allow deleting topics.")
    ] = False,
    force_unlock: Annotated[
        bool, typer.Option("--force-unlock", help="Break a stale apply lock left by a dead apply.")
    ] = False,
) -> None:
    """Make the clusters match the topology: topics, ACLs, then replication."""
    from mm2plan.execution import session
    from mm2plan.views import plan as plan_view

    env = env_of(ctx)
    with _reported(env):
        saved = session.saved_plan(path)
    loaded = load_valid(env, Path(saved.topology_file) if saved else path)
    topology = loaded.topology
    assert topology is not None
    engine = env.engine_factory(topology)
    with (
        _reported(env),
        session.connected(topology, env.admin_factory) as admins,
        _locked(env, admins, "apply", force_unlock),
    ):
        targets = saved.targets if saved else ()
        the_plan = _read_plan(env, topology, admins, targets, graph=loaded.graph, engine=engine)
        if saved is not None:
            session.check_fresh(saved, the_plan)
            the_plan = saved
        else:
            show_diagnostics(env, the_plan.diagnostics)
            env.out.print(plan_view.render_human(the_plan), end="")
            if (
                the_plan.has_changes
                and not the_plan.has_errors
                and not auto_approve
                and not _confirm(env, "\nDo you want to perform these actions?", "yes")
            ):
                env.err.print(
                    "Apply cancelled: nothing was changed. (No terminal to ask? "
                    "Use --auto-approve.)",
                    markup=False,
                )
                raise typer.Exit(ExitCode.ERROR)
        _run_apply(env, the_plan, admins, parallelism, allow_destroy, engine)


def destroy(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Topology file.")] = Path(DEFAULT_FILE),
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Do not ask to type 'destroy'.")
    ] = False,
    force_unlock: Annotated[
        bool, typer.Option("--force-unlock", help="Break a stale apply lock.")
    ] = False,
) -> None:
    """Delete everything mm2plan created on these clusters (topics, ACLs, replication)."""
    from mm2plan.execution import session
    from mm2plan.views import plan as plan_view

    env = env_of(ctx)
    topology = load_topology(env, path)
    engine = env.engine_factory(topology)
    with (
        _reported(env),
        session.connected(topology, env.admin_factory) as admins,
        _locked(env, admins, "destroy", force_unlock),
    ):
        the_plan = _read_plan(env, topology, admins, destroy=True)
        env.out.print(plan_view.render_human(the_plan), end="")
        if (
            the_plan.has_changes
            and not auto_approve
            and not _confirm(
                env,
                "\nDestroy everything mm2plan owns? Topics and their data are deleted.",
                "destroy",
            )
        ):
            env.err.print("Destroy cancelled: nothing was changed.", markup=False)
            raise typer.Exit(ExitCode.ERROR)
        _run_apply(env, the_plan, admins, 4, allow_destroy=True, engine=engine)
