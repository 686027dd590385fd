"""Access to the lake, generated from the contracts: who reads which table, which rows, which
columns masked. Trino's rules, the SQL gateway, Superset's roles and the open-data export all
read :class:`AccessPolicy`; nothing about access is written anywhere else."""

from lakehouse.access.lineage import GoldLineage, gold_lineage, load_manifest
from lakehouse.access.policy import (
    OPERATIONS,
    PLATFORM,
    PUBLIC,
    AccessPolicy,
    TableAccess,
    TableInfo,
    build_policy,
    load_policy,
    render_row_filter,
    unit_area,
)

__all__ = [
    "OPERATIONS",
    "PLATFORM",
    "PUBLIC",
    "AccessPolicy",
    "GoldLineage",
    "TableAccess",
    "TableInfo",
    "build_policy",
    "gold_lineage",
    "load_manifest",
    "load_policy",
    "render_row_filter",
    "unit_area",
]
