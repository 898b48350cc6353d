"""Carry out a plan over the ports: topics, then ACLs, then replication, batched per cluster.

Every change ends `applied`, `failed`, `skipped` (a change it depends on did not succeed) or
`pending` (replication recorded, with no engine to run it: the topology's engine has no adapter
in this release). Ownership is
recorded on the cluster right after each batch succeeds, so a killed apply loses nothing: the next
plan sees what was done and finishes the job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from mm2plan.core.addresses import Kind, apply_stage
from mm2plan.core.model import DEFAULT_TOPOLOGY_NAME
from mm2plan.core.ownership import OwnershipRecord
from mm2plan.core.resources import AclBinding
from mm2plan.execution.errors import Refused
from mm2plan.planning.plan import Action, Change, FlowSettings, Plan, State, TopicState
from mm2plan.ports.cluster import ClusterAdmin, ClusterError, NewTopic, OpError, OwnershipStore
from mm2plan.ports.replication import (
    EngineError,
    FlowKey,
    FlowSpec,
    FlowState,
    ReplicationEngine,
)


class Status(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change: Change
    status: Status
    detail: str = ""


@dataclass
class ApplyReport:
    results: list[ChangeResult] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def complete(self) -> bool:
        return all(r.status in (Status.APPLIED, Status.PENDING) for r in self.results)


Progress = Callable[[ChangeResult], None]


class ClusterWriter(ClusterAdmin, OwnershipStore, Protocol):
    """What apply needs of a cluster: its admin, and its ownership records."""


class ApplyRefused(Refused):
    """The plan cannot be applied as asked (destroys data without --allow-destroy, errors)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__("apply-refused", message, hint)


def check_applicable(plan: Plan, allow_destroy: bool) -> None:
    if plan.has_errors:
        raise ApplyRefused("the plan has errors", "fix them and run plan again")
    deletes = [
        c
        for c in plan.effective
        if c.action is Action.DELETE and c.kind in (Kind.TOPIC, Kind.INTERNAL_TOPIC)
    ]
    if deletes and not allow_destroy:
        data = [c.address for c in deletes if c.destroys_data]
        detail = f" ({len(data)} hold data: {', '.join(data[:3])})" if data else ""
        raise ApplyRefused(
            f"the plan deletes {len(deletes)} topic(s){detail}",
            "re-run with --allow-destroy if losing them is intended",
        )


def ownership_record(
    change: Change, topology_name: str, engine: str = ""
) -> OwnershipRecord | None:
    """What apply records for a change it made (None: forget the resource); a flow is
    `started` by `engine`, or `pending` without one."""
    if change.action is Action.DELETE:
        return None
    after = change.after
    if isinstance(after, TopicState):
        applied = {"partitions": after.partitions, "config": dict(after.config)}
        return OwnershipRecord(
            change.kind, topology_name, topic=change.address.name, applied=applied
        )
    if isinstance(after, AclBinding):
        return OwnershipRecord(change.kind, topology_name, binding=after)
    assert isinstance(after, FlowSettings), change
    state = f"started ({engine})" if engine else "pending"
    return OwnershipRecord(change.kind, topology_name, settings=after.settings, state=state)


class Applier:
    def __init__(
        self,
        admins: Mapping[str, ClusterWriter],
        parallelism: int = 4,
        progress: Progress | None = None,
        owner: str = DEFAULT_TOPOLOGY_NAME,
        engine: ReplicationEngine | None = None,
    ) -> None:
        """Without an engine, replication changes are recorded and reported `pending`."""
        self.admins = admins
        self.engine = engine
        self.owner = owner
        self.parallelism = max(1, parallelism)
        self.progress = progress or (lambda r: None)
        self.report = ApplyReport()
        self._status: dict[str, ChangeResult] = {}

    def run(self, changes: Sequence[Change]) -> ApplyReport:
        todo = [c for c in changes if c.action is not Action.NOOP]
        for wave in _waves(todo):
            self._run_wave(wave)
        return self.report

    def _finish(self, change: Change, status: Status, detail: str = "") -> None:
        result = ChangeResult(change, status, detail)
        self._status[change.address] = result
        self.report.results.append(result)
        self.progress(result)

    def _blocked_by(self, change: Change) -> str:
        for dep in change.depends_on:
            r = self._status.get(dep)
            if r is not None and r.status in (Status.FAILED, Status.SKIPPED):
                return dep
        return ""

    def _run_wave(self, wave: list[Change]) -> None:
        ready: dict[str, list[Change]] = defaultdict(list)
        for c in wave:
            cause = self._blocked_by(c)
            if cause:
                self._finish(c, Status.SKIPPED, f"depends on {cause}, which did not apply")
            else:
                ready[c.cluster].append(c)
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            outcomes = list(pool.map(lambda item: self._apply_cluster(*item), ready.items()))
        for results in outcomes:
            for change, status, detail in results:
                self._finish(change, status, detail)

    def _apply_cluster(self, alias: str, changes: list[Change]) -> list[tuple[Change, Status, str]]:
        """One cluster's share of a wave; runs in a worker thread, reports through its return."""
        admin = self.admins[alias]
        try:
            errors = _execute(admin, changes)
            errors.update(self._replicate(changes))
        except ClusterError as exc:
            return [(c, Status.FAILED, str(exc)) for c in changes]
        done = [c for c in changes if errors.get(c.address) is None]
        records: dict[str, dict[str, Any] | None] = {}
        for c in done:
            record = ownership_record(c, self.owner, self.engine.name if self.engine else "")
            records[c.address] = record.to_json() if record else None
        try:
            if records:
                admin.write_ownership(records)
        except ClusterError as exc:
            return [
                (c, Status.FAILED, f"applied, but ownership was not recorded: {exc}")
                for c in changes
            ]
        out = []
        for c in changes:
            err = errors.get(c.address)
            if err is not None:
                out.append((c, Status.FAILED, str(err)))
            elif c.kind is Kind.REPLICATION and c.action is not Action.DELETE and not self.engine:
                out.append(
                    (
                        c,
                        Status.PENDING,
                        "recorded; no replication runtime in this release starts it yet",
                    )
                )
            else:
                out.append((c, Status.APPLIED, ""))
        return out

    def _replicate(self, changes: list[Change]) -> dict[str, OpError | None]:
        """Each replication change through the engine port, one flow at a time: a flow that
        fails fails alone."""
        errors: dict[str, OpError | None] = {}
        if self.engine is None:
            return errors
        for c in changes:
            if c.kind is not Kind.REPLICATION:
                continue
            side = c.after or c.before
            assert isinstance(side, FlowSettings), c
            settings = dict(side.settings)
            key = FlowKey(self.owner, str(settings["source"]), str(settings["target"]))
            try:
                if c.action is Action.DELETE:
                    self.engine.stop(key)
                elif c.action is Action.UPDATE and self.engine.describe(key).state is not (
                    FlowState.ABSENT
                ):
                    self.engine.update(FlowSpec(key, settings))
                else:  # new, or recorded but unknown to the engine (applied without one)
                    self.engine.start(FlowSpec(key, settings))
            except EngineError as exc:  # with its hint: a failed change is all apply shows
                hint = f" (hint: {exc.hint})" if exc.hint else ""
                errors[c.address] = OpError(exc.code, f"{exc}{hint}")
        return errors


def _waves(changes: list[Change]) -> list[list[Change]]:
    """Kinds in apply order, and within a kind, copies after their sources."""
    by_addr = {c.address: c for c in changes}
    depth: dict[str, int] = {}

    def level(c: Change, seen: frozenset[str] = frozenset()) -> int:
        if c.address in depth:
            return depth[c.address]
        deps = [by_addr[d] for d in c.depends_on if d in by_addr and d not in seen]
        n = 1 + max((level(d, seen | {c.address}) for d in deps), default=-1)
        depth[c.address] = n
        return n

    groups: dict[tuple[int, int], list[Change]] = defaultdict(list)
    for c in changes:
        groups[(apply_stage(c.kind, c.action is Action.DELETE), level(c))].append(c)
    return [groups[k] for k in sorted(groups)]


def _execute(admin: ClusterAdmin, changes: list[Change]) -> dict[str, OpError | None]:
    """Batches one cluster's changes into as few admin requests as possible."""
    errors: dict[str, OpError | None] = {}
    topics = [c for c in changes if c.kind in (Kind.TOPIC, Kind.INTERNAL_TOPIC)]
    creates = [c for c in topics if c.action is Action.CREATE]
    if creates:
        res = admin.create_topics([_new_topic(c) for c in creates])
        errors.update({c.address: res.get(c.address.name) for c in creates})
    grow = {
        c.address.name: _topic(c.after).partitions
        for c in topics
        if c.action in (Action.UPDATE, Action.ADOPT)
        and _topic(c.after).partitions > _topic(c.before).partitions
    }
    if grow:
        res = admin.create_partitions(grow)
        errors.update(
            {c.address: res.get(c.address.name) for c in topics if c.address.name in grow}
        )
    alter = {
        c.address.name: _config_delta(c)
        for c in topics
        if c.action in (Action.UPDATE, Action.ADOPT) and errors.get(c.address) is None
    }
    alter = {k: v for k, v in alter.items() if v}
    if alter:
        res = admin.alter_topic_configs(alter)
        errors.update(
            {
                c.address: res.get(c.address.name)
                for c in topics
                if c.address.name in alter and res.get(c.address.name) is not None
            }
        )
    deletes = [c for c in topics if c.action is Action.DELETE]
    if deletes:
        res = admin.delete_topics([c.address.name for c in deletes])
        errors.update({c.address: res.get(c.address.name) for c in deletes})
    acls = [c for c in changes if c.kind is Kind.ACL]
    _acl_batch(admin, [c for c in acls if c.action is Action.CREATE], errors, create=True)
    _acl_batch(admin, [c for c in acls if c.action is Action.DELETE], errors, create=False)
    return errors


def _acl_batch(
    admin: ClusterAdmin, changes: list[Change], errors: dict[str, OpError | None], create: bool
) -> None:
    if not changes:
        return
    bindings: dict[str, AclBinding] = {}
    for c in changes:
        binding = c.after if create else c.before
        assert isinstance(binding, AclBinding), c
        bindings[c.address] = binding
    res = (admin.create_acls if create else admin.delete_acls)(list(bindings.values()))
    errors.update({addr: res.get(b) for addr, b in bindings.items()})


def _topic(state: State | None) -> TopicState:
    """A topic change's side; the planner gives topics no other kind."""
    assert isinstance(state, TopicState), state
    return state


def _new_topic(c: Change) -> NewTopic:
    after = _topic(c.after)
    return NewTopic(
        c.address.name,
        after.partitions or -1,
        after.replication_factor or -1,
        dict(after.config),
    )


def _config_delta(c: Change) -> dict[str, str | None]:
    before = dict(_topic(c.before).config)
    after = dict(_topic(c.after).config)
    delta: dict[str, str | None] = {k: v for k, v in after.items() if before.get(k) != v}
    delta.update({k: None for k in before if k not in after})
    return delta
