"""The fence, on two SCRAM clusters with the standard authorizer: after a failover, the old
primary refuses the apps' writes (also across its restarts) until failback lifts the fence.

dc1 is down when the failover runs, so the fence is pending; the failover run again once dc1
answers applies it (the command says so). mm2plan and the runtime authenticate as the lab's
admin; the app as its own user, with the ACLs `apply` planned for it."""

from __future__ import annotations

import io
import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.kafka.dr import dr_factory
from mm2plan.cli import Env, app
from mm2plan.core.model import Cluster
from mm2plan.core.polling import poll
from mm2plan.lab.cluster import (
    ADMIN_USER,
    SCRAM_MECHANISM,
    KafkaCluster,
    new_cluster,
    start_clusters,
    stop_clusters,
)
from mm2plan.ports.replication import FlowKey
from mm2plan.runtime.engine import BundledEngine

pytestmark = pytest.mark.kafka

APP_USER, APP_PW = "orders", "orders-pw"
TOPIC, GROUP = "orders", "orders-service"


def sasl(user: str, password: str) -> dict[str, str]:
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
    }


@pytest.fixture
def lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[KafkaCluster, KafkaCluster]]:
    users = {APP_USER: APP_PW}
    clusters = [
        new_cluster("dc1", tmp_path / "lab", "scram", users),
        new_cluster("dc2", tmp_path / "lab", "scram", users),
    ]
    start_clusters(clusters)
    # The runtime's workers resolve ${env:..} from the environment apply leaves them.
    monkeypatch.setenv("DC1_PW", clusters[0].users[ADMIN_USER])
    monkeypatch.setenv("DC2_PW", clusters[1].users[ADMIN_USER])
    try:
        yield clusters[0], clusters[1]
    finally:
        stop_clusters(clusters)


def topology(path: Path, dc1: KafkaCluster, dc2: KafkaCluster) -> Path:
    doc: dict[str, Any] = {
        "version": 1,
        "name": f"fence-{uuid.uuid4().hex[:6]}",
        "defaults": {"replication_factor": 1},
        "clusters": {
            alias: {
                "bootstrap_servers": c.bootstrap_servers,
                "config": sasl(ADMIN_USER, f"${{env:{alias.upper()}_PW}}"),
                "replicator_principal": f"User:{ADMIN_USER}",
                "topics": {TOPIC: {"partitions": 2}},
            }
            for alias, c in (("dc1", dc1), ("dc2", dc2))
        },
        "flows": [{"source": "dc1", "target": "dc2", "topics": [TOPIC]}],
        "apps": {
            GROUP: {
                "principal": f"User:{APP_USER}",
                "clusters": ["dc1", "dc2"],
                "consumes": [TOPIC],
                "produces": [TOPIC],
                "groups": [GROUP],
            }
        },
    }
    path.write_text(json.dumps(doc))
    return path


def run(*args: str) -> tuple[int, str]:
    out = Console(file=io.StringIO(), record=True, width=250, color_system=None)
    result = CliRunner().invoke(
        app, list(args), obj=Env(out=out, err=out, stdin_isatty=lambda: False)
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text()


def app_writes(c: KafkaCluster, n: int = 10) -> str | None:
    """None when the app could write n records to TOPIC on `c`, else the error's name."""
    errors: list[str] = []
    p = Producer(
        {
            "bootstrap.servers": c.bootstrap_servers,
            **sasl(APP_USER, APP_PW),
            "message.timeout.ms": 10000,
        }
    )

    def done(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err.name())

    try:
        for i in range(n):
            p.produce(TOPIC, key=str(i).encode(), value=b"x", on_delivery=done)
        p.flush(20)
    except KafkaException as exc:
        errors.append(exc.args[0].name())
    return errors[0] if errors else None


def app_reads(c: KafkaCluster, n: int) -> int:
    consumer = Consumer(
        {
            "bootstrap.servers": c.bootstrap_servers,
            **sasl(APP_USER, APP_PW),
            "group.id": GROUP,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([TOPIC])
    got = 0
    try:
        for _ in range(60):
            got += sum(1 for m in consumer.consume(n - got, 0.5) if m.error() is None)
            if got >= n:
                break
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return got


def restart(c: KafkaCluster) -> None:
    assert c.pid is not None
    os.kill(c.pid, signal.SIGKILL)
    c.stop(5)
    start_clusters([c])


def test_the_old_primary_refuses_the_apps_writes_until_failback(
    tmp_path: Path, lab: tuple[KafkaCluster, KafkaCluster]
) -> None:
    dc1, dc2 = lab
    path = topology(tmp_path / "mm2plan.yaml", dc1, dc2)
    key = FlowKey(json.loads(path.read_text())["name"], "dc1", "dc2")
    code, out = run("apply", str(path), "--auto-approve")
    assert code == 0, out
    try:
        assert app_writes(dc1, 200) is None
        assert app_reads(dc1, 100) == 100

        def lag() -> int | None:
            _code, out = run("status", str(path), "--json")
            doc = json.loads(out[out.index("{") :])
            value = doc["flows"][0]["lag_records"]["value"]
            return None if value is None else int(value)

        assert poll(lag, lambda n: n == 0, 60, first_s=0.5, max_s=1.0) == 0
        dr = dr_factory(
            Cluster("dc2", dc2.bootstrap_servers, sasl(ADMIN_USER, dc2.users[ADMIN_USER]))
        )
        try:  # a failover with dc1 gone translates from dc2's checkpoints: wait for one
            poll(
                lambda: dr.checkpoints("dc1.checkpoints.internal"),
                lambda cps: any(g == GROUP for g, _t, _p in cps),
                30,
                first_s=0.5,
                max_s=1.0,
            )
        finally:
            dr.close()

        assert dc1.pid is not None
        os.kill(dc1.pid, signal.SIGKILL)
        dc1.stop(5)
        code, out = run("failover", str(path), "--from", "dc1", "--to", "dc2", "--execute")
        assert code == 0 and "fence is pending" in out, out

        start_clusters([dc1])
        code, out = run("failover", str(path), "--from", "dc1", "--to", "dc2", "--execute")
        assert code == 0 and "DENY WRITE" in out, out
        assert app_writes(dc1) == "TOPIC_AUTHORIZATION_FAILED"
        assert app_writes(dc2) is None  # the apps write on dc2 now

        restart(dc1)  # the fence is in dc1's metadata: it survives the broker
        assert app_writes(dc1) == "TOPIC_AUTHORIZATION_FAILED"
        code, out = run("status", str(path))
        assert "fence" in out.lower(), out

        code, out = run("failback", str(path), "--to", "dc1", "--execute", "--keep-divergent")
        assert code == 0, out
        assert app_writes(dc1) is None
        assert app_writes(dc2) is None  # the failback's own fence on dc2 is lifted too
    finally:
        BundledEngine(path).stop(key)
