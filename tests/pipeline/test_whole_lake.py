"""The whole province through the pipeline once (the connectors and silver the DAGs call,
then the real ``gold_dbt`` DAG: every model a cosmos task), then what must hold across every
table:

* no protected personal value is in clear anywhere in silver or gold: every string cell of
  every silver and gold table is checked against every clear value the sources carried in a
  hashed, masked or dropped column;
* every mart in ``dbt_project/models/marts`` is built by its own Airflow task, published to
  gold and answers ``ioc sql``.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from airflow.dag_processing.dagbag import DagBag
from rich.console import Console
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.contracts import PiiAction, load_catalog
from lakehouse.demo import prepare_sources
from lakehouse.generate import generate
from lakehouse.ingest.connectors import run_connector
from lakehouse.lake import delta
from lakehouse.lake.duck import lake_connection
from lakehouse.lake.paths import Tier, list_tables, table_uri
from lakehouse.orchestration import referenced_first
from lakehouse.pipeline.silver import build_silver
from lakehouse.settings import REPO_ROOT, get_settings, reset_settings_cache

pytestmark = pytest.mark.slow
MIN_LENGTH = 4  # shorter values ("A", "Lê") are not identifying, and would match by accident
MARTS = sorted(p.stem for p in (REPO_ROOT / "dbt_project" / "models" / "marts").rglob("*.sql"))


@pytest.fixture(scope="module")
def lake(tmp_path_factory, airflow_db):
    root = tmp_path_factory.mktemp("whole")
    catalog = load_catalog(REPO_ROOT / "catalog")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"IOC_LAKE_ROOT": root / "lake", "IOC_LANDING_ROOT": root / "landing",
                            "IOC_WAREHOUSE_PATH": root / "warehouse" / "ioc.duckdb", "IOC_GX_ROOT": root / "gx",
                            "IOC_PII_SALT": "test-salt-not-a-secret", "IOC_MQTT_URL": "",
                            "IOC_POSTGRES_URL": "", "IOC_MYSQL_URL": "", "IOC_MLFLOW_ROOT": root / "mlflow",
                            "IOC_MLFLOW_TRACKING_URI": "", "IOC_ALERT_WEBHOOKS": "{}"}.items():  # SQLite stand-ins
            env.setenv(name, str(value))
        reset_settings_cache()
        settings = get_settings()
        sources = root / "sources"
        # Recent days, as the demo: sensor clocks are checked against receipt.
        generate(sources, seed=3, days=7, start=date.today() - timedelta(days=7))
        # Delivered as the demo delivers them (files, databases, APIs, sensor drops).
        simulator, reach = prepare_sources(sources, settings, root, Console(quiet=True))
        try:
            for name, value in reach.items():
                env.setenv(name, value)
            reset_settings_cache()
            for contract in catalog:
                run_connector(contract)
        finally:
            simulator.stop()
        for contract in referenced_first(catalog):
            build_silver(contract)
        bag = DagBag(str(REPO_ROOT / "dags"))
        gold_run = bag.dags["gold_dbt"].test()
        forecast_run = bag.dags["ml_forecast"].test()
        video_run = bag.dags["video_index"].test()
        assert str(video_run.state) == "success"
        yield catalog, get_settings(), gold_run, forecast_run
    reset_settings_cache()


def test_no_protected_value_survives_in_silver_or_gold(lake):
    catalog, settings, _, _ = lake
    clear: set[str] = set()
    for contract in catalog:
        protected = [c for c in contract.pii_columns if c.effective_pii_action is not PiiAction.keep]
        if not protected:
            continue
        bronze = pl.from_arrow(delta.read(table_uri(Tier.bronze, contract.name, settings)))
        for column in protected:
            clear |= {v for v in bronze[column.name].cast(pl.String).drop_nulls() if len(v) >= MIN_LENGTH}
    assert len(clear) > 100, "the generator should have produced personal data to protect"

    tables = [(t, n, u) for t, n, u in list_tables(settings) if t in (Tier.silver, Tier.gold)]
    scanned = 0
    for tier, name, uri in tables:
        frame = pl.from_arrow(delta.read(uri))
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                leaked = set(frame[column].drop_nulls().unique()) & clear
                assert not leaked, f"{tier.value}.{name}.{column} holds personal data in clear: {sorted(leaked)[:3]}"
                scanned += frame.height
    assert scanned > 10_000
    assert {c.name for c in catalog} <= {n for t, n, _ in tables if t is Tier.silver}


def test_every_model_is_an_airflow_task_of_one_dbt_build(lake):
    """With every silver table present the DAG takes the cosmos branch: one ``dbt build``
    (the watcher producer) and one task per model and per model's tests, all green."""
    _, _, run, _ = lake
    assert str(run.state) == "success"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["dbt.dbt_producer_watcher"] == "success"
    assert states["build_available_marts"] == "skipped"  # nothing waits for a missing table
    assert states["publish_gold"] == "success"
    for mart in MARTS:
        assert states[f"dbt.{mart}.run"] == "success", mart
        assert states[f"dbt.{mart}.test"] == "success", mart


def test_forecasts_feed_alerts_and_incidents(lake):
    """The ml_forecast DAG on the whole province: every series kind forecast by the champion,
    the alert marts rebuilt from those forecasts, alerts stacked into incidents."""
    _, settings, _, run = lake
    assert str(run.state) == "success"
    con = lake_connection(settings)
    kinds = {k for (k,) in con.execute("select distinct series_kind from gold.forecasts").fetchall()}
    assert {"pm25", "pm10", "water_level", "traffic_flow"} <= kinds
    assert con.execute("select count(distinct model_version) from gold.forecasts").fetchone()[0] == 1
    alerts = con.execute("select count(*) from gold.forecast_alerts").fetchone()[0]
    stacked = con.execute("select count(*) from gold.incidents where kind = 'forecast_alert'").fetchone()[0]
    assert alerts > 0 and stacked == alerts
    # Short series are not forecast, and say why.
    notes = con.execute("select note from gold.forecast_backtests where status = 'skipped'").fetchall()
    assert all(note.startswith("too_short") for (note,) in notes)


def test_video_events_are_incidents_and_cameras_are_counted(lake):
    """The video_index DAG on the whole province: events stacked into incidents, per-minute
    counts per camera in camera_counts_minute."""
    _, settings, _, _ = lake
    con = lake_connection(settings)
    events = con.execute("select count(*) from gold.video_events").fetchone()[0]
    stacked = con.execute("select count(*) from gold.incidents where kind = 'video_event'").fetchone()[0]
    assert events > 0 and stacked == events
    assert con.execute("select sum(people) + sum(vehicles) from gold.camera_counts_minute").fetchone()[0] > 0


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_is_published_and_queryable(lake, mart):
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["sql", f"select count(*) as n from gold.{mart}"])
    assert result.exit_code == 0, result.output
    rows = int(result.output.split("│")[-2].strip()) if "│" in result.output else -1
    assert rows > 0, result.output


def test_gold_counts_are_integers_not_wide_decimals(lake):
    """A sum of integers is DuckDB's HUGEINT, which Delta can only store as decimal(38,0): every
    reader (Superset, pandas, the Trino gateway) would get decimals for head counts. Publishing
    casts them to BIGINT; a decimal in gold must be a declared money or measure type."""
    _, settings, _, _ = lake
    wide = []
    for tier, name, uri in list_tables(settings):
        if tier is Tier.gold:
            schema = delta.read(uri).schema
            wide += [f"{name}.{f.name}: {f.type}" for f in schema if str(f.type) == "decimal128(38, 0)"]
    assert wide == []


def test_dbt_docs_describe_every_mart(lake):
    from lakehouse.pipeline.gold import generate_docs

    _, settings, _, _ = lake
    page = generate_docs(settings).read_text(encoding="utf-8")
    assert all(f"model.ioc_lakehouse.{mart}" in page for mart in MARTS)
    assert "exposure.ioc_lakehouse." in page
