"""The bundled replicator: one flow's share of partitions, copied source -> target as MM2 does.

One process, one consumer (static assignment, no consumer group on the source), one producer.
The hot loop consumes batches and produces each record with its partition, key, value,
timestamp and headers; delivery reports only append the downstream offset to the partition's
list, and all bookkeeping (offset mapping, progress, offset syncs) happens once per batch.

At-least-once by default: a partition's progress is the first offset not yet acknowledged by
the target, written to `__mm2plan.progress` on the target after the acknowledgements. With
`exactly_once`, a transactional producer writes records and progress in one transaction.
Heartbeats, offset syncs and checkpoints are MM2's records in MM2's topics; checkpoints carry
the exact downstream offset of a group's next record (runtime.offsets.OffsetMap).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from mm2plan.core.addresses import Address, Kind
from mm2plan.core.bookkeeping import PROGRESS_TOPIC, PROVENANCE_HEADER, STATE_TOPIC
from mm2plan.core.naming import is_synced_config
from mm2plan.core.offsets import OffsetMap
from mm2plan.core.ownership import OwnershipRecord
from mm2plan.core.resources import canonical_json
from mm2plan.runtime import progress as progress_store
from mm2plan.runtime.config import FlowConfig
from mm2plan.runtime.records import Checkpoint, Heartbeat, OffsetSync
from mm2plan.runtime.selection import selected_topics, share_of
from mm2plan.runtime.status import PartitionReport, ProcessReport
from mm2plan.runtime.takeover import last_syncs, start_after
from mm2plan.runtime.watermarks import watermarks

log = logging.getLogger("mm2plan.replicator")

BATCH = 10_000
"""Records per consume call: large enough that per-batch work is noise."""
REPORT_INTERVAL_S = 1.0
MAX_RUNS = 4096
"""Offset-map runs kept per partition: the exact-translation window (runtime.offsets)."""
_UNKNOWN = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION)


REFRESH_TIMEOUT_S = 3.0
"""The loop's metadata refresh of the source: how long a stop may wait behind it."""


class ReplicatorError(Exception):
    """The flow cannot go on (authorization, fatal producer error); the message says what to do."""


@dataclass(slots=True)
class PartitionCopy:
    """One source partition's copy: positions, the in-flight records and the offset map."""

    topic: str
    partition: int
    remote: str
    next_offset: int
    """First source offset not yet acknowledged by the target: what progress records."""
    consumed_next: int
    written_next: int = -1
    """The position last written to the progress topic."""
    map: OffsetMap = field(default_factory=lambda: OffsetMap(MAX_RUNS))
    pending: list[int] = field(default_factory=list)
    """Source offsets produced, in order, whose delivery is not yet folded in."""
    pending_ts: list[int] = field(default_factory=list)
    results: list[int] = field(default_factory=list)
    """Downstream offsets the delivery reports gave, in order; -1 for a refused record."""
    errors: list[KafkaError] = field(default_factory=list)
    failed: str = ""
    records: int = 0
    bytes: int = 0
    end_offset: int = 0
    last_acked_ts: int = 0
    latency_ms: float = 0.0
    last_sync: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class GroupOffsets:
    group: str
    offsets: Mapping[tuple[str, int], tuple[int, str]]
    """(source topic, partition) -> (committed offset, metadata)."""


def _provenance(headers: Any, source: str, target: str) -> Any:
    """The headers a copy carries, or None when the record has already been in `target`."""
    chain = ""
    rest: list[tuple[str, bytes | None]] = []
    for k, v in headers or ():
        if k == PROVENANCE_HEADER:
            chain = (v or b"").decode(errors="replace")
        else:
            rest.append((k, v))
    seen = chain.split(",") if chain else []
    if target in seen:
        return None
    seen.append(source)
    rest.append((PROVENANCE_HEADER, ",".join(seen).encode()))
    return rest


class Replicator:
    def __init__(
        self,
        config: FlowConfig,
        share: int = 0,
        shares: int = 1,
        report: Callable[[ProcessReport], None] | None = None,
    ) -> None:
        self.cfg = config
        self.share = share
        self.shares = max(1, shares)
        self.report_cb = report or (lambda r: None)
        self.parts: dict[tuple[str, int], PartitionCopy] = {}
        self.by_remote: dict[tuple[str, int], PartitionCopy] = {}
        self.remote_of: dict[str, str] = {}
        self.report = ProcessReport(
            config.topology,
            config.name,
            share,
            self.shares,
            "starting",
            pid=os.getpid(),
            started_at=time.time(),
        )
        self.policy = config.policy
        self.heartbeats_topic = self.policy.heartbeats_topic()
        self.checkpoints_topic = self.policy.checkpoints_topic(config.source)
        self.syncs_topic = self.policy.offset_syncs_topic(config.target)
        self.skipped = 0
        self._internal_errors: list[str] = []
        self._groups_in: queue.Queue[list[GroupOffsets]] = queue.Queue()
        self._groups_out: queue.Queue[dict[str, dict[tuple[str, int], int]]] = queue.Queue()
        self._emitted: dict[tuple[str, str, int], tuple[int, int]] = {}
        self._in_txn = False
        self._state_ready = False

    # --- set-up -------------------------------------------------------------------------

    def _clients(self) -> None:
        c = self.cfg
        flow_id = f"mm2plan-{c.topology}-{c.source}-{c.target}"
        self.src_admin = AdminClient({**c.source_client, **c.admin_overrides})
        self.dst_admin = AdminClient({**c.target_client, **c.admin_overrides})
        self.consumer = Consumer(
            {
                **c.source_client,
                "group.id": flow_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "fetch.max.bytes": 64 * 1024 * 1024,
                "queued.max.messages.kbytes": 256 * 1024,
                "fetch.wait.max.ms": 100,
                **c.consumer_overrides,
            }
        )
        producer_conf: dict[str, Any] = {
            **c.target_client,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 10,
            "batch.size": 1_000_000,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 1024 * 1024,
            "message.max.bytes": 100 * 1024 * 1024,
            **c.producer_overrides,
            "on_delivery": self._delivered,
        }
        if c.exactly_once:
            producer_conf["transactional.id"] = f"{flow_id}-{self.share}"
        self.producer = Producer(producer_conf)
        self.sync_producer: Producer | None = None
        if c.flag("emit.offset-syncs.enabled"):
            self.sync_producer = Producer(
                {**c.source_client, "linger.ms": 50, "enable.idempotence": True}
            )
        if c.exactly_once:
            self._try("starting transactions on the target", self.producer.init_transactions, 60)
            self.producer.begin_transaction()
            self._in_txn = True

    def _try(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except KafkaException as exc:
            raise ReplicatorError(f"{what}: {_describe(exc)}") from None

    def _ensure_topics(
        self, admin: AdminClient, wanted: Mapping[str, NewTopic], where: str
    ) -> None:
        """Creates what is missing (another worker or `apply` may have made it already)."""
        have = set(admin.list_topics(timeout=30).topics)
        missing = [t for name, t in wanted.items() if name not in have]
        if not missing:
            return
        for name, fut in admin.create_topics(missing, request_timeout=30).items():
            try:
                fut.result()
                log.info("created %s on %s", name, where)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise ReplicatorError(f"creating {name} on {where}: {_describe(exc)}") from None

    def _internal_topics(self) -> None:
        c = self.cfg
        compact = {"cleanup.policy": "compact"}
        on_target = {
            PROGRESS_TOPIC: NewTopic(PROGRESS_TOPIC, 1, c.replication_factor, config=compact),
        }
        if c.emit_heartbeats:
            rf = c.internal_rf("heartbeats.topic.replication.factor")
            on_target[self.heartbeats_topic] = NewTopic(
                self.heartbeats_topic, 1, rf, config=compact
            )
        if c.emit_checkpoints:
            rf = c.internal_rf("checkpoints.topic.replication.factor")
            on_target[self.checkpoints_topic] = NewTopic(
                self.checkpoints_topic, 1, rf, config=compact
            )
        self._ensure_topics(self.dst_admin, on_target, c.target)
        if self.sync_producer is not None:
            rf = c.internal_rf("offset-syncs.topic.replication.factor")
            self._ensure_topics(
                self.src_admin,
                {self.syncs_topic: NewTopic(self.syncs_topic, 1, rf, config=compact)},
                c.source,
            )

    # --- topics and partitions -------------------------------------------------------------

    def _refresh_topics(self, sync_configs: bool = False, timeout_s: float = 30) -> None:
        """New source topics and partitions join the copy; their remote topics are created (or
        grown) first, and recorded in mm2plan's ownership so `plan` sees no drift. In the loop
        the source's metadata gets a short timeout: a source that is gone must not hold up a
        stop (failover stops the flow and waits for it) for 30 s."""
        md = self.consumer.list_topics(timeout=timeout_s)
        names = [n for n, t in md.topics.items() if t.error is None]
        wanted = selected_topics(names, self.policy, self.cfg.target, self.cfg.topics)
        src_parts = {n: len(md.topics[n].partitions) for n in wanted}
        new = [
            (t, p)
            for t in wanted
            for p in range(src_parts[t])
            if (t, p) not in self.parts and share_of(t, p, self.shares) == self.share
        ]
        if not new and not sync_configs:
            return
        remotes = {t: self.policy.format_remote_topic(self.cfg.source, t) for t in wanted}
        self._ensure_remote(
            {
                t: src_parts[t]
                for t in {t for t, _ in new} | (set(wanted) if sync_configs else set())
            },
            remotes,
            sync_configs,
        )
        if new:
            self._add_partitions(new, remotes)

    def _source_configs(self, topics: list[str]) -> dict[str, dict[str, str]]:
        if not topics:
            return {}
        res = [ConfigResource(ResourceType.TOPIC, t) for t in topics]
        out: dict[str, dict[str, str]] = {}
        for r, fut in self.src_admin.describe_configs(res, request_timeout=30).items():
            try:
                entries = fut.result()
            except KafkaException as exc:
                log.warning("describing configs of %s on %s: %s", r.name, self.cfg.source, exc)
                continue
            out[r.name] = {
                k: e.value
                for k, e in entries.items()
                if e.source == 1 and e.value is not None and is_synced_config(k)  # DYNAMIC_TOPIC
            }
        return out

    def _ensure_remote(
        self, counts: Mapping[str, int], remotes: Mapping[str, str], sync_configs: bool
    ) -> None:
        md = self.dst_admin.list_topics(timeout=30)
        create = [t for t in counts if remotes[t] not in md.topics]
        grow = {
            t: n
            for t, n in counts.items()
            if remotes[t] in md.topics and len(md.topics[remotes[t]].partitions) < n
        }
        configs = (
            self._source_configs(sorted(set(create) | (set(counts) if sync_configs else set())))
            if self.cfg.sync_topic_configs
            else {}
        )
        created: dict[str, dict[str, Any]] = {}
        if create:
            topics = [
                NewTopic(
                    remotes[t], counts[t], self.cfg.replication_factor, config=configs.get(t, {})
                )
                for t in create
            ]
            for name, fut in self.dst_admin.create_topics(topics, request_timeout=30).items():
                try:
                    fut.result()
                except KafkaException as exc:
                    if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                        continue
                    raise ReplicatorError(
                        f"creating remote topic {name} on {self.cfg.target}: {_describe(exc)}"
                    ) from None
                src = next(t for t in create if remotes[t] == name)
                log.info("created %s on %s (%d partitions)", name, self.cfg.target, counts[src])
                created[name] = {"partitions": counts[src], "config": configs.get(src, {})}
        if grow:
            asks = [NewPartitions(remotes[t], n) for t, n in grow.items()]
            for name, fut in self.dst_admin.create_partitions(asks, request_timeout=30).items():
                try:
                    fut.result()
                    log.info("grew %s on %s", name, self.cfg.target)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.INVALID_PARTITIONS:
                        raise ReplicatorError(
                            f"adding partitions to {name} on {self.cfg.target}: {_describe(exc)}"
                        ) from None
        if sync_configs and self.cfg.sync_topic_configs:
            self._sync_configs(
                {t: configs[t] for t in counts if t in configs and t not in create}, remotes
            )
        if created or grow:
            self._record_ownership(
                created, {remotes[t]: n for t, n in grow.items()}, configs, remotes
            )
        self._wait_partitions({remotes[t]: n for t, n in counts.items()})

    def _sync_configs(
        self, configs: Mapping[str, dict[str, str]], remotes: Mapping[str, str]
    ) -> None:
        """Source topic configs changed since creation: set them on the remote topic
        (incrementally: only what differs)."""
        if not configs:
            return
        res = [ConfigResource(ResourceType.TOPIC, remotes[t]) for t in configs]
        current: dict[str, dict[str, str]] = {}
        for r, fut in self.dst_admin.describe_configs(res, request_timeout=30).items():
            try:
                current[r.name] = {
                    k: e.value for k, e in fut.result().items() if e.source == 1 and e.value
                }
            except KafkaException:
                continue
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

        changes = []
        for t, want in configs.items():
            have = current.get(remotes[t])
            if have is None:
                continue
            have = {k: v for k, v in have.items() if is_synced_config(k)}
            ops = [
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in want.items()
                if have.get(k) != v
            ] + [
                ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
                for k in have
                if k not in want
            ]
            if ops:
                changes.append(
                    ConfigResource(ResourceType.TOPIC, remotes[t], incremental_configs=ops)
                )
        if not changes:
            return
        for r, fut in self.dst_admin.incremental_alter_configs(changes).items():
            try:
                fut.result()
                log.info("synced configs of %s on %s", r.name, self.cfg.target)
            except KafkaException as exc:
                log.warning("syncing configs of %s: %s", r.name, _describe(exc))

    def _record_ownership(
        self,
        created: Mapping[str, Mapping[str, Any]],
        grown: Mapping[str, int],
        configs: Mapping[str, Mapping[str, str]],
        remotes: Mapping[str, str],
    ) -> None:
        """What the runtime created is mm2plan's, as if `apply` had: the same records, sent
        with the copy's producer (no second connection to wait for); a refusal is logged (the
        replicator's principal may lack WRITE on the state topic: the next `apply` adopts)."""

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                log.warning(
                    "recording ownership of %s on %s: %s (the next apply records it)",
                    (msg.key() or b"").decode(errors="replace"),
                    self.cfg.target,
                    err.str(),
                )

        if not self._state_topic_ready():
            return
        for name, applied in created.items():
            addr = Address.topic(self.cfg.target, name)
            rec = OwnershipRecord(Kind.TOPIC, self.cfg.topology, topic=name, applied=applied)
            value = canonical_json(rec.to_json()).encode()
            try:
                self.producer.produce(STATE_TOPIC, value, str(addr).encode(), on_delivery=delivered)
            except (KafkaException, BufferError) as exc:
                log.warning("recording ownership of %s: %s", name, _describe(exc))

    def _state_topic_ready(self) -> bool:
        """The state topic, created if missing, when the runtime first records a topic it made
        (not at start: the plan grants the replicator's principal nothing on it, so under an
        authorizer it is invisible and cannot be created; a record sent to it would wait in
        the producer, and in the transaction, for a topic that never appears)."""
        if not self._state_ready:
            compact = {"cleanup.policy": "compact"}
            wanted = {
                STATE_TOPIC: NewTopic(STATE_TOPIC, 1, self.cfg.replication_factor, config=compact)
            }
            try:
                self._ensure_topics(self.dst_admin, wanted, self.cfg.target)
                self._state_ready = True
            except ReplicatorError as exc:
                log.warning(
                    "%s: topics this replicator creates are not recorded as mm2plan's "
                    "(the next apply adopts them; declare them to have apply create them)",
                    exc,
                )
        return self._state_ready

    def _wait_partitions(self, counts: Mapping[str, int], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            md = self.producer.list_topics(timeout=10)
            short = [
                n
                for n, k in counts.items()
                if n not in md.topics
                or md.topics[n].error is not None
                or len(md.topics[n].partitions) < k
            ]
            if not short:
                return
            time.sleep(0.2)
        log.warning("remote topics not visible with all partitions after %ds", timeout_s)

    def _add_partitions(self, new: list[tuple[str, int]], remotes: Mapping[str, str]) -> None:
        """Where each new partition starts: its progress record, else after what MM2 (or an
        earlier copy) wrote, else the source's beginning."""
        saved = self._saved
        need_takeover = [tp for tp in new if tp not in saved]
        ends: dict[tuple[str, int], int] = {}
        for t, p in need_takeover:
            _low, high = watermarks(self.dst_admin_consumer, remotes[t], p)
            ends[(t, p)] = high
        syncs = self._read_syncs() if any(e > 0 for e in ends.values()) else {}
        assign = []
        for t, p in new:
            pos = saved.get((t, p))
            pc = PartitionCopy(t, p, remotes[t], 0, 0)
            if pos is not None:
                pc.next_offset = pc.consumed_next = pc.written_next = pos.next_offset
                pc.map = pos.offset_map(MAX_RUNS)
                start: int | None = pos.next_offset
            else:
                st = start_after(syncs.get((t, p)), ends[(t, p)])
                if ends[(t, p)] > 0:
                    log.info("%s-%d: %s", t, p, st.why)
                start = st.offset
            if start is None:
                low, _high = watermarks(self.consumer, t, p)
                start = low
            pc.next_offset = pc.consumed_next = start
            self.parts[(t, p)] = pc
            self.by_remote[(pc.remote, p)] = pc
            self.remote_of[t] = pc.remote
            assign.append(TopicPartition(t, p, start))
        self.consumer.incremental_assign(assign)
        log.info(
            "copying %d new partition(s): %s", len(assign), ", ".join(f"{t}-{p}" for t, p in new)
        )

    def _read_syncs(self) -> dict[tuple[str, int], OffsetSync]:
        """MM2's (and our own) offset syncs for this flow, read to the end of the topic."""
        c = Consumer(
            {
                **self.cfg.source_client,
                "group.id": "mm2plan-syncs-reader",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        records: list[tuple[bytes | None, bytes | None]] = []
        try:
            md = c.list_topics(self.syncs_topic, timeout=30).topics.get(self.syncs_topic)
            if md is None or md.error is not None:
                return {}
            todo = set(md.partitions)
            c.assign([TopicPartition(self.syncs_topic, p, 0) for p in todo])
            deadline = time.monotonic() + 30
            while todo and time.monotonic() < deadline:
                for m in c.consume(1000, 0.5):
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            todo.discard(m.partition())
                        continue
                    records.append((m.key(), m.value()))
        finally:
            c.close()
        return last_syncs(records)

    # --- the hot path -------------------------------------------------------------------

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        pc = self.by_remote.get((msg.topic(), msg.partition()))  # type: ignore[arg-type]
        if pc is None:
            if err is not None:
                self._internal_errors.append(f"{msg.topic()}: {err.str()}")
            return
        if err is None:
            pc.results.append(msg.offset())  # type: ignore[arg-type]
        else:
            pc.results.append(-1)
            pc.errors.append(err)

    def _copy(self, msgs: list[Message]) -> None:
        produce = self.producer.produce
        parts = self.parts
        loops = self.cfg.loop_prevention
        source, target = self.cfg.source, self.cfg.target
        for m in msgs:
            if m.error() is not None:
                self._consume_error(m)
                continue
            pc = parts.get((m.topic(), m.partition()))  # type: ignore[arg-type]
            if pc is None or pc.failed:
                continue
            off: int = m.offset()  # type: ignore[assignment]
            if off < pc.consumed_next:
                continue
            headers = m.headers()
            if loops:
                headers = _provenance(headers, source, target)
                if headers is None:
                    pc.consumed_next = off + 1
                    if not pc.pending:
                        pc.next_offset = off + 1
                    self.skipped += 1
                    continue
            ts = m.timestamp()[1]
            value = m.value()
            sent = False
            while not sent:
                try:
                    produce(
                        pc.remote,
                        value,
                        m.key(),
                        pc.partition,
                        timestamp=ts if ts > 0 else 0,
                        headers=headers,
                    )
                    sent = True
                except BufferError:
                    self.producer.poll(0.05)
                    self._fold_all()
                except KafkaException as exc:
                    self._fail(pc, off, _describe(exc))
                    break
            if not sent:
                continue
            pc.pending.append(off)
            pc.pending_ts.append(ts)
            pc.consumed_next = off + 1
            pc.bytes += len(value) if value else 0

    def _consume_error(self, m: Message) -> None:
        err = m.error()
        assert err is not None
        if err.code() in _UNKNOWN:
            return  # a source topic deleted: the next refresh drops it
        if err.code() in (KafkaError._PARTITION_EOF, KafkaError.GROUP_AUTHORIZATION_FAILED):
            # librdkafka looks up the consumer's group coordinator although the copy never
            # joins or commits that group: the plan grants no ACL on it, on purpose.
            return
        if err.code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError._AUTHENTICATION):
            raise ReplicatorError(
                f"reading {m.topic()} on {self.cfg.source}: {err.str()}; grant the replicator "
                "READ and DESCRIBE on the flow's source topics (apply generates these ACLs)"
            )
        log.warning("consuming from %s: %s", self.cfg.source, err.str())

    def _fail(self, pc: PartitionCopy, offset: int, why: str) -> None:
        pc.failed = (
            f"record at offset {offset} refused by {self.cfg.target}: {why}; the partition "
            "stopped there (nothing after it is recorded as copied)"
        )
        pc.next_offset = min(pc.next_offset, offset) if pc.pending else offset
        log.error("%s-%d: %s", pc.topic, pc.partition, pc.failed)
        with contextlib.suppress(KafkaException):
            self.consumer.pause([TopicPartition(pc.topic, pc.partition)])

    def _fold_all(self) -> None:
        for pc in self.parts.values():
            if pc.results:
                self._fold(pc)

    def _fold(self, pc: PartitionCopy) -> None:
        """Delivery reports in, in produce order: the mapping grows, the position advances."""
        res = pc.results
        pc.results = []
        n = len(res)
        ups = pc.pending[:n]
        tss = pc.pending_ts[:n]
        del pc.pending[:n]
        del pc.pending_ts[:n]
        if pc.failed:
            return
        if -1 in res:
            i = res.index(-1)
            err = pc.errors[0] if pc.errors else None
            self._record_runs(pc, ups[:i], res[:i], tss[:i])
            self._fail(pc, ups[i], err.str() if err else "refused")
            pc.next_offset = ups[i]
            return
        self._record_runs(pc, ups, res, tss)
        pc.next_offset = pc.pending[0] if pc.pending else pc.consumed_next

    def _record_runs(
        self, pc: PartitionCopy, ups: list[int], downs: list[int], tss: list[int]
    ) -> None:
        n = len(ups)
        if not n:
            return
        m = pc.map
        if ups[-1] - ups[0] == n - 1 and downs[-1] - downs[0] == n - 1:
            m.record(ups[0], downs[0], n)
        else:
            for u, d in zip(ups, downs, strict=True):
                m.record(u, d, 1)
        pc.records += n
        pc.last_acked_ts = tss[-1]
        if tss[-1] > 0:
            pc.latency_ms = time.time() * 1000 - tss[-1]
        self._maybe_sync(pc, ups[-1], downs[-1])

    def _maybe_sync(self, pc: PartitionCopy, up: int, down: int) -> None:
        """MM2's rule (offset.lag.max): a sync when the mapping stops being predictable from the
        last one, or this many records after it."""
        if self.sync_producer is None:
            return
        last = pc.last_sync
        if last is not None and up - last[0] < self.lag_max and down - last[1] == up - last[0]:
            return
        pc.last_sync = (up, down)
        sync = OffsetSync(pc.topic, pc.partition, up, down)
        try:
            self.sync_producer.produce(self.syncs_topic, sync.value_bytes(), sync.key_bytes(), 0)
        except BufferError:
            self.sync_producer.poll(0.1)
        self.report.last_offset_sync_at = time.time()

    # --- periodic work ------------------------------------------------------------------

    def _flush_progress(self, last: bool = False) -> None:
        c = self.cfg
        for pc in self.parts.values():
            nxt = pc.consumed_next if c.exactly_once and not pc.failed else pc.next_offset
            if nxt == pc.written_next:
                continue
            key = progress_store.progress_key(c.topology, c.name, pc.topic, pc.partition)
            self.producer.produce(PROGRESS_TOPIC, progress_store.encode(nxt, pc.map.runs), key, 0)
            pc.written_next = nxt
        if c.exactly_once:
            self._commit(begin=not last)

    def _commit(self, begin: bool = True) -> None:
        try:
            self.producer.commit_transaction(60)
        except KafkaException as exc:
            err = exc.args[0]
            if err.txn_requires_abort():
                log.warning(
                    "transaction aborted (%s): copying again from the last commit", err.str()
                )
                self.producer.abort_transaction(60)
                self._rewind()
            else:
                raise ReplicatorError(
                    f"committing a transaction on {self.cfg.target}: {err.str()}"
                ) from None
        self.producer.poll(0)
        self._fold_all()
        for pc in self.parts.values():
            pc.next_offset = pc.consumed_next if not pc.failed else pc.next_offset
        if begin:
            self.producer.begin_transaction()

    def _rewind(self) -> None:
        saved = progress_store.read_positions(
            self.cfg.target_client, self.cfg.topology, self.cfg.name
        )
        tps = []
        for (t, p), pc in self.parts.items():
            pos = saved.get((t, p))
            nxt = pos.next_offset if pos else pc.written_next
            pc.pending.clear()
            pc.pending_ts.clear()
            pc.results.clear()
            pc.next_offset = pc.consumed_next = pc.written_next = nxt
            tps.append(TopicPartition(t, p, nxt))
        for tp in tps:
            self.consumer.seek(tp)

    def _heartbeat(self) -> None:
        hb = Heartbeat(self.cfg.source, self.cfg.target, int(time.time() * 1000))
        self.producer.produce(self.heartbeats_topic, hb.value_bytes(), hb.key_bytes(), 0)
        self.report.last_heartbeat_at = time.time()

    def _checkpoints(self, groups: list[GroupOffsets]) -> None:
        """Exact translations of the source groups' commits, as MM2 checkpoint records; the
        ones that changed are written, and passed on for the target groups' offsets."""
        sync: dict[str, dict[tuple[str, int], int]] = {}
        for g in groups:
            for (t, p), (offset, meta) in g.offsets.items():
                pc = self.parts.get((t, p))
                if pc is None:
                    continue
                down = pc.map.translate(offset)
                if down is None:
                    window = pc.map.window
                    if window is None or offset < window[0]:
                        continue  # before what this copy knows: no exact translation
                    down = pc.map.runs[-1].downstream_end  # ahead of the copy: its end
                key = (g.group, pc.remote, p)
                if self._emitted.get(key) != (offset, down):
                    cp = Checkpoint(g.group, pc.remote, p, offset, down, meta)
                    self.producer.produce(
                        self.checkpoints_topic, cp.value_bytes(), cp.key_bytes(), 0
                    )
                    self._emitted[key] = (offset, down)
                sync.setdefault(g.group, {})[(pc.remote, p)] = down
        self.report.last_checkpoint_at = time.time()
        if sync and self.cfg.sync_group_offsets:
            self._groups_out.put(sync)

    def _group_worker(self, stop: threading.Event) -> None:
        """Slow admin calls off the hot path: the source groups' commits in, the target groups'
        offsets out (only to groups with no active members, never backwards)."""
        c = self.cfg
        every = c.seconds("emit.checkpoints.interval.seconds")
        while not stop.is_set():
            try:
                self._groups_in.put(self._read_groups())
                while not self._groups_out.empty():
                    self._sync_groups(self._groups_out.get_nowait())
            except Exception as exc:  # a worker thread must not die silently
                log.warning("group offsets: %s", exc)
            stop.wait(every)

    def _read_groups(self) -> list[GroupOffsets]:
        listing = self.src_admin.list_consumer_groups(request_timeout=30).result()
        names = [g.group_id for g in listing.valid if self.cfg.groups.matches(g.group_id)]
        out = []
        for name in names:
            fut = self.src_admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(name)], request_timeout=30
            )[name]
            try:
                res = fut.result()
            except KafkaException:
                continue
            offsets = {
                (tp.topic, tp.partition): (tp.offset, tp.metadata or "")
                for tp in res.topic_partitions or []
                if tp.offset >= 0 and (tp.topic, tp.partition) in self.parts
            }
            if offsets:
                out.append(GroupOffsets(name, offsets))
        log.debug("groups on %s: %s", self.cfg.source, out)
        return out

    def _sync_groups(self, wanted: Mapping[str, Mapping[tuple[str, int], int]]) -> None:
        from confluent_kafka import ConsumerGroupState

        groups = list(wanted)
        described = self.dst_admin.describe_consumer_groups(groups, request_timeout=30)
        for name in groups:
            try:
                desc = described[name].result()
                if desc.members or desc.state not in (
                    ConsumerGroupState.EMPTY,
                    ConsumerGroupState.DEAD,
                    ConsumerGroupState.UNKNOWN,
                ):
                    continue  # active on the target: its own commits rule
            except KafkaException:
                pass  # unknown group: no members
            fut = self.dst_admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(name)], request_timeout=30
            )[name]
            try:
                current = {
                    (tp.topic, tp.partition): tp.offset
                    for tp in fut.result().topic_partitions or []
                }
            except KafkaException:
                current = {}
            moves = [
                TopicPartition(t, p, d)
                for (t, p), d in wanted[name].items()
                if d > current.get((t, p), -1)
            ]
            log.debug("group %s on %s: at %s, moves %s", name, self.cfg.target, current, moves)
            if not moves:
                continue
            try:
                done = self.dst_admin.alter_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(name, moves)], request_timeout=30
                )[name].result()
                # A refused partition (no READ on its topic) is only in its own result.
                why = "; ".join(
                    f"{tp.topic}-{tp.partition}: {tp.error.str()}"
                    for tp in done.topic_partitions or []
                    if tp.error is not None
                )
            except KafkaException as exc:
                why = _describe(exc)
            if why:
                log.warning(
                    "committing translated offsets of group %s on %s: %s",
                    name,
                    self.cfg.target,
                    why,
                )

    def _publish(self) -> None:
        r = self.report
        now = time.time()
        r.updated_at = now
        r.skipped_loops = self.skipped
        parts = []
        failed = []
        for pc in self.parts.values():
            lag = max(0, pc.end_offset - pc.next_offset)
            oldest = pc.pending_ts[0] if pc.pending_ts else pc.last_acked_ts
            parts.append(
                PartitionReport(
                    pc.topic,
                    pc.partition,
                    pc.remote,
                    pc.next_offset,
                    pc.end_offset,
                    pc.records,
                    pc.bytes,
                    lag,
                    max(0.0, now - oldest / 1000) if lag and oldest > 0 else 0.0,
                    pc.latency_ms,
                    pc.failed,
                )
            )
            if pc.failed:
                failed.append(f"{pc.topic}-{pc.partition}: {pc.failed}")
        r.partitions = parts
        r.records = sum(p.records for p in parts)
        r.bytes = sum(p.bytes for p in parts)
        if failed:
            r.state, r.reason = (
                "failed",
                "; ".join(failed[:3]) + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""),
            )
        elif r.state != "stopped":
            r.state, r.reason = "running", ""
        self.report_cb(r)

    def _refresh_ends(self) -> None:
        """Source ends for lag; and the consumer's position, which moves past what is never
        returned (transaction markers, aborted records): an idle partition whose last offset
        is a marker is caught up, not one record behind forever."""
        idle = [pc for pc in self.parts.values() if not pc.pending and not pc.failed]
        try:
            positions = self.consumer.position(
                [TopicPartition(pc.topic, pc.partition) for pc in idle]
            )
        except KafkaException:
            positions = []
        for pc, tp in zip(idle, positions, strict=False):
            if tp.offset is not None and tp.offset > pc.consumed_next and not pc.pending:
                pc.consumed_next = pc.next_offset = tp.offset
        for pc in self.parts.values():
            try:
                _low, high = self.consumer.get_watermark_offsets(
                    TopicPartition(pc.topic, pc.partition), cached=True
                )
                if high is not None and high >= 0:
                    pc.end_offset = max(pc.end_offset, int(high))
            except KafkaException:
                continue
            if pc.end_offset < pc.consumed_next:
                pc.end_offset = pc.consumed_next

    # --- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        c = self.cfg
        self.lag_max = c.integer("offset.lag.max")
        self._clients()
        self.dst_admin_consumer = Consumer(
            {**c.target_client, "group.id": "mm2plan-ends-reader", "enable.auto.commit": False}
        )
        try:
            self._internal_topics()
            self._saved = progress_store.read_positions(c.target_client, c.topology, c.name)
            self._refresh_topics(sync_configs=self.share == 0)
            self.report.state = "running"
            groups_stop = threading.Event()
            worker = None
            if c.emit_checkpoints or c.sync_group_offsets:
                worker = threading.Thread(
                    target=self._group_worker, args=(groups_stop,), daemon=True, name="groups"
                )
                worker.start()
            try:
                self._loop(stop)
            finally:
                groups_stop.set()
            self._shutdown()
        finally:
            self.consumer.close()
            self.dst_admin_consumer.close()

    def _loop(self, stop: threading.Event) -> None:
        c = self.cfg
        now = time.monotonic()
        refresh_every = c.seconds("refresh.topics.interval.seconds")
        config_every = c.seconds("sync.topic.configs.interval.seconds")
        beat_every = c.seconds("emit.heartbeats.interval.seconds")
        flush_every = c.integer("offset.flush.interval.ms") / 1000
        next_refresh, next_config = now + refresh_every, now + config_every
        next_beat, next_flush, next_report = now, now + flush_every, now
        beats = c.emit_heartbeats and self.share == 0
        while not stop.is_set():
            msgs = self.consumer.consume(BATCH, 0.1) if self.parts else []
            if not msgs and not self.parts:
                stop.wait(0.1)
            if msgs:
                self._copy(msgs)
            self.producer.poll(0)
            self._fold_all()
            now = time.monotonic()
            if self._internal_errors:
                log.warning("writing MM2 records: %s", "; ".join(self._internal_errors[:3]))
                self._internal_errors.clear()
            while not self._groups_in.empty():
                self._checkpoints(self._groups_in.get_nowait())
            if beats and now >= next_beat:
                self._heartbeat()
                next_beat = now + beat_every
            if now >= next_flush:
                self._flush_progress()
                if self.sync_producer is not None:
                    self.sync_producer.poll(0)
                next_flush = now + flush_every
            if now >= next_refresh:
                sync = self.share == 0 and now >= next_config
                try:
                    self._refresh_topics(sync_configs=sync, timeout_s=REFRESH_TIMEOUT_S)
                except KafkaException as exc:  # a cluster briefly away: the next refresh
                    log.warning("reading topics of %s: %s", c.source, _describe(exc))
                if sync:
                    next_config = now + config_every
                next_refresh = now + refresh_every
            if now >= next_report:
                self._refresh_ends()
                self._publish()
                next_report = now + REPORT_INTERVAL_S

    def _shutdown(self) -> None:
        """Everything produced is acknowledged (bounded), then progress says so."""
        left = self.producer.flush(30)
        self._fold_all()
        if left:
            log.warning(
                "%d records not acknowledged in 30 s: they are copied again next start", left
            )
        self._flush_progress(last=True)
        self.producer.flush(30)
        if self.sync_producer is not None:
            self.sync_producer.flush(10)
        self.report.state = "stopped"
        self._publish()


def _describe(exc: BaseException) -> str:
    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    return f"{err.name()}: {err.str()}" if err is not None else str(exc)
