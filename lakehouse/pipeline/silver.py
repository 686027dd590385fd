"""Bronze → gate → silver for one dataset, batch by batch, exactly once.

Each bronze batch not yet in silver is validated by its Great Expectations suite (blocking
failures to quarantine, every outcome to ``ops``), placed on the administrative map of its
event date, PII-protected, deduplicated on the contract key (newest version wins) and MERGEd
into silver (Change Data Feed on). Timestamps are UTC from parsing on (naive local times were
read as Asia/Ho_Chi_Minh). The merge carries the bronze batch's app transaction, so a re-run
skips batches that already made it, and a crash before it leaves silver as it was.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

from lakehouse.contracts import Contract
from lakehouse.ingest.bronze import append_quarantine
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, open_table, storage_options, table_uri
from lakehouse.lake.schema import LINEAGE_COLUMNS
from lakehouse.pipeline.conform import added_columns, attach_units
from lakehouse.pipeline.pii import protect, silver_columns
from lakehouse.quality.gate import evaluate, record_results
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class SilverResult:
    dataset: str
    batches: list[str] = field(default_factory=list)
    rows_in: int = 0
    quarantined: int = 0
    merged: int = 0
    duplicates_removed: int = 0
    warnings: int = 0
    validation_seconds: float = 0.0


def version_column(contract: Contract) -> str:
    """What makes one row of a key newer than another: the source's watermark (a database's
    ``updated_at``) where it has one, else the order of delivery."""
    watermark = contract.source.options.get("watermark")
    return str(watermark) if watermark else "_ingested_at"


def deduplicate(frame: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """One row per key: the newest version wins (then the latest delivery)."""
    order = list(dict.fromkeys([version_column(contract), "_ingested_at"]))
    return frame.sort(order, nulls_last=False).unique(subset=contract.primary_key, keep="last", maintain_order=True)


def pending_batches(contract: Contract, settings: Settings) -> list[str]:
    """Bronze batches not yet in silver, in the order they arrived."""
    bronze = open_table(Tier.bronze, contract.name, settings)
    if bronze is None:
        return []
    arrivals = pl.from_arrow(bronze.to_pyarrow_table(columns=["_batch_id", "_ingested_at"]))
    ordered = arrivals.group_by("_batch_id").agg(pl.col("_ingested_at").min()).sort("_ingested_at", "_batch_id")
    silver = open_table(Tier.silver, contract.name, settings)  # once, not once per batch
    if silver is None:
        return ordered["_batch_id"].to_list()
    return [b for b in ordered["_batch_id"] if silver.transaction_version(delta.app_id(b)) is None]


def silver_arrow_schema(contract: Contract, bronze: pa.Schema) -> pa.Schema:
    """Bronze's schema less the dropped PII, plus what conformance adds (``unit_code``)."""
    keep = set(silver_columns(contract)) | set(LINEAGE_COLUMNS)
    schema = pa.schema([f for f in bronze if f.name in keep])
    for name in added_columns(contract):
        schema = schema.insert(len(silver_columns(contract)), pa.field(name, pa.string()))
    return schema


def build_silver(contract: Contract, settings: Settings | None = None) -> SilverResult:
    settings = settings or get_settings()
    result = SilverResult(dataset=contract.name)
    bronze = open_table(Tier.bronze, contract.name, settings)
    keep = [*silver_columns(contract), *added_columns(contract), *LINEAGE_COLUMNS]
    for batch_id in pending_batches(contract, settings):
        arrow = bronze.to_pyarrow_dataset().to_table(filter=ds.field("_batch_id") == batch_id)
        frame = pl.from_arrow(arrow)
        started = time.perf_counter()
        gate = evaluate(frame, contract, batch_id=batch_id, settings=settings)
        result.validation_seconds += time.perf_counter() - started
        append_quarantine(
            contract, gate.rejected, stage="gate", batch_id=batch_id,
            source=frame["_source"][0], ingested_at=datetime.now(UTC), settings=settings,
        )
        record_results(gate, batch_id=batch_id, settings=settings)
        placed = attach_units(gate.passed, contract, settings.timezone)
        protected = protect(placed, contract, salt=settings.pii_salt.get_secret_value())
        unique = deduplicate(protected, contract).select(keep)
        silver_schema = silver_arrow_schema(contract, arrow.schema)
        delta.merge(
            table_uri(Tier.silver, contract.name, settings),
            unique.to_arrow().cast(silver_schema),
            keys=contract.primary_key,
            batch_id=batch_id,
            order_by=version_column(contract),
            soft_delete=contract.source.options.get("soft_delete") or None,
            partition_by=contract.partition_by or None,
            storage_options=storage_options(settings),
        )
        result.batches.append(batch_id)
        result.rows_in += frame.height
        result.quarantined += gate.rejected.height
        result.merged += unique.height
        result.duplicates_removed += gate.passed.height - unique.height
        result.warnings += len(gate.warnings)
        log.info("%s batch %s: %d in, %d quarantined, %d merged", contract.name, batch_id,
                 frame.height, gate.rejected.height, unique.height)
    return result
