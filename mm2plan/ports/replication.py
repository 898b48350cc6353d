"""The replication engine port: run one flow's replication, wherever it runs.

The bundled runtime and the Kafka Connect engine (MM2's connectors) each implement it, so plan,
apply, destroy, failover and status treat both alike. A flow is named as MM2 names it
(`dc1->dc2`) within a topology; its settings are the effective MM2 settings the planner derived
(`planning.desired.replication_settings`), so "config differs" is a plain comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class FlowState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    """Known to the engine, not copying (stopped by a user, or by failover)."""
    FAILED = "failed"
    """The engine tried and gave up; `FlowStatus.reason` says why."""
    ABSENT = "absent"
    """The engine knows nothing of this flow."""


@dataclass(frozen=True, slots=True)
class FlowKey:
    """One flow of one topology: two topologies may both replicate dc1->dc2."""

    topology: str
    source: str
    target: str

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    def __str__(self) -> str:
        return self.name if self.topology == "default" else f"{self.topology}/{self.name}"


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """What a flow should run with."""

    key: FlowKey
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FlowStatus:
    """What an engine says of a flow right now."""

    key: FlowKey
    state: FlowState
    settings: Mapping[str, Any] | None = None
    """The settings it runs (or last ran) with; None when ABSENT."""
    reason: str = ""


class EngineError(Exception):
    """An engine could not do what was asked of one flow; the message says what to do."""

    def __init__(self, key: FlowKey, message: str, hint: str = "", code: str = "engine") -> None:
        super().__init__(f"flow {key}: {message}")
        self.key = key
        self.hint = hint
        self.code = code


class ReplicationEngine(Protocol):
    """Starts, changes, stops and describes flows. Every call is idempotent (start of a running
    flow with the same settings does nothing) and raises EngineError for its flow only."""

    name: str
    """`bundled` or `connect`, as `runtime.engine` spells it."""

    def describe(self, key: FlowKey) -> FlowStatus: ...

    def start(self, spec: FlowSpec) -> None: ...

    def update(self, spec: FlowSpec) -> None:
        """Run with new settings, resuming from where the flow was: nothing copied twice."""
        ...

    def stop(self, key: FlowKey) -> None:
        """Stop copying, keeping the flow's positions so that a later start resumes."""
        ...
