"""The runtime's progress on the target: per source partition, the next offset to copy and the
recent offset mapping, in the compacted `__mm2plan.progress` topic.

A position is written only once the target acknowledged every record before it (or, with
exactly_once, in the same transaction as those records), so a restarted or moved replicator
resumes without loss. The last runs of the mapping travel with it, so checkpoints stay exact
across a restart for groups that had not caught up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import Consumer, TopicPartition

from mm2plan.core.bookkeeping import PROGRESS_TOPIC
from mm2plan.core.progress import (
    FORMAT_VERSION,
    RUNS_KEPT,
    Position,
    apply_record,
    decode,
    encode,
    progress_key,
)
from mm2plan.runtime.watermarks import watermarks

__all__ = [
    "FORMAT_VERSION",
    "RUNS_KEPT",
    "Position",
    "decode",
    "encode",
    "progress_key",
    "read_positions",
]


def read_positions(
    client: Mapping[str, str], topology: str, flow: str, timeout_s: float = 30.0
) -> dict[tuple[str, int], Position]:
    """Every position of this flow, read to the topic's end (committed records only)."""
    consumer = Consumer(
        {
            **client,
            "group.id": "mm2plan-progress-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    out: dict[tuple[str, int], Position] = {}
    try:
        md = consumer.list_topics(PROGRESS_TOPIC, timeout=timeout_s)
        meta = md.topics.get(PROGRESS_TOPIC)
        if meta is None or meta.error is not None:
            return out
        parts = list(meta.partitions)
        ends = {p: watermarks(consumer, PROGRESS_TOPIC, p)[1] for p in parts}
        todo = {p for p in parts if ends[p] > 0}
        consumer.assign([TopicPartition(PROGRESS_TOPIC, p, 0) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == err._PARTITION_EOF:
                        todo.discard(msg.partition())
                    continue
                apply_record(out, topology, flow, msg.key(), msg.value())
                off = msg.offset()
                if off is not None and off + 1 >= ends[msg.partition()]:
                    todo.discard(msg.partition())
        if todo:
            raise TimeoutError(f"could not read {PROGRESS_TOPIC} to its end in {timeout_s:.0f} s")
    finally:
        consumer.close()
    return out
