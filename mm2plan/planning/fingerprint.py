"""A plan's fingerprint: "the world the plan was made against", so apply refuses a stale plan.

Canonical JSON (sorted keys, no whitespace) of the topology (secrets as their references only)
and of the live state makes it a stable hash, as Terraform's saved-plan check.
"""

from __future__ import annotations

import hashlib
from typing import Any

from mm2plan.core.ownership import owned_topic_names
from mm2plan.core.resources import LiveState, canonical_json


def fingerprint(topology_doc: Any, live: LiveState) -> str:
    """sha256 over the canonical topology (secrets excluded by the caller) and live state.

    Whether a topic holds data counts only for topics mm2plan owns (the only ones a plan may
    delete): an unrelated empty topic getting its first record must not make a plan stale."""
    world = live.to_json()
    for alias, cluster in world.items():
        owned_names = owned_topic_names(live.clusters[alias].owned)
        for name, topic in cluster["topics"].items():
            if name not in owned_names:
                topic.pop("has_data", None)
    payload = canonical_json({"topology": topology_doc, "live": world})
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
