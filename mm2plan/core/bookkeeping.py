"""mm2plan's own topics on each cluster: the one place that names them.

They are bookkeeping, not planned resources: never planned, never replicated, never shown as
drift, and reading them must not make a saved plan stale.
"""

from __future__ import annotations

PREFIX = "__mm2plan."
STATE_TOPIC = PREFIX + "state"
"""Compacted: mm2plan's ownership records, key = resource address."""
LOCK_TOPIC = PREFIX + "lock"
"""Exists while an apply runs: CreateTopics is atomic, so creating it is the lock."""


PROGRESS_TOPIC = PREFIX + "progress"
"""Compacted, on each target: the bundled runtime's source positions and offset mappings, key =
`<topology>/<source>-><target>/<topic>/<partition>`. Lives on the target so that a moved or
restarted replicator resumes where it stopped and the source needs no write access for it."""
PROVENANCE_HEADER = "mm2plan.provenance"
"""On each record the bundled runtime copies (with `loop_prevention: headers`): the aliases of
every cluster the record has been in, comma-separated, oldest first."""


def is_bookkeeping_topic(name: str) -> bool:
    """Any topic of mm2plan's own, present or future (the runtime's will share the prefix)."""
    return name.startswith(PREFIX)


FAILOVER_TOPIC = PREFIX + "failover"
"""Compacted, on the cluster a failover moved to (and copied to the other when it answers): the
failover and failback records, key = `<topology>/<from>-><to>`. What `status` shows as in
effect, and what lets an interrupted `failover --execute` continue where it stopped."""
