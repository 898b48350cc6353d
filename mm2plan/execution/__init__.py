"""Execution: reading live state, the apply walker, and the command sessions (lock, plan file).

May import: mm2plan.core, mm2plan.planning, mm2plan.ports. Never a Kafka client or the terminal.
"""
