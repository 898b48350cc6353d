"""Kafka ACL bindings between mm2plan's values and confluent-kafka's classes."""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import (
    AclBinding as CkAclBinding,
)
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from mm2plan.core.resources import AclBinding

_ANY: Any = None
"""AclBindingFilter's "match anything" for name, principal and host (its stubs say str)."""
MATCH_ANY = AclBindingFilter(
    ResourceType.ANY,
    _ANY,
    ResourcePatternType.ANY,
    _ANY,
    _ANY,
    AclOperation.ANY,
    AclPermissionType.ANY,
)


_CK_RESOURCE_TYPE = {"CLUSTER": "BROKER"}
"""Kafka's resource type names where librdkafka's differ: its BROKER (4 on the wire) is Kafka's
CLUSTER, the resource `kafka-cluster` (TOPIC, GROUP and TRANSACTIONAL_ID share their names)."""
_KAFKA_RESOURCE_TYPE = {ck: kafka for kafka, ck in _CK_RESOURCE_TYPE.items()}


def ck_parts(b: AclBinding) -> tuple[Any, ...]:
    """An ACL in confluent-kafka's argument order, for a binding or an exact-match filter."""
    return (
        ResourceType[_CK_RESOURCE_TYPE.get(b.resource_type, b.resource_type)],
        b.resource_name,
        ResourcePatternType[b.pattern_type],
        b.principal,
        b.host,
        AclOperation[b.operation],
        AclPermissionType[b.permission],
    )


def from_ck(b: CkAclBinding) -> AclBinding:
    def name(v: Any) -> str:
        """The stubs allow str and int too; describe_acls gives the enums."""
        return str(getattr(v, "name", v))

    return AclBinding(
        b.principal,
        name(b.operation),
        _KAFKA_RESOURCE_TYPE.get(name(b.restype), name(b.restype)),
        b.name,
        name(b.resource_pattern_type),
        name(b.permission_type),
        b.host,
    )
