"""Which contracts each gold table is made of, read from dbt's parsed project.

A gold mart has no contract of its own: it is built from silver tables that do. Its access
follows from theirs (a department reads a mart only if it may read everything the mart is
made of), so the lineage is read from the manifest dbt already writes, never typed again.
The tables the platform's Spark jobs write (forecasts, the video index) name what they read
in ``lakehouse.pipeline.platform_tables``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.contracts import Classification

# The dbt sources that read the lake: silver tables are contracts; ``ml`` and ``video`` are
# the platform tables (gold) the Spark jobs write.
SILVER_SOURCE = "silver"


@dataclass(frozen=True)
class GoldLineage:
    """A gold table and the contracts it is derived from."""

    name: str
    sources: frozenset[str]  # contract (dataset) names, transitively
    columns: tuple[str, ...]  # documented columns (models) or fixed schema (platform tables)
    description: str = ""
    owner: str | None = None  # the model's meta.owner, when it declares one
    classification: Classification | None = None  # meta.classification, when declared
    reads: tuple[str, ...] = field(default=())  # direct upstream lake tables, "tier.name"


def _platform_reads() -> dict[str, tuple[tuple[str, ...], tuple[str, ...], str]]:
    """Platform table → (tables it reads, its columns, description)."""
    from lakehouse.pipeline.platform_tables import platform_tables

    return {t.name: (t.reads, tuple(t.schema.names), t.description) for t in platform_tables()}


def gold_lineage(manifest: dict) -> dict[str, GoldLineage]:
    """Every gold table: dbt marts (models in ``marts/``) and the platform tables."""
    nodes, sources = manifest["nodes"], manifest["sources"]
    platform = _platform_reads()
    by_name = {n["name"]: uid for uid, n in nodes.items() if n["resource_type"] == "model"}
    memo: dict[str, frozenset[str]] = {}

    def contracts_of_table(table: str) -> frozenset[str]:
        tier, _, name = table.partition(".")
        if tier == "silver":
            return frozenset({name})
        if name in platform:
            return frozenset().union(*(contracts_of_table(t) for t in platform[name][0]))
        return contracts_of_node(by_name[name])

    def contracts_of_node(uid: str) -> frozenset[str]:
        if uid in memo:
            return memo[uid]
        memo[uid] = frozenset()  # a cycle cannot happen in dbt; guard anyway
        found: set[str] = set()
        for parent in nodes[uid]["depends_on"]["nodes"]:
            if parent.startswith("source."):
                source = sources[parent]
                if source["source_name"] == SILVER_SOURCE:
                    found.add(source["name"])
                else:
                    found |= contracts_of_table(f"gold.{source['name']}")
            elif parent.startswith("model."):
                found |= contracts_of_node(parent)
            # seeds are generated from catalog/ (departments, datasets): reference, no data
        memo[uid] = frozenset(found)
        return memo[uid]

    lineage: dict[str, GoldLineage] = {}
    for uid, node in nodes.items():
        if node["resource_type"] != "model" or node["fqn"][1] != "marts":
            continue
        meta = {**node.get("meta", {}), **node["config"].get("meta", {})}
        declared = meta.get("classification")
        lineage[node["name"]] = GoldLineage(
            name=node["name"], sources=contracts_of_node(uid), columns=tuple(node["columns"]),
            description=" ".join(node.get("description", "").split()), owner=meta.get("owner"),
            classification=Classification(declared) if declared else None,
            reads=tuple(sorted(_direct_reads(node, nodes, sources))))
    for name, (reads, columns, description) in platform.items():
        lineage[name] = GoldLineage(
            name=name, sources=frozenset().union(*(contracts_of_table(t) for t in reads)),
            columns=columns, description=description, reads=reads)
    return lineage


def _direct_reads(node: dict, nodes: dict, sources: dict) -> set[str]:
    """The lake tables a mart reads, through its staging and intermediate models."""
    found: set[str] = set()
    for parent in node["depends_on"]["nodes"]:
        if parent.startswith("source."):
            source = sources[parent]
            tier = "silver" if source["source_name"] == SILVER_SOURCE else "gold"
            found.add(f"{tier}.{source['name']}")
        elif parent.startswith("model."):
            upstream = nodes[parent]
            if upstream["fqn"][1] == "marts":
                found.add(f"gold.{upstream['name']}")
            else:
                found |= _direct_reads(upstream, nodes, sources)
    return found


def load_manifest(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


__all__ = ["GoldLineage", "gold_lineage", "load_manifest"]
