"""The ownership store on confluent-kafka: records in a compacted topic, the lock as a topic."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from mm2plan.adapters.kafka.admin import KafkaAdmin
from mm2plan.adapters.kafka.client import gone, json_object, usable
from mm2plan.core.bookkeeping import LOCK_TOPIC, STATE_TOPIC
from mm2plan.core.model import Cluster
from mm2plan.core.polling import poll
from mm2plan.core.resources import canonical_json
from mm2plan.ports.cluster import ClusterError, LockHeld, NewTopic, OpError

_HOLDER_WAIT_S = 3.0
"""How long to wait for a fresh lock's holder record: its taker writes it right after creating."""


class KafkaOwnership(KafkaAdmin):
    """`OwnershipStore`: durable records (acks=all) and a lock that CreateTopics makes atomic."""

    def __init__(
        self, cluster: Cluster, environ: Mapping[str, str] | None = None, timeout_s: float = 15.0
    ) -> None:
        super().__init__(cluster, environ, timeout_s)
        self._holds_lock = False
        self._holder: dict[str, Any] = {}
        self._ensured: set[str] = set()

    def _ensure_topic(self, name: str, config: Mapping[str, str]) -> None:
        """Create one of mm2plan's own topics unless it exists (once per admin). Either way it
        has a leader on return, so the next write does not stall."""
        if name in self._ensured:
            return
        err = self.create_topics([NewTopic(name, 1, self._rf(), config)]).get(name)
        if err is not None and err.code != "TOPIC_ALREADY_EXISTS":
            raise ClusterError(
                self.alias,
                f"cannot create {name}: {err}",
                f"mm2plan's principal needs CREATE on the cluster or on topic {name}",
            )
        if err is not None:  # perhaps created a moment ago by another apply
            self._await({name: usable})
        self._ensured.add(name)

    def write_ownership(self, records: Mapping[str, Mapping[str, Any] | None]) -> None:
        if not records:
            return
        self._ensure_topic(STATE_TOPIC, {"cleanup.policy": "compact"})
        self._produce(
            STATE_TOPIC,
            {a: None if r is None else canonical_json(r).encode() for a, r in records.items()},
        )

    def acquire_lock(self, holder: Mapping[str, Any], force: bool = False) -> None:
        """Create LOCK_TOPIC, then write who holds it. With force, delete a held lock and
        retry until a deadline: deletion is asynchronous, and for a moment after it a create
        may still answer TOPIC_ALREADY_EXISTS."""
        deadline = time.monotonic() + self.timeout_s * 2

        def take() -> OpError | None:
            err = self.create_topics([NewTopic(LOCK_TOPIC, 1, self._rf(), {})]).get(LOCK_TOPIC)
            if force and err is not None and err.code == "TOPIC_ALREADY_EXISTS":
                self._delete_lock_topic()
                self._await({LOCK_TOPIC: gone}, deadline)
            return err

        def settled(err: OpError | None) -> bool:
            return not force or err is None or err.code != "TOPIC_ALREADY_EXISTS"

        err = poll(take, settled, deadline=deadline, first_s=0.05)
        if err is None:
            self._holds_lock = True
            self._write_holder(holder)
            # The ownership topic must be writable before apply creates many topics: a
            # broker busy creating them would hold back a brand-new topic's leader.
            self._ensure_topic(STATE_TOPIC, {"cleanup.policy": "compact"})
            return
        if err.code != "TOPIC_ALREADY_EXISTS":
            raise ClusterError(
                self.alias,
                f"cannot take the apply lock: {err}",
                f"mm2plan's principal needs CREATE and DELETE on topic {LOCK_TOPIC}",
            )
        if not force:
            raise LockHeld(self.alias, self._lock_holder())
        raise ClusterError(
            self.alias,
            "could not break the held lock in time",
            "re-run with --force-unlock",
            code="apply-locked",
        )

    def _write_holder(self, holder: Mapping[str, Any]) -> None:
        """A lock without a holder record would block others and tell them nothing: if the
        record cannot be written, give the lock back."""
        self._holder = json.loads(canonical_json(dict(holder)))  # as others will read it
        try:
            self._produce(LOCK_TOPIC, {"holder": canonical_json(self._holder).encode()})
        except ClusterError:
            with contextlib.suppress(ClusterError):
                self.release_lock()
            raise

    def _lock_holder(self, wait_s: float = _HOLDER_WAIT_S) -> dict[str, Any]:
        """The lock's holder record. A lock taken a moment ago may not have it yet: wait up to
        wait_s before calling the holder unknown."""

        def holder() -> dict[str, Any] | None:
            try:
                records = self._read_all(LOCK_TOPIC)
            except ClusterError:
                return None
            found = (json_object(value) for _key, value in reversed(records) if value)
            return next((h for h in found if h is not None), None)

        found = poll(holder, lambda h: h is not None, min(self.timeout_s, wait_s), first_s=0.1)
        return found or {}

    def _delete_lock_topic(self) -> None:
        err = self.delete_topics([LOCK_TOPIC]).get(LOCK_TOPIC)
        if err is not None and err.code != "UNKNOWN_TOPIC_OR_PART":
            raise ClusterError(
                self.alias,
                f"cannot delete the apply lock: {err}",
                f"mm2plan's principal needs DELETE on topic {LOCK_TOPIC}",
                code="apply-locked",
            )

    def release_lock(self) -> None:
        """Only a lock this admin took and still holds: if --force-unlock broke it meanwhile,
        the lock now is someone else's and stays. One already gone is fine."""
        if not self._holds_lock:
            return
        self._holds_lock = False
        current = self._lock_holder(wait_s=0)
        if current and current != self._holder:
            return
        self._delete_lock_topic()


def owned_records(records: list[tuple[bytes | None, bytes | None]]) -> dict[str, dict[str, Any]]:
    """Latest record per address wins; a tombstone forgets it. A record that is not a JSON
    object is ignored: reading it as "not owned" means mm2plan never deletes that resource,
    the safe side."""
    owned: dict[str, dict[str, Any]] = {}
    for key, value in records:
        if key is None:
            continue
        addr = key.decode(errors="replace")
        if value is None:
            owned.pop(addr, None)
            continue
        record = json_object(value)
        if record is not None:
            owned[addr] = record
    return owned
