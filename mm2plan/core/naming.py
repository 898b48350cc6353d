"""MirrorMaker 2's topic naming, answer for answer as Apache Kafka 4.x's Java classes.

MM2 decides what to replicate, where copies go and which topics are its own from names alone, so
a plan is only right if it reads names exactly as MM2 does. Java's quirks are kept on purpose;
tests/unit/test_naming.py pins each one, as checked against connect-mirror-client 4.3.1:

- `DefaultReplicationPolicy.topic_source` splits like Java's `Pattern.split`: a leading empty part
  is kept (".x" comes from ""), trailing empty parts are dropped ("a." and "..." have no source),
  and an empty separator splits between characters ("ab" comes from "a").
- `IdentityReplicationPolicy` keeps names, except for any topic that merely *ends with*
  "heartbeats" ("myheartbeats" too), which is named and read as the default policy would.
- Internal topics (4.0, KIP-1074): MM2's own are "mm2*" names ending with the internal suffix,
  plus checkpoints; and "__*" and ".*" names. A user's "orders.internal" is replicated.
  The internal suffix follows the separator unless `internal_topic_separator_enabled` is False.

None stands where Java returns null. Names are compared by code point, not UTF-16 unit: the two
differ only for characters outside the BMP, which no legal topic name has. The MirrorClient and
MirrorSourceConnector helpers at the end take a topic list instead of an admin client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol

HEARTBEATS_TOPIC = "heartbeats"
"""`ReplicationPolicy.heartbeatsTopic()`: fixed in Kafka, whatever the separator."""
DEFAULT_SEPARATOR = "."
MAX_TOPIC_NAME_LENGTH = 249
"""`org.apache.kafka.common.internals.Topic.MAX_NAME_LENGTH`."""
KAFKA_INTERNAL_TOPICS = frozenset(
    {"__consumer_offsets", "__transaction_state", "__share_group_state"}
)
"""`Topic.isInternal`: the broker's own topics."""
BROKER_TOPICS = KAFKA_INTERNAL_TOPICS | {"__cluster_metadata", "__remote_log_metadata"}
"""Every topic the broker itself keeps (KRaft metadata and tiered storage too): never planned."""
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")


class ReplicationPolicy(Protocol):
    """`org.apache.kafka.connect.mirror.ReplicationPolicy`, as MM2 calls it."""

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
    """`Pattern.compile(Pattern.quote(separator)).split(text)`, which MM2 uses to read sources."""
    if not separator:
        # An empty pattern matches between characters, never yielding a leading empty part.
        return list(text) if text else [""]
    parts = text.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


@dataclass(frozen=True)
class DefaultReplicationPolicy:
    """MM2's default policy: remote topics are named `<source alias><separator><topic>`.

    `separator` is `replication.policy.separator`; `internal_topic_separator_enabled` is
    `replication.policy.internal.topic.separator.enabled` (false keeps "." in the checkpoints and
    offset-syncs topic names, as before Kafka 3.1: KIP-690, KIP-949)."""

    separator: str = DEFAULT_SEPARATOR
    internal_topic_separator_enabled: bool = True

    @property
    def name(self) -> str:
        return "default"

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        return source_alias + self.separator + topic

    def topic_source(self, topic: str) -> str | None:
        """The first part before the separator, or None unless Java's split gives two parts."""
        parts = _java_split(topic, self.separator)
        return parts[0] if len(parts) >= 2 else None

    def upstream_topic(self, topic: str) -> str | None:
        """The name one hop upstream: the topic without its source and the separator."""
        source = self.topic_source(topic)
        if source is None:
            return None
        return topic[len(source) + len(self.separator) :]

    def original_topic(self, topic: str) -> str:
        """The name on the first cluster, through any number of hops (Java recurses)."""
        while True:
            upstream = self.upstream_topic(topic)
            if upstream is None or upstream == topic:
                return topic
            topic = upstream

    def _internal_separator(self) -> str:
        return self.separator if self.internal_topic_separator_enabled else "."

    @cached_property
    def _suffixes(self) -> tuple[str, str]:
        """(internal, checkpoints) suffixes, made once: a graph asks for every topic it holds."""
        sep = self._internal_separator()
        return sep + "internal", sep + "checkpoints" + sep + "internal"

    def _internal_suffix(self) -> str:
        return self._suffixes[0]

    def _checkpoints_suffix(self) -> str:
        return self._suffixes[1]

    def heartbeats_topic(self) -> str:
        return HEARTBEATS_TOPIC

    def offset_syncs_topic(self, cluster_alias: str) -> str:
        """Named after the *other* cluster of the flow (see `offset_syncs_placement`)."""
        sep = self._internal_separator()
        return "mm2-offset-syncs" + sep + cluster_alias + self._internal_suffix()

    def checkpoints_topic(self, cluster_alias: str) -> str:
        """On the target cluster, named after the source cluster."""
        return cluster_alias + self._checkpoints_suffix()

    def is_heartbeats_topic(self, topic: str) -> bool:
        """Heartbeats, or a copy of them any number of hops away."""
        return self.heartbeats_topic() == self.original_topic(topic)

    def is_checkpoints_topic(self, topic: str) -> bool:
        return topic.endswith(self._checkpoints_suffix())

    def is_mm2_internal_topic(self, topic: str) -> bool:
        """ "mm2..." topics ending with the internal suffix, and checkpoints (KIP-1074, 4.0)."""
        mm2 = topic.startswith("mm2") and topic.endswith(self._internal_suffix())
        return mm2 or self.is_checkpoints_topic(topic)

    def is_internal_topic(self, topic: str) -> bool:
        """Never replicated: MM2's own and anything starting "__" or ".". Since Kafka 4.0
        (KIP-1074) a user's "*.internal" or "*-internal" topic is no longer internal."""
        return self.is_mm2_internal_topic(topic) or topic.startswith("__") or topic.startswith(".")


@dataclass(frozen=True)
class IdentityReplicationPolicy(DefaultReplicationPolicy):
    """Remote topics keep their names, so MM2 cannot see cycles; heartbeats stay prefixed.

    `source_cluster_alias` is Java's `source.cluster.alias`: what `topic_source` answers for
    every topic that does not end with "heartbeats" (None when unset)."""

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


def policy_for(name: str, separator: str = DEFAULT_SEPARATOR) -> ReplicationPolicy:
    """The policy a topology names ("default" | "identity")."""
    if name == "default":
        return DefaultReplicationPolicy(separator)
    if name == "identity":
        return IdentityReplicationPolicy(separator)
    raise ValueError(f"unknown replication policy {name!r} (default | identity)")


# --- MirrorMaker's placement of its internal topics ---------------------------------------------


def offset_syncs_placement(
    policy: ReplicationPolicy,
    source_alias: str,
    target_alias: str,
    location: Literal["source", "target"] = "source",
) -> tuple[str, str]:
    """(cluster, topic) of a flow's offset syncs: `offset-syncs.topic.location` picks the
    cluster, and the topic is named after the other one (MirrorSourceConfig.offsetSyncsTopic)."""
    if location == "source":
        return source_alias, policy.offset_syncs_topic(target_alias)
    return target_alias, policy.offset_syncs_topic(source_alias)


def dedicated_worker_topics(source_alias: str) -> tuple[str, str, str]:
    """Connect's offsets, status and configs topics in dedicated mode (MirrorMakerConfig
    defaults). They always use ".": when the policy's internal separator is another, it does not
    call them internal, and only the default `topics.exclude` ("mm2.*\\.internal") skips them."""
    return (
        f"mm2-offsets.{source_alias}.internal",
        f"mm2-status.{source_alias}.internal",
        f"mm2-configs.{source_alias}.internal",
    )


MM2_CONFIG_EXCLUDE = re.compile(
    r"follower\.replication\.throttled\.replicas|leader\.replication\.throttled\.replicas|"
    r"message\.timestamp\.difference\.max\.ms|message\.timestamp\.type|"
    r"unclean\.leader\.election\.enable|min\.insync\.replicas"
)
"""MM2's DefaultConfigPropertyFilter (`config.properties.exclude`): topic configs never copied."""


def is_synced_config(name: str) -> bool:
    """A source topic config MM2 copies to the remote topic."""
    return MM2_CONFIG_EXCLUDE.fullmatch(name) is None


# --- MirrorClient and MirrorSourceConnector, over a topic list ---------------------------------


def is_remote_topic(policy: ReplicationPolicy, topic: str) -> bool:
    """`MirrorClient.isRemoteTopic`: not internal, and the policy names a source."""
    return not policy.is_internal_topic(topic) and policy.topic_source(topic) is not None


def remote_topics(
    policy: ReplicationPolicy, topics: Iterable[str], source_alias: str | None = None
) -> set[str]:
    """`MirrorClient.remoteTopics()`, or `remoteTopics(source)` when `source_alias` is given."""
    return {
        t
        for t in topics
        if is_remote_topic(policy, t)
        and (source_alias is None or policy.topic_source(t) == source_alias)
    }


def heartbeat_topics(policy: ReplicationPolicy, topics: Iterable[str]) -> set[str]:
    """`MirrorClient.heartbeatTopics`."""
    return {t for t in topics if policy.is_heartbeats_topic(t)}


def checkpoint_topics(policy: ReplicationPolicy, topics: Iterable[str]) -> set[str]:
    """`MirrorClient.checkpointTopics`."""
    return {t for t in topics if policy.is_checkpoints_topic(t)}


def count_hops(policy: ReplicationPolicy, topic: str, source_alias: str) -> int:
    """`MirrorClient.countHopsForTopic`: hops from `source_alias` to here, -1 if it is not
    upstream. A repeated source ends the walk: policies such as identity cannot rule out cycles."""
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


def all_sources(policy: ReplicationPolicy, topic: str) -> set[str]:
    """`MirrorClient.allSources`: every cluster alias along the topic's name."""
    sources: set[str] = set()
    current: str | None = topic
    source = policy.topic_source(topic)
    while source is not None and source not in sources and current is not None:
        sources.add(source)
        current = policy.upstream_topic(current)
        source = None if current is None else policy.topic_source(current)
    return sources


def upstream_clusters(policy: ReplicationPolicy, topics: Iterable[str]) -> set[str]:
    """`MirrorClient.upstreamClusters`: clusters seen in heartbeats, any number of hops away."""
    return {s for t in heartbeat_topics(policy, topics) for s in all_sources(policy, t)}


def replication_hops(policy: ReplicationPolicy, topics: Iterable[str], upstream_alias: str) -> int:
    """`MirrorClient.replicationHops`: fewest hops from `upstream_alias` by heartbeats, or -1."""
    hops = [count_hops(policy, t, upstream_alias) for t in heartbeat_topics(policy, topics)]
    return min((h for h in hops if h != -1), default=-1)


def is_cycle(policy: ReplicationPolicy, topic: str, target_alias: str) -> bool:
    """`MirrorSourceConnector.isCycle`: the topic came from the target, any number of hops ago."""
    current = topic
    while True:
        source = policy.topic_source(current)
        if source is None:
            return False
        if source == target_alias:
            return True
        upstream = policy.upstream_topic(current)
        if upstream is None or upstream == current:
            return False
        current = upstream


@dataclass(frozen=True, slots=True)
class ReplicationTraits:
    """What `shouldReplicateTopic` reads from a topic's name, worked out once per name: a graph
    asks it for every flow out of every cluster holding the topic."""

    heartbeats: bool
    internal: bool
    sources: frozenset[str]
    """Every alias `isCycle` meets walking the name: a copy never goes to one of them."""

    def replicated(
        self, target_alias: str, wanted: bool, heartbeats_replication_enabled: bool = True
    ) -> bool:
        """`wanted`: the flow's topic filter matches the name."""
        return (
            (wanted or (heartbeats_replication_enabled and self.heartbeats))
            and not self.internal
            and target_alias not in self.sources
        )


def replication_traits(
    policy: ReplicationPolicy, topic: str, known: Mapping[str, ReplicationTraits] | None = None
) -> ReplicationTraits:
    """The walk `isCycle` and `originalTopic` make over a name (source, then upstream, until
    neither is left), stopping at a name in `known`: a copy's traits are its upstream's plus one
    source, so a graph pays one step per copy. `is_heartbeats_topic` is `originalTopic` being
    the heartbeats topic, for both policies."""
    if known and topic in known:
        return known[topic]
    sources: set[str] = set()
    current = topic
    while True:
        if known and current in known:
            base = known[current]
            sources |= base.sources
            heartbeats = base.heartbeats
            break
        source = policy.topic_source(current)
        upstream = policy.upstream_topic(current)
        if source is not None:
            sources.add(source)
        if upstream is None or upstream == current:
            heartbeats = current == policy.heartbeats_topic()  # here originalTopic is itself
            break
        if source is None:
            heartbeats = policy.is_heartbeats_topic(current)
            break
        current = upstream
    return ReplicationTraits(heartbeats, policy.is_internal_topic(topic), frozenset(sources))


def should_replicate_topic(
    policy: ReplicationPolicy,
    topic: str,
    target_alias: str,
    topic_filter: Callable[[str], bool],
    heartbeats_replication_enabled: bool = True,
) -> bool:
    """`MirrorSourceConnector.shouldReplicateTopic`: heartbeats pass any filter (unless
    `heartbeats.replication.enabled` is false); internal topics and cycles never pass."""
    return replication_traits(policy, topic).replicated(
        target_alias, topic_filter(topic), heartbeats_replication_enabled
    )


# --- Kafka's topic-name rules (org.apache.kafka.common.internals.Topic) ----------------------


def _java_length(name: str) -> int:
    """`String.length()`: UTF-16 code units, so a character outside the BMP counts twice."""
    if name.isascii():
        return len(name)
    return len(name.encode("utf-16-le")) // 2


def topic_name_problem(name: str) -> str | None:
    """Why Kafka would refuse this topic name (`Topic.validate`, same order of checks), or None.

    Phrased to follow "topic name '<name>' ..."."""
    if not name:
        return "is empty"
    if name in (".", ".."):
        return f"cannot be '{name}'"
    length = _java_length(name)
    if length > MAX_TOPIC_NAME_LENGTH:
        return f"is {length} characters long; the limit is {MAX_TOPIC_NAME_LENGTH}"
    if not _LEGAL_TOPIC.fullmatch(name):
        bad = sorted({ch for ch in name if not _LEGAL_TOPIC.fullmatch(ch)})
        return "contains characters Kafka refuses: " + " ".join(repr(c) for c in bad)
    return None


def is_kafka_internal_topic(name: str) -> bool:
    """`Topic.isInternal`: the broker's own topics, not merely names that look internal."""
    return name in KAFKA_INTERNAL_TOPICS


def has_collision_chars(name: str) -> bool:
    """`Topic.hasCollisionChars`: '.' and '_' both become '_' in metric names."""
    return "." in name or "_" in name


def unify_collision_chars(name: str) -> str:
    """`Topic.unifyCollisionChars`: the metric name's form, so `a.b` and `a_b` compare equal."""
    return name.replace(".", "_")


def has_collision(a: str, b: str) -> bool:
    """`Topic.hasCollision`: Kafka warns (and MM2 copies may clash) when these are equal."""
    return unify_collision_chars(a) == unify_collision_chars(b)
