"""The admin port on confluent-kafka (librdkafka): batched requests, per-resource results.

Library errors become domain errors here and nowhere else: a whole-cluster failure is a
`ClusterError` with a hint; a per-resource failure is an `OpError` carrying Kafka's error name.
Secrets are resolved only to build the client config; every message built from library text is
scrubbed of them, so none can reach a log, a plan or the terminal.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

from confluent_kafka import (
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
    ClusterMetadata,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ListOffsetsResultInfo,
    NewPartitions,
    OffsetSpec,
    ResourcePatternType,
    ResourceType,
    TopicMetadata,
)
from confluent_kafka.admin import (
    NewTopic as CkNewTopic,
)

from mm2plan.core.model import Cluster, Secret, SecretResolutionError, reveal
from mm2plan.core.naming import BROKER_TOPICS
from mm2plan.core.resources import AclBinding, LiveCluster, LiveTopic, canonical_json
from mm2plan.ports.cluster import (
    LOCK_TOPIC,
    STATE_TOPIC,
    AclResults,
    ClusterError,
    LockHeld,
    NewTopic,
    OpError,
    Results,
)

"""Kafka's own topics: never planned, so never read. mm2plan's and MM2's are read (the planner
decides what they mean)."""

DESCRIBE_BATCH = 2000
"""Topics per DescribeConfigs request: measured on 10,000 topics, 2,000 is as fast as 500 and
keeps each response a few MB (one request for all of them was 40% slower)."""

READER_GROUP = "mm2plan-reader"
"""confluent-kafka refuses a Consumer without group.id; ours only assigns and never commits, so
it never joins or writes to this group."""

_UNREACHABLE = frozenset(
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
_HOLDER_WAIT_S = 3.0
"""How long to wait for a fresh lock's holder record: its taker writes it right after creating."""

T = TypeVar("T")


class _ErrorLog:
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


class _Quiet:
    """A `logging.Logger` stand-in that drops librdkafka's lines: connection refusals while a
    broker restarts are expected, and the errors that matter arrive through `_ErrorLog`."""

    def log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Callable[..., None]:
        return self.log


def _kafka_error(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def _outcome(future: Future[T], timeout: float) -> T | OpError:
    """A future's value, or its failure as an OpError named by Kafka's error code."""
    try:
        return future.result(timeout=timeout)
    except Exception as exc:
        err = _kafka_error(exc)
        if err is not None:
            return OpError(err.name(), err.str())
        return OpError(type(exc).__name__, str(exc))


class ConfluentClusterAdmin:
    """One cluster's `ClusterAdmin`. Not for concurrent use by several threads: mm2plan gives
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
        self._errors = _ErrorLog()
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
            "logger": _Quiet(),
        }
        self._admin = self._client(AdminClient, {"error_cb": self._errors})
        self._producer: Producer | None = None
        self._connected = False
        self._holds_lock = False
        self._holder: dict[str, Any] = {}
        self._ensured: set[str] = set()
        self._brokers = 0

    # --- clients and whole-cluster failures ---------------------------------------------------

    def _client(self, kind: Callable[[dict[str, Any]], T], extra: Mapping[str, Any]) -> T:
        try:
            return kind({**self._conf, **extra})
        except (KafkaException, ValueError, TypeError) as exc:
            err = _kafka_error(exc)
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
            r = _outcome(fut, timeout)
            out[key] = OpError(r.code, self._redact(r.message)) if isinstance(r, OpError) else None
        self._admin.poll(0)
        failures = [e for e in out.values() if e is not None and e.code in _UNREACHABLE]
        if out and len(failures) == len(out):
            raise self._cluster_error(what, failures[0])
        return out

    # --- reading ------------------------------------------------------------------------------

    def _settled_metadata(self) -> ClusterMetadata:
        """Metadata once every topic has its partitions: a topic created a moment ago may
        still be leaderless, and must not look absent (the plan would create it again)."""
        deadline = time.monotonic() + self.timeout_s
        backoff = 0.05
        while True:
            md = self._metadata()
            pending = [n for n, t in md.topics.items() if t.error is not None and not t.partitions]
            if not pending or time.monotonic() + backoff > deadline:
                return md
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    def _await(self, expect: Mapping[str, Visible], deadline: float | None = None) -> None:
        """Until metadata shows each topic as expected, or the deadline. A KRaft broker applies a
        committed change a moment after the controller answers, so without this a read right
        after a change (apply's replan) may not see it, and a producer to a brand-new topic
        stalls until its next metadata refresh. Past the deadline the change still happened:
        this only waits, it never fails."""
        end = time.monotonic() + self.timeout_s if deadline is None else deadline
        pending = dict(expect)
        backoff = 0.02
        while pending:
            one = next(iter(pending)) if len(pending) == 1 else None
            topics = self._metadata(one).topics
            pending = {n: ok for n, ok in pending.items() if not ok(topics.get(n))}
            if not pending or time.monotonic() + backoff > end:
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    def read_state(self) -> LiveCluster:
        """Every request is in flight at once (configs in batches, earliest and latest offsets,
        ACLs) while the ownership records are read: ~5 s for 10,000 topics on a 2-core VM."""
        md = self._settled_metadata()
        shapes: dict[str, tuple[int, int]] = {}
        for name, t in md.topics.items():
            if name in BROKER_TOPICS or (t.error is not None and not t.partitions):
                continue
            parts = t.partitions
            shapes[name] = (len(parts), len(parts[0].replicas) if 0 in parts else 0)
        names = sorted(shapes)
        config_futures = self._describe_configs(names)
        # A leaderless partition would hold up the whole ListOffsets until its timeout.
        tps = [
            TopicPartition(n, p.id)
            for n in names
            for p in md.topics[n].partitions.values()
            if p.leader >= 0
        ]
        earliest = self._list_offsets(tps, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        latest = self._list_offsets(tps, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        acl_future = self._submit(
            "describing ACLs",
            lambda: self._admin.describe_acls(_MATCH_ANY, request_timeout=self.timeout_s),
        )
        owned = self._read_owned() if STATE_TOPIC in shapes else {}
        configs, gone = self._configs(config_futures)
        data = self._has_data(md, names, earliest, latest)
        acls = self._acls(acl_future)
        topics = {
            n: LiveTopic(n, p, rf, configs.get(n, {}), data.get(n))
            for n, (p, rf) in shapes.items()
            if n not in gone
        }
        return LiveCluster(self.alias, topics, acls, owned)

    def _describe_configs(self, names: list[str]) -> list[tuple[str, Future[Any]]]:
        out: list[tuple[str, Future[Any]]] = []
        for i in range(0, len(names), DESCRIBE_BATCH):
            batch = [ConfigResource(ResourceType.TOPIC, n) for n in names[i : i + DESCRIBE_BATCH]]
            futures = self._submit(
                "describing topic configs",
                partial(self._admin.describe_configs, batch, request_timeout=self.timeout_s * 2),
            )
            out += [(res.name, fut) for res, fut in futures.items()]
        return out

    def _configs(
        self, futures: list[tuple[str, Future[Any]]]
    ) -> tuple[dict[str, dict[str, str]], set[str]]:
        """Only configs set on the topic itself (DYNAMIC_TOPIC_CONFIG). A topic deleted meanwhile
        is left out; one we may not describe reads as having no overrides; any other failure
        fails the read, since a wrong picture would plan wrong changes."""
        configs: dict[str, dict[str, str]] = {}
        gone: set[str] = set()
        results = self._per_resource("describing topic configs", futures, self.timeout_s * 3)
        for (name, fut), err in zip(futures, results.values(), strict=True):
            if err is None:
                entries: dict[str, ConfigEntry] = fut.result()
                configs[name] = {
                    k: e.value
                    for k, e in entries.items()
                    if _is_topic_override(e) and e.value is not None
                }
            elif err.code == "UNKNOWN_TOPIC_OR_PART":
                gone.add(name)
            elif err.code != "TOPIC_AUTHORIZATION_FAILED":
                raise ClusterError(
                    self.alias,
                    f"describing the configs of topic {name} failed: {err}",
                    "check that the cluster is healthy, then re-run",
                )
        return configs, gone

    def _list_offsets(
        self, tps: list[TopicPartition], spec: OffsetSpec
    ) -> Mapping[TopicPartition, Future[ListOffsetsResultInfo]]:
        if not tps:
            return {}
        return self._submit(
            "listing offsets",
            lambda: self._admin.list_offsets(
                {tp: spec for tp in tps}, request_timeout=self.timeout_s * 2
            ),
        )

    def _has_data(
        self,
        md: ClusterMetadata,
        names: list[str],
        earliest: Mapping[TopicPartition, Future[ListOffsetsResultInfo]],
        latest: Mapping[TopicPartition, Future[ListOffsetsResultInfo]],
    ) -> dict[str, bool | None]:
        """True if any partition holds a record; False if every one is known empty; None when a
        partition's offsets could not be read (leaderless): "maybe" must not read as "empty"."""
        out: dict[str, bool | None] = {
            n: None if any(p.leader < 0 for p in md.topics[n].partitions.values()) else False
            for n in names
        }
        for tp, fut in latest.items():
            high = _outcome(fut, self.timeout_s * 3)
            low = _outcome(earliest[tp], self.timeout_s * 3)
            if isinstance(high, OpError) or isinstance(low, OpError):
                if out[tp.topic] is False:
                    out[tp.topic] = None
            elif high.offset > low.offset:
                out[tp.topic] = True
        return out

    def _acls(self, future: Future[Any]) -> frozenset[AclBinding] | None:
        result = _outcome(future, self.timeout_s * 2)
        if not isinstance(result, OpError):
            if result:
                return frozenset(_from_ck(b) for b in result)
            return self._empty_acls()
        if result.code == "SECURITY_DISABLED":
            return None
        if result.code == "CLUSTER_AUTHORIZATION_FAILED":
            raise self._acl_auth_error()
        if result.code in _UNREACHABLE:
            raise self._cluster_error("describing ACLs", result)
        raise ClusterError(
            self.alias,
            f"describing ACLs failed: {self._redact(str(result))}",
            "check that the cluster is healthy, then re-run",
        )

    def _empty_acls(self) -> frozenset[AclBinding] | None:
        """What an empty DescribeAcls answer means. librdkafka (to 2.16 at least) drops that
        response's error code, so "no authorizer" (SECURITY_DISABLED) and "may not look"
        (CLUSTER_AUTHORIZATION_FAILED) both arrive as an empty list. Our authorized operations
        on the cluster tell the second apart (without an authorizer, every one is allowed); the
        broker's `authorizer.class.name` the first (being refused it proves there is one)."""
        described = _outcome(
            self._submit(
                "describing the cluster",
                lambda: self._admin.describe_cluster(
                    include_authorized_operations=True, request_timeout=self.timeout_s
                ),
            ),
            self.timeout_s * 2,
        )
        if isinstance(described, OpError):
            raise self._cluster_error("describing the cluster")
        ops = set(described.authorized_operations or ())
        if not ops & {AclOperation.DESCRIBE, AclOperation.ALL}:
            raise self._acl_auth_error()
        broker = ConfigResource(ResourceType.BROKER, str(described.nodes[0].id))
        futures = self._submit(
            "describing broker configs",
            lambda: self._admin.describe_configs([broker], request_timeout=self.timeout_s),
        )
        configs = _outcome(futures[broker], self.timeout_s * 2)
        if isinstance(configs, OpError):
            if "AUTHORIZATION_FAILED" in configs.code:
                return frozenset()
            raise self._cluster_error("describing broker configs")
        authorizer = configs.get("authorizer.class.name")
        return frozenset() if authorizer is not None and authorizer.value else None

    def _acl_auth_error(self) -> ClusterError:
        return ClusterError(
            self.alias,
            "not authorized to describe ACLs",
            "mm2plan's principal needs DESCRIBE on the CLUSTER resource (or to be a super user)",
            code="cluster-auth",
        )

    def _read_all(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        """Every record of a small topic, all partitions, from the start to the high watermark
        seen on entry; gives up only after timeout_s without progress."""
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
            records: list[tuple[bytes | None, bytes | None]] = []
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
                        records.append((msg.key(), msg.value()))
                        offset += 1  # the next one to read
                    if offset >= todo[p]:
                        del todo[p]
            return records
        except KafkaException:
            raise self._cluster_error(f"reading {topic}") from None
        finally:
            consumer.close()

    def _read_owned(self) -> dict[str, dict[str, Any]]:
        """Latest record per address wins; a tombstone forgets it. A record that is not a JSON
        object is ignored: reading it as "not owned" means mm2plan never deletes that resource,
        the safe side."""
        owned: dict[str, dict[str, Any]] = {}
        for key, value in self._read_all(STATE_TOPIC):
            if key is None:
                continue
            addr = key.decode(errors="replace")
            if value is None:
                owned.pop(addr, None)
                continue
            record = _json_object(value)
            if record is not None:
                owned[addr] = record
        return owned

    # --- changing -----------------------------------------------------------------------------

    def create_topics(self, topics: Sequence[NewTopic]) -> Results:
        """One CreateTopics request; replication_factor -1 means the broker's default. Returns
        once the created topics have leaders."""
        by_name = {t.name: t for t in topics}
        if not by_name:
            return {}
        new = [
            CkNewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config=dict(t.config),
            )
            for t in by_name.values()
        ]
        futures = self._submit(
            "creating topics",
            lambda: self._admin.create_topics(new, request_timeout=self.timeout_s * 2),
        )
        out = self._per_resource("creating topics", futures.items(), self.timeout_s * 3)
        self._await({name: _usable for name, err in out.items() if err is None})
        return out

    def create_partitions(self, counts: Mapping[str, int]) -> Results:
        """Counts are new totals. One below 1 fails here: confluent-kafka would reject the whole
        request for it. Returns once metadata shows the new counts."""
        out: dict[str, OpError | None] = {
            name: OpError("INVALID_PARTITIONS", f"cannot have {n} partitions")
            for name, n in counts.items()
            if n < 1
        }
        new = [NewPartitions(name, n) for name, n in counts.items() if name not in out]
        if new:
            futures = self._submit(
                "adding partitions",
                lambda: self._admin.create_partitions(new, request_timeout=self.timeout_s * 2),
            )
            done = self._per_resource("adding partitions", futures.items(), self.timeout_s * 3)
            self._await(
                {
                    name: _partitions_at_least(counts[name])
                    for name, err in done.items()
                    if err is None
                }
            )
            out.update(done)
        return out

    def alter_topic_configs(self, changes: Mapping[str, Mapping[str, str | None]]) -> Results:
        """IncrementalAlterConfigs: keys not named keep their values (AlterConfigs would reset
        them)."""
        resources = [
            ConfigResource(
                ResourceType.TOPIC,
                name,
                incremental_configs=[
                    ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
                    if v is None
                    else ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                    for k, v in delta.items()
                ],
            )
            for name, delta in changes.items()
        ]
        if not resources:
            return {}
        futures = self._submit(
            "changing topic configs",
            lambda: self._admin.incremental_alter_configs(
                resources, request_timeout=self.timeout_s * 2
            ),
        )
        return self._per_resource(
            "changing topic configs",
            ((res.name, fut) for res, fut in futures.items()),
            self.timeout_s * 3,
        )

    def delete_topics(self, names: Sequence[str]) -> Results:
        """Returns once metadata no longer shows the deleted topics."""
        unique = list(dict.fromkeys(names))
        if not unique:
            return {}
        futures = self._submit(
            "deleting topics",
            lambda: self._admin.delete_topics(unique, request_timeout=self.timeout_s * 2),
        )
        out = self._per_resource("deleting topics", futures.items(), self.timeout_s * 3)
        self._await({name: _gone for name, err in out.items() if err is None})
        return out

    def create_acls(self, bindings: Sequence[AclBinding]) -> AclResults:
        return self._acl_call("creating ACLs", bindings, CkAclBinding, self._admin.create_acls)

    def delete_acls(self, bindings: Sequence[AclBinding]) -> AclResults:
        """One exact filter per binding, so each deletes only itself."""
        return self._acl_call("deleting ACLs", bindings, AclBindingFilter, self._admin.delete_acls)

    def _acl_call(
        self,
        what: str,
        bindings: Sequence[AclBinding],
        kind: Callable[..., Any],
        call: Callable[..., Mapping[Any, Future[Any]]],
    ) -> AclResults:
        """A binding confluent-kafka cannot express fails alone, before the request."""
        out: dict[AclBinding, OpError | None] = {}
        ours: dict[Any, AclBinding] = {}
        for b in dict.fromkeys(bindings):
            try:
                ours[kind(*_ck_parts(b))] = b
            except (KeyError, ValueError, TypeError) as exc:
                out[b] = OpError("INVALID_REQUEST", f"not a valid ACL binding: {exc}")
        if ours:
            futures = self._submit(
                what, lambda: call(list(ours), request_timeout=self.timeout_s * 2)
            )
            results = self._per_resource(what, futures.items(), self.timeout_s * 3)
            out.update({ours[k]: err for k, err in results.items()})
        return out

    # --- ownership and the lock ---------------------------------------------------------------

    def _ensure_topic(self, name: str, config: Mapping[str, str]) -> None:
        """Create one of mm2plan's own topics unless it exists (once per admin). Either way it
        has a leader on return, so the next write does not stall."""
        if name in self._ensured:
            return
        err = self.create_topics([NewTopic(name, 1, self._rf(), config)]).get(name)
        if err is not None and err.code != "TOPIC_ALREADY_EXISTS":
            raise ClusterError(
                self.alias,
                f"cannot create {name}: {err}",
                f"mm2plan's principal needs CREATE on the cluster or on topic {name}",
            )
        if err is not None:  # perhaps created a moment ago by another apply
            self._await({name: _usable})
        self._ensured.add(name)

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
            err = _kafka_error(exc)
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

    def write_ownership(self, records: Mapping[str, Mapping[str, Any] | None]) -> None:
        if not records:
            return
        self._ensure_topic(STATE_TOPIC, {"cleanup.policy": "compact"})
        self._produce(
            STATE_TOPIC,
            {a: None if r is None else canonical_json(r).encode() for a, r in records.items()},
        )

    def acquire_lock(self, holder: Mapping[str, Any], force: bool = False) -> None:
        """Create LOCK_TOPIC, then write who holds it. With force, delete a held lock and
        retry until a deadline: deletion is asynchronous, and for a moment after it a create
        may still answer TOPIC_ALREADY_EXISTS."""
        deadline = time.monotonic() + self.timeout_s * 2
        backoff = 0.05
        while True:
            err = self.create_topics([NewTopic(LOCK_TOPIC, 1, self._rf(), {})]).get(LOCK_TOPIC)
            if err is None:
                self._holds_lock = True
                self._write_holder(holder)
                # The ownership topic must be writable before apply creates many topics: a
                # broker busy creating them would hold back a brand-new topic's leader.
                self._ensure_topic(STATE_TOPIC, {"cleanup.policy": "compact"})
                return
            if err.code != "TOPIC_ALREADY_EXISTS":
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
                    "could not break the held lock in time",
                    "re-run with --force-unlock",
                    code="apply-locked",
                )
            self._delete_lock_topic()
            self._await({LOCK_TOPIC: _gone}, deadline)
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    def _write_holder(self, holder: Mapping[str, Any]) -> None:
        """A lock without a holder record would block others and tell them nothing: if the
        record cannot be written, give the lock back."""
        self._holder = json.loads(canonical_json(dict(holder)))  # as others will read it
        try:
            self._produce(LOCK_TOPIC, {"holder": canonical_json(self._holder).encode()})
        except ClusterError:
            with contextlib.suppress(ClusterError):
                self.release_lock()
            raise

    def _lock_holder(self, wait_s: float = _HOLDER_WAIT_S) -> dict[str, Any]:
        """The lock's holder record. A lock taken a moment ago may not have it yet: wait up to
        wait_s before calling the holder unknown."""
        deadline = time.monotonic() + min(self.timeout_s, wait_s)
        while True:
            try:
                records = self._read_all(LOCK_TOPIC)
            except ClusterError:
                records = []
            for _key, value in reversed(records):
                holder = _json_object(value) if value else None
                if holder is not None:
                    return holder
            if time.monotonic() > deadline:
                return {}
            time.sleep(0.1)

    def _delete_lock_topic(self) -> None:
        err = self.delete_topics([LOCK_TOPIC]).get(LOCK_TOPIC)
        if err is not None and err.code != "UNKNOWN_TOPIC_OR_PART":
            raise ClusterError(
                self.alias,
                f"cannot delete the apply lock: {err}",
                f"mm2plan's principal needs DELETE on topic {LOCK_TOPIC}",
                code="apply-locked",
            )

    def release_lock(self) -> None:
        """Only a lock this admin took and still holds: if --force-unlock broke it meanwhile,
        the lock now is someone else's and stays. One already gone is fine."""
        if not self._holds_lock:
            return
        self._holds_lock = False
        current = self._lock_holder(wait_s=0)
        if current and current != self._holder:
            return
        self._delete_lock_topic()

    def close(self) -> None:
        """Flushes and drops the producer; AdminClient has nothing to close, and consumers live
        only for one read."""
        if self._producer is not None:
            self._producer.flush(self.timeout_s)
            self._producer = None
        self._admin.poll(0)


Visible = Callable[[TopicMetadata | None], bool]
"""Whether a topic's metadata shows a change (None: the topic is not there)."""


def _usable(t: TopicMetadata | None) -> bool:
    return (
        t is not None and bool(t.partitions) and all(p.leader >= 0 for p in t.partitions.values())
    )


def _gone(t: TopicMetadata | None) -> bool:
    return t is None or (t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART)


def _partitions_at_least(n: int) -> Visible:
    return lambda t: t is not None and len(t.partitions) >= n


_ANY: Any = None
"""AclBindingFilter's "match anything" for name, principal and host (its stubs say str)."""
_MATCH_ANY = AclBindingFilter(
    ResourceType.ANY,
    _ANY,
    ResourcePatternType.ANY,
    _ANY,
    _ANY,
    AclOperation.ANY,
    AclPermissionType.ANY,
)


def _json_object(value: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


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
        """The stubs allow str and int too; describe_acls gives the enums."""
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


def _is_topic_override(e: ConfigEntry) -> bool:
    """Set on the topic itself. The stubs say `source` is a ConfigSource; at runtime it is the
    int. Sensitive values come back as None and are skipped."""
    source: Any = e.source
    return getattr(source, "value", source) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and not (
        e.is_sensitive
    )


def confluent_admin_factory(
    cluster: Cluster, environ: Mapping[str, str] | None = None, timeout_s: float = 15.0
) -> ConfluentClusterAdmin:
    """The CLI's `AdminFactory`; `environ` resolves `${env:..}` references (tests pass one)."""
    return ConfluentClusterAdmin(cluster, environ, timeout_s)


__all__ = ["ConfluentClusterAdmin", "confluent_admin_factory"]
