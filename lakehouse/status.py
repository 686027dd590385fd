"""``ioc status``: every contracted dataset's tiers, last delivery, freshness and quality.

Freshness is judged on arrival (the latest bronze batch's commit) against the contract's SLA
by :mod:`lakehouse.quality.freshness`: that is what an operator can act on (a source stopped
delivering), whatever the dates inside the data. Quality is the share of checked rows that
passed the gate, over every validation in ``ops.quality_results``: one number that says
whether a department's deliveries are getting better or worse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from lakehouse.contracts import Catalog
from lakehouse.lake.paths import Tier, open_table
from lakehouse.quality.freshness import State, judge, latest_arrival
from lakehouse.settings import Settings, get_settings


@dataclass(frozen=True)
class QualitySummary:
    validations: int
    rows_checked: int
    rows_passed: int
    last_success: bool

    @property
    def pass_rate(self) -> float | None:
        return None if self.rows_checked == 0 else self.rows_passed / self.rows_checked


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
    freshness: State
    sla: str | None = None  # "warn/error" as in the contract, e.g. "30m/3h"
    quality_pass_rate: float | None = None  # rows passed / rows checked, all validations
    validations: int = 0
    last_validation_success: bool | None = None

    @property
    def age(self) -> timedelta | None:
        return None if self.last_ingested_at is None else datetime.now(UTC) - self.last_ingested_at

    def as_dict(self) -> dict:
        """JSON-ready (datetimes as ISO strings)."""
        out = asdict(self)
        out["last_ingested_at"] = self.last_ingested_at.isoformat() if self.last_ingested_at else None
        return out


def _rows(tier: Tier, name: str, settings: Settings) -> int | None:
    table = open_table(tier, name, settings)
    return None if table is None else table.count()


def quality_summary(settings: Settings | None = None) -> dict[str, QualitySummary]:
    """Per dataset, from ``ops.quality_results`` (empty before the first gate run)."""
    import polars as pl

    from lakehouse.quality.gate import RESULTS_TABLE

    table = open_table(Tier.ops, RESULTS_TABLE, settings or get_settings())
    if table is None:
        return {}
    columns = ["dataset", "checked_at", "rows_checked", "rows_passed", "success"]
    frame = pl.from_arrow(table.to_pyarrow_table(columns=columns))
    grouped = frame.group_by("dataset").agg(
        pl.len().alias("validations"), pl.col("rows_checked").sum(), pl.col("rows_passed").sum(),
        pl.col("success").sort_by("checked_at").last().alias("last_success"),
    )
    return {r["dataset"]: QualitySummary(r["validations"], r["rows_checked"], r["rows_passed"],
                                         r["last_success"]) for r in grouped.iter_rows(named=True)}


def dataset_status(catalog: Catalog, settings: Settings | None = None,
                   now: datetime | None = None) -> list[DatasetStatus]:
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    quality = quality_summary(settings)
    out = []
    for contract in sorted(catalog, key=lambda c: (c.source.system, c.name)):
        bronze = open_table(Tier.bronze, contract.name, settings)
        arrival = latest_arrival(bronze)
        last_source = None
        if arrival is not None:
            sample = bronze.to_pyarrow_dataset().to_table(
                columns=["_source"], filter=_batch_filter(arrival.batch_id)).column("_source")
            last_source = sample[0].as_py() if len(sample) else None
        fresh = judge(contract, arrival.at if arrival else None, now)
        q = quality.get(contract.name)
        out.append(DatasetStatus(
            dataset=contract.name,
            source=f"{contract.source.kind.value}:{contract.source.system}",
            bronze_rows=None if bronze is None else bronze.count(),
            quarantined_rows=_rows(Tier.quarantine, contract.name, settings) or 0,
            silver_rows=_rows(Tier.silver, contract.name, settings),
            last_batch=arrival.batch_id if arrival else None, last_source=last_source,
            last_ingested_at=arrival.at if arrival else None, freshness=fresh.state, sla=fresh.sla,
            quality_pass_rate=q.pass_rate if q else None, validations=q.validations if q else 0,
            last_validation_success=q.last_success if q else None,
        ))
    return out


def _batch_filter(batch_id: str):
    import pyarrow.dataset as ds

    return ds.field("_batch_id") == batch_id
