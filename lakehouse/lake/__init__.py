"""The lake: Delta tables in tiers under ``LAKE_ROOT``, written by delta-rs, read by DuckDB."""

from lakehouse.lake.delta import (
    WriteResult,
    append,
    batch_committed,
    history,
    merge,
    optimize,
    overwrite_partition,
    read,
    replace,
    vacuum,
)
from lakehouse.lake.paths import Tier, list_tables, open_table, storage_options, table_uri
from lakehouse.lake.schema import (
    LINEAGE_COLUMNS,
    QUARANTINE_SCHEMA,
    arrow_type,
    conform,
    contract_schema,
)

__all__ = [
    "LINEAGE_COLUMNS",
    "QUARANTINE_SCHEMA",
    "Tier",
    "WriteResult",
    "append",
    "arrow_type",
    "batch_committed",
    "conform",
    "contract_schema",
    "history",
    "list_tables",
    "merge",
    "open_table",
    "optimize",
    "overwrite_partition",
    "read",
    "replace",
    "storage_options",
    "table_uri",
    "vacuum",
]
