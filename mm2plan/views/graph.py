"""`mm2plan graph` renderers: text, Graphviz dot, Mermaid and JSON, from a TopologyGraph.

Each returns a whole document, ending with a newline like any text file (`graph -f dot >
topology.dot`); the command prints it as it is."""

from __future__ import annotations

import json
from typing import Any

from mm2plan.core.graph import Placement, TopologyGraph
from mm2plan.core.model import Flow
from mm2plan.views import count
from mm2plan.views.diagnostics import FORMAT_VERSION


def _flows(g: TopologyGraph) -> list[Flow]:
    return sorted(g.usable_flows(), key=lambda f: (f.source, f.target))


def _flow_label(flow: Flow) -> str:
    return ", ".join(flow.topics)


def _document(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _topics(g: TopologyGraph, cluster: str) -> list[Placement]:
    """First arrival of each topic the cluster holds, local topics first."""
    held = [arr[0] for arr in g.topics_on(cluster).values()]
    return sorted(held, key=lambda p: (p.is_remote, p.topic))


def _placement_text(p: Placement) -> str:
    if not p.is_remote:
        return f"{p.topic} (MM2 heartbeats)" if p.heartbeats else f"{p.topic} (local)"
    return f"{p.topic} <- {p.source_cluster}:{p.source_topic}"


def render_text(g: TopologyGraph, topics: bool) -> str:
    lines = []
    policy = g.topology.defaults.replication_policy
    lines.append(
        f"{count(len(g.cluster_aliases()), 'cluster')}, {count(len(g.usable_flows()), 'flow')} "
        f"(replication policy: {policy})"
    )
    for cluster in g.cluster_aliases():
        lines.append("")
        lines.append(cluster)
        for f in sorted(g.flows_out_of(cluster), key=lambda f: f.target):
            lines.append(f"  -> {f.target}  topics: {', '.join(f.topics)}")
        for f in sorted(g.flows_into(cluster), key=lambda f: f.source):
            lines.append(f"  <- {f.source}")
        if topics:
            held = _topics(g, cluster)
            lines.append(f"  topics ({len(held)}):")
            lines.extend(f"    {_placement_text(p)}" for p in held)
    return _document(lines)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(g: TopologyGraph, topics: bool) -> str:
    lines = ["digraph mm2plan {", "  rankdir=LR;", "  node [shape=box];"]
    for cluster in g.cluster_aliases():
        label = cluster
        if topics:
            label += "\\n" + "\\n".join(_placement_text(p) for p in _topics(g, cluster))
        lines.append(f"  {_quote(cluster)} [label={_quote(label)}];")
    for f in _flows(g):
        lines.append(
            f"  {_quote(f.source)} -> {_quote(f.target)} [label={_quote(_flow_label(f))}];"
        )
    lines.append("}")
    return _document(lines)


def _mermaid_id(s: str) -> str:
    return "c_" + "".join(ch if ch.isalnum() else "_" for ch in s)


def render_mermaid(g: TopologyGraph, topics: bool) -> str:
    lines = ["flowchart LR"]
    for cluster in g.cluster_aliases():
        label = cluster
        if topics:
            label += "<br/>" + "<br/>".join(
                _placement_text(p).replace("<-", "&larr;") for p in _topics(g, cluster)
            )
        lines.append(f'  {_mermaid_id(cluster)}["{label}"]')
    for f in _flows(g):
        label = _flow_label(f).replace('"', "'").replace("|", "/")
        lines.append(f'  {_mermaid_id(f.source)} -->|"{label}"| {_mermaid_id(f.target)}')
    return _document(lines)


def render_json(g: TopologyGraph, topics: bool) -> str:
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "replication_policy": g.topology.defaults.replication_policy,
        "clusters": g.cluster_aliases(),
        "flows": [
            {"source": f.source, "target": f.target, "topics": list(f.topics)} for f in _flows(g)
        ],
    }
    if topics:
        doc["topics"] = {
            c: [
                {
                    "name": p.topic,
                    "origin_cluster": p.origin_cluster,
                    "origin_topic": p.origin_topic,
                    "source_cluster": p.source_cluster,
                    "source_topic": p.source_topic,
                    "hops": list(p.hops),
                }
                for p in _topics(g, c)
            ]
            for c in g.cluster_aliases()
        }
    return json.dumps(doc, indent=2) + "\n"


RENDERERS = {"text": render_text, "dot": render_dot, "mermaid": render_mermaid, "json": render_json}
