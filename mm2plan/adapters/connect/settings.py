"""What a flow's live connectors run, said in the planner's terms (pure).

The planner compares a flow's `FlowStatus.settings` with the settings it wants
(`planning.desired.replication_settings`). The connect engine does not store those settings
anywhere on the worker: it compares the connectors' live configs with the configs the topology
asks for (`planning.connectors.connector_configs`), key by key, as Connect stores them. When
they are equal, the flow runs exactly the wanted settings and `run_settings` returns them as they
are, so the plan is empty. Each key that differs is written back onto those settings at its
settings name (`topics`, `emit.heartbeats.enabled`, `replication.policy`, a runtime property,
a client override), with the live value in the settings' own type, so the plan's diff shows
`topics = ["a"] -> ["a", "b"]`; a connector key with no settings name (bootstrap servers, a
converter) is shown as `<Connector>.<key>`. A secret's value is never copied: `(sensitive)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mm2plan.core.model import is_sensitive_key
from mm2plan.planning.connectors import KINDS, POLICY_CLASSES, FlowConnectors

SENSITIVE = "(sensitive)"
_POLICY_NAMES = {cls: name for name, cls in POLICY_CLASSES.items()}


def _typed(like: Any, text: str | None) -> Any:
    """A live connector value in the type of the settings value it stands for."""
    if text is None:
        return None
    if isinstance(like, bool):
        return text.strip().lower() == "true"
    if isinstance(like, list):
        return [p.strip() for p in text.split(",") if p.strip()]
    return text


def differences(
    wanted: Mapping[str, Mapping[str, str]], live: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, str, str | None]]:
    """(connector kind, key, live value or None) for every key a present connector of the flow
    runs otherwise than wanted; a connector that should not run shows its keys as extra. A
    wanted connector that is absent is not a difference: the flow's state says it is missing."""
    out = []
    for kind in KINDS:
        name = next((n for n in (*wanted, *live) if n.endswith("." + kind)), None)
        if name is None or name not in live:
            continue
        want, have = wanted.get(name, {}), live[name]
        for key in sorted(set(want) | set(have)):
            if want.get(key) != have.get(key):
                out.append((kind, key, have.get(key)))
    return out


def run_settings(
    wanted_settings: Mapping[str, Any],
    flow: FlowConnectors,
    live: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    """The settings the live connectors (`live`: name -> config) run: `wanted_settings` itself
    when every present connector runs the config `flow` asks for."""
    out = dict(wanted_settings)
    changed: set[str] = set()
    for kind, key, value in differences(flow.connectors, live):
        extra = not any(n.endswith("." + kind) for n in flow.connectors)
        if key == "replication.policy.class":
            name, shown = "replication.policy", _POLICY_NAMES.get(value or "", value)
        elif key in wanted_settings:
            name, shown = key, _typed(wanted_settings[key], value)
        elif extra:
            continue  # a connector that should not run: the settings that keep it off show it
        else:
            name, shown = f"{kind}.{key}", value
        if is_sensitive_key(key) and value is not None:
            shown = SENSITIVE
        if name not in changed and shown != out.get(name, object()):
            out[name] = shown
            changed.add(name)
    for kind in KINDS:  # an unwanted connector that differs in no settings key still shows
        running = [n for n in live if n.endswith("." + kind)]
        if running and not any(n.endswith("." + kind) for n in flow.connectors) and not changed:
            out[kind] = "runs, and is not wanted"
    return out
