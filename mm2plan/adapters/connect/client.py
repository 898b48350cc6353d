"""A Kafka Connect REST client on httpx: the calls the connect engine makes, and clear errors.

Every failure is a `ConnectError` whose message says which worker, which request and what came
back (a 5xx's message, something that is not JSON, no answer at all), with a hint; the texts it
quotes pass through `redact`, so no credential the caller knows of reaches a terminal or a log.
A request refused because the workers' group is rebalancing (409, or a 5xx that says so) is
retried for a while: Connect asks for exactly that, and did nothing meanwhile.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from mm2plan.core.polling import poll

REBALANCE_WAIT_S = 30.0
"""How long a request refused for a rebalance is retried."""
SNIPPET = 120
"""Characters of an unexpected answer quoted in an error."""


class ConnectError(Exception):
    """The worker could not be asked, or answered what the engine cannot use."""

    def __init__(self, message: str, hint: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status


@dataclass(frozen=True, slots=True)
class TaskStatus:
    id: int
    state: str
    """RUNNING, FAILED, PAUSED, UNASSIGNED, RESTARTING (Connect's words)."""
    trace: str = ""


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    name: str
    state: str
    """RUNNING, FAILED, PAUSED, STOPPED, UNASSIGNED, RESTARTING."""
    trace: str = ""
    tasks: tuple[TaskStatus, ...] = ()


def path_of(name: str) -> str:
    """`/connectors/<name>` with the name percent-encoded (`->` is `-%3E`)."""
    return "/connectors/" + quote(name, safe="")


def tls_context(
    ca_location: str | None,
    certificate_location: str | None,
    key_location: str | None,
    key_password: str | None,
    verify: bool,
) -> ssl.SSLContext:
    """What httpx verifies the worker with, and presents when the worker asks for a client
    certificate; unreadable files are a ConnectError naming the file's setting."""
    try:
        ctx = ssl.create_default_context(cafile=ca_location)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError(
            f"cannot read runtime.connect.tls.ca_location {ca_location}: {exc}",
            "point it at a PEM file of the CA that signed the worker's certificate",
        ) from None
    if certificate_location:
        try:
            ctx.load_cert_chain(certificate_location, key_location, key_password)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(
                f"cannot load the client certificate {certificate_location}: "
                f"{getattr(exc, 'strerror', None) or type(exc).__name__}",
                "check runtime.connect.tls.certificate_location, key_location and key_password",
            ) from None
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ConnectClient:
    """One worker's REST API (any worker of a cluster forwards to the leader). Use as a context
    manager: its connections are pooled for its lifetime and closed at the end."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        timeout_s: float = 10.0,
        redact: Callable[[str], str] = lambda text: text,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.redact = redact
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Accept": "application/json", **(headers or {})},
            verify=tls if tls is not None else True,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )

    def __enter__(self) -> ConnectClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the calls -----------------------------------------------------------------------------

    def config(self, name: str) -> dict[str, str] | None:
        """The connector's config as the worker stores it (references unresolved), or None."""
        doc = self._json("GET", path_of(name) + "/config", missing_ok=True)
        if doc is None:
            return None
        if not isinstance(doc, dict):
            raise self._garbage("GET", path_of(name) + "/config", "not an object")
        return {str(k): str(v) for k, v in doc.items()}

    def status(self, name: str) -> ConnectorStatus | None:
        path = path_of(name) + "/status"
        doc = self._json("GET", path, missing_ok=True)
        if doc is None:
            return None
        try:
            c = doc["connector"]
            tasks = tuple(
                TaskStatus(int(t["id"]), str(t["state"]), str(t.get("trace") or ""))
                for t in doc.get("tasks") or ()
            )
            return ConnectorStatus(name, str(c["state"]), str(c.get("trace") or ""), tasks)
        except (KeyError, TypeError, ValueError):
            raise self._garbage("GET", path, "no connector state in it") from None

    def task_configs(self, name: str) -> list[dict[str, str]] | None:
        """The configs of the tasks the connector generated (`GET /connectors/<name>/tasks`)."""
        path = path_of(name) + "/tasks"
        doc = self._json("GET", path, missing_ok=True)
        if doc is None:
            return None
        try:
            return [{str(k): str(v) for k, v in t["config"].items()} for t in doc]
        except (KeyError, TypeError, AttributeError):
            raise self._garbage("GET", path, "not a list of tasks") from None

    def put_config(self, name: str, config: Mapping[str, str]) -> None:
        """Create or replace: idempotent, the same body twice is the same connector."""
        self._json("PUT", path_of(name) + "/config", body=dict(config))

    def delete(self, name: str) -> bool:
        """False when there was no such connector."""
        return self._json("DELETE", path_of(name), missing_ok=True, absent=False) is not False

    def restart_failed(self, name: str) -> None:
        """Restart the connector and its tasks, those that failed only (KIP-745)."""
        self._json(
            "POST",
            path_of(name) + "/restart",
            params={"includeTasks": "true", "onlyFailed": "true"},
            missing_ok=True,
        )

    def resume(self, name: str) -> None:
        """A paused or stopped (KIP-875) connector runs again."""
        self._json("PUT", path_of(name) + "/resume", missing_ok=True)

    # --- requests and their errors ------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        absent: Any = None,
    ) -> Any:
        """The parsed answer (None when it has no body); `absent` for a 404 with `missing_ok`."""

        def send() -> httpx.Response:
            try:
                return self._http.request(method, path, json=body, params=params)
            except httpx.ConnectError as exc:
                raise ConnectError(
                    f"cannot reach the Kafka Connect worker at {self.url}: "
                    f"{self.redact(_reason(exc))}",
                    "check runtime.connect.url, and that the worker runs and listens there",
                ) from None
            except httpx.TimeoutException:
                raise ConnectError(
                    f"the Kafka Connect worker at {self.url} did not answer {method} {path} "
                    f"within {self.timeout_s:g} s",
                    "the worker may be overloaded or stuck; check its log, then re-run",
                ) from None
            except httpx.HTTPError as exc:  # the connection broke: a worker that died mid-answer
                raise ConnectError(
                    f"the connection to the Kafka Connect worker at {self.url} broke during "
                    f"{method} {path}: {self.redact(_reason(exc))}",
                    "the worker may have stopped; check it, then re-run",
                ) from None

        response = poll(send, lambda r: not _rebalancing(r), REBALANCE_WAIT_S, max_s=1.0)
        status = response.status_code
        if status == 404 and missing_ok:
            return absent
        if status >= 400:
            raise self._refused(method, path, response)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._garbage(method, path, _snippet(response, self.redact)) from None

    def _refused(self, method: str, path: str, r: httpx.Response) -> ConnectError:
        message = self.redact(_message(r))
        said = f"{r.status_code}" + (f": {message}" if message else "")
        where = f"the Kafka Connect worker at {self.url}"
        if _rebalancing(r):
            return ConnectError(
                f"{where} kept answering {method} {path} with {said} for {REBALANCE_WAIT_S:g} s",
                "wait until the Connect cluster is stable (its workers keep rebalancing?), then "
                "re-run",
                r.status_code,
            )
        if r.status_code in (401, 403):
            return ConnectError(
                f"{where} refused {method} {path} ({said})",
                "check runtime.connect.headers (the credentials) against the worker's REST "
                "authentication",
                r.status_code,
            )
        if r.status_code == 400:
            return ConnectError(
                f"{where} rejected {method} {path} ({said})",
                "the worker's MM2 connectors refuse this config: compare it with "
                "`mm2plan export --format connect-json`, and check the worker's plugins",
                400,
            )
        if r.status_code == 404:
            return ConnectError(
                f"{where} has no {path} ({said})",
                "is runtime.connect.url the Kafka Connect REST API, and MM2's connectors "
                "installed (GET /connector-plugins)?",
                404,
            )
        hint = (
            "see the worker's log; re-run once it is healthy"
            if r.status_code >= 500
            else "see the worker's log"
        )
        return ConnectError(f"{where} answered {method} {path} with {said}", hint, r.status_code)

    def _garbage(self, method: str, path: str, what: str) -> ConnectError:
        return ConnectError(
            f"the server at {self.url} answered {method} {path} with something that is not "
            f"Kafka Connect's ({what})",
            "is runtime.connect.url the Kafka Connect REST API? (GET / answers with its "
            'version: {"version": ..., "kafka_cluster_id": ...})',
        )


def _rebalancing(r: httpx.Response) -> bool:
    """The worker refused for now, before doing anything: 409 (rebalance in progress), or, as
    Kafka 4.3.1 answers requests forwarded to the leader while its group is about to
    rebalance, 500 "Request cannot be completed because a rebalance is expected"."""
    if r.status_code == 409:
        return True
    return r.status_code >= 500 and "rebalance" in _message(r).lower()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text.splitlines() else text


def _message(r: httpx.Response) -> str:
    """Connect's error body is `{"error_code": .., "message": ..}`: its first line, and for an
    invalid config the errors listed after it (not the pointer to the validate endpoint), but no
    Java stack frames; shortened."""
    try:
        doc = r.json()
        text = str(doc.get("message") or "") if isinstance(doc, dict) else ""
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = r.text
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Connector configuration is invalid"):
        lines = [lines[0].rstrip(":") + ":", *(x for x in lines[1:] if x.startswith("Invalid "))]
        first = " ".join(lines)
    else:
        first = lines[0] if lines else ""
    return first[:400] + ("..." if len(first) > 400 else "")


def _snippet(r: httpx.Response, redact: Callable[[str], str]) -> str:
    kind = r.headers.get("content-type", "no content type")
    text = " ".join(r.text.split())[:SNIPPET]
    return f"{r.status_code}, {kind}: {redact(text)!r}"
