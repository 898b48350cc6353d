"""import(export(topology)) is the topology again: clusters (bootstrap, client configs, secret
references), flows in order (enabled, patterns, sync and emit settings, every MM2 property's
effective value), policy, separator, replication factor. Generated topologies, so the exporter
and importer agree on every combination, not only on the examples."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from topology_strategies import topologies

from mm2plan.core.model import Secret, Topology
from mm2plan.planning.desired import effective_properties
from mm2plan.planning.export import connect_json, mm2_properties, strimzi
from mm2plan.topology.importer import import_properties
from mm2plan.topology.loader import load_text


def canonical(t: Topology) -> tuple[Any, ...]:
    clusters = {
        alias: (
            c.bootstrap_servers,
            {k: v.raw if isinstance(v, Secret) else v for k, v in c.config.items()},
        )
        for alias, c in t.clusters.items()
    }
    flows = [
        (
            f.source,
            f.target,
            f.enabled,
            f.topics,
            f.topics_exclude,
            f.groups,
            f.groups_exclude,
            f.sync_group_offsets,
            f.sync_topic_configs,
            # A disabled flow's heartbeats are switched off (else MM2 starts its herder).
            f.emit_heartbeats if f.enabled else None,
            f.emit_checkpoints,
            effective_properties(t, f),
        )
        for f in t.flows
    ]
    d = t.defaults
    return d.replication_policy, d.separator, d.replication_factor, clusters, flows


def load(text: str) -> Topology:
    result = load_text(text, "t.yaml")
    assert not result.diagnostics.has_errors(), [d.message for d in result.diagnostics]
    assert result.topology is not None
    return result.topology


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies())
def test_import_of_an_export_is_the_same_topology(doc: dict[str, Any]) -> None:
    topology = load(yaml.safe_dump(doc))
    exported = mm2_properties(topology).files[0].text
    result = import_properties(exported, "mm2.properties")
    # The exporter writes nothing the importer must warn about.
    assert [d.message for d in result.diagnostics] == []
    assert result.text is not None
    assert canonical(load(result.text)) == canonical(topology)


@settings(max_examples=60, deadline=None)
@given(topologies())
def test_no_export_writes_a_secret_other_than_by_reference(doc: dict[str, Any]) -> None:
    literal = "s3cr3t-literal-pw"
    for c in doc["clusters"].values():
        if "sasl.password" in c["config"]:
            c["config"]["sasl.password"] = literal
        c["config"]["ssl.key.password"] = literal
    topology = load(yaml.safe_dump(doc))
    for export in (
        mm2_properties(topology),
        connect_json(topology),
        strimzi(topology),
        strimzi(topology, "v1beta2"),
    ):
        for f in export.files:
            assert literal not in f.text
        assert all(literal not in d.message + d.hint for d in export.diagnostics)
        assert all(literal not in n for n in export.needs)
