"""The `mm2plan` command line: wires the pure core to files, Kafka and the terminal.

Commands get their streams and factories from an injected `Env` (``ctx.obj``), so tests run
them through typer's runner with fakes and read stdout, stderr and the exit code.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, NoReturn

import click
import typer
from rich.console import Console

from mm2plan import __version__
from mm2plan.cli.exit_codes import ExitCode
from mm2plan.cli.sandbox import sandbox_app
from mm2plan.core.diagnostics import Diagnostic, Diagnostics
from mm2plan.core.model import Cluster, Topology
from mm2plan.execution.apply import (
    Applier,
    ApplyRefused,
    ChangeResult,
    check_applicable,
    lock_holder,
)
from mm2plan.execution.live import LiveReadError, read_live
from mm2plan.planning.plan import Plan, PlanFileError, load_plan, save_plan
from mm2plan.planning.planner import make_destroy_plan, make_plan
from mm2plan.ports.cluster import AdminFactory, ClusterAdmin, ClusterError
from mm2plan.topology.loader import DEFAULT_FILE
from mm2plan.topology.validate import Validation, validate_file
from mm2plan.views import diagnostics as diag_view
from mm2plan.views import graph as graph_view
from mm2plan.views import plan as plan_view
from mm2plan.views.errors import error_text


def _usage_errors_exit_64() -> None:
    """Usage errors exit 64 (EX_USAGE), not click's 2: 2 means "plan has changes" (Terraform's
    habit). Typer >= 0.20 vendors click as `typer._click`; patch whichever copies exist."""
    modules = [click.exceptions]
    vendored = getattr(getattr(typer, "_click", None), "exceptions", None)
    if vendored is not None:
        modules.append(vendored)
    for mod in modules:
        mod.UsageError.exit_code = ExitCode.USAGE


_usage_errors_exit_64()


def _default_admin_factory(cluster: Cluster) -> ClusterAdmin:
    from mm2plan.adapters.kafka.confluent import confluent_admin_factory

    admin: ClusterAdmin = confluent_admin_factory(cluster)
    return admin


@dataclass
class Env:
    """What a command may touch outside the core; tests build one with captured consoles,
    an in-memory admin factory and a scripted stdin."""

    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )
    admin_factory: AdminFactory = _default_admin_factory
    stdin_isatty: Callable[[], bool] = field(
        default=lambda: sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()
    )
    read_line: Callable[[], str] = field(
        default=lambda: sys.stdin.readline() if sys.stdin is not None else ""
    )


def _env(ctx: typer.Context) -> Env:
    if not isinstance(ctx.obj, Env):
        ctx.obj = Env()
    return ctx.obj


EPILOG = """Examples:

  mm2plan validate examples/active-passive.yaml

  mm2plan graph examples/active-active.yaml --topics

  mm2plan sandbox up --clusters dc1,dc2

Exit codes: 0 ok, 1 errors, 2 plan has changes (--detailed-exitcode), 3 partly applied,
64 usage error, 130 interrupted."""

app = typer.Typer(
    name="mm2plan",
    help="Plan and apply Kafka MirrorMaker 2 disaster-recovery topologies, Terraform-style.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(sandbox_app, name="sandbox")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mm2plan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    _env(ctx)


class DiagFormat(enum.StrEnum):
    text = "text"
    json = "json"
    github = "github"


@cache
def _lines_of(file: str) -> list[str] | None:
    try:
        return Path(file).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def emit_diagnostics(
    env: Env, diagnostics: Sequence[Diagnostic], fmt: DiagFormat, valid: bool, subject: str
) -> None:
    if fmt is DiagFormat.json:
        env.out.print(
            diag_view.render_json(diagnostics, valid), markup=False, highlight=False, soft_wrap=True
        )
    elif fmt is DiagFormat.github:
        if diagnostics:
            env.out.print(
                diag_view.render_github(diagnostics), markup=False, highlight=False, soft_wrap=True
            )
    else:
        if diagnostics:
            env.err.print(diag_view.render_text(diagnostics, _lines_of), end="")
        env.err.print(diag_view.summary_line(diagnostics, subject))


@app.command(
    epilog="Examples:\n\n  mm2plan validate\n\n  mm2plan validate a.yaml b.yaml "
    "--format github\n\n  mm2plan validate --format json | jq .diagnostics"
)
def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help=f"Topology files (default: ./{DEFAULT_FILE}).", show_default=False),
    ] = None,
    fmt: Annotated[
        DiagFormat, typer.Option("--format", "-f", help="Output format.")
    ] = DiagFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Check topology files offline: schema, references, naming, cycles, clashes.

    Every problem is reported at once, at file:line:column. No cluster is contacted.
    """
    env = _env(ctx)
    files = paths or [Path(DEFAULT_FILE)]
    all_diags = Diagnostics()
    for p in files:
        all_diags.extend(validate_file(str(p)).diagnostics.sorted())
    valid = not all_diags.has_errors()
    subject = str(files[0]) if len(files) == 1 else f"{len(files)} files"
    emit_diagnostics(env, list(all_diags), fmt, valid, subject)
    failed = not valid or (strict and len(all_diags) > 0)
    raise typer.Exit(ExitCode.ERROR if failed else ExitCode.OK)


class GraphFormat(enum.StrEnum):
    text = "text"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


def load_valid(env: Env, path: Path) -> Validation:
    """Validate or exit 1 with the diagnostics: nothing runs on a broken topology."""
    result = validate_file(str(path))
    if not result.valid:
        emit_diagnostics(env, result.diagnostics.sorted(), DiagFormat.text, False, str(path))
        raise typer.Exit(ExitCode.ERROR)
    return result


@app.command(
    epilog="Examples:\n\n  mm2plan graph --topics\n\n  mm2plan graph -f dot | dot "
    "-Tsvg > topology.svg\n\n  mm2plan graph -f mermaid >> README.md"
)
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
    env = _env(ctx)
    result = load_valid(env, path)
    assert result.graph is not None
    env.out.print(
        graph_view.RENDERERS[fmt.value](result.graph, topics),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@contextmanager
def _admins(env: Env, topology: Topology) -> Iterator[dict[str, ClusterAdmin]]:
    admins: dict[str, ClusterAdmin] = {}
    try:
        for alias, cluster in topology.clusters.items():
            admins[alias] = env.admin_factory(cluster)
        yield admins
    except ClusterError as exc:
        _fail_cluster(env, [exc])
    finally:
        for a in admins.values():
            a.close()


def _fail_cluster(env: Env, errors: Sequence[ClusterError]) -> NoReturn:
    for exc in errors:
        env.err.print(error_text(exc.code, str(exc), exc.hint))
    raise typer.Exit(ExitCode.ERROR)


def _read_plan(
    env: Env,
    topology: Topology,
    admins: dict[str, ClusterAdmin],
    targets: tuple[str, ...],
    destroy: bool = False,
) -> Plan:
    try:
        with env.err.status("Reading live state of " + ", ".join(sorted(admins)) + " ..."):
            live = read_live(admins)
    except LiveReadError as exc:
        _fail_cluster(env, exc.errors)
    if destroy:
        return make_destroy_plan(topology, live)
    return make_plan(topology, live, targets)


def _show_plan_diagnostics(env: Env, plan: Plan) -> None:
    if plan.diagnostics:
        env.err.print(diag_view.render_text(list(plan.diagnostics), _lines_of), end="")


PLAN_EPILOG = """Examples:

  mm2plan plan

  mm2plan plan prod.yaml -o prod.plan

  mm2plan plan --detailed-exitcode   # 0 no changes, 1 error, 2 changes

  mm2plan plan --json | jq '.changes[].address'

  mm2plan plan --target 'dc2.topic["dc1.orders"]'"""


@app.command(epilog=PLAN_EPILOG)
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
    env = _env(ctx)
    topology = _topology(env, path)
    with _admins(env, topology) as admins:
        the_plan = _read_plan(env, topology, admins, tuple(target or ()))
    _show_plan_diagnostics(env, the_plan)
    if as_json:
        env.out.print(
            plan_view.render_json(the_plan), markup=False, highlight=False, soft_wrap=True
        )
    else:
        env.out.print(plan_view.render_human(the_plan), end="")
    if the_plan.has_errors:
        env.err.print("[bold red]The plan has errors: apply would refuse it.[/]")
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


def _topology(env: Env, path: Path) -> Topology:
    result = load_valid(env, path)
    assert result.topology is not None
    return result.topology


def _is_plan_file(path: Path) -> bool:
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


@contextmanager
def _locked(
    env: Env, admins: dict[str, ClusterAdmin], command: str, force_unlock: bool
) -> Iterator[None]:
    """The apply lock on every cluster (sorted, so two applies cannot deadlock)."""
    held: list[ClusterAdmin] = []
    try:
        for alias in sorted(admins):
            admins[alias].acquire_lock(lock_holder(command), force=force_unlock)
            held.append(admins[alias])
        yield
    except ClusterError as exc:
        _fail_cluster(env, [exc])
    finally:
        for a in reversed(held):
            try:
                a.release_lock()
            except ClusterError as exc:
                env.err.print(f"warning: could not release the lock: {exc}", markup=False)


def _run_apply(
    env: Env, the_plan: Plan, admins: dict[str, ClusterAdmin], parallelism: int, allow_destroy: bool
) -> None:
    try:
        check_applicable(the_plan, allow_destroy)
    except ApplyRefused as exc:
        env.err.print(error_text("apply-refused", str(exc), exc.hint))
        raise typer.Exit(ExitCode.ERROR) from None
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

        report = Applier(admins, parallelism, progress, the_plan.topology_name).run(changes)
    env.out.print(plan_view.render_report(report))
    if not report.complete:
        raise typer.Exit(ExitCode.PARTIAL)


APPLY_EPILOG = """Examples:

  mm2plan apply                       # plan, show, ask for 'yes'

  mm2plan plan -o tf.plan && mm2plan apply tf.plan

  mm2plan apply --auto-approve --parallelism 8

  mm2plan apply --allow-destroy       # the plan deletes topics"""


@app.command(epilog=APPLY_EPILOG)
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
    env = _env(ctx)
    saved: Plan | None = None
    topology_path = path
    if _is_plan_file(path):
        try:
            saved = load_plan(path)
        except PlanFileError as exc:
            env.err.print(error_text("plan-file", str(exc), "make a new one: mm2plan plan -o FILE"))
            raise typer.Exit(ExitCode.ERROR) from None
        topology_path = Path(saved.topology_file)
    topology = _topology(env, topology_path)
    with _admins(env, topology) as admins, _locked(env, admins, "apply", force_unlock):
        the_plan = _read_plan(env, topology, admins, saved.targets if saved else ())
        if saved is not None:
            if saved.fingerprint != the_plan.fingerprint:
                env.err.print(
                    error_text(
                        "stale-plan",
                        "the saved plan is stale: the topology or the clusters "
                        "changed since it was made",
                        "run `mm2plan plan -o FILE` again, review it",
                    )
                )
                raise typer.Exit(ExitCode.ERROR)
            the_plan = saved
        else:
            _show_plan_diagnostics(env, the_plan)
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
        _run_apply(env, the_plan, admins, parallelism, allow_destroy)


@app.command(epilog="Examples:\n\n  mm2plan destroy\n\n  mm2plan destroy --auto-approve")
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
    env = _env(ctx)
    topology = _topology(env, path)
    with _admins(env, topology) as admins, _locked(env, admins, "destroy", force_unlock):
        the_plan = _read_plan(env, topology, admins, (), destroy=True)
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
        _run_apply(env, the_plan, admins, 4, allow_destroy=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: maps Ctrl-C to 130 and keeps tracebacks for real bugs only."""
    try:
        app(args=list(argv) if argv is not None else None)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    main()
