"""Hypothesis strategies for topology documents, shared by the export/import tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ALIASES = st.lists(
    st.from_regex(r"[a-z][a-z0-9.-]{0,4}", fullmatch=True), min_size=2, max_size=4, unique=True
)
PATTERN = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True),
    st.from_regex(r"[a-z]{1,5}\\\.\.\*", fullmatch=True),
    st.sampled_from([".*", "__.*", "app-[0-9]+", r"mm2.*\.internal"]),
)
PATTERNS = st.one_of(st.none(), st.lists(PATTERN, max_size=3))
REFERENCE = st.one_of(
    st.from_regex(r"\$\{env:[A-Z][A-Z0-9_]{0,8}\}", fullmatch=True),
    st.from_regex(r"\$\{file:/etc/[a-z]{1,6}\.properties:[a-z]{1,6}\}", fullmatch=True),
    st.from_regex(r"\$\{file:/run/secrets/[a-z]{1,6}\}", fullmatch=True),
)
INTERVAL = st.integers(1, 900).map(str)
PROPERTIES = st.fixed_dictionaries(
    {},
    optional={
        "refresh.topics.interval.seconds": INTERVAL,
        "emit.checkpoints.interval.seconds": INTERVAL,
        "sync.group.offsets.interval.seconds": INTERVAL,
        "offset.lag.max": st.integers(0, 10_000).map(str),
        "tasks.max": st.integers(1, 8).map(str),
        "emit.offset-syncs.enabled": st.sampled_from(["true", "false"]),
        "heartbeats.topic.replication.factor": st.integers(1, 3).map(str),
        "source.consumer.fetch.max.bytes": st.integers(1024, 10**8).map(str),
        "target.producer.linger.ms": st.integers(0, 100).map(str),
    },
)


@st.composite
def client_config(draw: st.DrawFn) -> dict[str, str]:
    config: dict[str, str] = {}
    protocol = draw(st.sampled_from(["", "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]))
    if protocol:
        config["security.protocol"] = protocol
    if "SASL" in protocol:
        config["sasl.mechanism"] = draw(
            st.sampled_from(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
        )
        config["sasl.username"] = draw(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True))
        config["sasl.password"] = draw(REFERENCE)
    if "SSL" in protocol and draw(st.booleans()):
        config["ssl.ca.location"] = "/etc/kafka/ca.pem"
        config["ssl.endpoint.identification.algorithm"] = draw(st.sampled_from(["https", "none"]))
    if draw(st.booleans()):
        config["client.id"] = draw(st.from_regex(r"[a-z]{1,8}", fullmatch=True))
    if draw(st.booleans()):
        config["request.timeout.ms"] = str(draw(st.integers(1000, 60_000)))
    return config


@st.composite
def topologies(draw: st.DrawFn) -> dict[str, Any]:
    aliases = draw(ALIASES)
    policy = draw(st.sampled_from(["default", "identity"]))
    doc: dict[str, Any] = {
        "version": 1,
        "defaults": {
            "replication_policy": policy,
            "separator": draw(st.sampled_from([".", "_"])),
            "replication_factor": draw(st.sampled_from([-1, 1, 2, 3, 5])),
            "sync_group_offsets": draw(st.booleans()),
            "sync_topic_configs": draw(st.booleans()),
            "properties": draw(
                PROPERTIES.map(
                    lambda p: {
                        k: v
                        for k, v in p.items()
                        if "." in k and not k.startswith(("source.", "target."))
                    }
                )
            ),
        },
        "clusters": {
            a: {
                "bootstrap_servers": ",".join(
                    f"{a}-{i}.example:9092" for i in range(draw(st.integers(1, 3)))
                ),
                "config": draw(client_config()),
            }
            for a in aliases
        },
    }
    pairs = [(s, t) for s in aliases for t in aliases if s != t]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=0, max_size=len(pairs), unique=True))
    flows = []
    for s, t in chosen:
        flow: dict[str, Any] = {"source": s, "target": t}
        for key in ("topics", "topics_exclude", "groups", "groups_exclude"):
            value = draw(PATTERNS)
            if value is not None:
                flow[key] = value
        for key in (
            "enabled",
            "sync_group_offsets",
            "sync_topic_configs",
            "emit_heartbeats",
            "emit_checkpoints",
        ):
            if draw(st.booleans()):
                flow[key] = draw(st.booleans())
        props = draw(PROPERTIES)
        if props:
            flow["properties"] = props
        flows.append(flow)
    if flows:
        doc["flows"] = flows
    return doc
