"""The connect engine: each flow is MM2's own connectors on a Kafka Connect cluster.

A flow `dc1->dc2` of topology `prod` is up to three connectors,
`prod.dc1->dc2.MirrorSourceConnector` (and Checkpoint, Heartbeat), whose configs
`planning.connectors.connector_configs` derives from the topology: the desired state. The engine
keeps nothing of its own anywhere:

- `describe` reads each connector's `/status` and `/config`. None there: ABSENT. A failed
  connector or task, or a wanted connector missing: FAILED, with the traces' first lines. Paused
  or stopped by hand: STOPPED. Otherwise RUNNING, with the settings the live configs amount to
  (`settings.run_settings`): the wanted settings exactly when every config is the wanted one.
- `start`/`update` PUT each config that differs (idempotent), delete the flow's connectors the
  topology no longer wants (heartbeats switched off), restart failed ones and resume paused ones,
  then wait until every connector and task runs; past the timeout, or on a failure that stays,
  an EngineError carries the failed tasks' trace summaries. An error says which connectors the
  worker had already taken, so nothing half-applied goes unreported.
- `stop` deletes the flow's connectors. Connect keeps a source connector's offsets in its offsets
  topic under the connector's name after a delete (only `DELETE /connectors/<name>/offsets`,
  KIP-875, removes them), and the names derive from the flow alone, so a later `start` resumes
  where the flow stopped; the checkpoint connector's state is MM2's own topics. Deleting, rather
  than `PUT /stop`, leaves nothing on a shared Connect cluster when a flow is removed or
  destroyed: a stopped flow is ABSENT on this engine.

Errors are EngineErrors with code `connect` (the worker is unreachable or answered badly) or
`secret-unresolved` (a header's reference); every text quoted from the worker is stripped of
the secrets the engine knows of.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

from mm2plan.adapters.connect.client import (
    ConnectClient,
    ConnectError,
    ConnectorStatus,
    tls_context,
)
from mm2plan.adapters.connect.settings import run_settings
from mm2plan.core.model import (
    Flow,
    Secret,
    SecretResolutionError,
    Topology,
    is_sensitive_key,
)
from mm2plan.core.polling import poll
from mm2plan.planning.connectors import (
    KINDS,
    Connectors,
    FlowConnectors,
    connector_configs,
    connector_name,
)
from mm2plan.planning.desired import replication_settings
from mm2plan.ports.replication import EngineError, FlowKey, FlowSpec, FlowState, FlowStatus

CODE = "connect"
TRACE_CHARS = 240
"""Of each line of a trace summary."""


def trace_summary(trace: str) -> str:
    """A Java stack trace's first line, and its root cause's when there is one."""
    lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
    if not lines:
        return "no trace given"
    picked = [lines[0]]
    causes = [line for line in lines[1:] if line.startswith("Caused by:")]
    if causes and causes[-1] != lines[0]:
        picked.append(causes[-1])
    return " / ".join(p[:TRACE_CHARS] + ("..." if len(p) > TRACE_CHARS else "") for p in picked)


def kind_of(name: str) -> str:
    return name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class LiveFlow:
    """A flow's connectors as the worker has them, by name (absent ones left out)."""

    configs: dict[str, dict[str, str]] = field(default_factory=dict)
    statuses: dict[str, ConnectorStatus] = field(default_factory=dict)


def _problems(live: LiveFlow, redact: Callable[[str], str]) -> list[str]:
    out = []
    for name, s in live.statuses.items():
        kind = kind_of(name)
        if s.state == "FAILED":
            out.append(f"{kind} failed: {redact(trace_summary(s.trace))}")
        for t in s.tasks:
            if t.state == "FAILED":
                out.append(f"{kind} task {t.id} failed: {redact(trace_summary(t.trace))}")
    return out


class ConnectEngine:
    """The flows of one topology on the Connect cluster at its `runtime.connect.url`."""

    name = "connect"

    def __init__(
        self,
        topology: Topology,
        *,
        start_timeout_s: float = 60.0,
        failed_grace_s: float = 5.0,
        request_timeout_s: float = 10.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`start` waits up to `start_timeout_s` for the connectors and tasks to run; a failure
        that lasts `failed_grace_s` after the last change ends the wait at once (a task that
        failed before the change may still say so for a moment)."""
        self.topology = topology
        self.start_timeout_s = start_timeout_s
        self.failed_grace_s = failed_grace_s
        self.request_timeout_s = request_timeout_s
        self.environ = environ
        self.warnings: list[str] = []
        self._configs: Connectors | None = None

    # --- desired state -----------------------------------------------------------------------

    @property
    def configs(self) -> Connectors:
        if self._configs is None:
            self._configs = connector_configs(self.topology)
        return self._configs

    def names(self, key: FlowKey) -> dict[str, str]:
        """Every connector name the flow may have, by kind (whatever the topology wants)."""
        flow = Flow(key.source, key.target)
        return {kind: connector_name(key.topology, flow, kind) for kind in KINDS}

    def wanted(self, key: FlowKey) -> FlowConnectors | None:
        if key.topology != self.topology.name:
            return None
        return self.configs.flows.get(key.name)

    def _wanted_for(self, spec: FlowSpec) -> FlowConnectors:
        """The connector configs of the flow `spec` names, checked to be what its settings say:
        they come from the same topology (a saved plan is applied only to the topology and
        clusters it was made against)."""
        fc = self.wanted(spec.key)
        if fc is None:
            raise EngineError(
                spec.key,
                f"is not an enabled flow of topology {self.topology.name!r}",
                "run `mm2plan plan` again",
                CODE,
            )
        if dict(spec.settings) != replication_settings(self.topology, fc.flow):
            raise EngineError(
                spec.key,
                "the settings to apply are not the ones the topology gives this flow",
                "run `mm2plan plan` again",
                CODE,
            )
        return fc

    # --- secrets and the client --------------------------------------------------------------

    def _secrets(self, live: LiveFlow | None = None) -> list[str]:
        """Every secret value the engine can know of: headers, the key password, the sensitive
        configs sent and read (as written, and resolved where this process can)."""
        runtime = self.topology.runtime
        found: list[Secret] = [v for v in runtime.connect_headers.values() if isinstance(v, Secret)]
        if runtime.connect_tls.key_password is not None:
            found.append(runtime.connect_tls.key_password)
        configs = [c for fc in self.configs.flows.values() for c in fc.connectors.values()]
        configs += list(live.configs.values()) if live else []
        for config in configs:
            found += [Secret(v) for k, v in config.items() if is_sensitive_key(k) and v]
        values = set()
        for s in found:
            values.add(s.raw)
            with suppress(SecretResolutionError):  # the worker's environment, not ours
                values.add(s.resolve(self.environ))
        return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)

    def redactor(self, live: LiveFlow | None = None) -> Callable[[str], str]:
        secrets = self._secrets(live)

        def redact(text: str) -> str:
            for s in secrets:
                text = text.replace(s, "(sensitive)")
            return text

        return redact

    @contextmanager
    def _client(self, key: FlowKey) -> Iterator[ConnectClient]:
        runtime = self.topology.runtime
        try:
            headers = {
                k: v.resolve(self.environ) if isinstance(v, Secret) else v
                for k, v in runtime.connect_headers.items()
            }
            tls = runtime.connect_tls
            password = tls.key_password.resolve(self.environ) if tls.key_password else None
        except SecretResolutionError as exc:
            raise EngineError(
                key,
                f"runtime.connect: {exc}",
                "set it where mm2plan runs, or fix the reference",
                "secret-unresolved",
            ) from None
        context = None
        if runtime.connect_url.startswith("https:") or tls.ca_location or tls.certificate_location:
            try:
                context = tls_context(
                    tls.ca_location,
                    tls.certificate_location,
                    tls.key_location,
                    password,
                    tls.verify,
                )
            except ConnectError as exc:
                raise EngineError(key, exc.message, exc.hint, CODE) from None
        with ConnectClient(
            runtime.connect_url,
            headers,
            tls=context,
            timeout_s=self.request_timeout_s,
            redact=self.redactor(),
        ) as client:
            yield client

    def _error(self, key: FlowKey, exc: ConnectError, done: str = "") -> EngineError:
        return EngineError(key, exc.message + (f"; {done}" if done else ""), exc.hint, CODE)

    # --- reading -------------------------------------------------------------------------------

    def _read(self, client: ConnectClient, key: FlowKey) -> LiveFlow:
        live = LiveFlow()
        for name in self.names(key).values():
            status = client.status(name)
            if status is None:
                continue
            config = client.config(name)
            if config is None:  # deleted between the two requests
                continue
            live.statuses[name] = status
            live.configs[name] = config
        return live

    def describe(self, key: FlowKey) -> FlowStatus:
        with self._client(key) as client:
            try:
                live = self._read(client, key)
            except ConnectError as exc:
                raise self._error(key, exc) from None
        return self._judge(key, live)

    def _judge(self, key: FlowKey, live: LiveFlow) -> FlowStatus:
        if not live.statuses:
            return FlowStatus(key, FlowState.ABSENT)
        fc = self.wanted(key)
        settings = (
            run_settings(replication_settings(self.topology, fc.flow), fc, live.configs)
            if fc is not None
            else None
        )
        problems = _problems(live, self.redactor(live))
        if fc is not None:
            missing = [n for n in fc.connectors if n not in live.configs]
            problems += [f"{kind_of(n)} is missing on the worker" for n in missing]
        if problems:
            return FlowStatus(key, FlowState.FAILED, settings, "; ".join(problems))
        held = [
            f"{kind_of(n)} is {s.state.lower()} on the worker"
            for n, s in live.statuses.items()
            if s.state in ("PAUSED", "STOPPED")
        ]
        if held:
            return FlowStatus(key, FlowState.STOPPED, settings, "; ".join(held))
        reason = "" if fc is not None else "not an enabled flow of the topology"
        return FlowStatus(key, FlowState.RUNNING, settings, reason)

    # --- changing ------------------------------------------------------------------------------

    def start(self, spec: FlowSpec) -> None:
        fc = self._wanted_for(spec)
        key = spec.key
        done: list[str] = []
        doing = ""  # the change in flight: if its request fails, whether it was made is unknown
        with self._client(key) as client:
            try:
                for name, config in fc.connectors.items():
                    if client.config(name) != config:
                        doing = f"{kind_of(name)}'s config"
                        client.put_config(name, config)
                        done.append(doing)
                for name in self.names(key).values():
                    if name not in fc.connectors:
                        doing = f"the deletion of {kind_of(name)}"
                        if client.delete(name):
                            done.append(doing)
                since = time.monotonic()
                for name in fc.connectors:
                    kick = self._kick(client, name)
                    if kick is not None:
                        doing = f"a {kick[0]} of {kind_of(name)}"
                        kick[1]()
                        done.append(doing)
                        since = time.monotonic()
                doing = ""
                self._await_running(client, key, fc, since if done else 0.0)
            except ConnectError as exc:
                said = [f"the worker had taken {', '.join(done)}"] if done else []
                said += [f"whether it took {doing} is unknown"] if doing else []
                done_text = "; ".join(said or ["no connector was changed"])
                raise self._error(key, exc, done_text) from None

    def _kick(self, client: ConnectClient, name: str) -> tuple[str, Callable[[], None]] | None:
        """What would make a connector run again: restart what failed, resume what was paused
        or stopped (by hand); None when it needs neither."""
        s = client.status(name)
        if s is None:
            return None
        if s.state == "FAILED" or any(t.state == "FAILED" for t in s.tasks):
            return "restart", lambda: client.restart_failed(name)
        if s.state in ("PAUSED", "STOPPED"):
            return "resume", lambda: client.resume(name)
        return None

    def _await_running(
        self, client: ConnectClient, key: FlowKey, fc: FlowConnectors, since: float
    ) -> None:
        """Until every wanted connector runs with tasks generated from its current config, all
        running, on two reads in a row (a connector just created runs before it has made its
        tasks); a failure that outlasts the grace ends the wait."""
        first_failed: list[float | None] = [None]
        settled_once = [False]

        def probe() -> tuple[str, LiveFlow]:
            live = LiveFlow()
            waiting: list[str] = []
            for name, config in fc.connectors.items():
                s = client.status(name)
                if s is None:
                    waiting.append(f"{kind_of(name)} is not on the worker yet")
                    continue
                tasks = client.task_configs(name) or []
                # the tasks of its current generation: fewer tasks leave their statuses behind
                s = replace(s, tasks=tuple(t for t in s.tasks if t.id < len(tasks)))
                live.statuses[name] = s
                if s.state != "RUNNING":
                    waiting.append(f"{kind_of(name)} is {s.state}")
                elif not _tasks_current(tasks, config) or len(tasks) != len(s.tasks):
                    waiting.append(f"{kind_of(name)} is making its tasks")
                waiting += [
                    f"{kind_of(name)} task {t.id} is {t.state}"
                    for t in s.tasks
                    if t.state != "RUNNING"
                ]
            now = time.monotonic()
            if _problems(live, str):
                failing_since = first_failed[0] = first_failed[0] or now
                if now - max(failing_since, since) >= self.failed_grace_s:
                    return "failed", live
            else:
                first_failed[0] = None
            if waiting:
                settled_once[0] = False
                return "; ".join(waiting), live
            if settled_once[0]:
                return "", live
            settled_once[0] = True
            return "once", live

        outcome, live = poll(
            probe, lambda r: r[0] in ("", "failed"), self.start_timeout_s, first_s=0.1, max_s=0.5
        )
        if outcome == "":
            return
        problems = _problems(live, self.redactor(live))
        hint = (
            "see the failed tasks' traces: `GET /connectors/<name>/status` on the worker, or "
            "its log; apply restarts failed tasks when it runs again"
        )
        if outcome == "failed":
            raise EngineError(key, "its connectors fail: " + "; ".join(problems), hint, CODE)
        raise EngineError(
            key,
            f"its connectors did not all run within {self.start_timeout_s:g} s: "
            + "; ".join([outcome, *problems] if outcome != "once" else problems or ["unsettled"]),
            hint,
            CODE,
        )

    def update(self, spec: FlowSpec) -> None:
        if self.describe(spec.key).state is FlowState.ABSENT:
            raise EngineError(spec.key, "is not known to the engine", "start it first", CODE)
        self.start(spec)

    def stop(self, key: FlowKey) -> None:
        deleted: list[str] = []
        with self._client(key) as client:
            try:
                for name in self.names(key).values():
                    if client.delete(name):
                        deleted.append(kind_of(name))
            except ConnectError as exc:
                done = ("deleted before that: " + ", ".join(deleted)) if deleted else ""
                raise self._error(key, exc, done or "no connector was deleted") from None


def _tasks_current(tasks: list[dict[str, str]], config: Mapping[str, Any]) -> bool:
    """Whether each task config was made from `config` (MM2's tasks carry their connector's
    config), compared on the keys a task carries that are not secrets."""
    plain = {k: v for k, v in config.items() if not is_sensitive_key(k)}
    return all(t.get(k) == v for t in tasks for k, v in plain.items() if k in t)
