"""Ownership records as typed values: what apply writes reads back the same, and a record this
version cannot read counts as not owned (mm2plan then never changes or deletes the resource)."""

from __future__ import annotations

import pytest

from mm2plan.core.addresses import Address, Kind
from mm2plan.core.ownership import OwnershipRecord, read_records
from mm2plan.core.resources import AclBinding, LiveCluster, LiveState, LiveTopic
from mm2plan.planning.planner import make_destroy_plan, make_plan
from mm2plan.topology.loader import load_text

RECORDS = [
    OwnershipRecord(Kind.TOPIC, "team", topic="orders", applied={"partitions": 3, "config": {}}),
    OwnershipRecord(Kind.INTERNAL_TOPIC, topic="heartbeats"),
    OwnershipRecord(Kind.ACL, binding=AclBinding("User:a", "READ", "TOPIC", "orders")),
    OwnershipRecord(Kind.REPLICATION, settings={"source": "dc1"}, state="pending"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.kind.value)
def test_records_round_trip(record: OwnershipRecord) -> None:
    assert OwnershipRecord.from_json(record.to_json()) == record


def test_unreadable_records_and_keys_are_not_owned() -> None:
    good = Address.topic("dc1", "orders")
    raw = {
        good: {"kind": "topic", "name": "orders"},
        'dc1.topic["no-name"]': {"kind": "topic"},
        'dc1.topic["wrong-kind"]': {"kind": "acl", "binding": {}},
        "not an address": {"kind": "topic", "name": "x"},
        'dc1.acl["User:a" READ topic:x]': {"kind": "acl", "binding": {"principal": "User:a"}},
    }
    assert list(read_records(raw)) == [good]


def test_destroy_never_deletes_what_a_record_cannot_say() -> None:
    loaded = load_text("version: 1\nclusters:\n  dc1: {bootstrap_servers: a}\n", "t.yaml")
    assert loaded.topology is not None
    live = LiveState(
        {
            "dc1": LiveCluster(
                "dc1",
                {"orders": LiveTopic("orders", 1, 1), "odd": LiveTopic("odd", 1, 1)},
                owned={
                    'dc1.topic["orders"]': {"kind": "topic", "name": "orders"},
                    'dc1.topic["odd"]': {"kind": "topic", "names": "odd"},
                },
            )
        }
    )
    plan = make_destroy_plan(loaded.topology, live)
    assert [c.address for c in plan.changes] == ['dc1.topic["orders"]']


def test_an_unreadable_record_of_this_topology_is_not_blamed_on_another() -> None:
    loaded = load_text(
        "version: 1\nclusters:\n  dc1: {bootstrap_servers: a, topics: {orders: {}}}\n", "t.yaml"
    )
    assert loaded.topology is not None
    live = LiveState(
        {
            "dc1": LiveCluster(
                "dc1",
                {"orders": LiveTopic("orders", 1, 1)},
                owned={'dc1.topic["orders"]': {"kind": "topic", "names": "orders"}},
            )
        }
    )
    plan = make_plan(loaded.topology, live)
    assert "owned-elsewhere" not in [d.code for d in plan.diagnostics]
    assert [(c.address, c.action.value) for c in plan.effective] == [
        ('dc1.topic["orders"]', "adopt")  # taken over again, with a record this version writes
    ]
