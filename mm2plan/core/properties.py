"""The MM2 properties a flow may set (`flows[].properties`), with mm2plan's defaults beside MM2's.

MM2's names for every knob, so a team moving from `mm2.properties` keeps its vocabulary. Where
mm2plan's default differs from MM2's it is tighter, and the table says why; `export` writes
every such value explicitly, so real MM2 runs with the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuntimeProperty:
    name: str
    default: str
    mm2_default: str
    kind: str
    """int | float | bool"""
    doc: str


def _p(name: str, default: str, mm2_default: str, kind: str, doc: str) -> RuntimeProperty:
    return RuntimeProperty(name, default, mm2_default, kind, doc)


RUNTIME_PROPERTIES: dict[str, RuntimeProperty] = {
    p.name: p
    for p in (
        _p(
            "refresh.topics.interval.seconds",
            "5",
            "600",
            "float",
            "how often the source's topic list is read: a new topic is copied within this",
        ),
        _p(
            "refresh.groups.interval.seconds",
            "5",
            "600",
            "float",
            "how often the source's consumer groups are listed for checkpoints",
        ),
        _p(
            "emit.heartbeats.interval.seconds",
            "1",
            "1",
            "float",
            "heartbeat cadence on the target's heartbeats topic",
        ),
        _p(
            "emit.checkpoints.interval.seconds",
            "5",
            "60",
            "float",
            "checkpoint cadence: a failed-over group is at most this far behind",
        ),
        _p(
            "sync.group.offsets.interval.seconds",
            "5",
            "60",
            "float",
            "how often translated offsets are committed to idle groups on the target",
        ),
        _p(
            "sync.topic.configs.interval.seconds",
            "30",
            "600",
            "float",
            "how often source topic configs and partition counts are mirrored",
        ),
        _p(
            "offset.lag.max",
            "100",
            "100",
            "int",
            "an offset sync at least every this many records (MM2's own cadence)",
        ),
        _p(
            "emit.offset-syncs.enabled",
            "true",
            "true",
            "bool",
            "write MM2 offset syncs on the source (MM2's checkpoint connector needs them)",
        ),
        _p(
            "offset.flush.interval.ms",
            "1000",
            "60000",
            "int",
            "how often progress is recorded on the target: the most re-copied after a crash",
        ),
        _p(
            "tasks.max",
            "1",
            "1",
            "int",
            "bundled engine: worker processes for the flow (static partition shares)",
        ),
        _p(
            "heartbeats.topic.replication.factor",
            "",
            "3",
            "int",
            "empty: the topology's replication_factor",
        ),
        _p(
            "checkpoints.topic.replication.factor",
            "",
            "3",
            "int",
            "empty: the topology's replication_factor",
        ),
        _p(
            "offset-syncs.topic.replication.factor",
            "",
            "3",
            "int",
            "empty: the topology's replication_factor",
        ),
    )
}

CLIENT_PREFIXES = ("source.consumer.", "target.producer.", "source.admin.", "target.admin.")
"""MM2's per-client overrides (`source.consumer.fetch.max.bytes`), passed to the client as is."""


def property_problem(name: str, value: str) -> str | None:
    """Why `name: value` cannot be a flow property, or None."""
    if name.startswith(CLIENT_PREFIXES):
        rest = name.split(".", 2)[2] if name.count(".") >= 2 else ""
        return None if rest else f"{name} names no client property"
    prop = RUNTIME_PROPERTIES.get(name)
    if prop is None:
        return f"unknown MM2 property {name}"
    if value == "" and prop.default == "":
        return None
    try:
        if prop.kind == "int":
            ok = int(value) >= (1 if name == "tasks.max" else 0)
        elif prop.kind == "float":
            ok = float(value) > 0
        else:
            ok = value.lower() in ("true", "false")
    except ValueError:
        ok = False
    return (
        None
        if ok
        else f"{name} must be a {'' if prop.kind == 'bool' else 'positive '}{prop.kind}, "
        f"not {value!r}"
    )
