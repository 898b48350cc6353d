"""Views: human (rich) and JSON renderings of diagnostics, graphs, plans and apply reports.

May import: mm2plan.core, mm2plan.planning, execution's result values, rich. Views only read.
"""


def count(n: int, noun: str) -> str:
    """`1 flow`, `2 flows`: every view counts the same way."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
