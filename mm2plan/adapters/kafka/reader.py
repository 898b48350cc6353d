"""The cluster reader on confluent-kafka: topics, their configs and data, ACLs, ownership."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from functools import partial
from typing import Any

from confluent_kafka import (
    TopicPartition,
)
from confluent_kafka.admin import (
    AclOperation,
    ClusterMetadata,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ListOffsetsResultInfo,
    OffsetSpec,
    ResourceType,
)

from mm2plan.adapters.kafka.acls import MATCH_ANY, from_ck
from mm2plan.adapters.kafka.client import UNREACHABLE, KafkaConnection, json_object, outcome
from mm2plan.adapters.kafka.ownership import owned_records
from mm2plan.core.bookkeeping import FAILOVER_TOPIC, STATE_TOPIC
from mm2plan.core.naming import BROKER_TOPICS
from mm2plan.core.ownership import owned_topic_names
from mm2plan.core.polling import poll
from mm2plan.core.resources import AclBinding, LiveCluster, LiveTopic
from mm2plan.ports.cluster import ClusterError, DataScope, OpError

DESCRIBE_BATCH = 2000
"""Topics per DescribeConfigs request: measured on 10,000 topics, 2,000 is as fast as 500 and
keeps each response a few MB (one request for all of them was 40% slower)."""


Offsets = Mapping[TopicPartition, Future[ListOffsetsResultInfo]]


def json_records(records: list[tuple[bytes | None, bytes | None]]) -> dict[str, dict[str, Any]]:
    """A compacted topic of JSON values by key, as its last record for each key says."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in records:
        name = (key or b"").decode(errors="replace")
        doc = json_object(value) if value else None
        if doc is None:
            out.pop(name, None)
        else:
            out[name] = doc
    return out


class KafkaReader(KafkaConnection):
    """`ClusterReader`: one cluster's live state, every request in flight at once."""

    def read_state(self, data: DataScope = "all") -> LiveCluster:
        """Configs (in batches) and ACLs are in flight while the ownership records are read;
        offsets are asked for every topic's partitions at once with `data="all"`, and only for
        the topics an ownership record names with `data="owned"` (after the records)."""
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
        def offsets(of: list[str]) -> tuple[Offsets, Offsets]:
            return self._ask_offsets(
                [
                    TopicPartition(n, p.id)
                    for n in of
                    for p in md.topics[n].partitions.values()
                    if p.leader >= 0
                ]
            )

        if data == "all":
            asked = offsets(names)
        acl_future = self._submit(
            "describing ACLs",
            lambda: self._admin.describe_acls(MATCH_ANY, request_timeout=self.timeout_s),
        )
        owned = owned_records(self._read_all(STATE_TOPIC)) if STATE_TOPIC in shapes else {}
        failovers = json_records(self._read_all(FAILOVER_TOPIC)) if FAILOVER_TOPIC in shapes else {}
        if data == "owned":
            named = owned_topic_names(owned)
            names = [n for n in names if n in named]
            asked = offsets(names)
        configs, gone = self._configs(config_futures)
        has_data = self._has_data(md, names, *asked)
        acls = self._acls(acl_future)
        topics = {
            n: LiveTopic(n, p, rf, configs.get(n, {}), has_data.get(n))
            for n, (p, rf) in shapes.items()
            if n not in gone
        }
        return LiveCluster(self.alias, topics, acls, owned, failovers)

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
                    if is_topic_override(e) and e.value is not None
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

    def _ask_offsets(self, tps: list[TopicPartition]) -> tuple[Offsets, Offsets]:
        """The earliest and the latest offsets of each partition, both requests in flight."""
        earliest = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        return self._list_offsets(tps, earliest), self._list_offsets(tps, latest)

    def _list_offsets(self, tps: list[TopicPartition], spec: OffsetSpec) -> Offsets:
        if not tps:
            return {}
        return self._submit(
            "listing offsets",
            lambda: self._admin.list_offsets(
                {tp: spec for tp in tps}, request_timeout=self.timeout_s * 2
            ),
        )

    def _partition_data(
        self, earliest: Offsets, latest: Offsets
    ) -> dict[TopicPartition, bool | None]:
        """Whether each partition holds a record; None where its offsets could not be read."""
        out: dict[TopicPartition, bool | None] = {}
        for tp, fut in latest.items():
            high = outcome(fut, self.timeout_s * 3)
            low = outcome(earliest[tp], self.timeout_s * 3)
            if isinstance(high, OpError) or isinstance(low, OpError):
                out[tp] = None
            else:
                out[tp] = high.offset > low.offset
        return out

    def _has_data(
        self,
        md: ClusterMetadata,
        names: list[str],
        earliest: Offsets,
        latest: Offsets,
    ) -> dict[str, bool | None]:
        """True if any partition holds a record; False if every one is known empty; None when a
        partition's offsets could not be read (leaderless): "maybe" must not read as "empty"."""
        out: dict[str, bool | None] = {
            n: None if any(p.leader < 0 for p in md.topics[n].partitions.values()) else False
            for n in names
        }
        seen = self._partition_data(earliest, latest)
        failed = [tp for tp, has in seen.items() if has is None]
        if failed:
            # A partition created a moment ago may refuse ListOffsets until its leader has
            # settled: ask those again for a moment before calling them "maybe".
            def retry() -> dict[TopicPartition, bool | None]:
                return self._partition_data(*self._ask_offsets(failed))

            again = poll(retry, lambda got: None not in got.values(), 2.0, first_s=0.1)
            seen.update(again)
        for tp, has in seen.items():
            if has is None and out[tp.topic] is False:
                out[tp.topic] = None
            elif has:
                out[tp.topic] = True
        return out

    def _acls(self, future: Future[Any]) -> frozenset[AclBinding] | None:
        result = outcome(future, self.timeout_s * 2)
        if not isinstance(result, OpError):
            if result:
                return frozenset(from_ck(b) for b in result)
            return self._empty_acls()
        if result.code == "SECURITY_DISABLED":
            return None
        if result.code == "CLUSTER_AUTHORIZATION_FAILED":
            raise self._acl_auth_error()
        if result.code in UNREACHABLE:
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
        described = outcome(
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
        configs = outcome(futures[broker], self.timeout_s * 2)
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


def is_topic_override(e: ConfigEntry) -> bool:
    """Set on the topic itself. The stubs say `source` is a ConfigSource; at runtime it is the
    int. Sensitive values come back as None and are skipped."""
    source: Any = e.source
    return getattr(source, "value", source) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and not (
        e.is_sensitive
    )
