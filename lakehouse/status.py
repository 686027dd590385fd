"""``ioc status``: every contracted dataset's bronze table, last batch, rows and source.

Freshness is judged on arrival (``_ingested_at`` of the latest batch) against the contract's
SLA: that is what an operator can act on (a source stopped delivering), whatever the dates
inside the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lakehouse.contracts import Catalog, parse_duration
from lakehouse.lake.delta import try_open
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.settings import Settings, get_settings


@dataclass(frozen=True)
class DatasetStatus:
    dataset: str
    source: str
    bronze_rows: int | None
    quarantined_rows: int
    silver_rows: int | None
    last_batch: str | None
    last_source: str | None
    last_ingested_at: datetime | None
    freshness: str  # fresh | warn | error | never | no_sla

    @property
    def age(self) -> timedelta | None:
        return None if self.last_ingested_at is None else datetime.now(UTC) - self.last_ingested_at


def _rows(tier: Tier, name: str, settings: Settings) -> int | None:
    table = try_open(table_uri(tier, name, settings), storage_options(settings))
    return None if table is None else table.count()


def dataset_status(catalog: Catalog, settings: Settings | None = None) -> list[DatasetStatus]:
    settings = settings or get_settings()
    out = []
    for contract in sorted(catalog, key=lambda c: (c.source.system, c.name)):
        bronze = try_open(table_uri(Tier.bronze, contract.name, settings), storage_options(settings))
        last_batch = last_source = last_at = None
        if bronze is not None:
            latest = next((h for h in bronze.history() if h.get("operation") == "WRITE"
                           and h.get("ioc.batch_id")), None)
            if latest:
                last_batch = latest["ioc.batch_id"]
                last_at = datetime.fromtimestamp(latest["timestamp"] / 1000, tz=UTC)
                sample = bronze.to_pyarrow_dataset().to_table(
                    columns=["_source"], filter=_batch_filter(last_batch)).column("_source")
                last_source = sample[0].as_py() if len(sample) else None
        freshness = "no_sla"
        if contract.freshness:
            if last_at is None:
                freshness = "never"
            else:
                age = datetime.now(UTC) - last_at
                freshness = ("error" if age > parse_duration(contract.freshness.error_after)
                             else "warn" if age > parse_duration(contract.freshness.warn_after) else "fresh")
        out.append(DatasetStatus(
            dataset=contract.name,
            source=f"{contract.source.kind.value}:{contract.source.system}",
            bronze_rows=None if bronze is None else bronze.count(),
            quarantined_rows=_rows(Tier.quarantine, contract.name, settings) or 0,
            silver_rows=_rows(Tier.silver, contract.name, settings),
            last_batch=last_batch, last_source=last_source, last_ingested_at=last_at, freshness=freshness,
        ))
    return out


def _batch_filter(batch_id: str):
    import pyarrow.dataset as ds

    return ds.field("_batch_id") == batch_id
