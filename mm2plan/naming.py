"""MirrorMaker 2's replication policies, answer for answer as Apache Kafka 4.x's Java classes.

`DefaultReplicationPolicy` names a remote topic `<source alias><separator><topic>` and reads the
source back from the name; `IdentityReplicationPolicy` keeps names (so it cannot tell a remote
topic from a local one, except heartbeats). Quirks are kept on purpose, because MM2 acts on them:
`topic_source` splits the way Java's `Pattern.split` does (trailing empty parts dropped, a leading
empty part kept), and returns None where Java returns null.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

HEARTBEATS_TOPIC = "heartbeats"
MAX_TOPIC_NAME_LENGTH = 249
"""Kafka's limit (org.apache.kafka.common.internals.Topic.MAX_NAME_LENGTH)."""
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")


class ReplicationPolicy(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def separator(self) -> str: ...

    def format_remote_topic(self, source_alias: str, topic: str) -> str: ...

    def topic_source(self, topic: str) -> str | None: ...

    def upstream_topic(self, topic: str) -> str | None: ...

    def original_topic(self, topic: str) -> str: ...

    def heartbeats_topic(self) -> str: ...

    def offset_syncs_topic(self, cluster_alias: str) -> str: ...

    def checkpoints_topic(self, cluster_alias: str) -> str: ...

    def is_heartbeats_topic(self, topic: str) -> bool: ...

    def is_checkpoints_topic(self, topic: str) -> bool: ...

    def is_mm2_internal_topic(self, topic: str) -> bool: ...

    def is_internal_topic(self, topic: str) -> bool: ...


def _java_split(text: str, separator: str) -> list[str]:
    """`Pattern.compile(Pattern.quote(sep)).split(text)`: trailing empty strings are removed."""
    parts = text.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


@dataclass(frozen=True)
class DefaultReplicationPolicy:
    """MM2's default: `replication.policy.separator` (default "."), and
    `replication.policy.internal.topic.separator.enabled` (default true: internal topics use the
    separator too; false: they keep ".")."""

    separator: str = "."
    internal_topic_separator_enabled: bool = True
    heartbeats_topic_name: str = HEARTBEATS_TOPIC

    @property
    def name(self) -> str:
        return "default"

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        return source_alias + self.separator + topic

    def topic_source(self, topic: str) -> str | None:
        parts = _java_split(topic, self.separator)
        return parts[0] if len(parts) >= 2 else None

    def upstream_topic(self, topic: str) -> str | None:
        source = self.topic_source(topic)
        if source is None:
            return None
        return topic[len(source) + len(self.separator) :]

    def original_topic(self, topic: str) -> str:
        """Follows upstream names to the first hop (iterative: Java recurses)."""
        while True:
            upstream = self.upstream_topic(topic)
            if upstream is None or upstream == topic:
                return topic
            topic = upstream

    def _internal_separator(self) -> str:
        return self.separator if self.internal_topic_separator_enabled else "."

    def _internal_suffix(self) -> str:
        return self._internal_separator() + "internal"

    def _checkpoints_suffix(self) -> str:
        return self._internal_separator() + "checkpoints" + self._internal_suffix()

    def heartbeats_topic(self) -> str:
        return self.heartbeats_topic_name

    def offset_syncs_topic(self, cluster_alias: str) -> str:
        return (
            "mm2-offset-syncs"
            + self._internal_separator()
            + cluster_alias
            + self._internal_suffix()
        )

    def checkpoints_topic(self, cluster_alias: str) -> str:
        return cluster_alias + self._checkpoints_suffix()

    def is_heartbeats_topic(self, topic: str) -> bool:
        return self.heartbeats_topic() == self.original_topic(topic)

    def is_checkpoints_topic(self, topic: str) -> bool:
        return topic.endswith(self._checkpoints_suffix())

    def is_mm2_internal_topic(self, topic: str) -> bool:
        return topic.endswith(self._internal_suffix())

    def is_internal_topic(self, topic: str) -> bool:
        """MM2 never replicates these: its own, Kafka's (`__`, `.`), and Connect's."""
        kafka_internal = topic.startswith("__") or topic.startswith(".")
        connect_default = topic.endswith("-internal") or topic.endswith(".internal")
        return self.is_mm2_internal_topic(topic) or kafka_internal or connect_default


@dataclass(frozen=True)
class IdentityReplicationPolicy(DefaultReplicationPolicy):
    """Remote topics keep their names; heartbeats are still prefixed (Java special case).
    `source_cluster_alias` is Java's `source.cluster.alias`, what `topic_source` answers."""

    source_cluster_alias: str | None = None

    @property
    def name(self) -> str:
        return "identity"

    def _looks_like_heartbeat(self, topic: str) -> bool:
        return topic.endswith(self.heartbeats_topic())

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        if self._looks_like_heartbeat(topic):
            return super().format_remote_topic(source_alias, topic)
        return topic

    def topic_source(self, topic: str) -> str | None:
        if self._looks_like_heartbeat(topic):
            return super().topic_source(topic)
        return self.source_cluster_alias

    def upstream_topic(self, topic: str) -> str | None:
        if self._looks_like_heartbeat(topic):
            return super().upstream_topic(topic)
        return topic


def policy_for(name: str, separator: str = ".") -> ReplicationPolicy:
    if name == "default":
        return DefaultReplicationPolicy(separator)
    if name == "identity":
        return IdentityReplicationPolicy(separator)
    raise ValueError(f"unknown replication policy {name!r} (default | identity)")


def topic_name_problem(name: str) -> str | None:
    """Why Kafka would refuse this topic name (`Topic.validate`), or None."""
    if not name:
        return "is empty"
    if name in (".", ".."):
        return f"cannot be '{name}'"
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        return f"is {len(name)} characters long; the limit is {MAX_TOPIC_NAME_LENGTH}"
    if not _LEGAL_TOPIC.fullmatch(name):
        bad = sorted({ch for ch in name if not _LEGAL_TOPIC.fullmatch(ch)})
        return "contains characters Kafka refuses: " + " ".join(repr(c) for c in bad)
    return None


def has_collision_chars(name: str) -> bool:
    return "." in name or "_" in name


def unify_collision_chars(name: str) -> str:
    """Kafka's metric names turn '.' into '_', so `a.b` and `a_b` collide."""
    return name.replace(".", "_")


def is_remote_topic(policy: ReplicationPolicy, topic: str) -> bool:
    """`MirrorClient.isRemoteTopic`: not internal, and the policy names a source."""
    return not policy.is_internal_topic(topic) and policy.topic_source(topic) is not None


def count_hops(policy: ReplicationPolicy, topic: str, source_alias: str) -> int:
    """`MirrorClient.countHopsForTopic`: hops from `source_alias` to here, -1 if it is not
    upstream. The visited set stops policies that cannot rule out cycles (identity)."""
    hops = 0
    visited: set[str] = set()
    current: str | None = topic
    while current is not None:
        hops += 1
        source = policy.topic_source(current)
        if source is None:
            return -1
        if source == source_alias:
            return hops
        if source in visited:
            return -1
        visited.add(source)
        current = policy.upstream_topic(current)
    return -1
