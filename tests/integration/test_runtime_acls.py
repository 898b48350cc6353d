"""The bundled replicator runs with exactly the ACLs `apply` generates for its principal, and no
more (issue 8): two SCRAM clusters with the standard authorizer, mm2plan applying as their admin
super user, and the Replicator authenticating as `User:mirror`, which holds only the plan's ACLs.

It copies records with every field, writes heartbeats, checkpoints and offset syncs, translates
a group's offsets and commits them on the target, without one authorization warning in its log;
and `mirror` is refused what the plan does not grant it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console
from typer.testing import CliRunner

from mm2plan.adapters.kafka.confluent import confluent_admin_factory
from mm2plan.adapters.memory import MemoryEngine
from mm2plan.cli import Env, app
from mm2plan.core.bookkeeping import STATE_TOPIC
from mm2plan.core.polling import poll
from mm2plan.core.resources import LiveState
from mm2plan.lab.cluster import (
    SCRAM_MECHANISM,
    KafkaCluster,
    new_cluster,
    start_clusters,
    stop_clusters,
)
from mm2plan.planning.desired import build_desired
from mm2plan.runtime.config import flow_config
from mm2plan.runtime.records import Checkpoint, Heartbeat, OffsetSync
from mm2plan.runtime.replicator import Replicator
from mm2plan.runtime.status import ProcessReport
from mm2plan.topology.loader import load_text

pytestmark = pytest.mark.kafka

USERS = {"mirror": "mirror-pw", "app": "app-pw"}
TOPIC = "orders"
GROUP = "shop-readers"
RECORDS = 200
COMMITTED = {0: 60, 1: 40}
"""The app group's commits on the source, by partition."""
FAST = {
    "refresh.topics.interval.seconds": 1,
    "emit.checkpoints.interval.seconds": 1,
    "sync.group.offsets.interval.seconds": 1,
    "offset.flush.interval.ms": 200,
}
ENGINE = MemoryEngine()
"""Where `apply` starts the flow (and `plan` reads it back): not run, the test runs it."""
AUTHZ = ("AUTHORIZATION", "authoriz", "not authorized")


def sasl(user: str, password: str) -> dict[str, str]:
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
    }


def topology_doc(src: KafkaCluster, dst: KafkaCluster, user: str) -> dict[str, Any]:
    """Both clusters' config authenticate as `user`, its password from ${env:SRC_PW}/DST_PW."""
    return {
        "version": 1,
        "name": f"acl-rt-{uuid.uuid4().hex[:6]}",
        "defaults": {"replication_factor": 1},
        "clusters": {
            "src": {
                "bootstrap_servers": src.bootstrap_servers,
                "config": sasl(user, "${env:SRC_PW}"),
                "replicator_principal": "User:mirror",
                "topics": {TOPIC: {"partitions": 2, "config": {"retention.ms": "3600000"}}},
            },
            "dst": {
                "bootstrap_servers": dst.bootstrap_servers,
                "config": sasl(user, "${env:DST_PW}"),
                "replicator_principal": "User:mirror",
            },
        },
        "flows": [{"source": "src", "target": "dst", "topics": [TOPIC], "properties": FAST}],
        "apps": {
            "shop": {
                "principal": "User:app",
                "clusters": ["src", "dst"],
                "consumes": [TOPIC],
                "groups": [GROUP],
            }
        },
    }


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """mm2plan's CLI; flows go to a fake engine (this test runs the replicator itself)."""
    out = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    the_env = Env(out=out, err=out, stdin_isatty=lambda: False, engine_factory=lambda _t: ENGINE)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        result = CliRunner().invoke(app, list(args), obj=the_env)
    finally:
        os.environ.clear()
        os.environ.update(old)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.export_text()


class Captured(logging.Handler):
    """The replicator's warnings and errors, from every thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")

    def authorization(self) -> list[str]:
        return [line for line in self.lines if any(w.lower() in line.lower() for w in AUTHZ)]


@dataclass
class Lab:
    src: KafkaCluster
    dst: KafkaCluster
    log: Captured
    sent: list[tuple[int, bytes | None, bytes | None, int, Any]] = field(default_factory=list)
    reports: dict[str, ProcessReport] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def finish(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(60)
            assert not self.thread.is_alive(), "the replicator did not stop within 60 s"

    def why(self) -> str:
        """What goes with every failure: the replicator's state and its warnings."""
        r = self.reports.get("src->dst")
        state = f"{r.state} {r.reason}" if r else "no report"
        return f"replicator: {state}; died: {self.errors}; warnings: {self.log.lines}"


def produce_records(src: KafkaCluster) -> list[tuple[int, bytes | None, bytes | None, int, Any]]:
    """Keys, null keys and values, repeated and null headers, the source's timestamps."""
    p = Producer(src.admin_config())
    sent = []
    for i in range(RECORDS):
        key = None if i % 7 == 0 else f"k{i}".encode()
        value = None if i % 11 == 0 else f"v{i}".encode()
        headers = [("h", f"x{i}".encode()), ("h", None)] if i % 3 else []
        ts = 1_700_000_000_000 + i
        p.produce(TOPIC, value, key, partition=i % 2, timestamp=ts, headers=headers or None)
        sent.append((i % 2, key, value, ts, headers))
    assert p.flush(30) == 0
    return sorted(sent, key=lambda r: r[0])  # partition order; within one, send order


def commit_as_app(src: KafkaCluster) -> None:
    """The app commits its group's position on the source, with its own (planned) ACLs."""
    c = Consumer({**src.client_config("app"), "group.id": GROUP, "enable.auto.commit": False})
    try:
        tps = [TopicPartition(TOPIC, p, o) for p, o in COMMITTED.items()]
        done = c.commit(offsets=tps, asynchronous=False)
        assert done is not None and all(tp.error is None for tp in done), done
    finally:
        c.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("runtime-acls")
    src = new_cluster("acl-src", base, "scram", USERS)
    dst = new_cluster("acl-dst", base, "scram", USERS)
    start_clusters([src, dst])
    try:
        admin_doc = topology_doc(src, dst, "admin")
        path = base / "admin.yaml"
        path.write_text(json.dumps(admin_doc))
        env = {"SRC_PW": src.users["admin"], "DST_PW": dst.users["admin"]}
        code, out = cli(env, "apply", str(path), "--auto-approve")
        assert code == 0, out
        assert src.users["admin"] not in out and dst.users["admin"] not in out
        code, out = cli(env, "plan", str(path), "--detailed-exitcode")
        assert code == 0, out  # converged
        mirror_holds_exactly_the_planned_acls(path, env)
        lab = Lab(src, dst, Captured(), produce_records(src))
        commit_as_app(src)

        # The same topology as the replicator's principal sees it: only the credentials differ.
        mirror_doc = {**admin_doc, "clusters": json.loads(json.dumps(admin_doc["clusters"]))}
        for c in mirror_doc["clusters"].values():
            c["config"]["sasl.username"] = "mirror"
        loaded = load_text(json.dumps(mirror_doc), "mirror.yaml")
        assert loaded.topology is not None, loaded.diagnostics
        cfg = flow_config(
            loaded.topology,
            loaded.topology.flows[0],
            {"SRC_PW": USERS["mirror"], "DST_PW": USERS["mirror"]},
        )
        logger = logging.getLogger("mm2plan.replicator")
        logger.addHandler(lab.log)
        rep = Replicator(cfg, report=lambda r: lab.reports.__setitem__(r.flow, r))

        def run() -> None:
            try:
                rep.run(lab.stop)
            except BaseException as exc:  # surfaced by the tests
                lab.errors.append(exc)

        lab.thread = threading.Thread(target=run, daemon=True, name="replicator")
        lab.thread.start()
        try:
            yield lab
        finally:
            lab.finish()
            logger.removeHandler(lab.log)
    finally:
        stop_clusters([src, dst])


def mirror_holds_exactly_the_planned_acls(path: Path, env: dict[str, str]) -> None:
    """On each cluster, `User:mirror`'s live ACLs are the plan's, read back from Kafka."""
    topology = load_text(path.read_text(), str(path)).topology
    assert topology is not None
    conns = {n: confluent_admin_factory(c, env) for n, c in topology.clusters.items()}
    try:
        live = LiveState({n: conn.read_state(data="owned") for n, conn in conns.items()})
    finally:
        for conn in conns.values():
            conn.close()
    desired = build_desired(topology, live)
    for name, cluster in live.clusters.items():
        assert cluster.acls is not None
        held = {a for a in cluster.acls if a.principal == "User:mirror"}
        planned = {a for a in desired.acls[name] if a.principal == "User:mirror"}
        assert held == planned and planned, (name, held ^ planned)


def eventually(lab: Lab, check: Callable[[], bool], what: str, timeout_s: float = 45) -> None:
    """`check` holds before the deadline, or the replicator died (then at once, with why)."""
    ok = poll(lambda: bool(lab.errors) or check(), lambda v: v, timeout_s, first_s=0.2, max_s=1.0)
    assert ok and not lab.errors, f"{what}: not within {timeout_s:.0f} s; {lab.why()}"


def read(c: KafkaCluster, topic: str, timeout_s: float = 15) -> list[Message]:
    """Every record of `topic` up to its current end, as the admin, in partition order."""
    consumer = Consumer(
        {
            **c.admin_config(),
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    out: list[Message] = []
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        todo = set(md.partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                err = m.error()
                if err is None:
                    out.append(m)
                elif err.code() == KafkaError._PARTITION_EOF:
                    todo.discard(m.partition())
    finally:
        consumer.close()
    return sorted(out, key=lambda m: (m.partition(), m.offset()))


def test_records_are_copied_with_every_field(lab: Lab) -> None:
    eventually(
        lab,
        lambda: (
            sum(p.records for p in lab.reports["src->dst"].partitions) >= RECORDS
            if "src->dst" in lab.reports
            else False
        ),
        f"{RECORDS} records copied",
    )
    got = read(lab.dst, f"src.{TOPIC}")
    assert len(got) == RECORDS, lab.why()
    for m, (part, key, value, ts, headers) in zip(got, lab.sent, strict=True):
        assert (m.partition(), m.key(), m.value()) == (part, key, value)
        assert m.timestamp() == (1, ts)  # CreateTime, the source's
        assert (m.headers() or []) == headers


def test_heartbeats_checkpoints_and_offset_syncs_are_written(lab: Lab) -> None:
    eventually(lab, lambda: bool(read(lab.dst, "heartbeats")), "a heartbeat on dst")
    beats = [Heartbeat.parse(m.key() or b"", m.value() or b"") for m in read(lab.dst, "heartbeats")]
    assert {(hb.source, hb.target) for hb in beats} == {("src", "dst")}

    def checkpoints() -> dict[int, tuple[str, str, int, int]]:
        """The latest checkpoint per partition (an early one may say the copy's end)."""
        out = {}
        for m in read(lab.dst, "src.checkpoints.internal"):
            cp = Checkpoint.parse(m.key() or b"", m.value() or b"")
            out[cp.partition] = (cp.group, cp.topic, cp.upstream_offset, cp.downstream_offset)
        return out

    # A fresh remote topic copied from offset 0 of a gapless source: the same offsets.
    want = {p: (GROUP, f"src.{TOPIC}", o, o) for p, o in COMMITTED.items()}
    eventually(lab, lambda: checkpoints() == want, f"checkpoints {want}")

    syncs = [
        OffsetSync.parse(m.key() or b"", m.value() or b"")
        for m in read(lab.src, "mm2-offset-syncs.dst.internal")
    ]
    assert syncs and {s.topic for s in syncs} == {TOPIC}, lab.why()


def test_group_offsets_are_translated_and_synced_to_the_target(lab: Lab) -> None:
    admin = AdminClient(lab.dst.admin_config())

    def on_dst() -> dict[int, int]:
        fut = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(GROUP)], request_timeout=10
        )[GROUP]
        try:
            tps = fut.result().topic_partitions or []
        except KafkaException:
            return {}
        return {tp.partition: tp.offset for tp in tps if tp.topic == f"src.{TOPIC}"}

    eventually(lab, lambda: on_dst() == COMMITTED, f"{GROUP}'s offsets {COMMITTED} on dst")


PROBE = """
import json, sys, time
from confluent_kafka import (
    Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, Producer, TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

conf, action, name = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
group, offset = sys.argv[4], int(sys.argv[5])


def produce():
    errors = []
    p = Producer({**conf, "message.timeout.ms": 8000})
    p.produce(name, b"v", on_delivery=lambda err, _m: errors.append(err))
    p.flush(15)
    return errors[0] if errors else KafkaError(KafkaError._TIMED_OUT)


def consume():  # assigned, never committed: only the topic's READ is asked
    c = Consumer({**conf, "group.id": "mirror-probe", "enable.auto.commit": False})
    c.assign([TopicPartition(name, 0, 0)])
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        if any(m.error() is None for m in c.consume(10, 0.5)):
            return None
    # An assigned consumer is not told its topic is refused (only of its group's coordinator,
    # which it does not use): the topic's metadata says why nothing came.
    error = c.list_topics(name, timeout=10).topics[name].error
    return error or KafkaError(KafkaError._TIMED_OUT)


client = AdminClient(conf)  # kept: a client dropped before its future resolves cancels it


def admin(call):
    try:
        call(client).result(30)
    except KafkaException as exc:
        return exc.args[0]


def commit():
    tps = [TopicPartition(name, 0, offset)]
    res = client.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, tps)], request_timeout=30
    )[group]
    try:
        return next((tp.error for tp in res.result().topic_partitions if tp.error), None)
    except KafkaException as exc:
        return exc.args[0]


err = {
    "produce": produce,
    "consume": consume,
    "create": lambda: admin(lambda a: a.create_topics([NewTopic(name, 1, 1)])[name]),
    "delete": lambda: admin(lambda a: a.delete_topics([name])[name]),
    "commit": commit,
}[action]()
print(err.name() if err is not None else "")
"""


def refused(conf: dict[str, str], action: str, name: str, group: str = "", offset: int = 1) -> str:
    """The error Kafka answers `action` on `name` with ("" when it is allowed). Each probe runs
    in a process of its own: a refused client can leave a pending C-level error behind."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(conf), action, name, group, str(offset)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_mirror_is_refused_what_the_plan_does_not_grant(lab: Lab) -> None:
    src, dst = lab.src.client_config("mirror"), lab.dst.client_config("mirror")
    remote = f"src.{TOPIC}"
    admin = AdminClient(lab.dst.admin_config())
    admin.create_topics([NewTopic("unrelated", 1, 1)])["unrelated"].result(30)
    assert refused(lab.dst.admin_config(), "produce", "unrelated") == ""
    assert refused(lab.dst.admin_config(), "consume", "unrelated") == ""  # the probes can pass

    outcomes = {
        "write its source topic on src": refused(src, "produce", TOPIC),
        "create a topic on src": refused(src, "create", "not-planned"),
        "read an unrelated topic on dst": refused(dst, "consume", "unrelated"),
        "write an unrelated topic on dst": refused(dst, "produce", "unrelated"),
        "write ownership records on dst": refused(dst, "produce", STATE_TOPIC),
        "create a topic outside src. on dst": refused(dst, "create", "not-planned"),
        "delete its remote topic on dst": refused(dst, "delete", remote),
        "commit a group the plan does not name on dst": refused(dst, "commit", remote, "other"),
    }
    allowed = {what: code for what, code in outcomes.items() if "AUTHORIZATION" not in code}
    assert not allowed, outcomes
    # What the plan grants, the same probes get (they tell a refusal from a grant); the
    # synced group is committed where the replicator put it.
    assert refused(dst, "commit", remote, GROUP, COMMITTED[0]) == ""
    assert refused(dst, "consume", "src.checkpoints.internal") == ""


def test_no_partition_failed_and_no_authorization_warning(lab: Lab) -> None:
    eventually(lab, lambda: "src->dst" in lab.reports, "a report")
    lab.finish()
    assert not lab.errors, lab.why()
    report = lab.reports["src->dst"]
    assert report.state == "stopped", lab.why()
    assert len(report.partitions) == len(COMMITTED)
    assert [p.failed for p in report.partitions if p.failed] == [], lab.why()
    assert lab.log.authorization() == [], lab.why()
