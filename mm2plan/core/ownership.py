"""Ownership records as typed values: what mm2plan owns on a cluster, and what it applied.

The store (ports.OwnershipStore) keeps each record as a JSON object under its address's text;
this module is the one place that reads and writes their fields (the planner, apply, the
fingerprint and the readers' data scope all go through it). A record this version does not
understand reads as "not owned": mm2plan then never changes or deletes that resource, the safe side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mm2plan.core.addresses import Address, Kind
from mm2plan.core.model import DEFAULT_TOPOLOGY_NAME
from mm2plan.core.resources import AclBinding

MANAGED_BY = "mm2plan"


@dataclass(frozen=True, slots=True)
class OwnershipRecord:
    kind: Kind
    topology: str = DEFAULT_TOPOLOGY_NAME
    """Which topology (its `name:`) owns the resource."""
    topic: str = ""
    """Topics: the topic's name."""
    applied: Mapping[str, Any] | None = None
    """Topics: the partitions and config the last apply set (None in records older than that)."""
    binding: AclBinding | None = None
    """ACLs: the binding."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Replication: the flow's effective MM2 settings as applied."""
    state: str = ""
    """Replication: as the applier left it (`pending` without an engine)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "managed_by": MANAGED_BY,
            "topology": self.topology,
        }
        if self.kind.is_topic:
            out["name"] = self.topic
            if self.applied is not None:
                out["applied"] = dict(self.applied)
        elif self.kind is Kind.ACL:
            out["binding"] = self.binding.to_json() if self.binding else {}
        else:
            out["settings"] = dict(self.settings)
            out["state"] = self.state
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> OwnershipRecord | None:
        """None for a record that is not one of mm2plan's, or that this version cannot read."""
        try:
            kind = Kind(d.get("kind", Kind.TOPIC))
            topology = str(d.get("topology", DEFAULT_TOPOLOGY_NAME))
            if kind.is_topic:
                applied = d.get("applied")
                return cls(
                    kind,
                    topology,
                    topic=str(d["name"]),
                    applied=applied if isinstance(applied, Mapping) else None,
                )
            if kind is Kind.ACL:
                return cls(kind, topology, binding=AclBinding.from_json(d["binding"]))
            settings = d.get("settings", {})
            return cls(
                kind,
                topology,
                settings=settings if isinstance(settings, Mapping) else {},
                state=str(d.get("state", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


Owned = dict[Address, OwnershipRecord]


def owned_topic_names(raw: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The topics any record names, whichever topology it belongs to."""
    names = set()
    for body in raw.values():
        record = OwnershipRecord.from_json(body) if isinstance(body, Mapping) else None
        if record is not None and record.kind.is_topic:
            names.add(record.topic)
    return names


def read_records(raw: Mapping[str, Mapping[str, Any]]) -> Owned:
    """The records under keys that are addresses and bodies this version understands."""
    out: Owned = {}
    for key, body in raw.items():
        try:
            address = Address.parse(key)
        except ValueError:
            continue
        record = OwnershipRecord.from_json(body) if isinstance(body, Mapping) else None
        if record is not None and record.kind is address.kind:
            out[address] = record
    return out
