"""The connect engine without a worker: what its live connector configs amount to in the
planner's terms, trace summaries, `runtime.connect` headers and TLS in the topology, and how
REST failures read. Connect's behaviour itself is proven against the lab's real worker only
(tests/integration/test_connect_engine.py): the mock transports here format errors, nothing else.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml

from mm2plan.adapters.connect.client import ConnectClient, ConnectError, path_of
from mm2plan.adapters.connect.engine import ConnectEngine, trace_summary
from mm2plan.adapters.connect.settings import run_settings
from mm2plan.cli.env import _default_engine_factory
from mm2plan.core.model import Secret, Topology
from mm2plan.planning.connectors import connector_configs
from mm2plan.planning.desired import replication_settings
from mm2plan.ports.replication import EngineError, FlowKey, FlowSpec
from mm2plan.topology.loader import load_text, to_document
from mm2plan.topology.validate import validate_loaded

SOURCE = "prod.dc1->dc2.MirrorSourceConnector"
HEARTBEAT = "prod.dc1->dc2.MirrorHeartbeatConnector"


def doc(**runtime: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "prod",
        "clusters": {
            "dc1": {
                "bootstrap_servers": "a:9092",
                "config": {"sasl.password": "${env:DC1_PW}", "security.protocol": "SASL_SSL"},
            },
            "dc2": {"bootstrap_servers": "c:9092"},
        },
        "flows": [{"source": "dc1", "target": "dc2", "topics": ["orders"]}],
        "runtime": {"engine": "connect", **runtime},
    }


def topology(d: dict[str, Any]) -> Topology:
    r = load_text(yaml.safe_dump(d), "t.yaml")
    assert not r.diagnostics.has_errors(), [x.message for x in r.diagnostics]
    assert r.topology is not None
    return r.topology


def live_and_wanted(t: Topology) -> tuple[dict[str, Any], Any, dict[str, dict[str, str]]]:
    fc = connector_configs(t).flows["dc1->dc2"]
    wanted = replication_settings(t, fc.flow)
    return wanted, fc, {n: dict(c) for n, c in fc.connectors.items()}


def test_connectors_as_wanted_run_exactly_the_wanted_settings() -> None:
    wanted, fc, live = live_and_wanted(topology(doc()))
    assert run_settings(wanted, fc, live) == wanted


def test_a_changed_key_shows_at_its_settings_name_in_the_settings_type() -> None:
    wanted, fc, live = live_and_wanted(topology(doc()))
    live[SOURCE]["topics"] = "orders,payments"
    live[SOURCE]["replication.policy.class"] = (
        "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
    )
    live[SOURCE]["source.cluster.bootstrap.servers"] = "old:9092"
    live[SOURCE]["source.cluster.sasl.password"] = "hunter2-literal"
    got = run_settings(wanted, fc, live)
    assert got["topics"] == ["orders", "payments"] and wanted["topics"] == ["orders"]
    assert got["replication.policy"] == "identity"
    assert got["MirrorSourceConnector.source.cluster.bootstrap.servers"] == "old:9092"
    assert got["MirrorSourceConnector.source.cluster.sasl.password"] == "(sensitive)"
    assert "hunter2" not in repr(got)


def test_an_unwanted_connector_shows_through_the_setting_that_keeps_it_off() -> None:
    wanted, fc, live = live_and_wanted(
        topology({**doc(), "flows": [{"source": "dc1", "target": "dc2", "emit_heartbeats": False}]})
    )
    assert HEARTBEAT not in fc.connectors
    with_hb = topology(doc())
    live[HEARTBEAT] = dict(connector_configs(with_hb).flows["dc1->dc2"].connectors[HEARTBEAT])
    got = run_settings(wanted, fc, live)
    assert got["emit.heartbeats.enabled"] is True and wanted["emit.heartbeats.enabled"] is False
    assert got != wanted


def test_trace_summary_is_the_first_line_and_the_root_cause() -> None:
    trace = (
        "org.apache.kafka.connect.errors.ConnectException: task failed\n"
        "\tat org.apache.kafka.connect.mirror.MirrorSourceTask.poll(MirrorSourceTask.java:1)\n"
        "Caused by: org.apache.kafka.common.KafkaException: inner\n"
        "\tat x\n"
        "Caused by: org.apache.kafka.common.errors.SaslAuthenticationException: bad password\n"
    )
    assert trace_summary(trace) == (
        "org.apache.kafka.connect.errors.ConnectException: task failed / Caused by: "
        "org.apache.kafka.common.errors.SaslAuthenticationException: bad password"
    )
    assert trace_summary("") == "no trace given"


def test_connector_names_are_percent_encoded_in_paths() -> None:
    assert path_of(SOURCE) == "/connectors/prod.dc1-%3Edc2.MirrorSourceConnector"


def test_runtime_connect_headers_and_tls_are_secrets_by_reference() -> None:
    d = doc(
        connect={
            "url": "https://connect:8443",
            "headers": {"Authorization": "Bearer literal-token", "X-Team": "dr"},
            "tls": {"ca_location": "/ca.pem", "key_password": "${env:KEY_PW}", "verify": False},
        }
    )
    r = load_text(yaml.safe_dump(d), "t.yaml")
    t = r.topology
    assert t is not None and not r.diagnostics.has_errors()
    auth = t.runtime.connect_headers["Authorization"]
    assert isinstance(auth, Secret) and t.runtime.connect_headers["X-Team"] == "dr"
    assert t.runtime.connect_tls.ca_location == "/ca.pem" and not t.runtime.connect_tls.verify
    redacted = to_document(t, redact_secrets=True)["runtime"]["connect"]
    assert redacted["headers"]["Authorization"] == "(sensitive)"
    assert redacted["tls"] == {
        "ca_location": "/ca.pem",
        "key_password": "${env:KEY_PW}",
        "verify": False,
    }
    assert (
        to_document(t)["runtime"]["connect"]["headers"]["Authorization"] == "Bearer literal-token"
    )
    warned = [x for x in validate_loaded(r).diagnostics if x.code == "plaintext-secret"]
    assert [x.path for x in warned] == ["runtime.connect.headers.Authorization"]
    assert topology(to_document(t)).runtime == t.runtime


def test_a_topology_without_headers_or_tls_dumps_as_before() -> None:
    assert to_document(topology(doc()))["runtime"] == {
        "engine": "connect",
        "connect": {"url": "http://localhost:8083"},
    }


def test_the_connect_engine_is_what_a_connect_topology_gets() -> None:
    assert isinstance(_default_engine_factory(topology(doc())), ConnectEngine)


def test_a_worker_that_is_not_there_is_a_clear_connect_error() -> None:
    t = topology(doc(connect={"url": "http://127.0.0.1:1"}))
    key = FlowKey("prod", "dc1", "dc2")
    with pytest.raises(EngineError) as e:
        ConnectEngine(t).describe(key)
    assert e.value.code == "connect"
    assert str(e.value).startswith(
        "flow prod/dc1->dc2: cannot reach the Kafka Connect worker at http://127.0.0.1:1"
    )
    assert "runtime.connect.url" in e.value.hint
    with pytest.raises(EngineError) as started:
        ConnectEngine(t).start(FlowSpec(key, replication_settings(t, t.flows[0])))
    assert str(started.value).endswith("; no connector was changed")


def test_an_unresolvable_header_reference_is_secret_unresolved() -> None:
    t = topology(
        doc(
            connect={
                "url": "http://127.0.0.1:1",
                "headers": {"Authorization": "${env:NO_SUCH_VAR_X}"},
            }
        )
    )
    with pytest.raises(EngineError) as e:
        ConnectEngine(t, environ={}).describe(FlowKey("prod", "dc1", "dc2"))
    assert e.value.code == "secret-unresolved" and "NO_SUCH_VAR_X" in str(e.value)


def test_settings_from_another_topology_are_refused() -> None:
    t = topology(doc(connect={"url": "http://127.0.0.1:1"}))
    key = FlowKey("prod", "dc1", "dc2")
    with pytest.raises(EngineError, match="not the ones the topology gives"):
        ConnectEngine(t).start(FlowSpec(key, {"source": "dc1", "target": "dc2"}))
    with pytest.raises(EngineError, match="not an enabled flow"):
        ConnectEngine(t).start(FlowSpec(FlowKey("prod", "dc2", "dc1"), {}))


# --- how failures read (formatting only: these answers are made up) ---------------------------


def client(handler: Any, **kw: Any) -> ConnectClient:
    return ConnectClient("http://w:8083", transport=httpx.MockTransport(handler), **kw)


def test_a_5xx_names_the_worker_the_request_and_its_message() -> None:
    def handler(_r: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error_code": 500, "message": "Request timed out\n\tat x"})

    with pytest.raises(ConnectError) as e, client(handler) as c:
        c.status(SOURCE)
    assert e.value.message == (
        "the Kafka Connect worker at http://w:8083 answered GET "
        "/connectors/prod.dc1-%3Edc2.MirrorSourceConnector/status with 500: Request timed out"
    )
    assert "log" in e.value.hint


def test_garbage_is_not_taken_for_an_answer() -> None:
    def handler(_r: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, text="<html>proxy login</html>", headers={"content-type": "text/html"}
        )

    with pytest.raises(ConnectError) as e, client(handler) as c:
        c.config(SOURCE)
    assert "not Kafka Connect's" in e.value.message and "text/html" in e.value.message
    assert "runtime.connect.url" in e.value.hint


def test_quoted_texts_lose_the_secrets_the_caller_knows() -> None:
    def handler(_r: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "bad credentials 's3cr3t-token'"})

    redact = lambda text: text.replace("s3cr3t-token", "(sensitive)")  # noqa: E731
    with pytest.raises(ConnectError) as e, client(handler, redact=redact) as c:
        c.put_config(SOURCE, {"name": SOURCE})
    assert "s3cr3t" not in e.value.message and "(sensitive)" in e.value.message
    assert "runtime.connect.headers" in e.value.hint


def test_an_invalid_config_says_which_values_connect_refused() -> None:
    message = (
        "Connector configuration is invalid and contains the following 1 error(s):\n"
        "Invalid value no.such.Class for configuration replication.policy.class: Class "
        "no.such.Class could not be found.\nYou can also find the above list of errors at the "
        "endpoint `/connector-plugins/{connectorType}/config/validate`"
    )  # Kafka 4.3.1's words, as the lab's worker answered them

    def handler(_r: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error_code": 400, "message": message})

    with pytest.raises(ConnectError) as e, client(handler) as c:
        c.put_config(SOURCE, {"name": SOURCE})
    assert e.value.message.endswith(
        "(400: Connector configuration is invalid and contains the following 1 error(s): "
        "Invalid value no.such.Class for configuration replication.policy.class: Class "
        "no.such.Class could not be found.)"
    )
    assert "export --format connect-json" in e.value.hint
