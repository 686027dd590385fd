"""Arrow schemas derived from contracts: the lake's schema enforcement starts here."""

from __future__ import annotations

import pyarrow as pa

from lakehouse.contracts import Column, Contract

LINEAGE_FIELDS = [
    pa.field("_batch_id", pa.string(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_source", pa.string(), nullable=False),
]
LINEAGE_COLUMNS = [f.name for f in LINEAGE_FIELDS]

QUARANTINE_SCHEMA = pa.schema(
    [
        *LINEAGE_FIELDS,
        pa.field("_stage", pa.string(), nullable=False),  # parse | gate
        pa.field("_row_number", pa.int64(), nullable=True),  # 1-based row in the delivered file
        pa.field("_rule", pa.string(), nullable=False),  # which check failed
        pa.field("_reason", pa.string(), nullable=False),  # human-readable
        pa.field("_raw", pa.string(), nullable=False),  # the row as delivered, JSON
    ]
)

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    # Delta stores timestamps as UTC instants; local Vietnamese time is a presentation concern.
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_type(column: Column) -> pa.DataType:
    precision = column.decimal_precision
    if precision:
        return pa.decimal128(*precision)
    return _SCALARS[column.type]


def contract_schema(contract: Contract, *, lineage: bool = True) -> pa.Schema:
    """Columns in contract order; nullability as declared (Delta enforces NOT NULL on write)."""
    fields = [pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in contract.columns]
    return pa.schema([*fields, *(LINEAGE_FIELDS if lineage else [])])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder and cast ``table`` to ``schema``; a missing or extra column is an error, never
    silently dropped or invented."""
    have, want = set(table.column_names), set(schema.names)
    if have != want:
        missing, extra = sorted(want - have), sorted(have - want)
        raise ValueError(f"columns do not match the contract: missing {missing}, unexpected {extra}")
    return table.select(schema.names).cast(schema)
