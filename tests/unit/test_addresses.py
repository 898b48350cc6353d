"""Addresses: built from parts, printed as Terraform-style text, read back only at the edges."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mm2plan.core.addresses import Address, Kind, apply_stage


def test_text_and_parts() -> None:
    a = Address.topic("dc2", "dc1.orders")
    assert a == 'dc2.topic["dc1.orders"]'
    assert (a.cluster, a.kind, a.name) == ("dc2", Kind.TOPIC, "dc1.orders")
    assert Address.topic("dc2", "heartbeats", internal=True) == 'dc2.internal_topic["heartbeats"]'
    assert (
        Address.acl("dc1", '"User:app" READ topic:orders')
        == 'dc1.acl["User:app" READ topic:orders]'
    )
    assert Address.replication("dc2", "dc1->dc2") == 'dc2.replication["dc1->dc2"]'
    assert Address.replication("dc2", "dc1->dc2", "team") == 'dc2.replication["team/dc1->dc2"]'


def test_it_is_its_text_for_json_keys_and_prefixes() -> None:
    a = Address.topic("dc2", "x")
    assert json.dumps({a: 1}) == '{"dc2.topic[\\"x\\"]": 1}'
    assert a.startswith("dc2.topic")
    assert {a: 1}['dc2.topic["x"]'] == 1
    back = pickle.loads(pickle.dumps(a))
    assert back == a and back.name == "x"


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@given(st.sampled_from(["dc1", "us-east", "a_b", "us.east"]), st.sampled_from(list(Kind)), names)
def test_parse_gives_back_the_parts(cluster: str, kind: Kind, name: str) -> None:
    a = Address(cluster, kind, name)
    back = Address.parse(str(a))
    assert (back.cluster, back.kind, back.name) == (cluster, kind, name)


@pytest.mark.parametrize(
    "text", ["", "dc1", 'dc1.topic["x"', "dc1.topic[x]", 'dc1.bogus["x"]', 'dc1.topic["x"]y']
)
def test_parse_refuses_what_is_not_an_address(text: str) -> None:
    with pytest.raises(ValueError):
        Address.parse(text)


def test_one_apply_order() -> None:
    order = sorted(
        [
            (Kind.REPLICATION, False),
            (Kind.ACL, False),
            (Kind.TOPIC, False),
            (Kind.REPLICATION, True),
        ],
        key=lambda kd: apply_stage(*kd),
    )
    assert order == [
        (Kind.REPLICATION, True),  # stop before what it reads goes
        (Kind.TOPIC, False),
        (Kind.ACL, False),
        (Kind.REPLICATION, False),  # start once its topics and ACLs exist
    ]
    assert apply_stage(Kind.INTERNAL_TOPIC, True) == apply_stage(Kind.TOPIC, False)
