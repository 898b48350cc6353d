"""The topology file: YAML with source marks, the JSON Schema, loading, dumping, validation.

May import: mm2plan.core, yaml, jsonschema/fastjsonschema. No cluster is ever contacted here.
"""
