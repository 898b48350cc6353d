"""ACL bindings to confluent-kafka's classes and back, for every resource type mm2plan plans
(the brokers' side is tests/integration/test_replicator_acls.py)."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AclBinding as CkAclBinding
from confluent_kafka.admin import ResourceType

from mm2plan.adapters.kafka.acls import ck_parts, from_ck
from mm2plan.core.resources import LITERAL, PREFIXED, AclBinding


@pytest.mark.parametrize(
    ("binding", "ck_type"),
    [
        (AclBinding("User:mm2", "READ", "TOPIC", "orders"), ResourceType.TOPIC),
        (AclBinding("User:mm2", "DESCRIBE", "GROUP", "app", PREFIXED), ResourceType.GROUP),
        # librdkafka calls Kafka's CLUSTER resource type (4 on the wire) BROKER
        (
            AclBinding("User:mm2", "IDEMPOTENT_WRITE", "CLUSTER", "kafka-cluster", LITERAL),
            ResourceType.BROKER,
        ),
        (
            AclBinding("User:mm2", "WRITE", "TRANSACTIONAL_ID", "mm2plan-", PREFIXED),
            ResourceType.TRANSACTIONAL_ID,
        ),
    ],
)
def test_each_resource_type_round_trips(binding: AclBinding, ck_type: ResourceType) -> None:
    ck = CkAclBinding(*ck_parts(binding))
    assert ck.restype == ck_type
    assert from_ck(ck) == binding
