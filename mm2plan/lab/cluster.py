"""Single-node KRaft clusters (combined broker + controller) from Kafka's jars, on loopback.

Each cluster has its own data directory, config and log file. Start formats storage and waits
until the broker answers metadata requests (polling against a deadline, never a fixed sleep);
stop sends SIGTERM and kills after a timeout. Brokers are tuned for a 2-core machine.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mm2plan.core.polling import poll
from mm2plan.lab.jars import LabError, ensure_kafka, require_java

ADMIN_USER = "admin"
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
SCRAM_MECHANISM = "SCRAM-SHA-512"
SECURITY_MODES = ("none", "scram")
JVM_OPTS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:CICompilerCount=2",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)
TOOL_JVM_OPTS = ("-XX:TieredStopAtLevel=1",)
"""Short-lived tools (storage format) only need to start fast: C1 alone halves their CPU."""

LOG4J2 = """status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = {level}
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's pick; racy, but only on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def random_cluster_id() -> str:
    """Kafka's `Uuid.randomUuid().toString()`: url-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def classpath(libs: Path) -> str:
    return str(libs / "*")


def write_log4j(path: Path, level: str = "INFO") -> Path:
    path.write_text(LOG4J2.format(level=level))
    return path


@dataclass
class KafkaCluster:
    """One running (or runnable) cluster; `to_json`/`from_json` let a sandbox outlive its CLI."""

    name: str
    directory: Path
    port: int
    controller_port: int
    security: str = "none"
    users: dict[str, str] = field(default_factory=dict)
    """SCRAM users (name -> password); includes the admin super user when security is scram."""
    pid: int | None = None
    host: str = "127.0.0.1"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def properties_path(self) -> Path:
        return self.directory / "server.properties"

    def client_config(self, user: str | None = None) -> dict[str, str]:
        """confluent-kafka properties; for scram, as `user` (default: the admin super user)."""
        conf = {"bootstrap.servers": self.bootstrap_servers}
        if self.security == "scram":
            user = user or ADMIN_USER
            conf.update(
                {
                    "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": SCRAM_MECHANISM,
                    "sasl.username": user,
                    "sasl.password": self.users[user],
                }
            )
        return conf

    def admin_config(self) -> dict[str, str]:
        """confluent-kafka properties of the super user: what mm2plan's admin work uses."""
        return self.client_config()

    def alive(self) -> bool:
        """The recorded process still runs, and is this cluster's broker (not a reused pid)."""
        return pid_alive(self.pid, str(self.properties_path))

    def stop(self, timeout_s: float = 30.0) -> None:
        stop_pid(self.pid, timeout_s, str(self.properties_path))

    def server_properties(self) -> str:
        listener = "SASL_PLAINTEXT" if self.security == "scram" else "PLAINTEXT"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # A static quorum: one voter, known before formatting (no --standalone needed).
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"{listener}://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"{listener}://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": listener,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_PLAINTEXT:SASL_PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "4",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            # Few threads: two brokers, a Connect worker and the tests share 2 cores.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.replica.fetchers": "1",
            "num.recovery.threads.per.data.dir": "1",
            "group.coordinator.threads": "1",
            "share.coordinator.threads": "1",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": "8388608",
            # Fast start: the broker is unfenced on its first heartbeat answer.
            "broker.heartbeat.interval.ms": "500",
            "controlled.shutdown.enable": "true",
        }
        if self.security == "scram":
            admin_pw = self.users[ADMIN_USER]
            jaas = (
                f"org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN_USER}" password="{admin_pw}";'
            )
            props.update(
                {
                    "sasl.enabled.mechanisms": SCRAM_MECHANISM,
                    "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
                    f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}"
                    ".sasl.jaas.config": jaas,
                    "authorizer.class.name": STANDARD_AUTHORIZER,
                    # The controller listener is loopback PLAINTEXT: its peer is ANONYMOUS.
                    "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
                    "allow.everyone.if.no.acl.found": "false",
                }
            )
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "directory": str(self.directory),
            "port": self.port,
            "controller_port": self.controller_port,
            "security": self.security,
            "users": dict(self.users),
            "pid": self.pid,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> KafkaCluster:
        return cls(
            d["name"],
            Path(d["directory"]),
            int(d["port"]),
            int(d["controller_port"]),
            d.get("security", "none"),
            dict(d.get("users", {})),
            d.get("pid"),
        )


def new_cluster(
    name: str, base: Path, security: str = "none", users: Mapping[str, str] | None = None
) -> KafkaCluster:
    """A cluster to start under `base/name`; scram clusters get a random admin password."""
    if security not in SECURITY_MODES:
        raise LabError(f"unknown security mode {security!r} (none | scram)")
    all_users = dict(users or {})
    if security == "scram":
        all_users.setdefault(ADMIN_USER, "admin-" + uuid.uuid4().hex[:16])
    elif all_users:
        raise LabError("SCRAM users need security 'scram'")
    return KafkaCluster(name, base / name, free_port(), free_port(), security, all_users)


def _format_command(cluster: KafkaCluster, libs: Path) -> list[str]:
    cmd = java_command(
        libs,
        cluster.directory / "log4j2-format.properties",
        "kafka.tools.StorageTool",
        "format",
        # `=`: a generated id may start with "-", which argparse would read as an option.
        f"--cluster-id={random_cluster_id()}",
        "-c",
        str(cluster.properties_path),
        "--ignore-formatted",
        jvm=TOOL_JVM_OPTS,
    )
    for user, password in cluster.users.items():
        cmd += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]"]
    return cmd


def format_storage(clusters: Iterable[KafkaCluster], libs: Path) -> None:
    """Write each cluster's config and format its storage (SCRAM users included), in parallel.

    Already formatted clusters are left alone, so a restart keeps its topics.
    """
    running: list[tuple[KafkaCluster, subprocess.Popen[str]]] = []
    for c in clusters:
        c.directory.mkdir(parents=True, exist_ok=True)
        c.properties_path.write_text(c.server_properties())
        if (c.data_dir / "meta.properties").exists():
            continue
        write_log4j(c.directory / "log4j2-format.properties", "WARN")
        proc = subprocess.Popen(
            _format_command(c, libs),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        running.append((c, proc))
    failures = []
    for c, proc in running:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"formatting storage for {c.name} failed:\n{out[-2000:]}")
    if failures:
        raise LabError("\n".join(failures))


def _spawn_broker(cluster: KafkaCluster, libs: Path, detached: bool) -> None:
    log4j = write_log4j(cluster.directory / "log4j2.properties", "INFO")
    cmd = java_command(
        libs,
        log4j,
        "kafka.Kafka",
        str(cluster.properties_path),
        jvm=(f"-Dkafka.logs.dir={cluster.directory}",),
    )
    cluster.pid = spawn(cmd, cluster.log_path, detached)


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Processes this interpreter started, so they can be reaped (no zombies in tests)."""


def java_command(
    libs: Path, log4j: Path, main_class: str, *args: str, jvm: tuple[str, ...] = ()
) -> list[str]:
    """A JVM on the lab's jars, tuned for a 2-core machine, logging through `log4j`."""
    return [
        require_java(),
        *JVM_OPTS,
        *jvm,
        "-cp",
        classpath(libs),
        f"-Dlog4j2.configurationFile={log4j}",
        main_class,
        *args,
    ]


def spawn(cmd: list[str], log_path: Path, detached: bool) -> int:
    """Start a process logging to a file.

    Detached ones get their own session and outlive this interpreter (the sandbox). Attached
    ones get a parent-death signal (`setpriv --pdeathsig`), so a crashed or killed test run
    leaves no JVM behind; they die with the thread that started them.
    """
    if not detached and (setpriv := shutil.which("setpriv")):
        cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detached,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _cmdline(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def pid_alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether `pid` runs (not a zombie); with `marker`, only if its command line contains it:
    a pid from an old state file may now belong to an unrelated process."""
    if pid is None:
        return False
    proc = _CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return marker is None
    try:  # a zombie we do not own still answers kill(0)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(") ", 1)[1][:1] == "Z":
                return False
    except OSError:
        return marker is None
    if marker is None:
        return True
    cmdline = _cmdline(pid)
    return cmdline is not None and marker in cmdline


def log_tail(path: Path, lines: int = 12) -> str:
    """The log's first errors (why it died) and its last lines (where it stopped)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    errors: list[str] = []
    for i, line in enumerate(text):
        if (" ERROR " in line or " FATAL " in line) and len(errors) < 6:
            errors += text[i : i + 2]  # the line and the exception message under it
    tail = text[-lines:]
    if errors and errors[-1] not in tail:
        return "\n".join([*errors, "...", *tail])
    return "\n".join(tail)


def wait_all_ready(clusters: Iterable[KafkaCluster], timeout_s: float = 90.0) -> None:
    """Poll every cluster against one deadline; the first that dies fails fast with its log."""
    from confluent_kafka.admin import AdminClient

    from mm2plan.adapters.kafka.client import QuietLogger

    pending = {c.name: c for c in clusters}
    quiet: dict[str, Any] = {"socket.timeout.ms": "2000", "logger": QuietLogger()}
    admins = {c.name: AdminClient({**c.admin_config(), **quiet}) for c in pending.values()}

    def still_starting() -> dict[str, KafkaCluster]:
        for name, c in list(pending.items()):
            if not pid_alive(c.pid):
                raise LabError(
                    f"Kafka cluster {c.name} exited while starting; "
                    f"its log ({c.log_path}) ends with:\n{log_tail(c.log_path)}"
                )
            if port_open(c.port, c.host):
                try:
                    if admins[name].list_topics(timeout=2).brokers:
                        del pending[name]
                except Exception:  # not ready yet: any client error means "poll again"
                    pass
        return pending

    if poll(still_starting, lambda left: not left, timeout_s, first_s=0.1, max_s=0.1):
        c = next(iter(pending.values()))
        raise LabError(
            f"Kafka cluster {c.name} did not become ready in {timeout_s:.0f}s; "
            f"its log ({c.log_path}) ends with:\n{log_tail(c.log_path)}"
        )


def stop_pid(pid: int | None, timeout_s: float = 30.0, marker: str | None = None) -> None:
    """SIGTERM (Kafka shuts down cleanly), then SIGKILL after the timeout; waits until gone."""
    if pid is None or not pid_alive(pid, marker):
        _reap(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not poll(lambda: pid_alive(pid), lambda alive: not alive, timeout_s, max_s=0.05):
        return _reap(pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    poll(lambda: pid_alive(pid), lambda alive: not alive, 10.0, max_s=0.05)
    _reap(pid)


def _reap(pid: int | None) -> None:
    proc = _CHILDREN.pop(pid, None) if pid is not None else None
    if proc is not None:
        proc.wait()


def start_clusters(
    clusters: list[KafkaCluster], timeout_s: float = 120.0, detached: bool = False
) -> None:
    """Format all, launch all, then wait for all: the JVMs start in parallel.

    On any failure (or Ctrl-C) every broker started here is stopped before the error propagates.
    """
    require_java()  # before anything is written
    libs = ensure_kafka()
    started: list[KafkaCluster] = []
    try:
        format_storage(clusters, libs)
        for c in clusters:
            _spawn_broker(c, libs, detached)
            started.append(c)
        wait_all_ready(clusters, timeout_s)
    except BaseException:
        stop_clusters(started, 10)
        raise


def stop_clusters(clusters: Iterable[KafkaCluster], timeout_s: float = 30.0) -> None:
    """SIGTERM all first, so the brokers shut down in parallel, then wait for each."""
    clusters = list(clusters)
    for c in clusters:
        if c.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.pid or 0, signal.SIGTERM)
    for c in clusters:
        c.stop(timeout_s)


def stop_all_children(timeout_s: float = 10.0) -> list[int]:
    """Stop every process this interpreter started that still runs (a test-session safety net)."""
    alive = [pid for pid, proc in _CHILDREN.items() if proc.poll() is None]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in alive:
        stop_pid(pid, timeout_s)
    for pid in list(_CHILDREN):
        _reap(pid)
    return alive
