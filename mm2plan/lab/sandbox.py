"""A local DR lab that outlives the command that started it: state in `.mm2plan/sandbox/`.

The brokers (and the optional Connect worker) run detached; `state.json` records their pids,
ports and users, so `status`, `env` and `down` work from any later command in that directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import yaml

from mm2plan.core.model import (
    App,
    Cluster,
    ConfigValue,
    Defaults,
    Flow,
    Secret,
    TopicSpec,
    Topology,
)
from mm2plan.lab.cluster import (
    ADMIN_USER,
    SCRAM_MECHANISM,
    SECURITY_MODES,
    KafkaCluster,
    new_cluster,
    start_clusters,
    stop_clusters,
)
from mm2plan.lab.connect import ConnectWorker, new_worker, start_worker
from mm2plan.lab.jars import LabError, require_java
from mm2plan.topology.loader import to_document

STATE_FILE = "state.json"
PASSWORD_ENV = "MM2PLAN_SANDBOX_PASSWORD"
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
"""Cluster names become directory names and topology keys: keep them plain."""


class BadRequest(LabError):
    """A lab that cannot be asked for; `option` names the command-line option at fault."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def check_request(names: list[str], security: str, users: Mapping[str, str]) -> None:
    """The one check of what `up` is asked for: cluster names, security mode, SCRAM users."""
    if not names:
        raise BadRequest("--clusters", "name at least one cluster, e.g. --clusters dc1,dc2")
    bad = [n for n in names if not NAME_RE.fullmatch(n)]
    if bad:
        raise BadRequest(
            "--clusters",
            f"invalid cluster name(s) {', '.join(map(repr, bad))}: use a letter, then letters, "
            "digits, '-' or '_'",
        )
    if len(set(names)) != len(names):
        raise BadRequest("--clusters", "cluster names must be different")
    if security not in SECURITY_MODES:
        raise BadRequest("--security", f"unknown security mode {security!r} (none | scram)")
    if users and security != "scram":
        raise BadRequest("--user", "SCRAM users need --security scram")
    if ADMIN_USER in users:
        raise BadRequest(
            "--user", f"{ADMIN_USER!r} is the lab's super user; name client users otherwise"
        )


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

    @property
    def security(self) -> str:
        return self.clusters[0].security if self.clusters else "none"

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
            started_at = float(doc.get("started_at", 0))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise LabError(
                f"{path} is damaged ({exc}); stop any Kafka it started, remove it and run "
                "`mm2plan sandbox up` again"
            ) from None
        return cls(directory, clusters, worker, started_at)

    def alive(self) -> dict[str, bool]:
        """Name -> whether its recorded process still runs (and is still that process)."""
        out = {c.name: c.alive() for c in self.clusters}
        if self.worker:
            out[self.worker.name] = self.worker.alive()
        return out

    def password_export(self) -> str | None:
        """The shell line that puts the admin password where the topology looks for it,
        without printing the password itself."""
        if self.security != "scram":
            return None
        return f'export {PASSWORD_ENV}="$(cat {self.password_file.resolve()})"'

    def topology(self) -> Topology:
        """A ready topology for this lab: the first cluster replicates `orders` to the second."""
        scram: dict[str, ConfigValue] = {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": SCRAM_MECHANISM,
            "sasl.username": ADMIN_USER,
            "sasl.password": Secret(f"${{env:{PASSWORD_ENV}}}"),
        }
        clusters = {
            c.name: Cluster(c.name, c.bootstrap_servers, scram if c.security == "scram" else {})
            for c in self.clusters
        }
        flows: tuple[Flow, ...] = ()
        apps: tuple[App, ...] = ()
        if len(self.clusters) >= 2:
            first, second = self.clusters[0].name, self.clusters[1].name
            for name in (first, second):  # the second's own `orders`: the app's after failover
                clusters[name] = replace(clusters[name], topics=(TopicSpec("orders", 3),))
            flows = (Flow(first, second, topics=("orders",)),)
            apps = (
                App(
                    "orders-service",
                    "User:orders-service",
                    (first, second),
                    consumes=("orders",),
                    produces=("orders",),
                    groups=("orders-service",),
                ),
            )
        return Topology(1, clusters, flows, apps, defaults=Defaults(replication_factor=1))

    def topology_yaml(self) -> str:
        schema = resources.files("mm2plan").joinpath("data/topology.schema.json")
        header = f"# yaml-language-server: $schema={schema}\n"
        export = self.password_export()
        if export:
            header += f"# the admin password comes from the environment: {export}\n"
        return header + yaml.safe_dump(to_document(self.topology()), sort_keys=False)


def up(
    directory: Path,
    names: list[str],
    security: str = "none",
    connect: bool = False,
    users: dict[str, str] | None = None,
) -> tuple[Sandbox, bool]:
    """Start the lab, or return the running one (`up` twice is harmless). True when started.

    Starting is all or nothing: if any process fails, everything started is stopped again
    (logs kept) and the error says why.
    """
    existing = Sandbox.load(directory)
    if existing is not None:
        alive = existing.alive()
        if alive and all(alive.values()):
            return existing, False
        down(directory)  # half-dead: clean up and start afresh
    users = dict(users or {})
    check_request(names, security, users)
    require_java()  # a missing Java leaves nothing behind
    base = directory.resolve()
    if security == "scram":
        users[ADMIN_USER] = "admin-" + uuid.uuid4().hex[:16]
    clusters = [new_cluster(n, base, security, users) for n in names]
    box = Sandbox(directory, clusters, started_at=time.time())
    box.save()  # before starting: `down` can always find what was launched
    try:
        start_clusters(clusters, detached=True)
        box.save()
        if security == "scram":
            box.password_file.write_text(users[ADMIN_USER])
            os.chmod(box.password_file, 0o600)
        if connect:
            box.worker = new_worker("connect", base, clusters[-1])
            box.save()
            start_worker(box.worker, detached=True)
        box.save()
    except BaseException:
        _teardown(box)  # the in-memory pids: the state file may not have the latest yet
        raise
    return box, True


def down(directory: Path) -> Sandbox | None:
    """Stop every process of the lab and delete its data and state; logs stay for reading."""
    box = Sandbox.load(directory)
    if box is not None:
        _teardown(box)
    return box


def _teardown(box: Sandbox) -> None:
    if box.worker is not None:
        box.worker.stop()
    stop_clusters(box.clusters)
    for c in box.clusters:
        shutil.rmtree(c.data_dir, ignore_errors=True)
    box.password_file.unlink(missing_ok=True)
    box.state_path.unlink(missing_ok=True)
