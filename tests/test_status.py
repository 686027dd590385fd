"""``ioc status``: rows, last delivery, arrival freshness against the SLA, and gate quality."""

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.ingest.bronze import land
from lakehouse.ingest.files import ingest_landing
from lakehouse.lake import delta
from lakehouse.lake.duck import lake_connection
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.pipeline.silver import build_silver
from lakehouse.quality.freshness import CHECKS_TABLE
from lakehouse.quality.gate import RESULTS_SCHEMA, RESULTS_TABLE
from lakehouse.status import dataset_status

runner = CliRunner(env={"COLUMNS": "250"})


def _land(catalog, settings, name="tourism_daily_arrivals"):
    contract = catalog[name]
    row = {"report_date": "01/06/2025", "site_code": "DL001", "site_name": "Vịnh Hạ Long", "unit_code": "193",
           "domestic_visitors": "10", "international_visitors": "2", "revenue_vnd": "1000"}
    from lakehouse.ingest.parse import parse

    result = parse(pl.DataFrame([row]), contract)
    land(contract, result.parsed, result.rejected, batch_id="b1", source="arrivals.xlsx#Hạ Long",
         settings=settings)


@pytest.fixture(scope="module")
def tourism_sources(tmp_path_factory):
    out = tmp_path_factory.mktemp("sources")
    return out, generate(out, seed=11, datasets=["tourism_daily_arrivals"]).datasets["tourism_daily_arrivals"]


@pytest.fixture
def gated_lake(catalog, lake_settings, tourism_sources):
    """Tourism's generated deliveries through ingest and the gate: a real ops.quality_results."""
    out, expected = tourism_sources
    deliver(out, lake_settings.landing_root)
    ingest_landing(catalog["tourism_daily_arrivals"], lake_settings)
    build_silver(catalog["tourism_daily_arrivals"], lake_settings)
    return expected


def test_status_lists_every_contract_with_its_last_batch(catalog, lake_settings):
    _land(catalog, lake_settings)
    rows = {s.dataset: s for s in dataset_status(catalog, lake_settings)}
    assert set(rows) == {c.name for c in catalog}
    tourism = rows["tourism_daily_arrivals"]
    assert (tourism.bronze_rows, tourism.quarantined_rows) == (1, 0)
    assert tourism.last_batch == "b1" and tourism.last_source == "arrivals.xlsx#Hạ Long"
    assert (tourism.freshness, tourism.sla) == ("fresh", "30h/54h")
    assert datetime.now(UTC) - tourism.last_ingested_at < timedelta(minutes=5)
    assert rows["traffic_incidents"].freshness == "never" and rows["traffic_incidents"].bronze_rows is None
    assert (rows["admin_units"].freshness, rows["admin_units"].sla) == ("no_sla", None)
    # No gate has run: no ops.quality_results yet, and no quality to show.
    assert (tourism.quality_pass_rate, tourism.validations, tourism.last_validation_success) == (None, 0, None)


def test_status_freshness_moves_with_time(catalog, lake_settings):
    _land(catalog, lake_settings)
    later = datetime.now(UTC) + timedelta(hours=60)
    rows = {s.dataset: s for s in dataset_status(catalog, lake_settings, now=later)}
    assert rows["tourism_daily_arrivals"].freshness == "error"


def test_status_pass_rate_reconciles_with_the_gate(catalog, lake_settings, gated_lake):
    expected = gated_lake.expected
    tourism = next(s for s in dataset_status(catalog, lake_settings) if s.dataset == "tourism_daily_arrivals")
    con = lake_connection(lake_settings)
    validations, checked, passed, last_success = con.execute(
        "select count(*), sum(rows_checked), sum(rows_passed), arg_max(success, checked_at) "
        "from ops.quality_results where dataset = 'tourism_daily_arrivals'").fetchone()
    assert tourism.validations == validations > 0
    assert checked == expected.bronze and passed == expected.bronze - expected.quarantine_gate
    assert tourism.quality_pass_rate == pytest.approx(passed / checked)
    assert 0 < tourism.quality_pass_rate < 1  # the generator injects gate defects
    # success = no blocking failure: a batch with quarantined rows is not a success.
    assert tourism.last_validation_success is last_success
    assert tourism.silver_rows == expected.silver


def test_pass_rate_sums_rows_over_validations_and_last_success_is_the_latest(catalog, lake_settings):
    def result(at: datetime, batch: str, checked: int, passed: int, success: bool) -> dict:
        return {"checked_at": at, "dataset": "water_levels", "batch_id": batch, "run_id": batch,
                "suite": "water_levels", "engine": "great_expectations", "expectations_evaluated": 5,
                "expectations_failed": 0 if success else 1, "blocking_failed": 0 if success else 1,
                "warnings_failed": 0, "rows_checked": checked, "rows_passed": passed,
                "rows_quarantined": checked - passed, "rows_warned": 0, "success": success}

    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    uri = table_uri(Tier.ops, RESULTS_TABLE, lake_settings)
    # Written out of order: the latest by checked_at (a failed batch) decides last success.
    delta.append(uri, pa.Table.from_pylist([result(t0 + timedelta(hours=2), "b3", 50, 0, False)],
                                           schema=RESULTS_SCHEMA), batch_id="quality:b3")
    delta.append(uri, pa.Table.from_pylist([result(t0, "b1", 100, 90, True),
                                            result(t0 + timedelta(hours=1), "b2", 50, 50, True)],
                                           schema=RESULTS_SCHEMA), batch_id="quality:b1")
    water = next(s for s in dataset_status(catalog, lake_settings) if s.dataset == "water_levels")
    assert water.validations == 3
    assert water.quality_pass_rate == pytest.approx(140 / 200)
    assert water.last_validation_success is False


def test_status_command(catalog, lake_settings):
    _land(catalog, lake_settings)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if "tourism_daily_arrivals" in l)
    assert "arrivals.xlsx" in line and "fresh" in line and "30h/54h" in line
    assert "never" in next(l for l in result.output.splitlines() if "traffic_incidents" in l)
    # Without --record nothing is written to ops.
    assert delta.try_open(table_uri(Tier.ops, CHECKS_TABLE, lake_settings)) is None


def test_status_command_shows_pass_rate_and_records(catalog, lake_settings, gated_lake):
    result = runner.invoke(app, ["status", "--record"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if "tourism_daily_arrivals" in l)
    expected = gated_lake.expected
    rate = (expected.bronze - expected.quarantine_gate) / expected.bronze
    assert f"{rate:.1%}" in line and "30h/54h" in line and "fresh" in line
    assert f"recorded {len(catalog)} checks in ops.{CHECKS_TABLE}" in result.stderr
    checks = delta.read(table_uri(Tier.ops, CHECKS_TABLE, lake_settings)).to_pylist()
    assert len(checks) == len(catalog)


def test_status_json(catalog, lake_settings, gated_lake):
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["dataset"]: r for r in json.loads(result.stdout)}
    tourism = rows["tourism_daily_arrivals"]
    assert (tourism["freshness"], tourism["sla"]) == ("fresh", "30h/54h")
    assert isinstance(tourism["last_validation_success"], bool)
    assert 0 < tourism["quality_pass_rate"] < 1 and tourism["validations"] > 0
    assert datetime.fromisoformat(tourism["last_ingested_at"]).tzinfo is not None
    assert rows["traffic_incidents"]["last_ingested_at"] is None
