"""Which source partitions a flow copies, and which worker process copies each one.

Pure: MM2's `shouldReplicateTopic` over the source's topic list, and a static share rule that
stays put when topics appear or partitions grow, so two workers never copy one partition.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from mm2plan.core.bookkeeping import is_bookkeeping_topic
from mm2plan.core.filters import NameFilter
from mm2plan.core.naming import BROKER_TOPICS, ReplicationPolicy, should_replicate_topic


def selected_topics(
    names: Iterable[str], policy: ReplicationPolicy, target: str, topics: NameFilter
) -> list[str]:
    """MM2's rule: the flow's filter matches or it is a heartbeats topic; never an internal
    topic (`__`-prefixed, `.internal`, checkpoints), never mm2plan's own, never a cycle (a topic
    that came from the target, any number of hops ago)."""
    return sorted(
        n
        for n in names
        if n not in BROKER_TOPICS
        and not is_bookkeeping_topic(n)
        and should_replicate_topic(policy, n, target, topics.matches)
    )


def share_of(topic: str, partition: int, shares: int) -> int:
    """A topic's partitions are dealt round-robin over the shares from a start its name fixes:
    even for one topic, stable as partitions and topics are added."""
    return (zlib.crc32(topic.encode()) + partition) % shares
