"""Tests marked `kafka`/`connect` need Java (the lab runs Kafka from its jars). Without Java they
are skipped loudly on a developer machine, and fail in CI (CI set), where nothing may skip."""

from __future__ import annotations

import os
import shutil

import pytest

_NO_JAVA = (
    "Java 17 is not on PATH, so no real Kafka can run here "
    "(apt-get install openjdk-17-jre-headless)"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _needs_kafka(item: pytest.Item) -> bool:
    return any(item.iter_markers("kafka")) or any(item.iter_markers("connect"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which("java") is not None or _in_ci():
        return
    for item in items:
        if _needs_kafka(item):
            item.add_marker(pytest.mark.skip(reason=f"SKIPPED: {_NO_JAVA}"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """In CI a missing Java is a broken machine, not a reason to skip: fail every such test."""
    if _in_ci() and _needs_kafka(item) and shutil.which("java") is None:
        pytest.fail(f"CI must run the Kafka tests: {_NO_JAVA}", pytrace=False)


def pytest_report_header(config: pytest.Config) -> str | None:
    if shutil.which("java") is None:
        return f"WARNING: {_NO_JAVA}; tests marked kafka/connect will be " + (
            "FAILED (CI)" if _in_ci() else "SKIPPED"
        )
    return None
