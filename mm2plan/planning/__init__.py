"""Planning: desired state, the diff against live state, ownership records, Plan and plan file.

May import: mm2plan.core, and mm2plan.topology's serialization (fingerprints). Pure: live state
is an input, never fetched here (no port).
"""
