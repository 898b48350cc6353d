"""What the clusters hold right now, as plain values.

Adapters fill these in from Kafka; the planner reads them; golden tests load them from JSON.
Their canonical JSON is what a plan's fingerprint hashes (planning/fingerprint.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ALLOW = "ALLOW"
LITERAL = "LITERAL"
PREFIXED = "PREFIXED"


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    """One ACL entry, with Kafka's names for every part (AclOperation, ResourceType, ...)."""

    principal: str
    operation: str
    resource_type: str
    resource_name: str
    pattern_type: str = LITERAL
    permission: str = ALLOW
    host: str = "*"

    def describe(self) -> str:
        """`"User:app" READ topic:orders`; a prefixed pattern ends in `*`; denies and hosts
        other than `*` are spelled out."""
        name = self.resource_name + ("*" if self.pattern_type == PREFIXED else "")
        text = f'"{self.principal}" {self.operation} {self.resource_type.lower()}:{name}'
        if self.permission != ALLOW:
            text += f" {self.permission}"
        if self.host != "*":
            text += f" host:{self.host}"
        return text

    def to_json(self) -> dict[str, str]:
        return {
            "principal": self.principal,
            "operation": self.operation,
            "resource_type": self.resource_type,
            "resource_name": self.resource_name,
            "pattern_type": self.pattern_type,
            "permission": self.permission,
            "host": self.host,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, str]) -> AclBinding:
        return cls(
            d["principal"],
            d["operation"],
            d["resource_type"],
            d["resource_name"],
            d.get("pattern_type", LITERAL),
            d.get("permission", ALLOW),
            d.get("host", "*"),
        )


@dataclass(frozen=True, slots=True)
class LiveTopic:
    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)
    """Only configs set on the topic itself (source DYNAMIC_TOPIC_CONFIG), not broker defaults."""
    has_data: bool | None = None
    """Whether any partition holds records; None when not read."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "config": dict(sorted(self.config.items())),
        }
        if self.has_data is not None:
            out["has_data"] = self.has_data
        return out


@dataclass(frozen=True, slots=True)
class LiveCluster:
    alias: str
    topics: Mapping[str, LiveTopic] = field(default_factory=dict)
    acls: frozenset[AclBinding] | None = frozenset()
    """None when the cluster has no authorizer (ACL changes cannot be applied there)."""
    owned: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """mm2plan's ownership records on this cluster, by resource address."""
    failovers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Failover records on this cluster (`__mm2plan.failover`), by key: a flow a failover
    stopped is held, not restarted by apply. Not serialized: not part of a plan's state."""

    def to_json(self) -> dict[str, Any]:
        return {
            "topics": {n: t.to_json() for n, t in sorted(self.topics.items())},
            "acls": None if self.acls is None else [a.to_json() for a in sorted(self.acls)],
            "owned": {a: dict(r) for a, r in sorted(self.owned.items())},
        }

    @classmethod
    def from_json(cls, alias: str, d: Mapping[str, Any]) -> LiveCluster:
        topics = {
            n: LiveTopic(
                n,
                int(t["partitions"]),
                int(t.get("replication_factor", 1)),
                {str(k): str(v) for k, v in (t.get("config") or {}).items()},
                t.get("has_data"),
            )
            for n, t in (d.get("topics") or {}).items()
        }
        raw_acls = d.get("acls", [])
        acls = None if raw_acls is None else frozenset(AclBinding.from_json(a) for a in raw_acls)
        return cls(alias, topics, acls, dict(d.get("owned") or {}))


@dataclass(frozen=True, slots=True)
class LiveState:
    clusters: Mapping[str, LiveCluster]

    def to_json(self) -> dict[str, Any]:
        return {alias: c.to_json() for alias, c in sorted(self.clusters.items())}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LiveState:
        return cls({alias: LiveCluster.from_json(alias, c) for alias, c in d.items()})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
