"""The loader: every bad input is a diagnostic at file:line:col, never a traceback."""

from __future__ import annotations

import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mm2plan.core.model import Secret
from mm2plan.core.properties import RUNTIME_PROPERTIES
from mm2plan.topology import loader
from mm2plan.topology.loader import load_bytes, load_text, to_document
from mm2plan.topology.validate import validate_loaded

OK = """version: 1
clusters:
  dc1:
    bootstrap_servers: "dc1:9092"
    config: {sasl.password: "${env:PW}", acks: all}
    topics:
      orders: {partitions: 3, config: {retention.ms: 1000}}
  dc2: {bootstrap_servers: "dc2:9092"}
flows:
  - {source: dc1, target: dc2, topics: [orders]}
"""


def codes(text: str) -> list[str]:
    return [d.code for d in validate_loaded(load_text(text, "t.yaml")).diagnostics]


def test_valid_file_loads_with_marks() -> None:
    r = load_text(OK, "t.yaml")
    assert list(r.diagnostics) == []
    assert r.topology is not None
    assert r.topology.mark("clusters.dc1.topics.orders") is not None
    mark = r.topology.marks["flows[0].target"]
    assert (mark.line, mark.column) == (10, 19)


def test_numbers_and_booleans_in_config_are_kept_as_kafka_strings() -> None:
    t = load_text(OK, "t.yaml").topology
    assert t is not None
    assert t.clusters["dc1"].topics[0].config == {"retention.ms": "1000"}
    assert t.clusters["dc1"].config["acks"] == "all"


def test_secret_references_stay_sensitive() -> None:
    t = load_text(OK, "t.yaml").topology
    assert t is not None
    pw = t.clusters["dc1"].config["sasl.password"]
    assert isinstance(pw, Secret)
    assert repr(pw) == str(pw) == "(sensitive)"
    assert "${env:PW}" not in repr(t.clusters["dc1"])
    assert pw.resolve({"PW": "hunter2"}) == "hunter2"


def test_duplicate_key_points_at_second_occurrence() -> None:
    r = load_text(
        "version: 1\nclusters:\n  a: {bootstrap_servers: x}\n  a: {bootstrap_servers: y}\n",
        "t.yaml",
    )
    (d,) = [d for d in r.diagnostics if d.code == "duplicate-key"]
    assert d.source is not None and d.source.line == 4
    assert "first at line 3" in d.message


def test_unknown_key_suggests_the_closest() -> None:
    r = load_text(OK.replace("topics: [orders]", "topcs: [orders]"), "t.yaml")
    (d,) = list(r.diagnostics)
    assert d.code == "unknown-key" and "did you mean 'topics'" in d.hint
    assert d.source is not None and d.source.line == 10


def test_extension_keys_are_ignored() -> None:
    assert codes("x-anchors: {a: 1}\n" + OK) == []


def test_unsupported_version() -> None:
    assert codes(OK.replace("version: 1", "version: 2")) == ["unsupported-version"]


def test_empty_binary_and_non_utf8() -> None:
    assert [d.code for d in load_text("", "t").diagnostics] == ["schema"]
    assert [d.code for d in load_text("# only a comment\n", "t").diagnostics] == ["schema"]
    assert [d.code for d in load_bytes(b"\x00\x01\x02", "t").diagnostics] == ["yaml-syntax"]
    assert [d.code for d in load_bytes(b"version: \xff\xfe", "t").diagnostics] == ["yaml-syntax"]


def test_deep_nesting_and_alias_bombs_are_diagnostics() -> None:
    assert [d.code for d in load_text("a: " + "[" * 10_000, "t").diagnostics] == ["yaml-syntax"]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    assert [d.code for d in load_text(bomb, "t").diagnostics] == ["yaml-syntax"]


def test_huge_file_is_refused_before_reading(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "big.yaml"
    p.write_text(OK)
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 10)
    assert [d.code for d in loader.load_file(p).diagnostics] == ["yaml-syntax"]


def test_missing_file() -> None:
    assert [d.code for d in loader.load_file("/nonexistent/x.yaml").diagnostics] == [
        "file-not-found"
    ]


def test_more_than_one_document() -> None:
    assert [d.code for d in load_text(OK + "---\nversion: 1\n", "t").diagnostics] == ["yaml-syntax"]


def test_schema_error_still_runs_semantic_checks() -> None:
    text = OK.replace("partitions: 3", 'partitions: "3"').replace("target: dc2,", "target: dc9,")
    assert sorted(codes(text)) == ["isolated-cluster", "schema", "unknown-cluster"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=string.printable + "\u00e9\u2028", max_size=300))
def test_random_text_never_raises(text: str) -> None:
    validate_loaded(load_text(text, "fuzz.yaml"))


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "version",
        "clusters",
        "flows",
        "apps",
        "defaults",
        "runtime",
        "slo",
        "source",
        "target",
        "topics",
        "bootstrap_servers",
        "partitions",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=6))
def test_random_structures_never_raise(doc: dict[str, object]) -> None:
    validate_loaded(load_text(yaml.safe_dump(doc), "fuzz.yaml"))


_alias = st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)
_topic = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)


def _property_value(kind: str) -> st.SearchStrategy[object]:
    if kind == "bool":
        return st.booleans()
    if kind == "float":
        return st.one_of(st.integers(1, 10_000), st.floats(0.001, 10_000))
    return st.integers(1, 10_000)


_properties = st.dictionaries(
    st.sampled_from(sorted(RUNTIME_PROPERTIES)), st.just(None), max_size=3
).flatmap(
    lambda names: st.fixed_dictionaries(
        {n: _property_value(RUNTIME_PROPERTIES[n].kind) for n in names},
        optional={"source.consumer.fetch.max.bytes": st.integers(1, 10**8)},
    )
)


@st.composite
def topologies(draw: st.DrawFn) -> str:
    aliases = draw(st.lists(_alias, min_size=2, max_size=4, unique=True))
    clusters = {}
    for a in aliases:
        topics = draw(st.lists(_topic, max_size=3, unique=True))
        clusters[a] = {
            "bootstrap_servers": f"{a}:9092",
            "topics": {t: {"partitions": draw(st.integers(1, 64))} for t in topics},
        }
    flows = [
        {
            "source": s,
            "target": t,
            "topics": [".*"],
            "exactly_once": draw(st.booleans()),
            "loop_prevention": draw(st.sampled_from(["none", "headers"])),
            "properties": draw(_properties),
        }
        for s, t in draw(
            st.lists(st.tuples(st.sampled_from(aliases), st.sampled_from(aliases)), max_size=4)
        )
    ]
    doc = {"version": 1, "clusters": clusters, "flows": flows}
    if draw(st.booleans()):
        doc["defaults"] = {"properties": draw(_properties)}
    return yaml.safe_dump(doc)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(topologies())
def test_dump_then_load_gives_the_same_topology(text: str) -> None:
    first = load_text(text, "a.yaml")
    assert first.topology is not None
    again = load_text(yaml.safe_dump(to_document(first.topology)), "b.yaml")
    assert list(again.diagnostics) == []
    assert again.topology is not None
    assert again.topology.clusters == first.topology.clusters
    assert again.topology.flows == first.topology.flows


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(topologies(), st.dictionaries(_keys, _values, max_size=6).map(yaml.safe_dump)))
def test_fast_schema_check_agrees_with_jsonschema(text: str) -> None:
    """The compiled fast path may only say "valid" when jsonschema finds no error."""
    from mm2plan.topology.schema import is_valid_fast, topology_validator

    doc = yaml.safe_load(text)
    assert is_valid_fast(doc) == (not list(topology_validator().iter_errors(doc)))


LOOKS_REMOTE = """version: 1
defaults: {replication_policy: POLICY}
clusters:
  dc1: {bootstrap_servers: "dc1:9092", topics: {orders: {}}}
  dc2: {bootstrap_servers: "dc2:9092", topics: {dc1.audit: {}}}
flows:
  - {source: dc1, target: dc2, topics: [orders]}
  - {source: dc2, target: dc1, topics: ['PATTERN']}
"""


def test_a_local_topic_named_like_a_copy_is_reported_at_its_line() -> None:
    """MM2 reads `dc1.audit` on dc2 as a copy from dc1 and never sends it back there: a
    warning, an error when the flow asks for exactly that topic."""

    def found(pattern: str, policy: str = "default") -> list[tuple[str, str, int]]:
        text = LOOKS_REMOTE.replace("PATTERN", pattern).replace("POLICY", policy)
        diags = validate_loaded(load_text(text, "t.yaml")).diagnostics
        return [(d.severity.value, d.code, d.source.line if d.source else 0) for d in diags]

    assert found(r"dc1\.audit") == [("error", "local-topic-looks-remote", 5)]
    assert found("dc1.audit") == [("error", "local-topic-looks-remote", 5)]
    assert found(r"dc1\..*") == [("warning", "local-topic-looks-remote", 5)]
    assert found(r"dc1\.audit", "identity") == []  # identity names carry no source


PROPERTIES = """version: 1
defaults:
  properties: {tasks.max: 2, emit.offset-syncs.enabled: false}
clusters:
  dc1: {bootstrap_servers: "dc1:9092"}
  dc2: {bootstrap_servers: "dc2:9092"}
flows:
  - source: dc1
    target: dc2
    exactly_once: true
    loop_prevention: headers
    properties:
      tasks.max: 4
      refresh.topics.interval.seconds: 0.5
      source.consumer.fetch.max.bytes: 1048576
  - {source: dc2, target: dc1}
"""


def test_flow_runtime_keys_load_as_mm2_reads_them() -> None:
    """Numbers and booleans become MM2's text; a flow's own property wins over the defaults'
    (MM2's `dc1->dc2.tasks.max` over `tasks.max`), the rest of the defaults still apply."""
    r = load_text(PROPERTIES, "t.yaml")
    assert list(r.diagnostics) == []
    assert r.topology is not None
    first, second = r.topology.flows
    assert (first.exactly_once, first.loop_prevention) == (True, "headers")
    assert first.properties == {
        "tasks.max": "4",
        "emit.offset-syncs.enabled": "false",
        "refresh.topics.interval.seconds": "0.5",
        "source.consumer.fetch.max.bytes": "1048576",
    }
    assert (second.exactly_once, second.loop_prevention) == (False, "none")
    assert second.properties == {"tasks.max": "2", "emit.offset-syncs.enabled": "false"}


def test_bad_properties_are_reported_where_they_are_written() -> None:
    text = PROPERTIES.replace(
        "      tasks.max: 4\n",
        "      tasks.max: 0\n"
        "      refresh.topic.interval.seconds: 3\n"
        "      sync.group.offsets.enabled: true\n"
        "      source.consumer.sasl.password: hunter2\n"
        "      target.producer.: x\n",
    ).replace("emit.offset-syncs.enabled: false", "emit.offset-syncs.enabled: maybe")
    r = load_text(text, "t.yaml")
    got = [(d.code, d.source.line if d.source else 0, d.path) for d in r.diagnostics]
    assert got == [
        ("invalid-property", 3, 'defaults.properties["emit.offset-syncs.enabled"]'),
        ("invalid-property", 13, 'flows[0].properties["tasks.max"]'),
        ("unknown-property", 14, 'flows[0].properties["refresh.topic.interval.seconds"]'),
        ("unknown-property", 15, 'flows[0].properties["sync.group.offsets.enabled"]'),
        ("invalid-property", 16, 'flows[0].properties["source.consumer.sasl.password"]'),
        ("unknown-property", 17, 'flows[0].properties["target.producer."]'),
    ]
    hints = [d.hint for d in r.diagnostics]
    assert "did you mean 'refresh.topics.interval.seconds'?" in hints[2]
    assert "sync_group_offsets" in hints[3]
    assert "clusters.<alias>.config" in hints[4]
    assert all("hunter2" not in d.message + d.hint for d in r.diagnostics)
    assert r.topology is not None  # what was sound is kept; what was not is left out
    assert r.topology.flows[0].properties == {
        "tasks.max": "2",
        "refresh.topics.interval.seconds": "0.5",
        "source.consumer.fetch.max.bytes": "1048576",
    }


def test_property_values_must_be_scalars_and_loop_prevention_a_known_mode() -> None:
    text = PROPERTIES.replace("tasks.max: 4", "tasks.max: [4]").replace(
        "loop_prevention: headers", "loop_prevention: tags"
    )
    r = load_text(text, "t.yaml")
    got = sorted((d.code, d.path) for d in r.diagnostics)
    assert got == [
        ("schema", "flows[0].loop_prevention"),
        ("schema", 'flows[0].properties["tasks.max"]'),
    ]
    assert r.topology is not None and r.topology.flows[0].loop_prevention == "none"


def test_a_flow_without_the_runtime_keys_dumps_as_before() -> None:
    """Fingerprints of topologies that never set them stay what they were."""
    t = load_text(OK, "t.yaml").topology
    assert t is not None
    (flow,) = to_document(t)["flows"]
    assert not {"exactly_once", "loop_prevention", "properties"} & set(flow)


def test_both_schema_copies_are_the_same_file() -> None:
    """`schemas/` is what editors point at; `mm2plan/data/` is what the wheel ships."""
    root = Path(__file__).parents[2]
    shipped = root / "mm2plan" / "data" / "topology.schema.json"
    assert (root / "schemas" / "topology.schema.json").read_bytes() == shipped.read_bytes()
