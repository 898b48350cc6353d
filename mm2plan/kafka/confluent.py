"""The admin port on confluent-kafka (librdkafka): batched requests, per-resource results.

Library errors become domain errors here and nowhere else: a whole-cluster failure is a
`ClusterError` with a hint; a per-resource failure is an `OpError` carrying Kafka's error name.
Secrets are resolved only to build the client config and never appear in a message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding as CkAclBinding,
)
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    OffsetSpec,
    ResourcePatternType,
    ResourceType,
)
from confluent_kafka.admin import (
    NewTopic as CkNewTopic,
)

from mm2plan.kafka.port import (
    LOCK_TOPIC,
    STATE_TOPIC,
    AclResults,
    ClusterError,
    LockHeld,
    NewTopic,
    OpError,
    Results,
)
from mm2plan.model import Cluster, SecretResolutionError, reveal
from mm2plan.state import AclBinding, LiveCluster, LiveTopic, canonical_json

KAFKA_INTERNAL = {
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
    "__cluster_metadata",
}
DESCRIBE_BATCH = 2000
T = TypeVar("T")


class _Errors:
    """librdkafka reports connection and authentication trouble through error_cb, not through
    the call that then times out: keep the last one to explain the timeout."""

    def __init__(self) -> None:
        self.last: KafkaError | None = None

    def __call__(self, err: KafkaError) -> None:
        self.last = err


class _Quiet:
    """Drops librdkafka's log lines (connection refused while a broker restarts, ...)."""

    def log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return self.log


def _op_error(exc: BaseException) -> OpError:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        err: KafkaError = exc.args[0]
        return OpError(err.name(), err.str())
    return OpError(type(exc).__name__, str(exc))


def _result(future: Future[T], timeout: float) -> T | OpError:
    try:
        return future.result(timeout=timeout)
    except Exception as exc:
        return _op_error(exc)


class ConfluentClusterAdmin:
    def __init__(
        self, cluster: Cluster, environ: Mapping[str, str] | None = None, timeout_s: float = 15.0
    ) -> None:
        self.alias = cluster.alias
        self.timeout_s = timeout_s
        try:
            resolved = reveal(cluster.config, environ)
        except SecretResolutionError as exc:
            raise ClusterError(
                self.alias,
                f"cannot resolve a secret reference: {exc}",
                "set the environment variable or create the file it names",
                code="secret-unresolved",
            ) from None
        self._errors = _Errors()
        self._conf: dict[str, Any] = {
            "bootstrap.servers": cluster.bootstrap_servers,
            **resolved,
            "socket.connection.setup.timeout.ms": int(timeout_s * 1000),
            "error_cb": self._errors,
            "logger": _Quiet(),
        }
        try:
            self._admin = AdminClient(dict(self._conf))
        except KafkaException as exc:
            raise ClusterError(
                self.alias,
                f"invalid client configuration: {_op_error(exc)}",
                "check the cluster's config keys (librdkafka property names)",
            ) from None
        self._holds_lock = False
        self._brokers = 0

    # --- whole-cluster failures ---------------------------------------------------------------

    def _cluster_error(self, what: str) -> ClusterError:
        last = self._errors.last
        if last is not None and last.code() in (
            KafkaError._AUTHENTICATION,
            KafkaError.SASL_AUTHENTICATION_FAILED,
        ):
            return ClusterError(
                self.alias,
                f"authentication failed while {what}",
                "check sasl.mechanism, sasl.username and the password reference",
                code="cluster-auth",
            )
        detail = f" ({last.name()})" if last is not None else ""
        return ClusterError(
            self.alias,
            f"cannot reach bootstrap servers "
            f"{self._conf['bootstrap.servers']} while {what}{detail}",
            "check bootstrap_servers and that the cluster is up",
        )

    def _metadata(self, topic: str | None = None) -> Any:
        try:
            md = self._admin.list_topics(topic=topic, timeout=self.timeout_s)
        except KafkaException:
            raise self._cluster_error("reading metadata") from None
        self._brokers = len(md.brokers)
        return md

    def _rf(self) -> int:
        if not self._brokers:
            self._metadata()
        return max(1, min(3, self._brokers))

    # --- reading ------------------------------------------------------------------------------

    def _settled_metadata(self) -> Any:
        """Metadata once every topic has its partitions: a topic created a moment ago may
        still be leaderless, and must not look absent (the plan would create it again)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            md = self._metadata()
            pending = [n for n, t in md.topics.items() if t.error is not None and not t.partitions]
            if not pending or time.monotonic() > deadline:
                return md
            time.sleep(0.2)

    def _wait_for_leader(self, topic: str) -> None:
        """A producer to a brand-new topic stalls until its metadata refresh; wait here."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            t = self._metadata(topic).topics.get(topic)
            if t is not None and t.partitions and all(p.leader >= 0 for p in t.partitions.values()):
                return
            time.sleep(0.1)

    def read_state(self) -> LiveCluster:
        md = self._settled_metadata()
        shapes: dict[str, tuple[int, int]] = {}
        for name, t in md.topics.items():
            if name in KAFKA_INTERNAL or (t.error is not None and not t.partitions):
                continue
            parts = t.partitions
            rf = len(parts[0].replicas) if 0 in parts else 0
            shapes[name] = (len(parts), rf)
        configs = self._dynamic_configs(sorted(shapes))
        owned = self._read_owned() if STATE_TOPIC in shapes else {}
        owned_names = {r.get("name") for r in owned.values()}
        data = self._has_data([n for n in shapes if n in owned_names], md)
        topics = {
            n: LiveTopic(n, p, rf, configs.get(n, {}), data.get(n)) for n, (p, rf) in shapes.items()
        }
        return LiveCluster(self.alias, topics, self._acls(), owned)

    def _dynamic_configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        """One DescribeConfigs request per batch of topics; only configs set on the topic."""
        out: dict[str, dict[str, str]] = {}
        for i in range(0, len(names), DESCRIBE_BATCH):
            batch = [ConfigResource(ResourceType.TOPIC, n) for n in names[i : i + DESCRIBE_BATCH]]
            try:
                futures = self._admin.describe_configs(batch, request_timeout=self.timeout_s)
            except KafkaException:
                raise self._cluster_error("describing topic configs") from None
            for res, fut in futures.items():
                entries = _result(fut, self.timeout_s)
                if isinstance(entries, OpError):
                    continue  # deleted meanwhile, or not authorized: read as no configs
                out[res.name] = {
                    k: e.value
                    for k, e in entries.items()
                    if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
                    and e.value is not None
                    and not e.is_sensitive
                }
        return out

    def _has_data(self, names: list[str], md: Any) -> dict[str, bool]:
        if not names:
            return {}
        tps = [TopicPartition(n, p) for n in names for p in md.topics[n].partitions]
        earliest = self._offsets(tps, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        latest = self._offsets(tps, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        out: dict[str, bool] = dict.fromkeys(names, False)
        for tp in tps:
            key = (tp.topic, tp.partition)
            if key in earliest and key in latest and latest[key] > earliest[key]:
                out[tp.topic] = True
        return out

    def _offsets(self, tps: list[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        futures = self._admin.list_offsets({tp: spec for tp in tps}, request_timeout=self.timeout_s)
        out = {}
        for tp, fut in futures.items():
            r = _result(fut, self.timeout_s)
            if not isinstance(r, OpError):
                out[(tp.topic, tp.partition)] = int(r.offset)
        return out

    def _acls(self) -> frozenset[AclBinding] | None:
        anything: Any = None  # matches any name, principal and host (the stubs say str)
        flt = AclBindingFilter(
            ResourceType.ANY,
            anything,
            ResourcePatternType.ANY,
            anything,
            anything,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        result = _result(
            self._admin.describe_acls(flt, request_timeout=self.timeout_s), self.timeout_s
        )
        if isinstance(result, OpError):
            if result.code == "SECURITY_DISABLED":
                return None
            if result.code in ("CLUSTER_AUTHORIZATION_FAILED",):
                raise ClusterError(
                    self.alias,
                    "not authorized to describe ACLs",
                    "mm2plan's principal needs DESCRIBE on the CLUSTER resource "
                    "(or to be a super user)",
                    code="cluster-auth",
                )
            raise ClusterError(self.alias, f"describing ACLs failed: {result}")
        return frozenset(_from_ck(b) for b in result)

    def _consumer(self) -> Consumer:
        conf = {k: v for k, v in self._conf.items() if k not in ("error_cb",)}
        conf.update(
            {
                "group.id": "mm2plan-reader",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
        return Consumer(conf)

    def _read_all(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        """Every record of a (small, one-partition) topic, from the beginning to its end."""
        consumer = self._consumer()
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, 0), timeout=self.timeout_s
            )
            if high <= low:
                return []
            consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            records: list[tuple[bytes | None, bytes | None]] = []
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if (msg.offset() or 0) >= high:
                            return records
                        continue
                    raise ClusterError(self.alias, f"reading {topic} failed: {err.name()}")
                records.append((msg.key(), msg.value()))
                if (msg.offset() or 0) + 1 >= high:
                    return records
            raise ClusterError(self.alias, f"timed out reading {topic}")
        except KafkaException:
            raise self._cluster_error(f"reading {topic}") from None
        finally:
            consumer.close()

    def _read_owned(self) -> dict[str, dict[str, Any]]:
        owned: dict[str, dict[str, Any]] = {}
        for key, value in self._read_all(STATE_TOPIC):
            if key is None:
                continue
            addr = key.decode()
            if value is None:
                owned.pop(addr, None)
            else:
                owned[addr] = json.loads(value)
        return owned

    # --- changing -----------------------------------------------------------------------------

    def _per_name(self, futures: Mapping[str, Future[Any]]) -> dict[str, OpError | None]:
        out: dict[str, OpError | None] = {}
        for name, fut in futures.items():
            r = _result(fut, self.timeout_s * 2)
            out[name] = r if isinstance(r, OpError) else None
        return out

    def create_topics(self, topics: Sequence[NewTopic]) -> Results:
        if not topics:
            return {}
        new = [
            CkNewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config=dict(t.config),
            )
            for t in topics
        ]
        try:
            futures = self._admin.create_topics(new, request_timeout=self.timeout_s * 2)
        except KafkaException:
            raise self._cluster_error("creating topics") from None
        return self._per_name(futures)

    def create_partitions(self, counts: Mapping[str, int]) -> Results:
        if not counts:
            return {}
        new = [NewPartitions(name, n) for name, n in counts.items()]
        return self._per_name(self._admin.create_partitions(new, request_timeout=self.timeout_s))

    def alter_topic_configs(self, changes: Mapping[str, Mapping[str, str | None]]) -> Results:
        resources = []
        for name, delta in changes.items():
            entries = [
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                if v is not None
                else ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
                for k, v in delta.items()
            ]
            resources.append(ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries))
        if not resources:
            return {}
        futures = self._admin.incremental_alter_configs(resources)
        return self._per_name({res.name: fut for res, fut in futures.items()})

    def delete_topics(self, names: Sequence[str]) -> Results:
        if not names:
            return {}
        return self._per_name(
            self._admin.delete_topics(list(names), request_timeout=self.timeout_s)
        )

    def create_acls(self, bindings: Sequence[AclBinding]) -> AclResults:
        ours = {CkAclBinding(*_ck_parts(b)): b for b in bindings}
        return self._per_binding(ours, self._admin.create_acls)

    def delete_acls(self, bindings: Sequence[AclBinding]) -> AclResults:
        ours = {AclBindingFilter(*_ck_parts(b)): b for b in bindings}
        return self._per_binding(ours, self._admin.delete_acls)

    def _per_binding(self, ours: Mapping[Any, AclBinding], call: Any) -> AclResults:
        if not ours:
            return {}
        futures = call(list(ours), request_timeout=self.timeout_s)
        out: dict[AclBinding, OpError | None] = {}
        for key, fut in futures.items():
            r = _result(fut, self.timeout_s)
            out[ours[key]] = r if isinstance(r, OpError) else None
        return out

    # --- ownership and the lock ---------------------------------------------------------------

    def _ensure_topic(self, name: str) -> None:
        res = self.create_topics([NewTopic(name, 1, self._rf(), {"cleanup.policy": "compact"})])
        err = res.get(name)
        if err is not None and err.code != "TOPIC_ALREADY_EXISTS":
            raise ClusterError(
                self.alias,
                f"cannot create {name}: {err}",
                "mm2plan's principal needs CREATE on the cluster or topic",
            )
        if err is None:
            self._wait_for_leader(name)

    def _produce(self, topic: str, records: Mapping[str, bytes | None]) -> None:
        errors: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(err)

        conf = {k: v for k, v in self._conf.items() if k != "error_cb"}
        conf.update({"acks": "all", "enable.idempotence": True, "linger.ms": 5})
        producer = Producer(conf)
        for key, value in records.items():
            producer.produce(topic, key=key.encode(), value=value, on_delivery=delivered)
        remaining = producer.flush(self.timeout_s * 2)
        if remaining or errors:
            why = errors[0].name() if errors else f"{remaining} records not delivered in time"
            raise ClusterError(
                self.alias,
                f"writing {topic} failed: {why}",
                "check the cluster is healthy, then re-run: nothing is lost",
            )

    def write_ownership(self, records: Mapping[str, Mapping[str, Any] | None]) -> None:
        self._ensure_topic(STATE_TOPIC)
        self._produce(
            STATE_TOPIC,
            {a: None if r is None else canonical_json(r).encode() for a, r in records.items()},
        )

    def acquire_lock(self, holder: Mapping[str, Any], force: bool = False) -> None:
        deadline = time.monotonic() + self.timeout_s * 2
        while True:
            res = self.create_topics([NewTopic(LOCK_TOPIC, 1, self._rf(), {})])
            err = res.get(LOCK_TOPIC)
            if err is None:
                self._holds_lock = True
                self._wait_for_leader(LOCK_TOPIC)
                self._produce(LOCK_TOPIC, {"holder": canonical_json(dict(holder)).encode()})
                # The ownership topic must be writable before apply creates many topics: a
                # broker busy creating them would hold back a brand-new topic's leader.
                self._ensure_topic(STATE_TOPIC)
                return
            if err.code not in ("TOPIC_ALREADY_EXISTS",):
                raise ClusterError(
                    self.alias,
                    f"cannot take the apply lock: {err}",
                    f"mm2plan's principal needs CREATE and DELETE on topic {LOCK_TOPIC}",
                )
            if not force:
                raise LockHeld(self.alias, self._lock_holder())
            if time.monotonic() > deadline:
                raise ClusterError(
                    self.alias,
                    "could not break the stale lock in time",
                    "re-run with --force-unlock",
                )
            self.delete_topics([LOCK_TOPIC])
            self._wait_gone(LOCK_TOPIC, deadline)

    def _wait_gone(self, topic: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if topic not in self._metadata().topics:
                return
            time.sleep(0.2)

    def _lock_holder(self) -> dict[str, Any]:
        try:
            records = self._read_all(LOCK_TOPIC)
        except ClusterError:
            return {}
        for _key, value in reversed(records):
            if value:
                holder: dict[str, Any] = json.loads(value)
                return holder
        return {}

    def release_lock(self) -> None:
        if not self._holds_lock:
            return
        res = self.delete_topics([LOCK_TOPIC])
        err = res.get(LOCK_TOPIC)
        if err is not None and err.code != "UNKNOWN_TOPIC_OR_PART":
            raise ClusterError(
                self.alias,
                f"could not release the apply lock: {err}",
                "the next apply needs --force-unlock",
            )
        self._holds_lock = False

    def close(self) -> None:
        """AdminClient holds no state that needs closing; producers/consumers are per call."""


def _ck_parts(b: AclBinding) -> tuple[Any, ...]:
    """An ACL in confluent-kafka's argument order, for a binding or an exact-match filter."""
    return (
        ResourceType[b.resource_type],
        b.resource_name,
        ResourcePatternType[b.pattern_type],
        b.principal,
        b.host,
        AclOperation[b.operation],
        AclPermissionType[b.permission],
    )


def _from_ck(b: CkAclBinding) -> AclBinding:
    def name(v: Any) -> str:
        return str(getattr(v, "name", v))

    return AclBinding(
        b.principal,
        name(b.operation),
        name(b.restype),
        b.name,
        name(b.resource_pattern_type),
        name(b.permission_type),
        b.host,
    )


def confluent_admin_factory(
    cluster: Cluster, environ: Mapping[str, str] | None = None, timeout_s: float = 15.0
) -> ConfluentClusterAdmin:
    return ConfluentClusterAdmin(cluster, environ, timeout_s)


__all__ = ["ConfluentClusterAdmin", "confluent_admin_factory"]
