"""The GX gate on a real batch: exact rows to quarantine, warnings pass, one ops row per validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.lake.schema import contract_schema
from lakehouse.quality.checkpoint import build_data_docs
from lakehouse.quality.gate import evaluate, record_results

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def incidents(contract, overrides: dict | None = None, n: int = 6) -> pl.DataFrame:
    rows = [{
        "incident_id": i + 1, "occurred_at": T0 + timedelta(minutes=i), "incident_type": "collision",
        "severity": 2, "road_name": "QL18", "lon": 107.08, "lat": 20.96, "unit_code": "25001",
        "injuries": 0, "fatalities": 0, "status": "reported", "reporter_phone": "0912345678",
        "updated_at": T0 + timedelta(minutes=i), "is_deleted": False,
        "_batch_id": "b1", "_ingested_at": T0 + timedelta(hours=1), "_source": "test",
    } for i in range(n)]
    for (row, column), value in (overrides or {}).items():
        rows[row][column] = value
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=contract_schema(contract)))


def test_blocking_failures_quarantine_exactly_the_failing_rows(catalog, lake_settings):
    contract = catalog["traffic_incidents"]
    frame = incidents(contract, {(1, "lon"): 110.5, (3, "status"): "vanished", (4, "lon"): 99.0,
                               (4, "severity"): 9, (2, "reporter_phone"): "12345"})
    gate = evaluate(frame, contract, batch_id="b1", settings=lake_settings)

    rejected = {json.loads(r["_raw"])["incident_id"]: r for r in gate.rejected.iter_rows(named=True)}
    assert set(rejected) == {"2", "4", "5"}  # rows 1, 3, 4 by position
    assert rejected["2"]["_rule"] == "expect_column_values_to_be_between(lon)"
    assert rejected["4"]["_rule"] == "expect_column_values_to_be_in_set(status)"
    # Every blocking failure of a row is in its reason, with the contract line it comes from.
    assert "expect_column_values_to_be_between(severity)" in rejected["5"]["_reason"]
    assert "[contract columns.lon.checks]" in rejected["5"]["_reason"]
    # The bad phone only breaks a warning: the row passes, and the warning is recorded.
    assert sorted(gate.passed["incident_id"].to_list()) == [1, 3, 6]
    assert [o.spec.rule for o in gate.warnings] == ["expect_column_values_to_match_regex(reporter_phone)"]
    assert gate.warnings[0].failed_rows == [2]

    (summary,) = gate.results.to_pylist()
    assert summary["rows_checked"] == 6 and summary["rows_quarantined"] == 3 and summary["rows_passed"] == 3
    assert summary["rows_warned"] == 1 and summary["warnings_failed"] == 1
    assert summary["blocking_failed"] == 3 and summary["success"] is False
    assert summary["expectations_evaluated"] == gate.expectations.num_rows


def test_warnings_alone_pass_every_row(catalog, lake_settings):
    contract = catalog["traffic_incidents"]
    frame = incidents(contract, {(0, "reporter_phone"): "not a phone", (1, "unit_code"): "99999"})
    gate = evaluate(frame, contract, batch_id="b2", settings=lake_settings)
    assert gate.rejected.height == 0 and gate.passed.height == frame.height
    assert {o.spec.rule for o in gate.warnings} == {"expect_column_values_to_match_regex(reporter_phone)",
                                                   "expect_column_values_to_be_in_set(unit_code)"}
    (summary,) = gate.results.to_pylist()
    assert summary["success"] is True and summary["rows_warned"] == 2


def test_a_batch_that_breaks_a_batch_wide_rule_is_quarantined_whole(catalog, lake_settings):
    contract = catalog["traffic_incidents"]
    frame = incidents(contract).with_columns(pl.col("severity").cast(pl.String))  # the wrong type
    gate = evaluate(frame, contract, batch_id="b3", settings=lake_settings)
    assert gate.passed.height == 0 and gate.rejected.height == frame.height
    assert set(gate.rejected["_rule"]) == {"expect_column_values_to_be_in_type_list(severity)"}


def test_results_land_in_ops_once_per_validation_and_data_docs_are_built(catalog, lake_settings):
    contract = catalog["traffic_incidents"]
    gate = evaluate(incidents(contract, {(0, "lon"): 0.0}), contract, batch_id="b4", settings=lake_settings)
    record_results(gate, batch_id="b4", settings=lake_settings)
    record_results(gate, batch_id="b4", settings=lake_settings)  # a retried task
    results = delta.read(table_uri(Tier.ops, "quality_results", lake_settings)).to_pylist()
    assert len(results) == 1 and results[0]["rows_quarantined"] == 1 and results[0]["engine"] == "great_expectations"
    per_expectation = delta.read(table_uri(Tier.ops, "quality_expectations", lake_settings))
    assert per_expectation.num_rows == results[0]["expectations_evaluated"]

    index = build_data_docs(lake_settings)
    assert index.exists()
    pages = " ".join(p.read_text(encoding="utf-8") for p in index.parent.rglob("*.html"))
    assert "traffic_incidents" in pages
    assert "0912345678" not in pages  # failing values are never stored: no personal data in the docs


def test_quality_commands_show_the_suite_the_results_and_the_docs(catalog, lake_settings):
    from typer.testing import CliRunner

    from lakehouse.cli import app

    runner = CliRunner(env={"COLUMNS": "250"})
    suite = runner.invoke(app, ["quality", "suite", "hydro_stations"])
    assert suite.exit_code == 0, suite.output
    assert "expect_column_pair_values_a_to_be_greater_than_b(alarm_2_cm,alarm_1_cm)" in suite.output
    assert runner.invoke(app, ["quality", "results"]).exit_code == 1  # nothing validated yet, said so

    contract = catalog["traffic_incidents"]
    gate = evaluate(incidents(contract, {(0, "lon"): 0.0}), contract, batch_id="b5", settings=lake_settings)
    record_results(gate, batch_id="b5", settings=lake_settings)
    results = runner.invoke(app, ["quality", "results", "traffic_incidents"])
    assert results.exit_code == 0, results.output
    assert "traffic_incidents" in results.output and "b5" in results.output
    docs = runner.invoke(app, ["quality", "docs"])
    assert docs.exit_code == 0 and "index.html" in docs.output
