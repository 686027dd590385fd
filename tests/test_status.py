"""``ioc status``: rows, last delivery and arrival freshness per contracted dataset."""

from datetime import UTC, datetime, timedelta

import polars as pl
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.ingest.bronze import land
from lakehouse.status import dataset_status


def _land(catalog, settings, name="tourism_daily_arrivals"):
    contract = catalog[name]
    row = {"report_date": "01/06/2025", "site_code": "DL001", "site_name": "Vịnh Hạ Long", "unit_code": "193",
           "domestic_visitors": "10", "international_visitors": "2", "revenue_vnd": "1000"}
    from lakehouse.ingest.parse import parse

    result = parse(pl.DataFrame([row]), contract)
    land(contract, result.parsed, result.rejected, batch_id="b1", source="arrivals.xlsx#Hạ Long",
         settings=settings)


def test_status_lists_every_contract_with_its_last_batch(catalog, lake_settings):
    _land(catalog, lake_settings)
    rows = {s.dataset: s for s in dataset_status(catalog, lake_settings)}
    assert set(rows) == {c.name for c in catalog}
    tourism = rows["tourism_daily_arrivals"]
    assert (tourism.bronze_rows, tourism.quarantined_rows) == (1, 0)
    assert tourism.last_batch == "b1" and tourism.last_source == "arrivals.xlsx#Hạ Long"
    assert tourism.freshness == "fresh"
    assert datetime.now(UTC) - tourism.last_ingested_at < timedelta(minutes=5)
    assert rows["traffic_incidents"].freshness == "never" and rows["traffic_incidents"].bronze_rows is None
    assert rows["admin_units"].freshness == "no_sla"


def test_status_command(catalog, lake_settings):
    _land(catalog, lake_settings)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if "tourism_daily_arrivals" in l)
    assert "arrivals.xlsx" in line and "fresh" in line
