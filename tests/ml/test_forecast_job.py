"""The forecasting job end to end on a real local Spark session and a real MLflow store:
gold marts → backtests and forecasts (applyInPandas + statsforecast) → an MLflow run with
metrics and plots → a registered version, promoted only when it wins → gold.forecasts."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from mlflow import MlflowClient

from lakehouse.lake import delta
from lakehouse.lake.duck import lake_connection
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.ml.forecast_job import run_forecast_job
from lakehouse.ml.forecaster import ForecastConfig
from lakehouse.ml.registry import current_champion

pytestmark = pytest.mark.slow
STATIONS = ["QN-H-01", "QN-H-02", "QN-H-03"]
HOURS = 24 * 12


def _hourly_mart(settings, mart: str, key: str, value: str, base: float) -> None:
    """A gold mart with a daily cycle per station, as dbt would publish it."""
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2026-11-01", tz="UTC")
    rows = []
    for i, station in enumerate(STATIONS):
        times = pd.date_range(start, periods=HOURS, freq="h")
        cycle = 20 * np.sin(2 * np.pi * np.arange(HOURS) / 24)
        values = base + 10 * i + cycle + rng.normal(0, 1.5, HOURS)
        rows.append(pd.DataFrame({key: station, "observed_at": times, value: values}))
    frame = pd.concat(rows, ignore_index=True)
    delta.replace(table_uri(Tier.gold, mart, settings), pa.Table.from_pandas(frame, preserve_index=False),
                  batch_id=f"test:{mart}")


@pytest.fixture
def gold_series(mlflow_store):
    settings = mlflow_store
    _hourly_mart(settings, "water_levels", "station_code", "water_level_cm", 180.0)
    _hourly_mart(settings, "air_quality_hourly", "station_code", "pm25", 35.0)
    return settings


def test_a_run_is_tracked_registered_promoted_and_served(gold_series, spark):
    settings = gold_series
    first = run_forecast_job(settings, kinds=["water_level", "pm25"], spark=spark)
    assert first.series == {"pm25": 3, "water_level": 3}
    assert first.promotion.promoted and first.version == "1"
    assert 0 < first.score < 1.5  # a daily cycle is forecastable: far better than naive's scale

    run = mlflow.get_run(first.run_id)
    assert run.data.metrics["backtest_mase"] == pytest.approx(first.score)
    assert any(k.startswith("water_level.") and k.endswith(".mase") for k in run.data.metrics)
    artifacts = {a.path for a in MlflowClient().list_artifacts(first.run_id, "plots")}
    assert {"plots/forecast_pm25.png", "plots/forecast_water_level.png"} <= artifacts
    assert str(current_champion().version) == "1"

    con = lake_connection(settings)
    rows = con.sql("select unique_id, count(*) n, min(model_version) v, bool_and(yhat_lo_95 <= yhat "
                   "and yhat <= yhat_hi_95) ordered from gold.forecasts where selected group by 1").fetchall()
    assert len(rows) == 6 and all(n == 24 and v == "1" and ordered for _, n, v, ordered in rows)

    # A challenger that can only repeat yesterday loses on the same backtest: registered, not
    # promoted, and the champion (v1) keeps serving; today's partition is replaced, not doubled.
    naive = ForecastConfig(models={"hourly": ["SeasonalNaive"]})
    second = run_forecast_job(settings, kinds=["water_level", "pm25"], spark=spark, config=naive)
    assert second.version == "2" and not second.promotion.promoted
    assert second.promotion.champion_score == pytest.approx(first.score, rel=1e-6)
    assert second.score > first.score
    assert str(current_champion().version) == "1"
    served = con.sql("select count(*), min(model_version), max(model_version) from gold.forecasts where selected").fetchone()
    assert served == (6 * 24, "1", "1")

    # A run for one kind replaces that kind's forecasts of the day and keeps the other's.
    third = run_forecast_job(settings, kinds=["water_level"], spark=spark)
    per_kind = dict(con.sql("select series_kind, max(run_id) from gold.forecasts group by 1").fetchall())
    assert per_kind == {"water_level": third.run_id, "pm25": second.run_id}
    assert con.sql("select count(*) from gold.forecasts where selected").fetchone()[0] == 6 * 24


def test_starter_notebooks_run_against_the_lake(gold_series, spark, tmp_path):
    """The two notebooks data scientists start from execute top to bottom (papermill, the
    platform's kernel) on a lake with forecasts; the compare notebook can promote by hand."""
    import papermill

    from lakehouse.settings import REPO_ROOT

    settings = gold_series
    run_forecast_job(settings, kinds=["water_level"], spark=spark)
    run_forecast_job(settings, kinds=["water_level"], spark=spark,
                     config=ForecastConfig(models={"hourly": ["SeasonalNaive"]}))
    assert str(current_champion().version) == "1"
    notebooks = REPO_ROOT / "ml" / "notebooks"
    papermill.execute_notebook(notebooks / "01_forecasts_vs_actuals.ipynb", tmp_path / "01.ipynb",
                               parameters={"series_kind": "water_level"}, cwd=str(tmp_path),
                               kernel_name="python3", progress_bar=False)
    assert (tmp_path / "forecast_vs_actual.png").stat().st_size > 10_000
    papermill.execute_notebook(notebooks / "02_compare_runs_and_promote.ipynb", tmp_path / "02.ipynb",
                               parameters={"promote_version": "2"}, cwd=str(tmp_path),
                               kernel_name="python3", progress_bar=False)
    assert str(current_champion().version) == "2"  # promoted by hand, as the notebook says
