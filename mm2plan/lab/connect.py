"""A Kafka Connect distributed worker with MirrorMaker 2's connectors, and MM2's dedicated mode,
both from the lab's jars: the real engines mm2plan drives and benchmarks against."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mm2plan.core.polling import poll
from mm2plan.lab.cluster import (
    KafkaCluster,
    free_port,
    java_command,
    log_tail,
    pid_alive,
    spawn,
    stop_pid,
    write_log4j,
)
from mm2plan.lab.jars import LabError, ensure_kafka

MM2_CONNECTORS = ("MirrorSourceConnector", "MirrorCheckpointConnector", "MirrorHeartbeatConnector")


@dataclass
class ConnectWorker:
    """A distributed worker with its own group and internal topics, on one lab cluster."""

    name: str
    directory: Path
    port: int
    bootstrap: KafkaCluster
    pid: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "connect.log"

    @property
    def properties_path(self) -> Path:
        return self.directory / "worker.properties"

    def alive(self) -> bool:
        return pid_alive(self.pid, str(self.properties_path))

    def stop(self, timeout_s: float = 30.0) -> None:
        stop_pid(self.pid, timeout_s, str(self.properties_path))

    def properties(self) -> str:
        props = {
            "bootstrap.servers": self.bootstrap.bootstrap_servers,
            "group.id": f"mm2plan-{self.name}",
            "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "config.storage.topic": f"{self.name}-configs",
            "offset.storage.topic": f"{self.name}-offsets",
            "status.storage.topic": f"{self.name}-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "5",
            "status.storage.partitions": "1",
            "offset.flush.interval.ms": "1000",
            "listeners": self.url,
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            "plugin.discovery": "only_scan",
            **self._client_security(),
            **self.extra,
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _client_security(self) -> dict[str, str]:
        conf = self.bootstrap.client_config()
        conf.pop("bootstrap.servers")
        if not conf:
            return {}
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{conf["sasl.username"]}" password="{conf["sasl.password"]}";'
        )
        base = {
            "security.protocol": conf["security.protocol"],
            "sasl.mechanism": conf["sasl.mechanism"],
            "sasl.jaas.config": jaas,
        }
        out = dict(base)
        for prefix in ("producer.", "consumer.", "admin."):
            out.update({prefix + k: v for k, v in base.items()})
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "directory": str(self.directory),
            "port": self.port,
            "bootstrap": self.bootstrap.name,
            "pid": self.pid,
        }

    def get(self, path: str, timeout: float = 5.0) -> Any:
        """GET a REST path, parsed from JSON (stdlib only: the lab needs no HTTP client)."""
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
            return json.loads(resp.read())


def new_worker(name: str, base: Path, bootstrap: KafkaCluster) -> ConnectWorker:
    return ConnectWorker(name, base / name, free_port(), bootstrap)


def start_worker(worker: ConnectWorker, timeout_s: float = 120.0, detached: bool = False) -> None:
    """Start the worker and wait until its REST API lists plugins; stop it if that fails."""
    libs = ensure_kafka()
    worker.directory.mkdir(parents=True, exist_ok=True)
    worker.properties_path.write_text(worker.properties())
    log4j = write_log4j(worker.directory / "log4j2.properties", "INFO")
    cmd = java_command(
        libs,
        log4j,
        "org.apache.kafka.connect.cli.ConnectDistributed",
        str(worker.properties_path),
    )
    worker.pid = spawn(cmd, worker.log_path, detached)
    try:
        wait_worker(worker, timeout_s)
    except BaseException:
        worker.stop(10)
        raise


def wait_worker(worker: ConnectWorker, timeout_s: float) -> None:
    """Until `GET /connector-plugins` answers (REST up, plugins loaded) and `GET /health` says
    the worker joined its group: only then does creating a connector work at once."""

    def ready() -> bool:
        if not worker.alive():
            raise LabError(
                f"Connect worker {worker.name} exited while starting; its log "
                f"({worker.log_path}) ends with:\n{log_tail(worker.log_path)}"
            )
        return _answers(worker, "/connector-plugins") and _answers(
            worker, "/health", missing_ok=True
        )

    if poll(ready, bool, timeout_s, first_s=0.2, max_s=0.2):
        return
    raise LabError(
        f"Connect worker {worker.name} did not answer in {timeout_s:.0f}s; its log "
        f"({worker.log_path}) ends with:\n{log_tail(worker.log_path)}"
    )


def _answers(worker: ConnectWorker, path: str, missing_ok: bool = False) -> bool:
    """Whether `path` answers 200; with `missing_ok` a 404 counts too (Connect < 3.9 has no
    /health; asked after /connector-plugins answered, a 404 is no longer Jetty starting up)."""
    try:
        worker.get(path, timeout=2)
    except urllib.error.HTTPError as exc:
        return missing_ok and exc.code == 404
    except (urllib.error.URLError, OSError, ValueError):  # not listening or not ready yet
        return False
    return True


def mirror_maker_command(
    properties: Path, clusters: Mapping[str, KafkaCluster] | None = None
) -> list[str]:
    """MM2's dedicated mode (`connect-mirror-maker.sh`) from the same jars.

    `clusters` names the target clusters this node drives (MM2's `--clusters`).
    """
    libs = ensure_kafka()
    log4j = write_log4j(properties.parent / "log4j2.properties", "INFO")
    cmd = java_command(libs, log4j, "org.apache.kafka.connect.mirror.MirrorMaker", str(properties))
    if clusters:
        cmd += ["--clusters", *clusters]
    return cmd


def start_mirror_maker(
    properties: Path,
    clusters: Mapping[str, KafkaCluster] | None = None,
    log_path: Path | None = None,
    detached: bool = False,
) -> int:
    """Run MM2's dedicated mode in the background, logging beside its properties; the pid.

    MM2 has no readiness endpoint: callers wait for what they need (a mirrored topic, a
    heartbeat) and stop it with `stop_pid(pid)`.
    """
    log = log_path or properties.with_name("mirror-maker.log")
    return spawn(mirror_maker_command(properties, clusters), log, detached)
