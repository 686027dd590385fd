"""The open-data export holds exactly the tables the contracts make public, described from the
contracts, byte-identical when nothing changed, and kept current by the ``open_data`` DAG.

The lake here has a real Delta table for every contract's silver table and every gold mart
(a couple of rows each: what is tested is which tables leave and how, not their content);
the expected set is derived from the contracts and dbt's lineage independently of the
access policy the export reads.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
import pytest
from airflow.dag_processing.dagbag import DagBag

from lakehouse.access import gold_lineage, load_manifest
from lakehouse.contracts import Classification, PiiAction
from lakehouse.lake import delta
from lakehouse.lake.paths import table_uri
from lakehouse.lake.schema import LINEAGE_COLUMNS
from lakehouse.opendata import CATALOG, accrual_periodicity, export_open_data, frequency_code
from lakehouse.pipeline.dbt_runner import ensure_manifest
from lakehouse.pipeline.platform_tables import platform_tables
from lakehouse.settings import REPO_ROOT

DAY_1, DAY_2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, 6, tzinfo=UTC)


def _table(columns: list[str], event_time: str | None, tag: str, rows: int = 2) -> pa.Table:
    data = {c: [f"{tag} {c} {i}" for i in range(rows)] for c in columns if c != event_time}
    if event_time:
        data[event_time] = [DAY_1, DAY_2][:rows] + [DAY_2] * max(0, rows - 2)
    data |= {c: [f"lineage {i}" for i in range(rows)] for c in LINEAGE_COLUMNS}
    return pa.table(data)


@pytest.fixture
def lake(lake_settings, catalog):
    """Every silver table and every gold table, as real Delta tables; returns the expected keys."""
    lineage = gold_lineage(load_manifest(ensure_manifest(lake_settings)))
    for contract in catalog:
        columns = [c.name for c in contract.columns if c.effective_pii_action is not PiiAction.drop]
        delta.replace(table_uri("silver", contract.name, lake_settings),
                      _table(columns, contract.event_time, contract.name), batch_id=f"seed:{contract.name}")
    for name, mart in lineage.items():
        delta.replace(table_uri("gold", name, lake_settings), _table(list(mart.columns) or ["id"], None, name),
                      batch_id=f"seed:{name}")
    public = {c.name for c in catalog if c.classification is Classification.public
              and any(g.department == "public" and not g.row_filter for g in c.grants)}
    gold = {n for n, m in lineage.items() if m.sources <= public
            and (m.classification or Classification.public) is Classification.public}
    assert public and gold, "the catalog has public datasets, and marts made only of them"
    assert {p.name for p in platform_tables()} <= set(lineage)  # Spark's tables are judged too
    return {f"silver.{n}" for n in public} | {f"gold.{n}" for n in gold}, lineage


def _catalog(folder) -> dict:
    return json.loads((folder / CATALOG).read_text(encoding="utf-8"))


def _files(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_the_export_is_exactly_the_public_datasets(lake, lake_settings, catalog):
    expected, lineage = lake
    folder = lake_settings.opendata_path
    # Left by an earlier export, before these were reclassified, and by a crash mid-write.
    for stale in ("silver/citizen_requests.csv", "gold/incidents.parquet", "silver/.crashed.csv.tmp"):
        (folder / stale).parent.mkdir(parents=True, exist_ok=True)
        (folder / stale).write_text("old", encoding="utf-8")

    result = export_open_data(lake_settings)

    assert set(result.datasets) == expected and not result.waiting
    document = _catalog(folder)
    assert {d["dct:identifier"] for d in document["dcat:dataset"]} == expected
    assert _files(folder) == {CATALOG} | {f"{k.replace('.', '/')}.{ext}" for k in expected for ext in ("parquet", "csv")}
    assert sorted(result.removed) == sorted(["silver/citizen_requests.csv", "gold/incidents.parquet",
                                             "silver/.crashed.csv.tmp"])
    # No table classified otherwise is named anywhere in the catalogue.
    text = (folder / CATALOG).read_text(encoding="utf-8")
    everything = {f"silver.{c.name}" for c in catalog} | {f"gold.{n}" for n in lineage}
    for key in everything - expected:
        tier, name = key.split(".")
        assert f'"{key}"' not in text and f"/{tier}/{name}." not in text, key


def test_the_catalogue_describes_each_dataset_from_its_contract(lake, lake_settings, catalog):
    export_open_data(lake_settings)
    folder = lake_settings.opendata_path
    document = _catalog(folder)
    assert document["@type"] == "dcat:Catalog" and document["dct:license"]["@id"] == lake_settings.opendata_license
    for entry in document["dcat:dataset"]:
        tier, name = entry["dct:identifier"].split(".")
        columns = [c["csvw:name"] for c in entry["csvw:tableSchema"]["csvw:column"]]
        assert not set(columns) & set(LINEAGE_COLUMNS)  # platform bookkeeping is not data
        assert entry["dct:license"]["@id"] == lake_settings.opendata_license
        if tier == "silver":
            contract = catalog[name]
            assert entry["dct:title"] == contract.title
            names = [n["@value"] for n in entry["dct:publisher"]["foaf:name"]]
            owner = catalog.departments[contract.owner]
            assert names == [owner.name_vi, owner.name_en]
            assert entry["dct:accrualPeriodicity"]["@id"] == accrual_periodicity((contract.source.schedule,))
            assert contract.domain in entry["dcat:keyword"]
            units = {c["csvw:name"]: c.get("schema:unitText") for c in entry["csvw:tableSchema"]["csvw:column"]}
            assert {n: u for n, u in units.items() if u} == {c.name: c.unit for c in contract.columns if c.unit}
            if contract.event_time:
                period = entry["dct:temporal"]
                assert (period["dcat:startDate"]["@value"], period["dcat:endDate"]["@value"]) == (
                    DAY_1.isoformat(), DAY_2.isoformat())
        for distribution in entry["dcat:distribution"]:
            path = folder / distribution["dcat:downloadURL"]["@id"].split("/opendata/", 1)[1]
            content = path.read_bytes()
            assert distribution["dcat:downloadURL"]["@id"].startswith(lake_settings.public_url + "/opendata/")
            assert hashlib.sha256(content).hexdigest() == distribution["spdx:checksum"]["spdx:checksumValue"]
            assert len(content) == int(distribution["dcat:byteSize"]["@value"])
            if path.suffix == ".csv":
                header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
                assert header == columns and len(rows) == 2
                assert distribution["dcat:mediaType"]["@id"].endswith("text/csv")
            else:
                frame = pl.read_parquet(path)
                assert frame.columns == columns and frame.height == 2


def test_a_rerun_rewrites_nothing_and_a_change_rewrites_only_its_files(lake, lake_settings, catalog):
    first = export_open_data(lake_settings)
    folder = lake_settings.opendata_path
    stamps = {p: (folder / p).stat().st_mtime_ns for p in _files(folder)}

    again = export_open_data(lake_settings)
    assert again.written == [] and again.removed == []
    assert {p: (folder / p).stat().st_mtime_ns for p in _files(folder)} == stamps

    # Without the catalogue's record every table is read again: the same bytes come out.
    (folder / CATALOG).unlink()
    rebuilt = export_open_data(lake_settings)
    assert rebuilt.written == [CATALOG] and len(rebuilt.unchanged) == len(first.written) - 1

    # One public table changes: its two files and the catalogue are rewritten, nothing else.
    name = min(k for k in first.datasets if k.startswith("silver.")).split(".")[1]
    contract = catalog[name]
    columns = [c.name for c in contract.columns if c.effective_pii_action is not PiiAction.drop]
    delta.replace(table_uri("silver", name, lake_settings), _table(columns, contract.event_time, "changed", rows=3),
                  batch_id="changed")
    changed = export_open_data(lake_settings)
    assert sorted(changed.written) == sorted([f"silver/{name}.parquet", f"silver/{name}.csv", CATALOG])
    [entry] = [e for e in _catalog(folder)["dcat:dataset"] if e["dct:identifier"] == f"silver.{name}"]
    assert entry["dcat:version"] == "1"


@pytest.mark.parametrize(("schedule", "code"), [
    ("*/5 * * * *", "5MIN"), ("*/10 * * * *", "10MIN"), ("*/15 * * * *", "15MIN"), ("@hourly", "HOURLY"),
    ("0 * * * *", "HOURLY"), ("0 */3 * * *", "TRIHOURLY"), ("@daily", "DAILY"), ("30 6 * * *", "DAILY"),
    ("0 7 * * 1", "WEEKLY"), ("@weekly", "WEEKLY"), ("0 0 1 * *", "MONTHLY"), ("@once", "IRREG"),
    ("*/7 * * * *", "OTHER"), ("not a schedule", "OTHER")])
def test_update_frequency_from_the_source_schedule(schedule, code):
    assert frequency_code(schedule) == code


def test_a_mart_is_as_frequent_as_its_most_frequent_source():
    assert accrual_periodicity(("@once", "*/5 * * * *", "@daily")).endswith("/5MIN")


@pytest.mark.slow
def test_the_open_data_dag_exports(lake, lake_settings, airflow_db):
    expected, _ = lake
    bag = DagBag(str(REPO_ROOT / "dags"))
    dag = bag.dags["open_data"]
    triggers = {a.name for a in dag.timetable.asset_condition.objects}
    assert {k for k in expected if k.startswith("silver.")} <= triggers  # every public source triggers it
    assert {k for k in expected if k.startswith("gold.")} <= triggers
    run = dag.test()
    assert str(run.state) == "success"
    assert {d["dct:identifier"] for d in _catalog(lake_settings.opendata_path)["dcat:dataset"]} == expected


def test_ioc_opendata_export(lake, lake_settings):
    from typer.testing import CliRunner

    from lakehouse.cli import app

    expected, _ = lake
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["opendata", "export"])
    assert result.exit_code == 0, result.output
    assert f"{len(expected)} public datasets" in result.output
    assert (lake_settings.opendata_path / CATALOG).exists()
