"""Freshness SLAs judged on arrival, with time moved by an injected ``now`` (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from airflow.dag_processing.dagbag import DagBag

from lakehouse.ingest.bronze import land
from lakehouse.ingest.parse import parse
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, open_table, table_uri
from lakehouse.quality.freshness import (
    CHECKS_TABLE,
    check_freshness,
    judge,
    latest_arrival,
    record_freshness,
)
from lakehouse.settings import REPO_ROOT

ROW = {"report_date": "01/06/2025", "site_code": "DL001", "site_name": "Vịnh Hạ Long", "unit_code": "193",
       "domestic_visitors": "10", "international_visitors": "2", "revenue_vnd": "1000"}


def _land(catalog, settings, batch_id: str = "b1") -> datetime:
    """Land one tourism row (SLA 30h/54h) into bronze; the arrival is the commit time."""
    contract = catalog["tourism_daily_arrivals"]
    result = parse(pl.DataFrame([ROW]), contract)
    land(contract, result.parsed, result.rejected, batch_id=batch_id, source="arrivals.xlsx", settings=settings)
    arrival = latest_arrival(open_table(Tier.bronze, contract.name, settings))
    assert arrival is not None and arrival.batch_id == batch_id
    return arrival.at


def _checks(table) -> list[dict]:
    return table.sort_by([("checked_at", "ascending"), ("dataset", "ascending")]).to_pylist()


@pytest.mark.parametrize(("after", "state"), [
    (timedelta(minutes=1), "fresh"), (timedelta(hours=30), "fresh"),  # at the limit: still fresh
    (timedelta(hours=31), "warn"), (timedelta(hours=55), "error"),
])
def test_state_follows_the_age_of_the_last_arrival(catalog, lake_settings, after, state):
    arrived = _land(catalog, lake_settings)
    checks = {c.dataset: c for c in check_freshness(catalog, lake_settings, now=arrived + after)}
    tourism = checks["tourism_daily_arrivals"]
    assert (tourism.state, tourism.sla, tourism.last_arrival) == (state, "30h/54h", arrived)
    assert tourism.age_seconds == pytest.approx(after.total_seconds())
    assert tourism.breach is (state != "fresh")
    assert checks["traffic_incidents"].state == "never" and checks["traffic_incidents"].breach
    assert checks["admin_units"].state == "no_sla" and not checks["admin_units"].breach
    assert set(checks) == {c.name for c in catalog}


def test_a_short_sla_breaks_within_hours(catalog):
    citizen = catalog["citizen_requests"]  # 30m / 3h
    arrived = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert judge(citizen, arrived, arrived + timedelta(minutes=20)).state == "fresh"
    assert judge(citizen, arrived, arrived + timedelta(hours=1)).state == "warn"
    error = judge(citizen, arrived, arrived + timedelta(hours=4))
    assert (error.state, error.sla, error.age_seconds) == ("error", "30m/3h", 4 * 3600)


def test_a_new_batch_makes_a_late_dataset_fresh_again(catalog, lake_settings):
    first = _land(catalog, lake_settings, "b1")
    later = first + timedelta(hours=60)
    assert judge(catalog["tourism_daily_arrivals"], first, later).state == "error"
    second = _land(catalog, lake_settings, "b2")
    assert second >= first
    fresh = {c.dataset: c for c in check_freshness(catalog, lake_settings, now=second + timedelta(hours=1))}
    assert fresh["tourism_daily_arrivals"].state == "fresh"


def test_record_appends_one_row_per_dataset_per_check(catalog, lake_settings, caplog):
    arrived = _land(catalog, lake_settings)
    uri = table_uri(Tier.ops, CHECKS_TABLE, lake_settings)
    with caplog.at_level("WARNING", logger="lakehouse.quality.freshness"):
        record_freshness(catalog, lake_settings, now=arrived + timedelta(hours=1))
    assert "never: traffic_incidents" in caplog.text and "tourism_daily_arrivals" not in caplog.text
    record_freshness(catalog, lake_settings, now=arrived + timedelta(hours=60))
    record_freshness(catalog, lake_settings, now=arrived + timedelta(hours=60))  # same check: no-op

    rows = _checks(delta.read(uri))
    assert len(rows) == 2 * len(catalog)
    assert len({r["checked_at"] for r in rows}) == 2
    tourism = [r for r in rows if r["dataset"] == "tourism_daily_arrivals"]
    assert [(r["state"], r["breach"]) for r in tourism] == [("fresh", False), ("error", True)]
    assert tourism[1]["age_seconds"] == pytest.approx(60 * 3600)
    assert (tourism[1]["warn_after"], tourism[1]["error_after"]) == ("30h", "54h")
    assert tourism[1]["last_arrival"] == arrived
    never = next(r for r in rows if r["dataset"] == "traffic_incidents")
    assert (never["state"], never["last_arrival"], never["age_seconds"], never["breach"]) == (
        "never", None, None, True)
    assert {r["state"] for r in rows if r["dataset"] == "admin_units"} == {"no_sla"}


@pytest.mark.slow
def test_dag_records_a_check(catalog, lake_settings, airflow_db):
    _land(catalog, lake_settings)
    bag = DagBag(str(REPO_ROOT / "dags" / "ops_freshness.py"))
    assert bag.import_errors == {}
    run = bag.dags["ops_freshness"].test()
    assert str(run.state) == "success"
    rows = delta.read(table_uri(Tier.ops, CHECKS_TABLE, lake_settings)).to_pylist()
    assert {r["dataset"] for r in rows} == {c.name for c in catalog}
    assert next(r for r in rows if r["dataset"] == "tourism_daily_arrivals")["state"] == "fresh"
