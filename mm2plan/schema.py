"""The topology JSON Schema, shipped as package data (``schemas/`` links to the same file)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_RESOURCE = "data/topology.schema.json"


@cache
def topology_schema() -> dict[str, Any]:
    text = resources.files("mm2plan").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def topology_validator() -> Draft202012Validator:
    return Draft202012Validator(topology_schema())


def subschema_properties(schema: dict[str, Any]) -> list[str]:
    """Keys a mapping may have, following one `$ref` hop; used for "did you mean"."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = topology_schema()["$defs"][name]
    return sorted(schema.get("properties", {}))
