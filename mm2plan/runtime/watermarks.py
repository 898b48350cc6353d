"""A partition's watermarks, asked again while its leader settles.

A topic created a moment ago, a partition just added or a broker restarting answers
NOT_LEADER / LEADER_NOT_AVAILABLE / UNKNOWN_PARTITION for a few hundred milliseconds; at start
the replicator must wait that out rather than die (its supervisor would restart it, but a
foreground `replicate` would exit).
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

SETTLING = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_PARTITION,
    }
)
"""A partition's offsets asked too soon after its topic was created or its leader moved."""


def watermarks(
    consumer: Consumer, topic: str, partition: int, settle_s: float = 10.0
) -> tuple[int, int]:
    """(low, high) of the partition, retried for up to `settle_s` while its leader settles."""
    deadline = time.monotonic() + settle_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
            return int(low), int(high)
        except KafkaException as exc:
            code = exc.args[0].code() if exc.args else None
            if code not in SETTLING or time.monotonic() > deadline:
                raise
            if code == KafkaError._UNKNOWN_PARTITION:
                consumer.list_topics(topic, timeout=10)  # a partition added a moment ago
        time.sleep(0.2)
