"""Real Kafka for the integration tests: single-node KRaft clusters from the jars, per session.

Set MM2PLAN_BOOTSTRAP=dc1=host:port,dc2=host:port to use running clusters instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mm2plan.lab.cluster import KafkaCluster, new_cluster, start_clusters, stop_clusters, stop_pid
from mm2plan.lab.connect import ConnectWorker, new_worker, start_worker


def _external() -> list[KafkaCluster] | None:
    spec = os.environ.get("MM2PLAN_BOOTSTRAP")
    if not spec:
        return None
    out = []
    for part in spec.split(","):
        name, _, addr = part.partition("=")
        host, _, port = addr.rpartition(":")
        out.append(KafkaCluster(name, Path("/nonexistent"), int(port), 0, host=host))
    return out


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def kafka_clusters(lab_dir: Path) -> Iterator[dict[str, KafkaCluster]]:
    """Two plaintext clusters, dc1 and dc2, for the whole session."""
    external = _external()
    if external:
        yield {c.name: c for c in external}
        return
    clusters = [new_cluster("dc1", lab_dir), new_cluster("dc2", lab_dir)]
    start_clusters(clusters)
    try:
        yield {c.name: c for c in clusters}
    finally:
        stop_clusters(clusters)


@pytest.fixture(scope="session")
def scram_cluster(lab_dir: Path) -> Iterator[KafkaCluster]:
    """SASL/SCRAM-SHA-512 with the standard authorizer; users alice and bob besides admin."""
    cluster = new_cluster("secure", lab_dir, "scram", {"alice": "alice-pw", "bob": "bob-pw"})
    start_clusters([cluster])
    try:
        yield cluster
    finally:
        stop_clusters([cluster])


@pytest.fixture(scope="session")
def connect_worker(
    lab_dir: Path, kafka_clusters: dict[str, KafkaCluster]
) -> Iterator[ConnectWorker]:
    worker = new_worker("connect", lab_dir, kafka_clusters["dc2"])
    start_worker(worker)
    try:
        yield worker
    finally:
        stop_pid(worker.pid)


@pytest.fixture
def unique_topic() -> Callable[[str], str]:
    """Topic names no other test uses: tests share session clusters."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make
