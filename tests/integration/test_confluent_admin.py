"""The confluent-kafka adapter against real brokers: what it reads, per-resource outcomes of
batched changes, ownership records, the lock, and whole-cluster failures without secrets."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from mm2plan.adapters.kafka.confluent import ConfluentCluster, confluent_admin_factory
from mm2plan.core.model import Cluster, Secret
from mm2plan.core.naming import BROKER_TOPICS
from mm2plan.core.resources import PREFIXED, AclBinding
from mm2plan.lab.cluster import KafkaCluster, free_port
from mm2plan.ports.cluster import ClusterError, NewTopic

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
