"""The saved plan: no secret-derived bytes in it, only actions this version can carry out, and a
human view that never calls a plan with errors converged."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mm2plan.core.addresses import Address
from mm2plan.core.diagnostics import error
from mm2plan.core.resources import LiveState
from mm2plan.planning.plan import (
    Action,
    Change,
    Plan,
    PlanFileError,
    TopicState,
    load_plan,
    save_plan,
)
from mm2plan.planning.planner import make_plan
from mm2plan.topology.loader import load_text
from mm2plan.views.plan import render_human

SECRETS = """version: 1
defaults: {{replication_factor: 1}}
clusters:
  dc1:
    bootstrap_servers: "{bootstrap}"
    config: {{sasl.username: admin, sasl.password: "{literal}"}}
    topics: {{orders: {{partitions: 2}}}}
  dc2:
    bootstrap_servers: "dc2:9092"
    config: {{sasl.password: "${{env:MM2PLAN_TEST_PW}}"}}
flows:
  - {{source: dc1, target: dc2, topics: [orders]}}
"""


def plan_file(tmp_path: Path, literal: str, bootstrap: str = "dc1:9092") -> bytes:
    topology = load_text(SECRETS.format(literal=literal, bootstrap=bootstrap), "t.yaml").topology
    assert topology is not None
    path = tmp_path / f"{literal}-{bootstrap}.plan"
    save_plan(make_plan(topology, LiveState({})), path)
    return path.read_bytes()


def digests(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret] + [hashlib.new(h, raw).hexdigest() for h in ("sha256", "sha1", "md5")]


def test_secret_values_change_neither_the_plan_file_nor_its_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MM2PLAN_TEST_PW", "env-secret-one")
    first = plan_file(tmp_path, "literal-secret-one")
    monkeypatch.setenv("MM2PLAN_TEST_PW", "env-secret-two")
    second = plan_file(tmp_path, "literal-secret-two")
    assert first == second
    for data, secrets in ((first, ("literal-secret-one", "env-secret-one")), (second, ())):
        text = data.decode()
        for secret in (*secrets, "literal-secret-two", "env-secret-two"):
            for digest in digests(secret):
                assert digest not in text


def test_what_is_not_secret_still_counts_in_the_fingerprint(tmp_path: Path) -> None:
    a = json.loads(plan_file(tmp_path, "pw", "dc1:9092"))
    b = json.loads(plan_file(tmp_path, "pw", "dc1.other:9092"))
    assert a["fingerprint"] != b["fingerprint"]


def test_a_plan_file_with_an_unknown_action_is_refused(tmp_path: Path) -> None:
    change = Change(Address.topic("dc2", "x"), Action.CREATE, None, TopicState(1))
    doc = Plan((change,), "sha256:0").to_json()
    assert "forces_replacement" not in doc["changes"][0]
    doc["changes"][0]["action"] = "replace"
    with pytest.raises(PlanFileError, match="unknown action 'replace'"):
        Plan.from_json(doc)
    path = tmp_path / "old.plan"
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanFileError, match=r"old\.plan: change dc2\.topic\[\"x\"\]: unknown"):
        load_plan(path)


def test_a_plan_file_of_the_same_format_still_loads(tmp_path: Path) -> None:
    """Files written before `forces_replacement` was dropped carry it, always empty."""
    change = Change(Address.topic("dc2", "x"), Action.CREATE, None, TopicState(1))
    doc = Plan((change,), "sha256:0").to_json()
    doc["changes"][0]["forces_replacement"] = []
    assert Plan.from_json(doc).changes == (change,)


def test_a_plan_with_errors_says_it_cannot_be_applied() -> None:
    diag = error("partition-decrease", 'dc1.topic["orders"]: 6 partitions; asks for 3', "")
    text = render_human(Plan((), "sha256:0", diagnostics=(diag,))).plain
    assert "No changes" not in text
    assert "The plan cannot be applied: 1 error (partition-decrease)" in text
    change = Change(Address.topic("dc2", "x"), Action.CREATE, None, TopicState(1))
    text = render_human(Plan((change,), "sha256:0", diagnostics=(diag, diag))).plain
    assert "will perform" not in text
    assert "The plan cannot be applied: 2 errors (partition-decrease)" in text


def test_the_fast_path_prints_what_rich_text_would() -> None:
    """A soft-wrapping console takes the pieces as segments; the bytes are those of the Text."""
    changes = tuple(
        Change(Address.topic("dc2", f"t{i}"), a, TopicState(1), TopicState(2), "why")
        for i, a in enumerate((Action.CREATE, Action.UPDATE, Action.DELETE, Action.ADOPT))
    )
    pieces = render_human(Plan(changes, "sha256:0"))

    def printed(renderable: object) -> str:
        out = io.StringIO()
        Console(file=out, force_terminal=True, soft_wrap=True, width=40).print(renderable, end="")
        return out.getvalue()

    assert printed(pieces) == printed(pieces.to_text())
    assert "\x1b[" in printed(pieces)
    assert pieces.to_text().plain == pieces.plain


@pytest.mark.parametrize(
    "breaks",
    [
        lambda doc: doc["changes"][0]["after"].update(config=["x"]),
        lambda doc: doc.update(diagnostics=["not an object"]),
        lambda doc: doc["changes"][0].update(address="dc2.topik[x]"),
    ],
    ids=["config-not-an-object", "diagnostic-not-an-object", "not-an-address"],
)
def test_a_plan_file_of_the_wrong_shape_is_a_plan_file_error(tmp_path: Path, breaks: Any) -> None:
    change = Change(Address.topic("dc2", "x"), Action.CREATE, None, TopicState(1))
    doc = Plan((change,), "sha256:0").to_json()
    breaks(doc)
    path = tmp_path / "bad.plan"
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanFileError, match=r"bad\.plan"):
        load_plan(path)
