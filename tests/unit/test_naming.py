"""mm2plan.naming against Apache Kafka 4.x's own tests (connect/mirror-client), case for case.

Each block names the Java test it mirrors; `None` stands where Java returns null.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mm2plan.naming import (
    MAX_TOPIC_NAME_LENGTH,
    DefaultReplicationPolicy,
    IdentityReplicationPolicy,
    count_hops,
    is_remote_topic,
    policy_for,
    topic_name_problem,
    unify_collision_chars,
)

DEFAULT = DefaultReplicationPolicy()


# ReplicationPolicyTest.testInternalTopic
@pytest.mark.parametrize(
    ("topic", "internal"),
    [
        ("__consumer_offsets", True),
        (".hiddentopic", True),
        ("mm2-offsets.CLUSTER.internal", True),
        ("mm2-offsets-CLUSTER-internal", True),
        ("mm2-offsets_CLUSTER_internal", False),
    ],
)
def test_internal_topic(topic: str, internal: bool) -> None:
    assert DEFAULT.is_internal_topic(topic) is internal


# ReplicationPolicyTest.offsetSyncsTopic_/checkpointsTopic_shouldBeEffectedBy...
def test_internal_topic_separator() -> None:
    off = DefaultReplicationPolicy("__", internal_topic_separator_enabled=False)
    on = DefaultReplicationPolicy("__", internal_topic_separator_enabled=True)
    assert off.offset_syncs_topic("CLUSTER") == "mm2-offset-syncs.CLUSTER.internal"
    assert on.offset_syncs_topic("CLUSTER") == "mm2-offset-syncs__CLUSTER__internal"
    assert off.checkpoints_topic("CLUSTER") == "CLUSTER.checkpoints.internal"
    assert on.checkpoints_topic("CLUSTER") == "CLUSTER__checkpoints__internal"
    # ...heartbeatsTopic_shouldNotBeEffectedByInternalTopicSeparatorConfig
    assert off.heartbeats_topic() == on.heartbeats_topic() == "heartbeats"


def test_defaults_as_mm2_names_them() -> None:
    assert DEFAULT.offset_syncs_topic("dc2") == "mm2-offset-syncs.dc2.internal"
    assert DEFAULT.checkpoints_topic("dc1") == "dc1.checkpoints.internal"
    assert DEFAULT.format_remote_topic("us-west", "topic1") == "us-west.topic1"


# MirrorClientTest.testIsHeartbeatTopic
@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("heartbeats", True),
        ("source1.heartbeats", True),
        ("source2.source1.heartbeats", True),
        ("heartbeats!", False),
        ("!heartbeats", False),
        ("source1heartbeats", False),
        ("source1-heartbeats", False),
    ],
)
def test_is_heartbeats_topic(topic: str, expected: bool) -> None:
    assert DEFAULT.is_heartbeats_topic(topic) is expected


# MirrorClientTest.testIsCheckpointTopic
@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("source1.checkpoints.internal", True),
        ("checkpoints.internal", False),
        ("checkpoints-internal", False),
        ("checkpoints.internal!", False),
        ("!checkpoints.internal", False),
        ("source1checkpointsinternal", False),
    ],
)
def test_is_checkpoints_topic(topic: str, expected: bool) -> None:
    assert DEFAULT.is_checkpoints_topic(topic) is expected


# MirrorClientTest.countHopsForTopicTest
@pytest.mark.parametrize(
    ("topic", "source", "hops"),
    [
        ("topic", "source", -1),
        ("source", "source", -1),
        ("sourcetopic", "source", -1),
        ("source1.topic", "source2", -1),
        ("source1.topic", "source1", 1),
        ("source2.source1.topic", "source2", 1),
        ("source2.source1.topic", "source1", 2),
        ("source3.source2.source1.topic", "source1", 3),
        ("source3.source2.source1.topic", "source4", -1),
    ],
)
def test_count_hops(topic: str, source: str, hops: int) -> None:
    assert count_hops(DEFAULT, topic, source) == hops


# MirrorClientTest.remoteTopicsTest / remoteTopicsSeparatorTest
@pytest.mark.parametrize(
    ("policy", "topic", "remote"),
    [
        (DEFAULT, "topic1", False),
        (DEFAULT, "source1.topic4", True),
        (DEFAULT, "source1.source2.topic5", True),
        (DEFAULT, "source3.source4.source5.topic6", True),
        (DefaultReplicationPolicy("__"), "topic1", False),
        (DefaultReplicationPolicy("__"), "source1__topic4", True),
        (DefaultReplicationPolicy("__"), "source3__source4__source5__topic6", True),
    ],
)
def test_remote_topics(policy: DefaultReplicationPolicy, topic: str, remote: bool) -> None:
    assert is_remote_topic(policy, topic) is remote


# MirrorClientTest.upstreamClustersTest: every alias along a heartbeat's name
def test_upstream_clusters_from_heartbeats() -> None:
    for policy in (DEFAULT, IdentityReplicationPolicy(source_cluster_alias="source")):
        sources = set()
        for topic in (
            "heartbeats",
            "source1.heartbeats",
            "source1.source2.heartbeats",
            "source3.source4.source5.heartbeats",
        ):
            t: str | None = topic
            while t is not None and (s := policy.topic_source(t)) is not None:
                sources.add(s)
                up = policy.upstream_topic(t)
                t = None if up == t else up
        assert sources == {"source1", "source2", "source3", "source4", "source5"}


# MirrorClientTest.testIdentityReplicationRemoteTopics / testIdentityReplicationTopicSource
def test_identity_policy() -> None:
    primary = IdentityReplicationPolicy(source_cluster_alias="primary")
    assert primary.format_remote_topic("primary", "topic1") == "topic1"
    assert primary.topic_source("topic1") == "primary"
    assert primary.format_remote_topic("backup", "heartbeats") == "backup.heartbeats"
    assert primary.topic_source("backup.heartbeats") == "backup"
    source = IdentityReplicationPolicy(source_cluster_alias="source")
    assert is_remote_topic(source, "topic1")
    assert not is_remote_topic(source, "heartbeats")
    assert is_remote_topic(source, "backup.heartbeats")
    # Without source.cluster.alias, Java's topicSource is null: the name cannot say.
    plain = IdentityReplicationPolicy()
    assert plain.topic_source("topic1") is None
    assert plain.upstream_topic("topic1") == "topic1"
    assert plain.original_topic("topic1") == "topic1"
    assert plain.original_topic("b.a.heartbeats") == "heartbeats"


# Java quirks kept on purpose: Pattern.split drops trailing empty strings.
@pytest.mark.parametrize(
    ("topic", "source", "upstream"),
    [
        ("a.b.c", "a", "b.c"),
        ("a.", None, None),
        ("a..b", "a", ".b"),
        (".x", "", "x"),
        ("...", None, None),
        ("", None, None),
        ("plain", None, None),
    ],
)
def test_default_topic_source_quirks(topic: str, source: str | None, upstream: str | None) -> None:
    assert DEFAULT.topic_source(topic) == source
    assert DEFAULT.upstream_topic(topic) == upstream


def test_original_topic_multi_hop() -> None:
    assert DEFAULT.original_topic("c.b.a.orders") == "orders"
    assert DEFAULT.original_topic("orders") == "orders"
    assert DefaultReplicationPolicy("_").original_topic("dc1_dc2_orders") == "orders"


def test_policy_for() -> None:
    assert policy_for("default", "-").format_remote_topic("a", "t") == "a-t"
    assert policy_for("identity").format_remote_topic("a", "t") == "t"
    with pytest.raises(ValueError, match="unknown replication policy"):
        policy_for("legacy")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("orders", True),
        ("a" * MAX_TOPIC_NAME_LENGTH, True),
        ("a" * 250, False),
        ("", False),
        (".", False),
        ("..", False),
        ("...", True),
        ("orders/eu", False),
        ("ordérs", False),
        ("my_topic-1.v2", True),
    ],
)
def test_topic_name_rules(name: str, ok: bool) -> None:
    assert (topic_name_problem(name) is None) is ok


def test_collision_chars() -> None:
    assert unify_collision_chars("a.b_c") == unify_collision_chars("a_b.c") == "a_b_c"


aliases = st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True)
topics = st.from_regex(r"[a-z0-9_.-]{1,30}", fullmatch=True).filter(
    lambda t: not DEFAULT.is_internal_topic(t)
)


@given(aliases, topics)
def test_source_of_a_remote_name_is_its_alias(alias: str, topic: str) -> None:
    remote = DEFAULT.format_remote_topic(alias, topic)
    assert DEFAULT.topic_source(remote) == alias
    assert DEFAULT.upstream_topic(remote) == topic


@given(aliases, aliases, st.from_regex(r"[a-z0-9_-]{1,30}", fullmatch=True))
def test_original_topic_through_two_hops(a: str, b: str, topic: str) -> None:
    assert (
        DEFAULT.original_topic(
            DEFAULT.format_remote_topic(b, DEFAULT.format_remote_topic(a, topic))
        )
        == topic
    )
