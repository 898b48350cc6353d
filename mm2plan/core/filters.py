"""MM2's topic and group filters: include/exclude lists of Java regexes, each a full match.

MM2 joins a list into one alternation (`DefaultTopicFilter`), so a flow is one compiled include
and one exclude pattern. Python's `re` reads the usual Java subset the same way; the validator
reports patterns either engine would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mm2plan.core.model import Flow


class PatternError(ValueError):
    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"{pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """One pattern, checked for the Java/Python differences that would change its meaning."""
    if "(?P" in pattern:
        raise PatternError(pattern, "Python-only group syntax '(?P'; Java uses '(?<name>...)'")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PatternError(pattern, str(exc)) from None


@cache
def compile_list(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """`None` matches nothing (an empty list, as MM2's empty `topics.exclude`)."""
    if not patterns:
        return None
    for p in patterns:
        compile_pattern(p)
    return re.compile("|".join(f"(?:{p})" for p in patterns))


@dataclass(frozen=True)
class NameFilter:
    include: re.Pattern[str] | None
    exclude: re.Pattern[str] | None

    def matches(self, name: str) -> bool:
        return (
            self.include is not None
            and self.include.fullmatch(name) is not None
            and (self.exclude is None or self.exclude.fullmatch(name) is None)
        )


def topic_filter(flow: Flow) -> NameFilter:
    """Raises PatternError for an invalid pattern; the validator reports those first."""
    return NameFilter(compile_list(flow.topics), compile_list(flow.topics_exclude))


def group_filter(flow: Flow) -> NameFilter:
    return NameFilter(compile_list(flow.groups), compile_list(flow.groups_exclude))
