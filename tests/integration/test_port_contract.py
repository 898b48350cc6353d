"""One contract for the cluster ports, run on the in-memory fake and on real Kafka brokers.

The same cases, unchanged, against `adapters.memory` and `adapters.kafka`: the fake the planner's
and CLI's tests rely on cannot drift from what Kafka does. The fake stands for a lab broker: one
node, no authorizer, default replication factor 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mm2plan.adapters.kafka.confluent import confluent_admin_factory
from mm2plan.adapters.memory import MemoryAdmin, MemoryCluster
from mm2plan.core.bookkeeping import LOCK_TOPIC
from mm2plan.core.model import Cluster
from mm2plan.core.resources import AclBinding
from mm2plan.lab.cluster import KafkaCluster
from mm2plan.ports.cluster import ClusterConnection, LockHeld, NewTopic

Names = Callable[[str], str]
Connect = Callable[[], ClusterConnection]


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
def connect(request: pytest.FixtureRequest) -> Iterator[Connect]:
    """New connections to one cluster: the fake's, or the lab's dc1."""
    opened: list[ClusterConnection] = []
    if request.param == "memory":
        cluster = MemoryCluster("dc1", acls=None)

        def make() -> ClusterConnection:
            return MemoryAdmin(cluster)
    else:
        lab: KafkaCluster = request.getfixturevalue("kafka_clusters")["dc1"]

        def make() -> ClusterConnection:
            return confluent_admin_factory(Cluster("dc1", lab.bootstrap_servers))

    def connect() -> ClusterConnection:
        conn = make()
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture
def dc1(connect: Connect) -> ClusterConnection:
    return connect()


def create(admin: ClusterConnection, *topics: NewTopic) -> None:
    assert admin.create_topics(topics) == {t.name: None for t in topics}


def test_create_topics_batch_reports_each_topic(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    exists, fresh, default_rf = unique_topic("exists"), unique_topic("new"), unique_topic("rf")
    create(dc1, NewTopic(exists, 1, 1))

    results = dc1.create_topics(
        [
            NewTopic(exists, 2, 1),
            NewTopic(fresh, 2, 1, {"cleanup.policy": "compact"}),
            NewTopic(default_rf, 1, -1),
        ]
    )

    assert results[fresh] is None and results[default_rf] is None
    failed = results[exists]
    assert failed is not None and failed.code == "TOPIC_ALREADY_EXISTS"
    topics = dc1.read_state().topics
    assert topics[exists].partitions == 1
    assert topics[fresh].config == {"cleanup.policy": "compact"}
    assert topics[default_rf].replication_factor == 1  # the lab's default


def test_partition_increase_and_invalid_decrease(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    grow, shrink = unique_topic("grow"), unique_topic("shrink")
    create(dc1, NewTopic(grow, 2, 1), NewTopic(shrink, 3, 1))

    missing = unique_topic("missing")

    results = dc1.create_partitions({grow: 4, shrink: 2, missing: 2})

    assert results[grow] is None
    codes = {name: err.code for name, err in results.items() if err is not None}
    assert codes == {shrink: "INVALID_PARTITIONS", missing: "UNKNOWN_TOPIC_OR_PART"}
    topics = dc1.read_state().topics
    assert (topics[grow].partitions, topics[shrink].partitions) == (4, 3)


def test_incremental_configs_set_and_delete_leave_the_rest(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    topic = unique_topic("cfg")
    create(dc1, NewTopic(topic, 1, 1, {"retention.ms": "3600000", "cleanup.policy": "compact"}))
    missing = unique_topic("missing")

    results = dc1.alter_topic_configs(
        {topic: {"retention.ms": None, "segment.bytes": "1048576"}, missing: {"retention.ms": "1"}}
    )

    assert results[topic] is None
    failed = results[missing]
    assert failed is not None and failed.code == "UNKNOWN_TOPIC_OR_PART"
    config = dc1.read_state().topics[topic].config
    assert config == {"cleanup.policy": "compact", "segment.bytes": "1048576"}


def test_delete_topics_reports_each_topic(dc1: ClusterConnection, unique_topic: Names) -> None:
    topic, missing = unique_topic("del"), unique_topic("missing")
    create(dc1, NewTopic(topic, 1, 1))

    results = dc1.delete_topics([topic, missing])

    assert results[topic] is None
    failed = results[missing]
    assert failed is not None and failed.code == "UNKNOWN_TOPIC_OR_PART"
    assert topic not in dc1.read_state().topics


def test_ownership_records_round_trip_and_tombstones_forget(
    dc1: ClusterConnection, connect: Connect, unique_topic: Names
) -> None:
    kept, forgotten = f"dc1/topic/{unique_topic('kept')}", f"dc1/topic/{unique_topic('gone')}"
    dc1.write_ownership({kept: {"kind": "topic", "v": 1}, forgotten: {"kind": "topic"}})
    assert {a: r for a, r in dc1.read_state().owned.items() if a in (kept, forgotten)} == {
        kept: {"kind": "topic", "v": 1},
        forgotten: {"kind": "topic"},
    }

    dc1.write_ownership({forgotten: None, kept: {"kind": "topic", "v": 2}})

    other = connect()  # what another mm2plan process would read
    try:
        owned = other.read_state().owned
    finally:
        other.close()
    assert owned[kept] == {"kind": "topic", "v": 2}
    assert forgotten not in owned


def test_lock_is_exclusive_names_its_holder_and_force_breaks_it(
    connect: Connect,
) -> None:
    first, second, third = (connect() for _ in range(3))
    holder = {"host": "h1", "pid": 1, "started_at": "2026-01-01T00:00:00Z", "command": "apply"}
    try:
        first.acquire_lock(holder)
        with pytest.raises(LockHeld) as held:
            second.acquire_lock({"host": "h2", "pid": 2, "command": "apply"})
        assert held.value.holder == holder
        assert held.value.code == "apply-locked" and "pid=1" in str(held.value)

        second.acquire_lock({"host": "h2", "pid": 2, "command": "apply"}, force=True)
        first.release_lock()  # broken meanwhile: it must not free second's lock
        with pytest.raises(LockHeld) as still:
            third.acquire_lock({"host": "h3"})
        assert still.value.holder["host"] == "h2"

        second.release_lock()
        third.acquire_lock({"host": "h3"})
        third.release_lock()
        assert LOCK_TOPIC not in third.read_state().topics
    finally:
        for admin in (first, second, third):
            admin.release_lock()
            admin.close()


def test_create_topics_refuses_bad_partition_counts_and_names(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    zero, bad = unique_topic("zero"), unique_topic("bad") + " name!"

    results = dc1.create_topics([NewTopic(zero, 0, 1), NewTopic(bad, 1, 1)])

    codes = {name: err.code for name, err in results.items() if err is not None}
    assert codes == {zero: "INVALID_PARTITIONS", bad: "TOPIC_EXCEPTION"}
    assert not {zero, bad} & set(dc1.read_state().topics)


def test_new_topics_read_back_with_only_their_own_configs_and_no_data(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    topic = unique_topic("fresh")
    create(dc1, NewTopic(topic, 3, 1, {"retention.ms": "3600000"}))

    live = dc1.read_state().topics[topic]

    assert (live.partitions, live.replication_factor) == (3, 1)
    assert live.config == {"retention.ms": "3600000"}
    assert live.has_data is False


def test_an_empty_config_delta_is_nothing_to_do(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    topic = unique_topic("same")
    create(dc1, NewTopic(topic, 1, 1, {"retention.ms": "3600000"}))

    assert dc1.alter_topic_configs({topic: {}}) == {topic: None}
    assert dc1.read_state().topics[topic].config == {"retention.ms": "3600000"}


def test_acls_without_an_authorizer_read_as_none_and_fail_each_binding(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    binding = AclBinding("User:app", "READ", "TOPIC", unique_topic("acl"))

    assert dc1.read_state().acls is None
    for call in (dc1.create_acls, dc1.delete_acls):
        failed = call([binding])[binding]
        assert failed is not None and failed.code == "SECURITY_DISABLED"


def test_the_lock_is_a_topic_while_held(connect: Connect) -> None:
    """Kafka shows the lock topic while an apply holds it; execution hides bookkeeping."""
    conn = connect()
    conn.acquire_lock({"host": "h"})
    try:
        assert LOCK_TOPIC in conn.read_state().topics
    finally:
        conn.release_lock()
    assert LOCK_TOPIC not in conn.read_state().topics


def test_data_of_owned_topics_only_leaves_the_rest_unknown(
    dc1: ClusterConnection, unique_topic: Names
) -> None:
    owned, other = unique_topic("owned"), unique_topic("other")
    create(dc1, NewTopic(owned, 1, 1), NewTopic(other, 1, 1))
    dc1.write_ownership({f'dc1.topic["{owned}"]': {"kind": "topic", "name": owned}})

    topics = dc1.read_state(data="owned").topics

    assert topics[owned].has_data is False
    assert topics[other].has_data is None
    assert dc1.read_state().topics[other].has_data is False
