"""The disaster-recovery port on confluent-kafka: MM2's topics, the runtime's progress, groups."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from mm2plan.adapters.kafka.acls import MATCH_ANY
from mm2plan.adapters.kafka.ownership import KafkaOwnership
from mm2plan.adapters.kafka.reader import KafkaReader, json_records
from mm2plan.core.bookkeeping import FAILOVER_TOPIC, PROGRESS_TOPIC
from mm2plan.core.mm2_records import Checkpoint, Heartbeat, RecordFormatError
from mm2plan.core.model import Cluster
from mm2plan.core.offsets import Run
from mm2plan.core.progress import Position, apply_record, encode, progress_key
from mm2plan.core.resources import canonical_json
from mm2plan.ports.cluster import ClusterError
from mm2plan.ports.dr import GroupInfo, TimedCheckpoint, TopicPartitionKey

_DR_READER_GROUP = "mm2plan-dr-reader"
"""Never joined or committed: a name for the consumers that read offsets and timestamps."""


class KafkaDr(KafkaReader, KafkaOwnership):
    """`DrCluster`: each read is one short-lived consumer or one admin call."""

    def probe(self, timeout_s: float | None = None) -> None:
        if timeout_s is None or timeout_s >= self.timeout_s:
            self._connect()
            return
        full, self.timeout_s = self.timeout_s, timeout_s
        try:
            self._connect()
        finally:
            self.timeout_s = full

    def has_authorizer(self) -> bool:
        future = self._submit(
            "describing ACLs",
            lambda: self._admin.describe_acls(MATCH_ANY, request_timeout=self.timeout_s),
        )
        return self._acls(future) is not None

    def heartbeats(self, topic: str) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for key, value, _ts in self._read_timed(topic):
            if key is None or value is None:
                continue
            try:
                hb = Heartbeat.parse(key, value)
            except RecordFormatError:
                continue
            pair = (hb.source, hb.target)
            out[pair] = max(out.get(pair, 0), hb.timestamp_ms)
        return out

    def checkpoints(self, topic: str) -> dict[tuple[str, str, int], TimedCheckpoint]:
        out: dict[tuple[str, str, int], TimedCheckpoint] = {}
        for key, value, ts in self._read_timed(topic):
            if key is None or value is None:
                continue
            try:
                cp = Checkpoint.parse(key, value)
            except RecordFormatError:
                continue
            out[(cp.group, cp.topic, cp.partition)] = TimedCheckpoint(cp, ts)
        return out

    def progress(self, topology: str, flow: str) -> dict[TopicPartitionKey, Position]:
        out: dict[TopicPartitionKey, Position] = {}
        for key, value in self._read_all(PROGRESS_TOPIC):
            apply_record(out, topology, flow, key, value)
        return out

    def _consumer(self) -> Consumer:
        self._connect()
        return self._client(
            Consumer,
            {
                "group.id": _DR_READER_GROUP,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            },
        )

    def end_offsets(self, topics: Sequence[str]) -> dict[TopicPartitionKey, int]:
        out: dict[TopicPartitionKey, int] = {}
        if not topics:
            return out
        consumer = self._consumer()
        try:
            md = consumer.list_topics(timeout=self.timeout_s)
            for topic in topics:
                meta = md.topics.get(topic)
                if meta is None or meta.error is not None:
                    continue
                for p in sorted(meta.partitions):
                    _low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=self.timeout_s
                    )
                    out[(topic, p)] = int(high)
        except KafkaException:
            raise self._cluster_error("reading end offsets") from None
        finally:
            consumer.close()
        return out

    def record_timestamp(self, topic: str, partition: int, offset: int) -> int | None:
        consumer = self._consumer()
        try:
            consumer.assign([TopicPartition(topic, partition, offset)])
            deadline = time.monotonic() + min(5.0, self.timeout_s)
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        return None
                    continue
                return int(msg.timestamp()[1])
            return None
        except KafkaException:
            raise self._cluster_error(f"reading {topic}-{partition}") from None
        finally:
            consumer.close()

    def groups(self, groups: Sequence[str]) -> dict[str, GroupInfo]:
        out: dict[str, GroupInfo] = {}
        if not groups:
            return out
        futures = self._submit(
            "describing groups", lambda: self._admin.describe_consumer_groups(list(groups))
        )
        for group, fut in futures.items():
            try:
                desc = fut.result(timeout=self.timeout_s)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if isinstance(err, KafkaError) and err.code() == KafkaError.GROUP_ID_NOT_FOUND:
                    out[group] = GroupInfo("Dead", 0)
                    continue
                raise self._cluster_error(f"describing group {group}") from None
            state = getattr(desc.state, "name", str(desc.state))
            out[group] = GroupInfo(_state_name(state), len(desc.members or []))
        return out

    def committed(self, groups: Sequence[str]) -> dict[str, dict[TopicPartitionKey, int]]:
        out: dict[str, dict[TopicPartitionKey, int]] = {}
        for group in groups:
            futures = self._submit(
                "reading group offsets",
                lambda g=group: self._admin.list_consumer_group_offsets(  # type: ignore[misc]
                    [ConsumerGroupTopicPartitions(g)]
                ),
            )
            try:
                res = futures[group].result(timeout=self.timeout_s)
            except KafkaException:
                raise self._cluster_error(f"reading the offsets of group {group}") from None
            out[group] = {
                (tp.topic, tp.partition): int(tp.offset)
                for tp in res.topic_partitions or []
                if tp.offset is not None and tp.offset >= 0 and tp.error is None
            }
        return out

    def commit(self, group: str, offsets: Mapping[TopicPartitionKey, int]) -> None:
        if not offsets:
            return
        tps = [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        futures = self._submit(
            "committing group offsets",
            lambda: self._admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, tps)]
            ),
        )
        try:
            res = futures[group].result(timeout=self.timeout_s)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            why = err.str() if isinstance(err, KafkaError) else str(exc)
            raise ClusterError(
                self.alias,
                f"cannot commit the offsets of group {group}: {self._redact(why)}",
                "stop the group's consumers on this cluster (it must have no active members), "
                "and check that the principal may READ the group and its topics",
                code="group-commit",
            ) from None
        bad = [tp for tp in res.topic_partitions or [] if tp.error is not None]
        if bad:
            raise ClusterError(
                self.alias,
                f"cannot commit group {group} on {bad[0].topic}-{bad[0].partition}: "
                f"{self._redact(bad[0].error.str())}",
                "check that the principal may READ the group and its topics",
                code="group-commit",
            )

    def write_progress(
        self, topology: str, flow: str, positions: Mapping[TopicPartitionKey, Position]
    ) -> None:
        records = {
            progress_key(topology, flow, t, p).decode(): encode(
                pos.next_offset, [Run(u, d, n) for u, d, n in pos.runs]
            )
            for (t, p), pos in positions.items()
        }
        self._produce(PROGRESS_TOPIC, records)

    def failover_records(self) -> dict[str, dict[str, Any]]:
        return json_records(self._read_all(FAILOVER_TOPIC))

    def write_failover_record(self, key: str, record: Mapping[str, Any]) -> None:
        self._ensure_topic(FAILOVER_TOPIC, {"cleanup.policy": "compact"})
        self._produce(FAILOVER_TOPIC, {key: canonical_json(dict(record)).encode()})

    def topic_names(self) -> list[str]:
        return sorted(self._metadata().topics)


def _state_name(state: str) -> str:
    """confluent-kafka's enum names (STABLE) as Kafka spells the states (Stable)."""
    names = {
        "PREPARING_REBALANCE": "PreparingRebalance",
        "COMPLETING_REBALANCE": "CompletingRebalance",
        "STABLE": "Stable",
        "DEAD": "Dead",
        "EMPTY": "Empty",
        "UNKNOWN": "Unknown",
    }
    return names.get(state.upper(), state)


def dr_factory(
    cluster: Cluster, environ: Mapping[str, str] | None = None, timeout_s: float = 10.0
) -> KafkaDr:
    return KafkaDr(cluster, environ, timeout_s)


__all__ = ["KafkaDr", "dr_factory"]
