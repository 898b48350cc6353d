"""One connection to a Kafka cluster on confluent-kafka (librdkafka): clients, errors, waits.

Library errors become domain errors here and nowhere else: a whole-cluster failure is a
`ClusterError` with a hint; a per-resource failure is an `OpError` carrying Kafka's error name.
Secrets are resolved only to build the client config; every message built from library text is
scrubbed of them, so none can reach a log, a plan or the terminal.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    ClusterMetadata,
    TopicMetadata,
)

from mm2plan.core.bookkeeping import LOCK_TOPIC
from mm2plan.core.model import Cluster, Secret, SecretResolutionError, reveal
from mm2plan.core.polling import poll
from mm2plan.ports.cluster import ClusterError, OpError

READER_GROUP = "mm2plan-reader"
"""confluent-kafka refuses a Consumer without group.id; ours only assigns and never commits, so
it never joins or writes to this group."""

UNREACHABLE = frozenset(
    {
        "_TRANSPORT",
        "_ALL_BROKERS_DOWN",
        "_TIMED_OUT",
        "_RESOLVE",
        "_SSL",
        "_AUTHENTICATION",
        "SASL_AUTHENTICATION_FAILED",
    }
)
"""Error names that say the cluster, not the resource, failed."""
_AUTH = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})
_RECENT_ERRORS = 50

T = TypeVar("T")


class ErrorLog:
    """librdkafka reports connection and authentication trouble through error_cb, served by
    poll(), not through the call that then times out: keep recent ones to explain the timeout."""

    def __init__(self) -> None:
        self.recent: deque[KafkaError] = deque(maxlen=_RECENT_ERRORS)

    def __call__(self, err: KafkaError) -> None:
        self.recent.append(err)

    def auth_failure(self) -> KafkaError | None:
        return next((e for e in reversed(self.recent) if e.code() in _AUTH), None)

    def last(self) -> KafkaError | None:
        return self.recent[-1] if self.recent else None


class QuietLogger:
    """A `logging.Logger` stand-in that drops librdkafka's lines: connection refusals while a
    broker restarts are expected, and the errors that matter arrive through `ErrorLog`."""

    def log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Callable[..., None]:
        return self.log


def kafka_error(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def outcome(future: Future[T], timeout: float) -> T | OpError:
    """A future's value, or its failure as an OpError named by Kafka's error code."""
    try:
        return future.result(timeout=timeout)
    except Exception as exc:
        err = kafka_error(exc)
        if err is not None:
            return OpError(err.name(), err.str())
        return OpError(type(exc).__name__, str(exc))


class KafkaConnection:
    """One cluster's clients and the failures of the whole cluster: the base of the reader, the
    admin and the ownership store. Not for concurrent use by several threads: mm2plan gives
    each cluster one worker at a time."""

    def __init__(
        self, cluster: Cluster, environ: Mapping[str, str] | None = None, timeout_s: float = 15.0
    ) -> None:
        self.alias = cluster.alias
        self.timeout_s = timeout_s
        self._bootstrap = cluster.bootstrap_servers
        try:
            resolved = reveal(cluster.config, environ)
        except SecretResolutionError as exc:
            raise ClusterError(
                self.alias,
                f"cannot resolve a secret reference: {exc}",
                "set the environment variable or create the file it names",
                code="secret-unresolved",
            ) from None
        secrets = {resolved[k] for k, v in cluster.config.items() if isinstance(v, Secret)}
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)
        self._errors = ErrorLog()
        timeout_ms = max(1000, int(timeout_s * 1000))
        self._conf: dict[str, Any] = {
            "socket.connection.setup.timeout.ms": timeout_ms,
            "socket.timeout.ms": timeout_ms,
            "reconnect.backoff.max.ms": 1000,
            **resolved,
            # A metadata request for the lock must never create it (auto.create.topics.enable
            # is Kafka's default): that would be a lock nobody holds.
            "allow.auto.create.topics": False,
            "bootstrap.servers": cluster.bootstrap_servers,
            "logger": QuietLogger(),
        }
        self._admin = self._client(AdminClient, {"error_cb": self._errors})
        self._producer: Producer | None = None
        self._connected = False
        self._brokers = 0

    # --- clients and whole-cluster failures ---------------------------------------------------

    def _client(self, kind: Callable[[dict[str, Any]], T], extra: Mapping[str, Any]) -> T:
        try:
            return kind({**self._conf, **extra})
        except (KafkaException, ValueError, TypeError) as exc:
            err = kafka_error(exc)
            why = err.str() if err is not None else str(exc)
            raise ClusterError(
                self.alias,
                f"invalid client configuration: {self._redact(why)}",
                "check the cluster's config keys (librdkafka property names)",
            ) from None

    def _redact(self, text: str) -> str:
        """Library text may echo a property value (librdkafka's "Invalid value ..."): never a
        secret's."""
        for secret in self._secrets:
            text = text.replace(secret, "(sensitive)")
        return text

    def _cluster_error(self, what: str, seen: OpError | None = None) -> ClusterError:
        """Why the whole cluster failed, from error_cb's reports (or `seen`, the failure a call
        itself gave, when error_cb has none)."""
        self._admin.poll(0)  # serves error_cb
        auth = self._errors.auth_failure()
        if auth is not None:
            return ClusterError(
                self.alias,
                f"authentication failed while {what}: {self._redact(auth.str())}",
                "check security.protocol, sasl.mechanism, sasl.username and the password reference",
                code="cluster-auth",
            )
        last = self._errors.last()
        if last is not None:
            detail = f" ({last.name()}: {self._redact(last.str())})"
        else:
            detail = f" ({self._redact(str(seen))})" if seen is not None else ""
        return ClusterError(
            self.alias,
            f"cannot reach bootstrap servers {self._bootstrap} while {what}{detail}",
            "check bootstrap_servers and that the cluster is up",
        )

    def _connect(self) -> None:
        """Fail fast on bad credentials: librdkafka retries them silently until the caller's
        timeout, so probe with a one-topic metadata request in short slices and look at
        error_cb between them."""
        if self._connected:
            return
        deadline = time.monotonic() + self.timeout_s
        wait = 1.0
        while True:
            remaining = deadline - time.monotonic()
            try:
                md = self._admin.list_topics(
                    topic=LOCK_TOPIC, timeout=max(0.1, min(wait, remaining))
                )
            except KafkaException:
                self._admin.poll(0)
                if self._errors.auth_failure() is not None or remaining <= wait:
                    raise self._cluster_error("connecting") from None
                wait *= 2  # a slow cluster's answer may take longer than the first slice
                continue
            self._brokers = len(md.brokers)
            self._connected = True
            return

    def _metadata(self, topic: str | None = None) -> ClusterMetadata:
        self._connect()
        try:
            md = self._admin.list_topics(topic=topic, timeout=self.timeout_s)
        except KafkaException:
            raise self._cluster_error("reading metadata") from None
        self._brokers = len(md.brokers)
        return md

    def _rf(self) -> int:
        """mm2plan's own topics: as durable as the cluster allows, up to 3 copies."""
        self._connect()
        if not self._brokers:
            self._metadata(LOCK_TOPIC)
        return max(1, min(3, self._brokers))

    def _submit(self, what: str, call: Callable[[], T]) -> T:
        self._connect()
        try:
            return call()
        except KafkaException:
            raise self._cluster_error(what) from None

    def _per_resource(
        self, what: str, futures: Iterable[tuple[T, Future[Any]]], timeout: float
    ) -> dict[T, OpError | None]:
        """Each resource's own outcome; if every one failed for want of the cluster, the cluster
        failed, and that is a ClusterError rather than N copies of a timeout."""
        out: dict[T, OpError | None] = {}
        for key, fut in futures:
            r = outcome(fut, timeout)
            out[key] = OpError(r.code, self._redact(r.message)) if isinstance(r, OpError) else None
        self._admin.poll(0)
        failures = [e for e in out.values() if e is not None and e.code in UNREACHABLE]
        if out and len(failures) == len(out):
            raise self._cluster_error(what, failures[0])
        return out

    # --- reading ------------------------------------------------------------------------------

    def _settled_metadata(self) -> ClusterMetadata:
        """Metadata once every topic has its partitions: a topic created a moment ago may
        still be leaderless, and must not look absent (the plan would create it again)."""

        def settled(md: ClusterMetadata) -> bool:
            return all(t.error is None or t.partitions for t in md.topics.values())

        return poll(self._metadata, settled, self.timeout_s, first_s=0.05)

    def _await(self, expect: Mapping[str, Visible], deadline: float | None = None) -> None:
        """Until metadata shows each topic as expected, or the deadline. A KRaft broker applies a
        committed change a moment after the controller answers, so without this a read right
        after a change (apply's replan) may not see it, and a producer to a brand-new topic
        stalls until its next metadata refresh. Past the deadline the change still happened:
        this only waits, it never fails."""
        pending = dict(expect)

        def still_pending() -> dict[str, Visible]:
            one = next(iter(pending)) if len(pending) == 1 else None
            topics = self._metadata(one).topics
            for name in [n for n, ok in pending.items() if ok(topics.get(n))]:
                del pending[name]
            return pending

        if pending:
            poll(still_pending, lambda left: not left, self.timeout_s, deadline=deadline)

    def _read_all(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        """Every record of a small topic, all partitions, from the start to the high watermark
        seen on entry; gives up only after timeout_s without progress."""
        return [(k, v) for k, v, _ts in self._read_timed(topic)]

    def _read_timed(self, topic: str) -> list[tuple[bytes | None, bytes | None, int]]:
        """`_read_all` with each record's timestamp (ms)."""
        self._connect()
        consumer = self._client(
            Consumer,
            {
                "group.id": READER_GROUP,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
            },
        )
        try:
            md = consumer.list_topics(topic, timeout=self.timeout_s).topics.get(topic)
            if md is None or md.error is not None:
                return []
            todo: dict[int, int] = {}
            assignment = []
            for p in sorted(md.partitions):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=self.timeout_s
                )
                if high > low:
                    todo[p] = high
                    assignment.append(TopicPartition(topic, p, low))
            records: list[tuple[bytes | None, bytes | None, int]] = []
            if not todo:
                return records
            consumer.assign(assignment)
            deadline = time.monotonic() + self.timeout_s
            while todo:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        self.alias,
                        f"timed out reading {topic}",
                        "check that the cluster is healthy, then re-run",
                    )
                for msg in consumer.consume(1000, 0.2):
                    p, offset, err = msg.partition(), msg.offset(), msg.error()
                    if err is not None and err.code() != KafkaError._PARTITION_EOF:
                        raise ClusterError(
                            self.alias,
                            f"reading {topic} failed: {err.name()}",
                            "check that the cluster is healthy, then re-run",
                        )
                    if p is None or offset is None or p not in todo:
                        continue
                    deadline = time.monotonic() + self.timeout_s
                    if err is None:
                        records.append((msg.key(), msg.value(), msg.timestamp()[1]))
                        offset += 1  # the next one to read
                    if offset >= todo[p]:
                        del todo[p]
            return records
        except KafkaException:
            raise self._cluster_error(f"reading {topic}") from None
        finally:
            consumer.close()

    def _produce(self, topic: str, records: Mapping[str, bytes | None]) -> None:
        """Durably (acks=all, idempotent) or not at all: a ClusterError if any record is not
        acknowledged within the timeout."""
        self._connect()
        if self._producer is None:
            self._producer = self._client(
                Producer,
                {
                    "acks": "all",
                    "enable.idempotence": True,
                    "linger.ms": 5,
                    "message.timeout.ms": max(1000, int(self.timeout_s * 2000)),
                },
            )
        producer = self._producer
        errors: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(err)

        try:
            for key, value in records.items():
                while True:
                    try:
                        producer.produce(
                            topic, key=key.encode(), value=value, on_delivery=delivered
                        )
                        break
                    except BufferError:  # local queue full: let deliveries drain it
                        producer.poll(0.1)
            remaining = producer.flush(self.timeout_s * 2)
        except KafkaException as exc:
            err = kafka_error(exc)
            errors.append(err if err is not None else KafkaError(KafkaError._FAIL))
            remaining = 0
        if remaining:
            producer.purge()
            producer.flush(0)
        if remaining or errors:
            why = (
                f"{errors[0].name()}: {self._redact(errors[0].str())}"
                if errors
                else f"{remaining} records not acknowledged in time"
            )
            raise ClusterError(
                self.alias,
                f"writing {topic} failed ({why})",
                "check that the cluster is healthy, then re-run: nothing is lost",
            )

    def close(self) -> None:
        """Flushes and drops the producer; AdminClient has nothing to close, and consumers live
        only for one read."""
        if self._producer is not None:
            self._producer.flush(self.timeout_s)
            self._producer = None
        self._admin.poll(0)


Visible = Callable[[TopicMetadata | None], bool]
"""Whether a topic's metadata shows a change (None: the topic is not there)."""


def usable(t: TopicMetadata | None) -> bool:
    return (
        t is not None and bool(t.partitions) and all(p.leader >= 0 for p in t.partitions.values())
    )


def gone(t: TopicMetadata | None) -> bool:
    return t is None or (t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART)


def partitions_at_least(n: int) -> Visible:
    return lambda t: t is not None and len(t.partitions) >= n


_ANY: Any = None


def json_object(value: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
