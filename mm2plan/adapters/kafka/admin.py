"""The admin writer on confluent-kafka: topics, partitions, configs and ACLs, batched."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from confluent_kafka.admin import (
    AclBinding as CkAclBinding,
)
from confluent_kafka.admin import (
    AclBindingFilter,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    ResourceType,
)
from confluent_kafka.admin import (
    NewTopic as CkNewTopic,
)

from mm2plan.adapters.kafka.acls import ck_parts
from mm2plan.adapters.kafka.client import (
    KafkaConnection,
    gone,
    partitions_at_least,
    usable,
)
from mm2plan.core.resources import AclBinding
from mm2plan.ports.cluster import (
    AclResults,
    NewTopic,
    OpError,
    Results,
)


class KafkaAdmin(KafkaConnection):
    """`ClusterAdmin`: each call is one batched request, with each resource's own result."""

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
        self._await({name: usable for name, err in out.items() if err is None})
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
                    name: partitions_at_least(counts[name])
                    for name, err in done.items()
                    if err is None
                }
            )
            out.update(done)
        return out

    def alter_topic_configs(self, changes: Mapping[str, Mapping[str, str | None]]) -> Results:
        """IncrementalAlterConfigs: keys not named keep their values (AlterConfigs would reset
        them). An empty delta is nothing to do (librdkafka would refuse the whole request)."""
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
            if delta
        ]
        done: dict[str, OpError | None] = {
            name: None for name, delta in changes.items() if not delta
        }
        if not resources:
            return done
        futures = self._submit(
            "changing topic configs",
            lambda: self._admin.incremental_alter_configs(
                resources, request_timeout=self.timeout_s * 2
            ),
        )
        return done | self._per_resource(
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
        self._await({name: gone for name, err in out.items() if err is None})
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
                ours[kind(*ck_parts(b))] = b
            except (KeyError, ValueError, TypeError) as exc:
                out[b] = OpError("INVALID_REQUEST", f"not a valid ACL binding: {exc}")
        if ours:
            futures = self._submit(
                what, lambda: call(list(ours), request_timeout=self.timeout_s * 2)
            )
            results = self._per_resource(what, futures.items(), self.timeout_s * 3)
            out.update({ours[k]: err for k, err in results.items()})
        return out
