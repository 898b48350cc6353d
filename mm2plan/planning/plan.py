"""A plan is data: the changes that would make the clusters match the topology.

Each `Change` carries its action (and the action its symbol), the state before and after, and a
reason that only explains it to people; nothing decides anything from `reason`. Plans are saved
as JSON with a fingerprint of the world they were made against, so a stale plan is refused.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from mm2plan.core.addresses import Address, Kind
from mm2plan.core.diagnostics import Diagnostic
from mm2plan.core.resources import AclBinding

PLAN_FORMAT_VERSION = "1"

_E = TypeVar("_E", bound=StrEnum)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ADOPT = "adopt"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.ADOPT: "=",
    Action.NOOP: " ",
}


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic's side of a change: what it is (before) or will be (after)."""

    partitions: int
    """-1: the broker's default (a declared topic without a count)."""
    config: Mapping[str, str] = field(default_factory=dict)
    replication_factor: int | None = None
    role: str | None = None
    """local | remote | internal (creates only)."""
    origin: str | None = None
    """A copy's source, `dc1:orders` (creates only)."""
    has_data: bool | None = None
    """Whether it holds records (deletes only; None: not known)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"partitions": self.partitions}
        if self.replication_factor is not None:
            out["replication_factor"] = self.replication_factor
        out["config"] = dict(sorted(self.config.items()))
        for key in ("role", "origin", "has_data"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TopicState:
        config = d.get("config") or {}
        if not isinstance(config, Mapping):
            raise PlanFileError(f"a topic's config must be an object, not {config!r}")
        return cls(
            int(d["partitions"]),
            {str(k): str(v) for k, v in config.items()},
            d.get("replication_factor"),
            d.get("role"),
            d.get("origin"),
            d.get("has_data"),
        )


@dataclass(frozen=True, slots=True)
class FlowSettings:
    """A replication's side of a change: the flow's effective MM2 settings."""

    settings: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.settings)


State = TopicState | AclBinding | FlowSettings
"""What one side of a change holds, by the change's kind."""


def _state(kind: Kind, d: Any) -> State | None:
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise PlanFileError(f"a change's before/after must be an object, not {d!r}")
    if kind.is_topic:
        return TopicState.from_json(d)
    if kind is Kind.ACL:
        return AclBinding.from_json(d)
    return FlowSettings(dict(d))


@dataclass(frozen=True, slots=True)
class Change:
    address: Address
    action: Action
    before: State | None
    after: State | None
    reason: str = ""
    """Why, for people only (e.g. "source topic dc1:orders grew to 12 partitions")."""
    depends_on: tuple[Address, ...] = ()
    """Addresses that must succeed first; if one fails, this change is skipped."""
    destroys_data: bool = False

    @property
    def cluster(self) -> str:
        return self.address.cluster

    @property
    def kind(self) -> Kind:
        return self.address.kind

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "cluster": self.cluster,
            "kind": self.kind.value,
            "action": self.action.value,
            "before": _plain(self.before.to_json()) if self.before else None,
            "after": _plain(self.after.to_json()) if self.after else None,
            "reason": self.reason,
            "depends_on": list(self.depends_on),
            "destroys_data": self.destroys_data,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Change:
        """Refuses what this version cannot carry out: a change whose action or kind it does
        not know would otherwise be reported done with nothing done."""
        _known(Kind, d["kind"], "kind", d["address"])
        address = _address(d["address"])
        if (address.cluster, address.kind.value) != (d["cluster"], d["kind"]):
            raise PlanFileError(f"change {address}: its cluster or kind contradicts its address")
        return cls(
            address,
            _known(Action, d["action"], "action", d["address"]),
            _state(address.kind, d.get("before")),
            _state(address.kind, d.get("after")),
            d.get("reason", ""),
            tuple(_address(a) for a in d.get("depends_on", ())),
            bool(d.get("destroys_data")),
        )


def _address(text: Any) -> Address:
    try:
        return Address.parse(str(text))
    except ValueError as exc:
        raise PlanFileError(str(exc)) from None


def _known(enum: type[_E], value: Any, what: str, address: Any) -> _E:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(m.value for m in enum)
        raise PlanFileError(
            f"change {address}: unknown {what} {value!r} (this mm2plan knows {known})"
        ) from None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    fingerprint: str
    topology_file: str = ""
    diagnostics: tuple[Diagnostic, ...] = ()
    """Errors here (conflicting topic, partition decrease, ...) make the plan unappliable."""
    targets: tuple[str, ...] = field(default=())
    topology_name: str = "default"
    """Whose ownership records apply writes (see Topology.name)."""

    @property
    def effective(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        return bool(self.effective)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def counts(self) -> dict[str, int]:
        c = Counter(ch.action for ch in self.changes)
        return {
            "add": c[Action.CREATE],
            "change": c[Action.UPDATE],
            "destroy": c[Action.DELETE],
            "adopt": c[Action.ADOPT],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "topology_file": self.topology_file,
            "fingerprint": self.fingerprint,
            "topology_name": self.topology_name,
            "targets": list(self.targets),
            "summary": self.counts(),
            "changes": [c.to_json() for c in self.effective],
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Plan:
        if d.get("format_version") != PLAN_FORMAT_VERSION:
            raise PlanFileError(
                f"plan format_version {d.get('format_version')!r} is not {PLAN_FORMAT_VERSION!r}"
            )
        return cls(
            tuple(Change.from_json(c) for c in d["changes"]),
            d["fingerprint"],
            d.get("topology_file", ""),
            tuple(Diagnostic.from_json(x) for x in d.get("diagnostics", [])),
            tuple(d.get("targets", ())),
            d.get("topology_name", "default"),
        )


class PlanFileError(Exception):
    """A saved plan that cannot be read: not JSON, another format version, truncated, or a
    change this version does not know how to carry out."""


def save_plan(plan: Plan, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def load_plan(path: Path) -> Plan:
    try:
        return Plan.from_json(json.loads(path.read_text()))
    except PlanFileError as exc:
        raise PlanFileError(f"{path}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # Any wrong shape inside (a string where an object belongs) is a bad file, not a bug.
        raise PlanFileError(f"{path}: not a readable mm2plan plan ({exc})") from None


def select(changes: Sequence[Change], targets: Sequence[str]) -> tuple[Change, ...]:
    """`--target`: the named addresses (or address prefixes) and everything they depend on."""
    if not targets:
        return tuple(changes)
    by_addr = {c.address: c for c in changes}
    wanted: set[str] = set()
    stack = [c.address for c in changes if any(c.address.startswith(t) for t in targets)]
    while stack:
        a = stack.pop()
        if a in wanted:
            continue
        wanted.add(a)
        if a in by_addr:
            stack.extend(by_addr[a].depends_on)
    return tuple(c for c in changes if c.address in wanted)
