"""Planning: desired state, the diff against live state, Plan values and the saved plan file.

May import: mm2plan.core only. Pure: live state is an input, never fetched here.
"""
