"""Resource addresses: values with their parts, that are also their Terraform-style text.

`dc2.topic["dc1.orders"]` keys ownership records, plan JSON and `--target` prefixes as text, and
code reads its cluster, kind and name as attributes: an address is built from parts and never
parsed back from a string, except where text comes in from outside (a saved plan, a record key).
"""

from __future__ import annotations

import re
from enum import StrEnum


class Kind(StrEnum):
    TOPIC = "topic"
    INTERNAL_TOPIC = "internal_topic"
    ACL = "acl"
    REPLICATION = "replication"

    @property
    def is_topic(self) -> bool:
        return self in (Kind.TOPIC, Kind.INTERNAL_TOPIC)


def apply_stage(kind: Kind, deleting: bool) -> int:
    """The one apply order, for apply and destroy alike: replication stops before anything it
    reads is deleted; then topics (copies after their sources, by dependency), ACLs (which may
    name the topics), and replication last, once its topics and ACLs exist."""
    if kind is Kind.REPLICATION:
        return -1 if deleting else 2
    return 0 if kind.is_topic else 1


_QUOTED = {Kind.TOPIC, Kind.INTERNAL_TOPIC, Kind.REPLICATION}
_TEXT = re.compile(
    r"(?P<cluster>.+?)\.(?P<kind>" + "|".join(k.value for k in Kind) + r")\[(?P<name>.*)\]\Z",
    re.S,
)


class Address(str):
    """`cluster.kind[name]`, with the name quoted for topics and flows (their names may hold dots
    and brackets) and bare for ACLs (a binding's description quotes its principal)."""

    cluster: str
    kind: Kind
    name: str

    def __new__(cls, cluster: str, kind: Kind, name: str) -> Address:
        shown = f'"{name}"' if kind in _QUOTED else name
        self = super().__new__(cls, f"{cluster}.{kind.value}[{shown}]")
        self.cluster, self.kind, self.name = cluster, kind, name
        return self

    def __reduce__(self) -> tuple[type[Address], tuple[str, Kind, str]]:
        return (Address, (self.cluster, self.kind, self.name))

    @classmethod
    def topic(cls, cluster: str, name: str, internal: bool = False) -> Address:
        return cls(cluster, Kind.INTERNAL_TOPIC if internal else Kind.TOPIC, name)

    @classmethod
    def acl(cls, cluster: str, described: str) -> Address:
        return cls(cluster, Kind.ACL, described)

    @classmethod
    def replication(cls, cluster: str, flow_name: str, topology_name: str = "default") -> Address:
        """One replication per flow and topology: two topologies may both replicate dc1->dc2."""
        key = flow_name if topology_name == "default" else f"{topology_name}/{flow_name}"
        return cls(cluster, Kind.REPLICATION, key)

    @classmethod
    def parse(cls, text: str) -> Address:
        """For text from outside only (plan files, ownership record keys); ValueError if it is
        not an address."""
        m = _TEXT.match(text)
        if m is None:
            raise ValueError(f"not a resource address: {text!r}")
        kind = Kind(m["kind"])
        name = m["name"]
        if kind in _QUOTED:
            if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
                raise ValueError(f"the name in {text!r} must be quoted")
            name = name[1:-1]
        address = cls(m["cluster"], kind, name)
        if address != text:
            raise ValueError(f"not a canonical resource address: {text!r}")
        return address
