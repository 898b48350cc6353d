"""The ACLs mm2plan plans for the bundled runtime's exactly-once flow are enough, under Kafka's
standard authorizer, for what that runtime does on the target beyond MM2: create its progress
topic and write it in a transaction. A principal without them is refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from mm2plan.adapters.kafka.confluent import ConfluentCluster, confluent_admin_factory
from mm2plan.core.bookkeeping import PROGRESS_TOPIC
from mm2plan.core.model import Cluster, Secret
from mm2plan.core.resources import LiveState
from mm2plan.lab.cluster import KafkaCluster
from mm2plan.planning.desired import TRANSACTIONAL_ID_PREFIX, build_desired
from mm2plan.ports.cluster import NewTopic
from mm2plan.topology.loader import load_text

pytestmark = pytest.mark.kafka

TOPOLOGY = """version: 1
defaults: {{replication_factor: 1}}
clusters:
  dc1: {{bootstrap_servers: "127.0.0.1:1", topics: {{orders: {{}}}}}}
  dc2: {{bootstrap_servers: "{bootstrap}", replicator_principal: "User:alice"}}
flows:
  - {{source: dc1, target: dc2, topics: [orders], exactly_once: true}}
"""


def connect(cluster: KafkaCluster, user: str) -> ConfluentCluster:
    """mm2plan's admin client as `user`, the password through a reference as a topology has it."""
    conf = cluster.client_config(user)
    password = conf.pop("sasl.password")
    del conf["bootstrap.servers"]
    config: dict[str, str | Secret] = {**conf, "sasl.password": Secret("${env:PW}")}
    return confluent_admin_factory(
        Cluster("dc2", cluster.bootstrap_servers, config), {"PW": password}
    )


@pytest.fixture
def admin(scram_cluster: KafkaCluster) -> Iterator[ConfluentCluster]:
    connection = connect(scram_cluster, "admin")
    yield connection
    connection.close()


def write_progress(cluster: KafkaCluster, user: str) -> None:
    """What the runtime does with exactly_once: records and progress in one transaction."""
    producer = Producer(
        {
            **cluster.client_config(user),
            "transactional.id": f"{TRANSACTIONAL_ID_PREFIX}test-{uuid.uuid4().hex[:8]}",
        }
    )
    producer.init_transactions(15)
    producer.begin_transaction()
    producer.produce(PROGRESS_TOPIC, key=b"default/dc1->dc2/orders/0", value=b'{"next": 1}')
    producer.commit_transaction(15)


def read_progress(cluster: KafkaCluster, user: str) -> list[bytes | None]:
    """As the runtime reads it: assigned, never committed, so no group ACL is needed (librdkafka
    still asks for the group's coordinator and reports GROUP_AUTHORIZATION_FAILED as an event,
    which is not an error of the read)."""
    consumer = Consumer(
        {
            **cluster.client_config(user),
            "group.id": "mm2plan-progress-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        consumer.assign([TopicPartition(PROGRESS_TOPIC, 0, 0)])
        values: list[bytes | None] = []
        deadline = time.monotonic() + 15
        while not values and time.monotonic() < deadline:
            values = [m.value() for m in consumer.consume(10, 1) if m.error() is None]
        return values
    finally:
        consumer.close()


def test_the_planned_acls_let_the_replicator_write_progress_in_transactions(
    scram_cluster: KafkaCluster, admin: ConfluentCluster
) -> None:
    text = TOPOLOGY.format(bootstrap=scram_cluster.bootstrap_servers)
    topology = load_text(text, "t.yaml").topology
    assert topology is not None
    wanted = sorted(build_desired(topology, LiveState({})).acls["dc2"])
    assert {a.resource_type for a in wanted} >= {"TOPIC", "CLUSTER", "TRANSACTIONAL_ID"}

    with pytest.raises(KafkaException, match=r"(?i)authoriz"):
        write_progress(scram_cluster, "bob")  # bob holds no ACL: the test can fail

    assert admin.create_acls(wanted) == dict.fromkeys(wanted)
    live = admin.read_state().acls
    assert live is not None and set(wanted) <= live  # CLUSTER reads back as CLUSTER

    alice = connect(scram_cluster, "alice")
    try:
        created = alice.create_topics(
            [NewTopic(PROGRESS_TOPIC, 1, 1, {"cleanup.policy": "compact"})]
        )
        error = created[PROGRESS_TOPIC]
        assert error is None or error.code == "TOPIC_ALREADY_EXISTS", error
    finally:
        alice.close()
    write_progress(scram_cluster, "alice")

    assert read_progress(scram_cluster, "alice") == [b'{"next": 1}']
    assert admin.delete_acls(wanted) == dict.fromkeys(wanted)
