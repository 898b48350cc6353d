"""mm2plan.core.naming against Apache Kafka 4.x, case for case.

Each block names the Java test it ports (connect/mirror-client's ReplicationPolicyTest and
MirrorClientTest, connect/mirror's MirrorSourceConnectorTest, as of Kafka 4.x). The "quirk" tables
were checked against the real connect-mirror-client 4.3.1 jar. `None` stands where Java returns
null.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mm2plan.core.naming import (
    KAFKA_INTERNAL_TOPICS,
    MAX_TOPIC_NAME_LENGTH,
    DefaultReplicationPolicy,
    IdentityReplicationPolicy,
    ReplicationPolicy,
    all_sources,
    checkpoint_topics,
    count_hops,
    dedicated_worker_topics,
    has_collision,
    has_collision_chars,
    heartbeat_topics,
    is_cycle,
    is_kafka_internal_topic,
    is_remote_topic,
    offset_syncs_placement,
    policy_for,
    remote_topics,
    replication_hops,
    should_replicate_topic,
    topic_name_problem,
    unify_collision_chars,
    upstream_clusters,
)

DEFAULT = DefaultReplicationPolicy()
UNDERSCORES = DefaultReplicationPolicy("__")
IDENTITY = IdentityReplicationPolicy()


def identity(source: str) -> IdentityReplicationPolicy:
    """Java's `identityReplicationPolicy(source)`: configured with `source.cluster.alias`."""
    return IdentityReplicationPolicy(source_cluster_alias=source)


# --- ReplicationPolicyTest -------------------------------------------------------------------


# ReplicationPolicyTest.testInternalTopic (4.x: KIP-1074 dropped the "-internal"/".internal" rule)
@pytest.mark.parametrize(
    ("topic", "internal"),
    [
        ("__consumer_offsets", True),  # starts with '__'
        (".hiddentopic", True),  # starts with '.'
        ("mm2-offsets.CLUSTER.internal", True),  # starts with 'mm2', ends with '.internal'
        ("mm2-offsets_CLUSTER_internal", False),
        # Before 4.0 (KAFKA-17200) the Java test had this one internal; the jar now says no.
        ("mm2-offsets-CLUSTER-internal", False),
    ],
)
def test_internal_topic(topic: str, internal: bool) -> None:
    assert DEFAULT.is_internal_topic(topic) is internal


# ReplicationPolicyTest.offsetSyncsTopic_shouldBeEffectedByInternalTopicSeparatorEnabled
@pytest.mark.parametrize(
    ("enabled", "expected"),
    [(False, "mm2-offset-syncs.CLUSTER.internal"), (True, "mm2-offset-syncs__CLUSTER__internal")],
)
def test_offset_syncs_topic_internal_separator(enabled: bool, expected: str) -> None:
    policy = DefaultReplicationPolicy("__", internal_topic_separator_enabled=enabled)
    assert policy.offset_syncs_topic("CLUSTER") == expected


# ReplicationPolicyTest.checkpointsTopic_shouldBeEffectedByInternalTopicSeparatorEnabled
@pytest.mark.parametrize(
    ("enabled", "expected"),
    [(False, "CLUSTER.checkpoints.internal"), (True, "CLUSTER__checkpoints__internal")],
)
def test_checkpoints_topic_internal_separator(enabled: bool, expected: str) -> None:
    policy = DefaultReplicationPolicy("__", internal_topic_separator_enabled=enabled)
    assert policy.checkpoints_topic("CLUSTER") == expected


# ReplicationPolicyTest.heartbeatsTopic_shouldNotBeEffectedByInternalTopicSeparatorConfig
@pytest.mark.parametrize("enabled", [True, False])
def test_heartbeats_topic_ignores_internal_separator(enabled: bool) -> None:
    policy = DefaultReplicationPolicy("__", internal_topic_separator_enabled=enabled)
    assert policy.heartbeats_topic() == "heartbeats"


# --- MirrorClientTest ------------------------------------------------------------------------


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
def test_is_heartbeat_topic(topic: str, expected: bool) -> None:
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
def test_is_checkpoint_topic(topic: str, expected: bool) -> None:
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
def test_count_hops_for_topic(topic: str, source: str, hops: int) -> None:
    assert count_hops(DEFAULT, topic, source) == hops


# MirrorClientTest.heartbeatTopicsTest
def test_heartbeat_topics() -> None:
    topics = [
        "topic1",
        "topic2",
        "heartbeats",
        "source1.heartbeats",
        "source2.source1.heartbeats",
        "source3.heartbeats",
    ]
    assert heartbeat_topics(DEFAULT, topics) == {
        "heartbeats",
        "source1.heartbeats",
        "source2.source1.heartbeats",
        "source3.heartbeats",
    }


# MirrorClientTest.checkpointsTopicsTest
def test_checkpoint_topics() -> None:
    topics = [
        "topic1",
        "topic2",
        "checkpoints.internal",
        "source1.checkpoints.internal",
        "source2.source1.checkpoints.internal",
        "source3.checkpoints.internal",
    ]
    assert checkpoint_topics(DEFAULT, topics) == {
        "source1.checkpoints.internal",
        "source2.source1.checkpoints.internal",
        "source3.checkpoints.internal",
    }


HEARTBEATS_SEEN = [
    "topic1",
    "topic2",
    "heartbeats",
    "source1.heartbeats",
    "source1.source2.heartbeats",
    "source3.heartbeats",
]


# MirrorClientTest.replicationHopsTest
@pytest.mark.parametrize(
    ("upstream", "hops"), [("source1", 1), ("source2", 2), ("source3", 1), ("source4", -1)]
)
def test_replication_hops(upstream: str, hops: int) -> None:
    assert replication_hops(DEFAULT, HEARTBEATS_SEEN, upstream) == hops


UPSTREAM_HEARTBEATS = [
    "topic1",
    "topic2",
    "heartbeats",
    "source1.heartbeats",
    "source1.source2.heartbeats",
    "source3.source4.source5.heartbeats",
]
FIVE_SOURCES = {"source1", "source2", "source3", "source4", "source5"}


# MirrorClientTest.upstreamClustersTest
def test_upstream_clusters() -> None:
    sources = upstream_clusters(DEFAULT, UPSTREAM_HEARTBEATS)
    assert sources == FIVE_SOURCES  # so not "sourceX", "" or None either


# MirrorClientTest.testIdentityReplicationUpstreamClusters: heartbeats are identity's special case
def test_identity_replication_upstream_clusters() -> None:
    assert upstream_clusters(identity("source"), UPSTREAM_HEARTBEATS) == FIVE_SOURCES


# MirrorClientTest.remoteTopicsTest
@pytest.mark.parametrize(
    ("topic", "remote"),
    [
        ("topic1", False),
        ("topic2", False),
        ("topic3", False),
        ("source1.topic4", True),
        ("source1.source2.topic5", True),
        ("source3.source4.source5.topic6", True),
    ],
)
def test_remote_topics(topic: str, remote: bool) -> None:
    assert is_remote_topic(DEFAULT, topic) is remote
    assert (topic in remote_topics(DEFAULT, [topic, "topic9"])) is remote


# MirrorClientTest.testIdentityReplicationRemoteTopics: identity takes any topic to be remote
@pytest.mark.parametrize(
    ("topic", "remote"),
    [
        ("topic1", True),
        ("topic2", True),
        ("topic3", True),
        ("heartbeats", False),  # heartbeats are a special case
        ("backup.heartbeats", True),
    ],
)
def test_identity_replication_remote_topics(topic: str, remote: bool) -> None:
    assert is_remote_topic(identity("source"), topic) is remote


# MirrorClientTest.remoteTopicsSeparatorTest
@pytest.mark.parametrize(
    ("topic", "remote"),
    [
        ("topic1", False),
        ("topic2", False),
        ("topic3", False),
        ("source1__topic4", True),
        ("source1__source2__topic5", True),
        ("source3__source4__source5__topic6", True),
    ],
)
def test_remote_topics_separator(topic: str, remote: bool) -> None:
    assert is_remote_topic(UNDERSCORES, topic) is remote


# MirrorClientTest.testIdentityReplicationTopicSource
def test_identity_replication_topic_source() -> None:
    policy = identity("primary")
    assert policy.format_remote_topic("primary", "topic1") == "topic1"
    assert policy.topic_source("topic1") == "primary"
    # Heartbeats are handled as a special case
    assert policy.format_remote_topic("backup", "heartbeats") == "backup.heartbeats"
    assert policy.topic_source("backup.heartbeats") == "backup"


# MirrorClient.remoteTopics(source): only those replicated directly from that cluster
def test_remote_topics_from_one_source() -> None:
    topics = ["topic1", "a.topic1", "b.topic1", "b.a.topic1", "a.checkpoints.internal"]
    assert remote_topics(DEFAULT, topics, "a") == {"a.topic1"}
    assert remote_topics(DEFAULT, topics, "b") == {"b.topic1", "b.a.topic1"}


# --- MirrorSourceConnectorTest (connect/mirror) ---------------------------------------------


def never(_: str) -> bool:
    """An unconfigured DefaultTopicFilter, as in the Java tests: it lets nothing through."""
    return False


def always(_: str) -> bool:
    return True


def default_filter(topic: str) -> bool:
    """DefaultTopicFilter's 4.x defaults: include ".*", exclude "mm2.*\\.internal, .*\\.replica,
    __.*"."""
    return not re.fullmatch(r"mm2.*\.internal|.*\.replica|__.*", topic)


# MirrorSourceConnectorTest.testReplicatesHeartbeatsByDefault / ...DespiteFilter
@pytest.mark.parametrize("topic_filter", [never, default_filter])
@pytest.mark.parametrize("topic", ["heartbeats", "us-west.heartbeats"])
def test_replicates_heartbeats(topic_filter: Callable[[str], bool], topic: str) -> None:
    assert should_replicate_topic(DEFAULT, topic, "target", topic_filter)


# MirrorSourceConnectorTest.testReplicatesHeartbeatsDespiteFilter, after separator "_"
@pytest.mark.parametrize(
    ("topic", "replicated"), [("heartbeats", True), ("us-west.heartbeats", False)]
)
def test_replicates_heartbeats_despite_filter_with_separator(topic: str, replicated: bool) -> None:
    policy = DefaultReplicationPolicy("_")
    assert should_replicate_topic(policy, topic, "target", never) is replicated


# MirrorSourceConnectorTest.testDoesNotReplicateHeartbeatsWhenDisabled (filter: never) and
# testReplicatesHeartbeatsWhenDisabledButFilterAllows (filter: always)
@pytest.mark.parametrize(("topic_filter", "replicated"), [(never, False), (always, True)])
@pytest.mark.parametrize("topic", ["heartbeats", "us-west.heartbeats"])
def test_heartbeats_replication_disabled(
    topic_filter: Callable[[str], bool], replicated: bool, topic: str
) -> None:
    assert should_replicate_topic(DEFAULT, topic, "target", topic_filter, False) is replicated


# MirrorSourceConnectorTest.testNoCycles (source -> target)
@pytest.mark.parametrize(
    ("topic", "replicated"),
    [
        ("target.topic1", False),
        ("target.source.topic1", False),
        ("source.target.topic1", False),
        ("target.source.target.topic1", False),
        ("source.target.source.topic1", False),
        ("topic1", True),
        ("source.topic1", True),
    ],
)
def test_no_cycles(topic: str, replicated: bool) -> None:
    assert should_replicate_topic(DEFAULT, topic, "target", always) is replicated


# MirrorSourceConnectorTest.testIdentityReplication: cycles of user topics go unseen
@pytest.mark.parametrize(
    ("topic", "replicated"),
    [
        ("target.topic1", True),
        ("target.source.topic1", True),
        ("source.target.topic1", True),
        ("target.source.target.topic1", True),
        ("source.target.source.topic1", True),
        ("topic1", True),
        ("othersource.topic1", True),
        ("target.heartbeats", False),
        ("target.source.heartbeats", False),
        ("source.target.heartbeats", False),
        ("target.source.target.heartbeats", False),
        ("source.target.source.heartbeats", False),
        ("heartbeats", True),
        ("othersource.heartbeats", True),
    ],
)
def test_identity_replication(topic: str, replicated: bool) -> None:
    assert should_replicate_topic(IDENTITY, topic, "target", always) is replicated


# --- Quirks, each checked against connect-mirror-client 4.3.1 --------------------------------

S = DefaultReplicationPolicy("_")
S_OFF = DefaultReplicationPolicy("_", internal_topic_separator_enabled=False)
EMPTY = DefaultReplicationPolicy("")


# topicSource / upstreamTopic / originalTopic: Java's Pattern.split, then a substring.
@pytest.mark.parametrize(
    ("policy", "topic", "source", "upstream", "original"),
    [
        (DEFAULT, "a.b.c", "a", "b.c", "c"),
        (DEFAULT, "plain", None, None, "plain"),
        (DEFAULT, "", None, None, ""),
        (DEFAULT, ".x", "", "x", "x"),  # a leading empty part is kept: the source is ""
        (DEFAULT, "..x", "", ".x", "x"),
        (DEFAULT, "a.", None, None, "a."),  # trailing empty parts are dropped: one part left
        (DEFAULT, "a..", None, None, "a.."),
        (DEFAULT, ".", None, None, "."),
        (DEFAULT, "...", None, None, "..."),  # nothing but empty parts: none left
        (DEFAULT, "a..b", "a", ".b", "b"),
        (DEFAULT, "x.heartbeats.", "x", "heartbeats.", "heartbeats."),
        (UNDERSCORES, "a___b", "a", "_b", "_b"),  # split left to right, no overlap
        (UNDERSCORES, "____x", "", "__x", "x"),
        (UNDERSCORES, "a.b", None, None, "a.b"),
        (EMPTY, "ab", "a", "b", "b"),  # an empty separator splits between characters
        (EMPTY, "abc", "a", "bc", "c"),
        (EMPTY, "a", None, None, "a"),
        (EMPTY, "", None, None, ""),
        # Identity: every name is its own upstream; only heartbeats-like names are read.
        (IDENTITY, "topic1", None, "topic1", "topic1"),
        (identity("src"), "topic1", "src", "topic1", "topic1"),
        (identity("src"), "a.b.c", "src", "a.b.c", "a.b.c"),
        (IDENTITY, "heartbeats", None, None, "heartbeats"),
        (identity("src"), "heartbeats", None, None, "heartbeats"),
        (IDENTITY, "b.a.heartbeats", "b", "a.heartbeats", "heartbeats"),
        (identity("src"), "myheartbeats", None, None, "myheartbeats"),  # "ends with heartbeats"
        (identity("src"), "x.myheartbeats", "x", "myheartbeats", "myheartbeats"),
        (identity("src"), "heartbeats.x", "src", "heartbeats.x", "heartbeats.x"),
    ],
)
def test_source_upstream_original_quirks(
    policy: ReplicationPolicy, topic: str, source: str | None, upstream: str | None, original: str
) -> None:
    assert policy.topic_source(topic) == source
    assert policy.upstream_topic(topic) == upstream
    assert policy.original_topic(topic) == original


# formatRemoteTopic, and identity's heartbeats special case.
@pytest.mark.parametrize(
    ("policy", "alias", "topic", "remote"),
    [
        (DEFAULT, "us-west", "topic1", "us-west.topic1"),
        (DEFAULT, "a", "", "a."),
        (UNDERSCORES, "a", "b", "a__b"),
        (EMPTY, "a", "b", "ab"),
        (IDENTITY, "a", "topic1", "topic1"),
        (IDENTITY, "a", "heartbeats", "a.heartbeats"),
        (IDENTITY, "b", "a.heartbeats", "b.a.heartbeats"),
        (IDENTITY, "a", "myheartbeats", "a.myheartbeats"),
        (IdentityReplicationPolicy("_"), "a", "heartbeats", "a_heartbeats"),
        (IdentityReplicationPolicy(""), "a", "heartbeats", "aheartbeats"),
    ],
)
def test_format_remote_topic(
    policy: ReplicationPolicy, alias: str, topic: str, remote: str
) -> None:
    assert policy.format_remote_topic(alias, topic) == remote


# isHeartbeatsTopic: the original topic (after every hop) is "heartbeats".
@pytest.mark.parametrize(
    ("policy", "topic", "expected"),
    [
        (DEFAULT, "a..heartbeats", True),
        (DEFAULT, ".heartbeats", True),
        (DEFAULT, "heartbeats.", False),
        (S, "us-west_heartbeats", True),
        (S, "us-west.heartbeats", False),
        (IDENTITY, "a.b.heartbeats", True),
        (IDENTITY, "myheartbeats", False),
        (IDENTITY, "a.myheartbeats", False),
    ],
)
def test_is_heartbeats_topic_quirks(policy: ReplicationPolicy, topic: str, expected: bool) -> None:
    assert policy.is_heartbeats_topic(topic) is expected


# isMM2InternalTopic / isInternalTopic / isCheckpointsTopic in 4.x (KIP-1074).
@pytest.mark.parametrize(
    ("policy", "topic", "mm2", "internal"),
    [
        (DEFAULT, "orders.internal", False, False),  # a user's topic: replicated since 4.0
        (DEFAULT, "orders-internal", False, False),
        (DEFAULT, "mm2.internal", True, True),
        (DEFAULT, "mm2internal", False, False),
        (DEFAULT, "mm2-status.a.internal", True, True),
        (DEFAULT, "x.checkpoints.internal", True, True),  # checkpoints need no "mm2" prefix
        (DEFAULT, ".checkpoints.internal", True, True),
        (DEFAULT, "checkpoints.internal", False, False),
        (DEFAULT, "__anything", False, True),
        (DEFAULT, ".anything", False, True),
        (DEFAULT, "_single", False, False),
        (S, "mm2_x_internal", True, True),
        (S, "orders_internal", False, False),
        (S, "src_checkpoints_internal", True, True),
        (S, "src.checkpoints.internal", False, False),
        (S, "mm2-offsets.src.internal", False, False),  # a dedicated worker's own topic
        (S_OFF, "mm2-offsets.src.internal", True, True),
        (S_OFF, "src.checkpoints.internal", True, True),
        (S_OFF, "mm2_x_internal", False, False),
        (EMPTY, "mm2xinternal", True, True),
        (EMPTY, "acheckpointsinternal", True, True),
        (IDENTITY, "mm2-offset-syncs.a.internal", True, True),
    ],
)
def test_internal_topic_quirks(
    policy: ReplicationPolicy, topic: str, mm2: bool, internal: bool
) -> None:
    assert policy.is_mm2_internal_topic(topic) is mm2
    assert policy.is_internal_topic(topic) is internal


@pytest.mark.parametrize(
    ("policy", "offset_syncs", "checkpoints"),
    [
        (DEFAULT, "mm2-offset-syncs.dc2.internal", "dc2.checkpoints.internal"),
        (S, "mm2-offset-syncs_dc2_internal", "dc2_checkpoints_internal"),
        (S_OFF, "mm2-offset-syncs.dc2.internal", "dc2.checkpoints.internal"),
        (EMPTY, "mm2-offset-syncsdc2internal", "dc2checkpointsinternal"),
        (
            IdentityReplicationPolicy("__"),
            "mm2-offset-syncs__dc2__internal",
            "dc2__checkpoints__internal",
        ),
    ],
)
def test_internal_topic_names(
    policy: ReplicationPolicy, offset_syncs: str, checkpoints: str
) -> None:
    assert policy.offset_syncs_topic("dc2") == offset_syncs
    assert policy.checkpoints_topic("dc2") == checkpoints
    assert policy.is_checkpoints_topic(checkpoints)
    assert policy.is_internal_topic(offset_syncs) and policy.is_internal_topic(checkpoints)
    assert policy.heartbeats_topic() == "heartbeats"


# MirrorClient.countHopsForTopic / allSources stop at a repeated source (identity loops).
def test_hops_and_sources_under_identity() -> None:
    policy = identity("src")
    assert count_hops(policy, "topic1", "src") == 1
    assert count_hops(policy, "topic1", "other") == -1
    assert all_sources(policy, "topic1") == {"src"}
    assert all_sources(IDENTITY, "topic1") == set()
    assert all_sources(DEFAULT, "c.b.a.topic1") == {"a", "b", "c"}
    assert all_sources(DEFAULT, "a.b.a.topic1") == {"a", "b"}


# MirrorSourceConnector.isCycle: the target's alias anywhere upstream.
@pytest.mark.parametrize(
    ("policy", "topic", "cycle"),
    [
        (DEFAULT, "x.a.t", True),
        (DEFAULT, "x.y.t", False),
        (DEFAULT, ".a.t", True),  # "" is a source, then "a"
        (identity("a"), "t", True),  # identity with source.cluster.alias = the target
        (identity("src"), "t", False),
        (IDENTITY, "a.heartbeats", True),
    ],
)
def test_is_cycle(policy: ReplicationPolicy, topic: str, cycle: bool) -> None:
    assert is_cycle(policy, topic, "a") is cycle


# MirrorSourceConfig.offsetSyncsTopic and MirrorMakerConfig's dedicated-mode worker topics.
def test_placement_of_mm2_topics() -> None:
    assert offset_syncs_placement(DEFAULT, "dc1", "dc2") == ("dc1", "mm2-offset-syncs.dc2.internal")
    assert offset_syncs_placement(DEFAULT, "dc1", "dc2", "target") == (
        "dc2",
        "mm2-offset-syncs.dc1.internal",
    )
    assert dedicated_worker_topics("dc1") == (
        "mm2-offsets.dc1.internal",
        "mm2-status.dc1.internal",
        "mm2-configs.dc1.internal",
    )
    assert all(not default_filter(t) for t in dedicated_worker_topics("dc1"))


def test_policy_for() -> None:
    assert policy_for("default") == DefaultReplicationPolicy()
    assert policy_for("default", "-").format_remote_topic("a", "t") == "a-t"
    assert policy_for("identity", "_") == IdentityReplicationPolicy("_")
    assert policy_for("identity").format_remote_topic("a", "t") == "t"
    assert (policy_for("default").name, policy_for("identity").name) == ("default", "identity")
    assert policy_for("identity", "_").separator == "_"
    with pytest.raises(ValueError, match="unknown replication policy"):
        policy_for("legacy")


# --- Kafka's topic-name rules (org.apache.kafka.common.internals.Topic, TopicTest) -----------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("orders", None),
        ("my_topic-1.v2", None),
        ("...", None),
        ("a" * MAX_TOPIC_NAME_LENGTH, None),
        ("", "is empty"),
        (".", "cannot be '.'"),
        ("..", "cannot be '..'"),
        ("a" * 250, "is 250 characters long; the limit is 249"),
        ("bad name", "contains characters Kafka refuses: ' '"),
        ("orders/eu", "contains characters Kafka refuses: '/'"),
        ("ordérs", "contains characters Kafka refuses: 'é'"),
        ("a+b*c", "contains characters Kafka refuses: '*' '+'"),
        # Java counts UTF-16 units and checks the length first.
        ("😀" * 125, "is 250 characters long; the limit is 249"),
        ("😀" * 124 + "a", "contains characters Kafka refuses: '😀'"),
    ],
)
def test_topic_name_problem(name: str, problem: str | None) -> None:
    assert topic_name_problem(name) == problem


@given(st.text(max_size=260))
def test_topic_name_problem_is_kafkas_rule(name: str) -> None:
    utf16 = len(name.encode("utf-16-le")) // 2
    legal = bool(re.fullmatch(r"[a-zA-Z0-9._-]+", name)) and name not in (".", "..")
    assert (topic_name_problem(name) is None) is (legal and utf16 <= MAX_TOPIC_NAME_LENGTH)


@pytest.mark.parametrize(
    ("name", "chars", "unified"),
    [
        ("topic", False, "topic"),
        ("a.b", True, "a_b"),
        ("a_b", True, "a_b"),
        ("a.b_c", True, "a_b_c"),
        ("a-b", False, "a-b"),
    ],
)
def test_collision_chars(name: str, chars: bool, unified: str) -> None:
    assert has_collision_chars(name) is chars
    assert unify_collision_chars(name) == unified


def test_collisions() -> None:
    assert has_collision("a.b_c", "a_b.c")
    assert has_collision("topic", "topic")
    assert not has_collision("a.b", "a-b")
    assert is_kafka_internal_topic("__consumer_offsets")
    assert not is_kafka_internal_topic("__cluster_metadata")
    assert {"__consumer_offsets", "__transaction_state", "__share_group_state"} == (
        KAFKA_INTERNAL_TOPICS
    )


@given(st.text("ab._-", max_size=12), st.text("ab._-", max_size=12))
def test_collision_is_the_unified_name(a: str, b: str) -> None:
    assert has_collision(a, b) is (a.replace(".", "_") == b.replace(".", "_"))
    assert unify_collision_chars(unify_collision_chars(a)) == unify_collision_chars(a)
    assert has_collision_chars(a) is ("_" in unify_collision_chars(a))


# --- Properties ------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
LEGAL = ALNUM + "._-"
SEPARATORS = st.sampled_from([".", "_", "-", "__", "--", ".."])
# A topic with an alphanumeric character: never empty, never only separators.
TOPICS = st.builds(
    lambda head, middle, tail: head + middle + tail,
    st.text(LEGAL, max_size=10),
    st.sampled_from(ALNUM),
    st.text(LEGAL, max_size=10),
)
ALIASES = st.text(LEGAL, min_size=1, max_size=12)


@given(SEPARATORS, ALIASES, TOPICS)
def test_a_remote_name_reads_back(separator: str, alias: str, topic: str) -> None:
    assume(not set(alias) & set(separator))
    policy = DefaultReplicationPolicy(separator)
    assume(not policy.is_internal_topic(topic))
    remote = policy.format_remote_topic(alias, topic)
    assert policy.topic_source(remote) == alias
    assert policy.upstream_topic(remote) == topic
    assert policy.original_topic(remote) == policy.original_topic(topic)
    assert count_hops(policy, remote, alias) == 1


@given(SEPARATORS, ALIASES, ALIASES, TOPICS)
def test_original_topic_through_two_hops(separator: str, a: str, b: str, topic: str) -> None:
    assume(not (set(a) | set(b)) & set(separator))
    policy = DefaultReplicationPolicy(separator)
    # A topic whose own name reads as remote would be followed further upstream.
    assume(policy.topic_source(topic) is None and not policy.is_internal_topic(topic))
    twice = policy.format_remote_topic(b, policy.format_remote_topic(a, topic))
    assert policy.original_topic(twice) == topic
    assert all_sources(policy, twice) == {a, b}
    assert count_hops(policy, twice, a) == (1 if a == b else 2)


def test_original_topic_follows_a_topic_that_looks_remote() -> None:
    """Why the property above needs a topic with no source of its own."""
    assert DEFAULT.original_topic(DEFAULT.format_remote_topic("b", "a.x.y")) == "y"


# The trap for aliases ending with part of a multi-character separator.
def test_alias_sharing_separator_characters() -> None:
    remote = UNDERSCORES.format_remote_topic("a_", "t")
    assert remote == "a___t"
    assert UNDERSCORES.topic_source(remote) == "a"
    assert UNDERSCORES.upstream_topic(remote) == "_t"


@given(ALIASES, TOPICS, st.none() | ALIASES)
def test_identity_keeps_names(alias: str, topic: str, source: str | None) -> None:
    assume(not topic.endswith("heartbeats"))
    policy = IdentityReplicationPolicy(source_cluster_alias=source)
    assert policy.format_remote_topic(alias, topic) == topic
    assert policy.topic_source(topic) == source
    assert policy.upstream_topic(topic) == topic
    assert policy.original_topic(topic) == topic


@given(SEPARATORS, st.lists(ALIASES, min_size=1, max_size=4, unique=True))
def test_heartbeats_are_heartbeats_after_any_hops(separator: str, aliases: list[str]) -> None:
    assume(all(not set(a) & set(separator) for a in aliases))
    for policy in (DefaultReplicationPolicy(separator), IdentityReplicationPolicy(separator)):
        topic = policy.heartbeats_topic()
        for alias in aliases:
            topic = policy.format_remote_topic(alias, topic)
        assert policy.is_heartbeats_topic(topic)
        assert upstream_clusters(policy, [topic]) == set(aliases)


# MirrorClient.allSources stops at the first repeated alias, missing any further upstream.
def test_all_sources_stop_at_a_repeated_alias() -> None:
    assert all_sources(DEFAULT, "a.b.a.c.heartbeats") == {"a", "b"}
    assert upstream_clusters(DEFAULT, ["a.b.a.c.heartbeats"]) == {"a", "b"}
    assert count_hops(DEFAULT, "a.b.a.c.heartbeats", "c") == -1
