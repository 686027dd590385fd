"""The vertical slice under real Airflow: Tourism's XLSX → bronze → gate → silver → dbt gold,
reconciled row by row against the generator's manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.lake.duck import lake_connection
from lakehouse.settings import REPO_ROOT

pytestmark = pytest.mark.slow
DAG_ORDER = ["ingest_reference", "ingest_tourism_reports", "silver_admin_units",
             "silver_tourism_daily_arrivals", "gold_dbt"]
PARSE_KINDS = {"bad_date", "wrong_type", "missing_key"}


def _run(bag: DagBag) -> None:
    for dag_id in DAG_ORDER:
        run = bag.dags[dag_id].test()
        assert str(run.state) == "success", dag_id


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_tourism_slice_end_to_end(lake_settings, airflow_db, tmp_path: Path):
    sources = tmp_path / "sources"
    manifest = generate(sources, seed=7, datasets=["admin_units", "tourism_daily_arrivals"])
    expected = manifest.datasets["tourism_daily_arrivals"]
    deliver(sources, lake_settings.landing_root)
    bag = DagBag(str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    _run(bag)

    con = lake_connection(lake_settings)
    quarantine = "quarantine.tourism_daily_arrivals"
    bronze = _count(con, "select count(*) from bronze.tourism_daily_arrivals")
    parsed_out = _count(con, f"select count(*) from {quarantine} where _stage = 'parse'")
    gated_out = _count(con, f"select count(*) from {quarantine} where _stage = 'gate'")
    silver = _count(con, "select count(*) from silver.tourism_daily_arrivals")
    # Rows in = bronze + quarantine; then the gate and the dedup as the manifest predicts.
    assert bronze + parsed_out == expected.rows_total
    assert (bronze, parsed_out, gated_out, silver) == (
        expected.expected.bronze, expected.expected.quarantine_parse,
        expected.expected.quarantine_gate, expected.expected.silver)

    # Every injected parse defect is in quarantine at its row, with its kind as the reason.
    reasons = {(src, row): reason for src, row, reason in con.execute(
        f"select _source, _row_number, _reason from {quarantine} where _stage = 'parse'").fetchall()}
    for defect in expected.defect_rows:
        if defect.kind in PARSE_KINDS:
            key = (f"{Path(defect.file).name}#{defect.sheet}", defect.row)
            assert reasons[key].startswith(defect.kind), (key, reasons.get(key))
    # ... and the gate's rejections name the GX expectation the injected values break.
    assert {r for (r,) in con.execute(f"select distinct split_part(_rule, '(', 1) from {quarantine} "
                                      "where _stage = 'gate'").fetchall()} <= {
        "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex"}

    # Gold: every silver row, placed on the administrative unit valid on its date.
    gold = _count(con, "select count(*) from gold.tourism_daily")
    assert gold == silver
    assert _count(con, "select count(*) from gold.tourism_daily where unit_name_vi is null") == 0
    halong = con.execute("select sum(total_visitors) from gold.tourism_daily where unit_code = '193'").fetchone()[0]
    others = con.execute("select sum(total_visitors) from gold.tourism_daily where unit_code <> '193'").fetchone()[0]
    assert halong > others, "Hạ Long Bay dominates arrivals"
    assert _count(con, "select count(*) from ops.quality_results where dataset = 'tourism_daily_arrivals'") > 0

    # Processed files moved out of incoming; nothing deleted.
    zone = lake_settings.landing_root / "tourism" / "daily_arrivals"
    assert not any((zone / "incoming").iterdir()) and any((zone / "processed").iterdir())

    # The same deliveries again, the whole chain again: nothing is duplicated.
    deliver(sources, lake_settings.landing_root)
    _run(bag)
    con = lake_connection(lake_settings)
    assert _count(con, "select count(*) from bronze.tourism_daily_arrivals") == bronze
    assert _count(con, f"select count(*) from {quarantine}") == parsed_out + gated_out
    assert _count(con, "select count(*) from silver.tourism_daily_arrivals") == silver
    assert _count(con, "select count(*) from gold.tourism_daily") == gold

    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["sql", "select site_name, sum(total_visitors) v from gold.tourism_daily group by 1 order by 2 desc"])
    assert result.exit_code == 0, result.output
    assert "Vịnh Hạ Long" in result.output
