"""Freshness SLAs judged on arrival, and their record in ``ops.freshness_checks``.

A contract's ``freshness`` (``warn_after`` / ``error_after``) is judged on when data last
*arrived*: the commit time of the latest batch written to ``bronze.<dataset>``, not the dates
inside the data. That is what an operator can act on (a department stopped delivering),
whatever a late file says about the past. ``now`` is injectable everywhere so a test (or a
back-fill of checks) can judge "four hours later" without waiting four hours.

Every check run appends one row per contracted dataset to ``ops.freshness_checks``; the
history answers "how often, and for how long, was this source late?".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pyarrow as pa
from deltalake import DeltaTable

from lakehouse.contracts import Catalog, Contract, parse_duration
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, open_table, storage_options, table_uri
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

State = Literal["fresh", "warn", "error", "never", "no_sla"]
BREACHES: frozenset[str] = frozenset({"warn", "error", "never"})
CHECKS_TABLE = "freshness_checks"
_TS = pa.timestamp("us", tz="UTC")
CHECKS_SCHEMA = pa.schema([
    pa.field("checked_at", _TS, nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("last_arrival", _TS),
    pa.field("warn_after", pa.string()),
    pa.field("error_after", pa.string()),
    pa.field("age_seconds", pa.float64()),
    pa.field("state", pa.string(), nullable=False),
    pa.field("breach", pa.bool_(), nullable=False),
])


@dataclass(frozen=True)
class Arrival:
    """The latest batch committed to a bronze table."""

    batch_id: str
    at: datetime


@dataclass(frozen=True)
class FreshnessCheck:
    dataset: str
    last_arrival: datetime | None
    warn_after: str | None
    error_after: str | None
    age_seconds: float | None
    state: State

    @property
    def breach(self) -> bool:
        return self.state in BREACHES

    @property
    def sla(self) -> str | None:
        """``warn/error`` as written in the contract, e.g. ``30m/3h``."""
        return None if self.warn_after is None else f"{self.warn_after}/{self.error_after}"


def latest_arrival(bronze: DeltaTable | None) -> Arrival | None:
    """The newest WRITE commit that carries a batch id (history is newest first); maintenance
    commits (optimize, vacuum) are not deliveries and do not make a dataset fresh."""
    if bronze is None:
        return None
    for entry in bronze.history():
        if entry.get("operation") == "WRITE" and entry.get("ioc.batch_id"):
            return Arrival(entry["ioc.batch_id"], datetime.fromtimestamp(entry["timestamp"] / 1000, tz=UTC))
    return None


def judge(contract: Contract, arrived: datetime | None, now: datetime | None = None) -> FreshnessCheck:
    """One dataset's state: ``error`` past ``error_after``, ``warn`` past ``warn_after``,
    ``never`` if nothing ever arrived, ``no_sla`` if the contract sets none."""
    now = now or datetime.now(UTC)
    age = None if arrived is None else (now - arrived).total_seconds()
    sla = contract.freshness
    state: State
    if sla is None:
        state = "no_sla"
    elif age is None:
        state = "never"
    elif age > parse_duration(sla.error_after).total_seconds():
        state = "error"
    elif age > parse_duration(sla.warn_after).total_seconds():
        state = "warn"
    else:
        state = "fresh"
    return FreshnessCheck(
        dataset=contract.name, last_arrival=arrived,
        warn_after=sla.warn_after if sla else None, error_after=sla.error_after if sla else None,
        age_seconds=age, state=state,
    )


def check_freshness(catalog: Catalog, settings: Settings | None = None,
                    now: datetime | None = None) -> list[FreshnessCheck]:
    """Every contracted dataset judged at the same ``now`` (sorted by name)."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    checks = []
    for contract in sorted(catalog, key=lambda c: c.name):
        arrival = latest_arrival(open_table(Tier.bronze, contract.name, settings))
        checks.append(judge(contract, arrival.at if arrival else None, now))
    return checks


def record_freshness(catalog: Catalog, settings: Settings | None = None,
                     now: datetime | None = None) -> list[FreshnessCheck]:
    """Judge every dataset and append the run to ``ops.freshness_checks``; breaches are logged
    as warnings. The batch id is the check's time, so re-recording the same instant is a no-op."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    checks = check_freshness(catalog, settings, now)
    for c in checks:
        if c.breach:
            log.warning("freshness %s: %s (last arrival %s, SLA %s)", c.state, c.dataset,
                        c.last_arrival.isoformat() if c.last_arrival else "never", c.sla)
    rows = pa.Table.from_pylist([{
        "checked_at": now, "dataset": c.dataset, "last_arrival": c.last_arrival,
        "warn_after": c.warn_after, "error_after": c.error_after, "age_seconds": c.age_seconds,
        "state": c.state, "breach": c.breach,
    } for c in checks], schema=CHECKS_SCHEMA)
    delta.append(table_uri(Tier.ops, CHECKS_TABLE, settings), rows,
                 batch_id=f"freshness:{now.astimezone(UTC).isoformat()}",
                 storage_options=storage_options(settings))
    return checks
