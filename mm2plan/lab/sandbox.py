"""A local DR lab that outlives the command that started it: state in `.mm2plan/sandbox/`."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mm2plan.lab.cluster import (
    ADMIN_USER,
    SCRAM_MECHANISM,
    KafkaCluster,
    new_cluster,
    pid_alive,
    start_clusters,
    stop_clusters,
    stop_pid,
)
from mm2plan.lab.connect import ConnectWorker, new_worker, start_worker
from mm2plan.lab.jars import LabError

DEFAULT_DIR = Path(".mm2plan/sandbox")
STATE_FILE = "state.json"


@dataclass
class Sandbox:
    directory: Path
    clusters: list[KafkaCluster] = field(default_factory=list)
    worker: ConnectWorker | None = None
    started_at: float = 0.0

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    @property
    def password_file(self) -> Path:
        return self.directory / "admin.password"

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        doc = {
            "format_version": "1",
            "started_at": self.started_at,
            "clusters": [c.to_json() for c in self.clusters],
            "connect": self.worker.to_json() if self.worker else None,
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        os.chmod(tmp, 0o600)  # holds the lab's SCRAM passwords
        tmp.replace(self.state_path)

    @classmethod
    def load(cls, directory: Path) -> Sandbox | None:
        path = directory / STATE_FILE
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text())
            clusters = [KafkaCluster.from_json(c) for c in doc["clusters"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise LabError(
                f"{path} is damaged ({exc}); remove {directory} and run `mm2plan sandbox up` again"
            ) from None
        by_name = {c.name: c for c in clusters}
        worker = None
        if doc.get("connect"):
            w = doc["connect"]
            worker = ConnectWorker(
                w["name"],
                Path(w["directory"]),
                int(w["port"]),
                by_name[w["bootstrap"]],
                w.get("pid"),
            )
        return cls(directory, clusters, worker, float(doc.get("started_at", 0)))

    def alive(self) -> dict[str, bool]:
        out = {c.name: pid_alive(c.pid) for c in self.clusters}
        if self.worker:
            out[self.worker.name] = pid_alive(self.worker.pid)
        return out

    def topology(self) -> dict[str, Any]:
        """A ready topology for this lab: dc1 -> dc2 (first two clusters), with `orders`."""
        clusters: dict[str, Any] = {}
        for c in self.clusters:
            entry: dict[str, Any] = {"bootstrap_servers": c.bootstrap_servers}
            if c.security == "scram":
                entry["config"] = {
                    "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": SCRAM_MECHANISM,
                    "sasl.username": ADMIN_USER,
                    "sasl.password": f"${{file:{self.password_file.resolve()}}}",
                }
            clusters[c.name] = entry
        doc: dict[str, Any] = {
            "version": 1,
            "defaults": {"replication_factor": 1},
            "clusters": clusters,
        }
        if len(self.clusters) >= 2:
            first, second = self.clusters[0].name, self.clusters[1].name
            clusters[first]["topics"] = {
                "orders": {"partitions": 3, "config": {"retention.ms": "86400000"}}
            }
            doc["flows"] = [{"source": first, "target": second, "topics": ["orders"]}]
        return doc

    def topology_yaml(self) -> str:
        schema = resources.files("mm2plan").joinpath("data/topology.schema.json")
        header = f"# yaml-language-server: $schema={schema}\n"
        return header + yaml.safe_dump(self.topology(), sort_keys=False)


def up(
    directory: Path,
    names: list[str],
    security: str = "none",
    connect: bool = False,
    users: dict[str, str] | None = None,
) -> tuple[Sandbox, bool]:
    """Start the lab, or return the running one (`up` twice is harmless). True when started."""
    existing = Sandbox.load(directory)
    if existing is not None:
        alive = existing.alive()
        if alive and all(alive.values()):
            return existing, False
        down(directory)  # half-dead: clean up and start afresh
    if not names:
        raise LabError("name at least one cluster, e.g. --clusters dc1,dc2")
    if len(set(names)) != len(names):
        raise LabError("cluster names must be different")
    base = directory.resolve()
    if users and security != "scram":
        raise LabError("--user needs --security scram (users are SCRAM credentials)")
    users = dict(users or {})
    if security == "scram":
        users[ADMIN_USER] = "admin-" + uuid.uuid4().hex[:16]
    clusters = [new_cluster(n, base, security, users) for n in names]
    box = Sandbox(directory, clusters, started_at=time.time())
    box.save()  # before starting: `down` can always find what was launched
    try:
        start_clusters(clusters, detached=True)
        if security == "scram":
            box.password_file.write_text(users[ADMIN_USER])
            os.chmod(box.password_file, 0o600)
        if connect:
            box.worker = new_worker("connect", base, clusters[-1])
            start_worker(box.worker, detached=True)
    finally:
        box.save()
    return box, True


def down(directory: Path) -> Sandbox | None:
    box = Sandbox.load(directory)
    if box is None:
        return None
    if box.worker is not None:
        stop_pid(box.worker.pid)
    stop_clusters(box.clusters)
    for c in box.clusters:
        shutil.rmtree(c.data_dir, ignore_errors=True)
    box.state_path.unlink(missing_ok=True)
    return box
