"""Bronze → gate → silver for one dataset, batch by batch, exactly once.

Each bronze batch not yet in silver is gated (blocking failures to quarantine, every rule's
outcome to ``ops.quality_results``), PII-protected, deduplicated on the contract key and
MERGEd into silver (Change Data Feed on). The merge carries the bronze batch's app
transaction, so a re-run skips batches that already made it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pyarrow.dataset as ds

from lakehouse.contracts import Contract
from lakehouse.ingest.bronze import append_quarantine
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, open_table, storage_options, table_uri
from lakehouse.lake.schema import LINEAGE_COLUMNS
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


def build_silver(contract: Contract, settings: Settings | None = None) -> SilverResult:
    settings = settings or get_settings()
    result = SilverResult(dataset=contract.name)
    bronze = open_table(Tier.bronze, contract.name, settings)
    keep = [*silver_columns(contract), *LINEAGE_COLUMNS]
    for batch_id in pending_batches(contract, settings):
        arrow = bronze.to_pyarrow_dataset().to_table(filter=ds.field("_batch_id") == batch_id)
        frame = pl.from_arrow(arrow)
        gate = evaluate(frame, contract, batch_id=batch_id)
        append_quarantine(
            contract, gate.rejected, stage="gate", batch_id=batch_id,
            source=frame["_source"][0], ingested_at=datetime.now(UTC), settings=settings,
        )
        record_results(gate.results, batch_id=batch_id, settings=settings)
        protected = protect(gate.passed, contract, salt=settings.pii_salt.get_secret_value())
        unique = deduplicate(protected, contract).select(keep)
        silver_schema = arrow.schema
        for name in set(arrow.schema.names) - set(keep):
            silver_schema = silver_schema.remove(silver_schema.get_field_index(name))
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
        result.warnings += sum(1 for r in gate.results.to_pylist() if not r["success"] and r["severity"] == "warn")
        log.info("%s batch %s: %d in, %d quarantined, %d merged", contract.name, batch_id,
                 frame.height, gate.rejected.height, unique.height)
    return result
