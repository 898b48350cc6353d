"""Real Kafka for the integration tests: single-node KRaft clusters from the jars, per session.

Set MM2PLAN_BOOTSTRAP=dc1=host:port,dc2=host:port to use running (plaintext) clusters for
`kafka_clusters` instead; `scram_cluster` and `connect_worker` are always local.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mm2plan.lab.cluster import (
    KafkaCluster,
    new_cluster,
    start_clusters,
    stop_all_children,
    stop_clusters,
)
from mm2plan.lab.connect import ConnectWorker, new_worker, start_worker

SCRAM_USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def external_clusters(spec: str) -> dict[str, KafkaCluster]:
    """`dc1=host:port,dc2=host:port` as clusters this session neither starts nor stops."""
    out: dict[str, KafkaCluster] = {}
    for part in spec.split(","):
        name, _, addr = part.strip().partition("=")
        host, _, port = addr.rpartition(":")
        if not name or not host or not port.isdigit():
            raise pytest.UsageError(
                f"MM2PLAN_BOOTSTRAP: {part!r} is not name=host:port "
                "(e.g. dc1=127.0.0.1:9092,dc2=127.0.0.1:9093)"
            )
        out[name] = KafkaCluster(name, Path("/nonexistent"), int(port), 0, host=host)
    return out


@pytest.fixture(scope="session", autouse=True)
def _no_stray_jvms() -> Iterator[None]:
    """Whatever a test forgot to stop is stopped when the session ends."""
    yield
    stop_all_children()


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def kafka_clusters(lab_dir: Path) -> Iterator[dict[str, KafkaCluster]]:
    """Two plaintext clusters, `dc1` and `dc2` (name -> KafkaCluster), for the whole session."""
    spec = os.environ.get("MM2PLAN_BOOTSTRAP")
    if spec:
        yield external_clusters(spec)
        return
    clusters = [new_cluster("dc1", lab_dir), new_cluster("dc2", lab_dir)]
    start_clusters(clusters)
    try:
        yield {c.name: c for c in clusters}
    finally:
        stop_clusters(clusters)


@pytest.fixture(scope="session")
def scram_cluster(lab_dir: Path) -> Iterator[KafkaCluster]:
    """SASL/SCRAM-SHA-512 with the standard authorizer and no ACLs: super user `admin`
    (`admin_config()`), clients `alice` and `bob` (`client_config("alice")`)."""
    cluster = new_cluster("secure", lab_dir, "scram", SCRAM_USERS)
    start_clusters([cluster])
    try:
        yield cluster
    finally:
        stop_clusters([cluster])


@pytest.fixture(scope="session")
def connect_worker(
    lab_dir: Path, kafka_clusters: dict[str, KafkaCluster]
) -> Iterator[ConnectWorker]:
    """A Connect worker with MM2's connectors on `dc2`; started only if a test asks for it."""
    worker = new_worker("connect", lab_dir, kafka_clusters["dc2"])
    start_worker(worker)
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def unique_topic() -> Callable[[str], str]:
    """Topic names no other test uses: tests share session clusters."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make
