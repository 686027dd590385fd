"""The lake: Delta tables in tiers under ``LAKE_ROOT``, written by delta-rs, read by DuckDB."""

from importlib import import_module

# Public names, imported on first use (PEP 562): DAG files import light helpers from this
# package at parse time and must not pay for delta-rs and Arrow.
_EXPORTS = {
    **dict.fromkeys(["WriteResult", "append", "batch_committed", "history", "merge", "overwrite_partition",
                     "read", "replace"], "lakehouse.lake.delta"),
    **dict.fromkeys(["MaintenancePolicy", "maintain_lake", "maintain_table"], "lakehouse.lake.maintenance"),
    **dict.fromkeys(["Tier", "list_tables", "open_table", "storage_options", "table_uri"], "lakehouse.lake.paths"),
    **dict.fromkeys(["LINEAGE_COLUMNS", "QUARANTINE_SCHEMA", "arrow_type", "conform", "contract_schema"],
                    "lakehouse.lake.schema"),
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lakehouse.lake' has no attribute {name!r}")


__all__ = [
    "LINEAGE_COLUMNS",
    "QUARANTINE_SCHEMA",
    "MaintenancePolicy",
    "Tier",
    "WriteResult",
    "append",
    "arrow_type",
    "batch_committed",
    "conform",
    "contract_schema",
    "history",
    "list_tables",
    "maintain_lake",
    "maintain_table",
    "merge",
    "open_table",
    "overwrite_partition",
    "read",
    "replace",
    "storage_options",
    "table_uri",
]
