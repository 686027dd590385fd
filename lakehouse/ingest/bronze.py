"""Land one delivered batch: good rows to bronze, rejected rows to quarantine, once.

Quarantine is written before bronze and both carry the batch's Delta app transaction, so a
crash between the two writes is repaired by simply re-running the batch: the finished write
is skipped, the missing one is made, and ``rows in = bronze + quarantine`` holds again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from lakehouse.contracts import Contract
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.lake.schema import QUARANTINE_SCHEMA, contract_schema
from lakehouse.settings import Settings, get_settings


@dataclass(frozen=True)
class LandResult:
    dataset: str
    batch_id: str
    bronze_rows: int
    quarantined_rows: int
    skipped: bool  # the batch had already landed: nothing was written

    @property
    def rows_in(self) -> int:
        return self.bronze_rows + self.quarantined_rows


def quarantine_table(
    rejected: pl.DataFrame, *, stage: str, batch_id: str, source: str, ingested_at: datetime
) -> pa.Table:
    """Rows with ``_row_number``, ``_rule``, ``_reason``, ``_raw`` → the quarantine schema."""
    frame = rejected.select(
        pl.lit(batch_id).alias("_batch_id"),
        pl.lit(ingested_at).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
        pl.lit(source).alias("_source"),
        pl.lit(stage).alias("_stage"),
        pl.col("_row_number").cast(pl.Int64),
        pl.col("_rule").cast(pl.String),
        pl.col("_reason").cast(pl.String),
        pl.col("_raw").cast(pl.String),
    )
    return frame.to_arrow().cast(QUARANTINE_SCHEMA)


def bronze_table(parsed: pl.DataFrame, contract: Contract, *, batch_id: str, source: str,
                 ingested_at: datetime) -> pa.Table:
    frame = parsed.select(
        *(pl.col(c.name) for c in contract.columns),
        pl.lit(batch_id).alias("_batch_id"),
        pl.lit(ingested_at).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
        pl.lit(source).alias("_source"),
    )
    return frame.to_arrow().cast(contract_schema(contract))


def append_quarantine(
    contract: Contract,
    rejected: pl.DataFrame,
    *,
    stage: str,
    batch_id: str,
    source: str,
    ingested_at: datetime,
    settings: Settings,
) -> delta.WriteResult:
    """Append rejected rows, even none: the empty commit's txn records the batch was checked."""
    return delta.append(
        table_uri(Tier.quarantine, contract.name, settings),
        quarantine_table(rejected, stage=stage, batch_id=batch_id, source=source, ingested_at=ingested_at),
        batch_id=f"{batch_id}:{stage}",
        storage_options=storage_options(settings),
    )


def land(
    contract: Contract,
    parsed: pl.DataFrame,
    rejected: pl.DataFrame,
    *,
    batch_id: str,
    source: str,
    settings: Settings | None = None,
    ingested_at: datetime | None = None,
) -> LandResult:
    settings = settings or get_settings()
    ingested_at = ingested_at or datetime.now(UTC)
    options = storage_options(settings)
    bronze_uri = table_uri(Tier.bronze, contract.name, settings)
    quarantined = append_quarantine(
        contract, rejected, stage="parse", batch_id=batch_id, source=source,
        ingested_at=ingested_at, settings=settings,
    )
    landed = delta.append(
        bronze_uri,
        bronze_table(parsed, contract, batch_id=batch_id, source=source, ingested_at=ingested_at),
        batch_id=batch_id,
        partition_by=contract.partition_by or None,
        storage_options=options,
    )
    return LandResult(
        dataset=contract.name,
        batch_id=batch_id,
        bronze_rows=parsed.height,
        quarantined_rows=rejected.height,
        skipped=landed.skipped and quarantined.skipped,
    )
