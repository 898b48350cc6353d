"""The confluent-kafka adapter against real brokers: what it reads, per-resource outcomes of
batched changes, ownership records, the lock, and whole-cluster failures without secrets."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from mm2plan.adapters.kafka.confluent import ConfluentCluster, confluent_admin_factory
from mm2plan.core.bookkeeping import LOCK_TOPIC
from mm2plan.core.model import Cluster, Secret
from mm2plan.core.naming import BROKER_TOPICS
from mm2plan.core.resources import PREFIXED, AclBinding
from mm2plan.lab.cluster import KafkaCluster, free_port
from mm2plan.ports.cluster import ClusterError, LockHeld, NewTopic

pytestmark = pytest.mark.kafka

Names = Callable[[str], str]
PASSWORD_VAR = "MM2PLAN_TEST_SCRAM_PASSWORD"


def plain(cluster: KafkaCluster) -> ConfluentCluster:
    return confluent_admin_factory(Cluster(cluster.name, cluster.bootstrap_servers))


def scram(cluster: KafkaCluster, user: str, password: str) -> ConfluentCluster:
    """The password comes through a `${env:..}` reference, as a topology gives it."""
    config: dict[str, str | Secret] = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": Secret(f"${{env:{PASSWORD_VAR}}}"),
    }
    return confluent_admin_factory(
        Cluster(cluster.name, cluster.bootstrap_servers, config), {PASSWORD_VAR: password}
    )


@pytest.fixture
def dc1(kafka_clusters: dict[str, KafkaCluster]) -> Iterator[ConfluentCluster]:
    admin = plain(kafka_clusters["dc1"])
    yield admin
    admin.close()


@pytest.fixture
def secure(scram_cluster: KafkaCluster) -> Iterator[ConfluentCluster]:
    admin = scram(scram_cluster, "admin", scram_cluster.users["admin"])
    yield admin
    admin.close()


def create(admin: ConfluentCluster, *topics: NewTopic) -> None:
    assert admin.create_topics(topics) == {t.name: None for t in topics}


def test_read_state_reads_shape_overrides_data_and_no_acls_without_authorizer(
    dc1: ConfluentCluster, kafka_clusters: dict[str, KafkaCluster], unique_topic: Names
) -> None:
    full, empty = unique_topic("full"), unique_topic("empty")
    create(dc1, NewTopic(full, 3, 1, {"retention.ms": "3600000"}), NewTopic(empty, 1, 1))
    bootstrap = kafka_clusters["dc1"].bootstrap_servers
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(full, b"v", key=b"k", partition=2)
    assert producer.flush(30) == 0
    # A committed offset makes sure __consumer_offsets exists, to show it is left out.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("g")})
    consumer.commit(offsets=[TopicPartition(full, 2, 1)], asynchronous=False)
    consumer.close()

    live = dc1.read_state()

    assert live.alias == "dc1"
    assert live.topics[full].partitions == 3
    assert live.topics[full].replication_factor == 1
    assert live.topics[full].config == {"retention.ms": "3600000"}  # not broker defaults
    assert live.topics[full].has_data is True
    assert (live.topics[empty].partitions, live.topics[empty].config) == (1, {})
    assert live.topics[empty].has_data is False
    assert not BROKER_TOPICS & set(live.topics)
    assert live.acls is None  # the plaintext lab brokers run no authorizer


def test_create_topics_batch_reports_each_topic(dc1: ConfluentCluster, unique_topic: Names) -> None:
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
    dc1: ConfluentCluster, unique_topic: Names
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
    dc1: ConfluentCluster, unique_topic: Names
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


def test_delete_topics_reports_each_topic(dc1: ConfluentCluster, unique_topic: Names) -> None:
    topic, missing = unique_topic("del"), unique_topic("missing")
    create(dc1, NewTopic(topic, 1, 1))

    results = dc1.delete_topics([topic, missing])

    assert results[topic] is None
    failed = results[missing]
    assert failed is not None and failed.code == "UNKNOWN_TOPIC_OR_PART"
    assert topic not in dc1.read_state().topics


def test_ownership_records_round_trip_and_tombstones_forget(
    dc1: ConfluentCluster, kafka_clusters: dict[str, KafkaCluster], unique_topic: Names
) -> None:
    kept, forgotten = f"dc1/topic/{unique_topic('kept')}", f"dc1/topic/{unique_topic('gone')}"
    dc1.write_ownership({kept: {"kind": "topic", "v": 1}, forgotten: {"kind": "topic"}})
    assert {a: r for a, r in dc1.read_state().owned.items() if a in (kept, forgotten)} == {
        kept: {"kind": "topic", "v": 1},
        forgotten: {"kind": "topic"},
    }

    dc1.write_ownership({forgotten: None, kept: {"kind": "topic", "v": 2}})

    other = plain(kafka_clusters["dc1"])  # what another mm2plan process would read
    try:
        owned = other.read_state().owned
    finally:
        other.close()
    assert owned[kept] == {"kind": "topic", "v": 2}
    assert forgotten not in owned


def test_lock_is_exclusive_names_its_holder_and_force_breaks_it(
    kafka_clusters: dict[str, KafkaCluster],
) -> None:
    first, second, third = (plain(kafka_clusters["dc2"]) for _ in range(3))
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


def test_unreachable_cluster_fails_quickly_without_secrets() -> None:
    port = free_port()  # nothing listens there
    secret = "hunter2-do-not-print"
    cluster = Cluster(
        "gone",
        f"127.0.0.1:{port}",
        {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "app",
            "sasl.password": Secret(secret),
        },
    )
    admin = confluent_admin_factory(cluster)
    started = time.monotonic()
    with pytest.raises(ClusterError) as failed:
        admin.read_state()
    assert time.monotonic() - started < 20
    admin.close()
    err = failed.value
    assert err.alias == "gone" and err.code == "cluster-unreachable"
    assert f"cannot reach bootstrap servers 127.0.0.1:{port}" in str(err)
    assert err.hint == "check bootstrap_servers and that the cluster is up"
    assert secret not in f"{err!s} {err!r} {err.hint} {err.__cause__} {err.__context__}"


def test_wrong_password_fails_fast_as_authentication(scram_cluster: KafkaCluster) -> None:
    wrong = "not-the-password-xyz"
    admin = scram(scram_cluster, "admin", wrong)
    started = time.monotonic()
    with pytest.raises(ClusterError) as failed:
        admin.read_state()
    assert time.monotonic() - started < 10
    admin.close()
    assert failed.value.code == "cluster-auth"
    assert "authentication failed" in str(failed.value)
    assert wrong not in f"{failed.value!s} {failed.value.hint}"


def test_unresolved_secret_reference_is_a_cluster_error() -> None:
    cluster = Cluster("dc9", "127.0.0.1:1", {"sasl.password": Secret("${env:MM2PLAN_NO_SUCH}")})
    with pytest.raises(ClusterError) as failed:
        confluent_admin_factory(cluster, environ={})
    assert failed.value.code == "secret-unresolved"
    assert "MM2PLAN_NO_SUCH" in str(failed.value)


def test_acls_create_describe_delete_under_the_standard_authorizer(
    secure: ConfluentCluster, unique_topic: Names
) -> None:
    read = AclBinding("User:alice", "READ", "TOPIC", unique_topic("acl"))
    write = AclBinding("User:bob", "WRITE", "TOPIC", unique_topic("acl-"), PREFIXED)
    invalid = AclBinding("User:bob", "FLY", "TOPIC", unique_topic("acl"))

    created = secure.create_acls([read, write, invalid])

    assert created[read] is None and created[write] is None
    bad = created[invalid]
    assert bad is not None and bad.code == "INVALID_REQUEST"
    acls = secure.read_state().acls
    assert acls is not None and {read, write} <= acls

    assert secure.delete_acls([read, write]) == {read: None, write: None}
    after = secure.read_state().acls
    assert after is not None and not {read, write} & after


def test_principal_without_rights_gets_per_topic_and_cluster_auth_errors(
    scram_cluster: KafkaCluster, unique_topic: Names
) -> None:
    """librdkafka answers "may not describe ACLs" with an empty list: it must not read as
    "there are none"."""
    alice = scram(scram_cluster, "alice", scram_cluster.users["alice"])
    try:
        topic = unique_topic("denied")
        failed = alice.create_topics([NewTopic(topic, 1, 1)])[topic]
        assert failed is not None and failed.code == "TOPIC_AUTHORIZATION_FAILED"
        with pytest.raises(ClusterError) as denied:
            alice.read_state()
        assert denied.value.code == "cluster-auth"
        assert "not authorized to describe ACLs" in str(denied.value)
    finally:
        alice.close()
