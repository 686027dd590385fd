"""The forecasting job: every gold series backtested and forecast on Spark, tracked in
MLflow, registered, promoted only when it wins, and the champion's forecasts written to gold.

``spark_jobs/forecast.py`` is its ``spark-submit`` entry point; the ``ml_forecast`` DAG calls
``run_forecast_job`` in embedded mode.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.ml.forecaster import KIND_COLUMN, ForecastConfig, ForecasterModel, forecast_frame
from lakehouse.ml.registry import FORECASTER, Promotion, current_champion, promote_if_better
from lakehouse.ml.series import SERIES, series_frame
from lakehouse.ml.tables import BACKTEST_SCHEMA, BACKTESTS, FORECAST_SCHEMA, FORECASTS, PARTITION_BY
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class ForecastJobResult:
    run_id: str
    version: str
    promotion: Promotion
    series: dict[str, int] = field(default_factory=dict)  # series per kind
    score: float = float("nan")
    forecasts_written: int = 0


def load_series(spark, settings: Settings, kinds: list[str] | None = None):
    """All series rows (``series_kind, unique_id, ds, y``) from the gold marts that exist."""
    from lakehouse.lake import delta
    from lakehouse.spark import read_delta
    from lakehouse.spark.filters import referenced_columns

    frames = []
    for source in SERIES:
        if kinds and source.kind not in kinds:
            continue
        uri = table_uri(Tier.gold, source.mart, settings)
        if delta.try_open(uri, storage_options(settings)) is None:
            log.warning("gold.%s not published yet: no %s series", source.mart, source.kind)
            continue
        # Only what the series needs (``value`` may be an expression over several columns).
        columns = list(dict.fromkeys([source.key, source.time, *referenced_columns(source.value)]))
        table = read_delta(spark, uri, columns=columns, storage_options=storage_options(settings))
        frames.append(series_frame(spark, source, table))
    if not frames:
        return None
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def run_policy(series, config: ForecastConfig) -> pd.DataFrame:
    """One Spark pass: every series backtested and forecast in parallel (``applyInPandas``
    per series), collected to the driver (forecasts are small: series × horizon)."""
    from lakehouse.forecast import OUTPUT_SCHEMA

    schema = f"{KIND_COLUMN} string, {OUTPUT_SCHEMA}"

    def per_series(pdf: pd.DataFrame) -> pd.DataFrame:
        return forecast_frame(pdf, config)

    return series.groupBy(KIND_COLUMN, "unique_id").applyInPandas(per_series, schema=schema).toPandas()


def policy_score(output: pd.DataFrame) -> float:
    """The number the registry compares: mean backtest MASE of the selected model over all
    series (each series counts once, whatever its kind)."""
    metrics = output[(output["kind"] == "metric") & output["selected"].fillna(False).astype(bool)]
    return float(metrics["mase"].mean()) if len(metrics) else float("nan")


def run_forecast_job(settings: Settings | None = None, *, config: ForecastConfig | None = None,
                     kinds: list[str] | None = None, spark=None) -> ForecastJobResult | None:
    import mlflow

    from lakehouse.ml.tracking import configure_mlflow
    from lakehouse.spark import get_spark

    settings = settings or get_settings()
    config = config or ForecastConfig()
    spark = spark or get_spark(settings, app_name="ioc-forecast")
    series = load_series(spark, settings, kinds)
    if series is None:
        log.warning("no gold series to forecast")
        return None
    series = series.cache()
    issued_at = datetime.now(UTC).replace(microsecond=0)
    experiment_id = configure_mlflow(settings)

    with mlflow.start_run(experiment_id=experiment_id, run_name=f"forecast-{issued_at:%Y%m%dT%H%M}") as run:
        output = run_policy(series, config)
        score = policy_score(output)
        counts = output.groupby(KIND_COLUMN)["unique_id"].nunique().to_dict()
        mlflow.log_params({"config": config.to_json(), "config_digest": config.digest,
                           "kinds": ",".join(sorted(counts)), "series": sum(counts.values()),
                           "sMAPE_scale": "0-200 (M4)"})
        _log_metrics(output, score)
        _log_artifacts(output, series, settings)
        info = _log_model(config)
        version = str(info.registered_model_version)

        champion = current_champion(FORECASTER)
        champion_output, champion_score = None, None
        if champion is not None and str(champion.version) != version:
            champion_config = _config_of(champion)
            if champion_config.digest == config.digest:
                champion_output, champion_score = output, score
            else:  # the champion's policy on today's series: a like-for-like comparison
                champion_output = run_policy(series, champion_config)
                champion_score = policy_score(champion_output)
        promotion = promote_if_better(version, score, champion_score)
        mlflow.log_metric("champion_backtest_mase", champion_score if champion_score is not None else score)
        mlflow.set_tag("promotion", promotion.reason)

        serving_version = version if promotion.promoted else promotion.champion_version
        served = output if promotion.promoted or champion_output is None else champion_output
        written = write_forecasts(spark, served, settings, version=serving_version,
                                  run_id=run.info.run_id, issued_at=issued_at)
    series.unpersist()
    return ForecastJobResult(run.info.run_id, version, promotion, counts, score, written)


def _log_metrics(output: pd.DataFrame, score: float) -> None:
    import mlflow

    from lakehouse.forecast import summarise

    mlflow.log_metric("backtest_mase", score)
    for kind, rows in output[output["kind"] == "metric"].groupby(KIND_COLUMN):
        for row in summarise(rows).to_dict("records"):
            model = str(row["model"])
            for metric in ("mase", "smape"):
                if pd.notna(row.get(metric)):
                    mlflow.log_metric(f"{kind}.{model}.{metric}", float(row[metric]))


def _log_artifacts(output: pd.DataFrame, series, settings: Settings) -> None:
    import mlflow

    from lakehouse.ml.plots import forecast_plots

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        output[output["kind"] == "metric"].to_csv(root / "backtest_metrics.csv", index=False)
        for path in forecast_plots(output, series, root):
            mlflow.log_artifact(str(path), artifact_path="plots")
        mlflow.log_artifact(str(root / "backtest_metrics.csv"))


def _log_model(config: ForecastConfig):
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        path.write_text(config.to_json(), encoding="utf-8")
        history = pd.DataFrame({KIND_COLUMN: ["pm25"] * 3, "unique_id": ["pm25:example"] * 3,
                                "ds": pd.date_range("2026-01-01", periods=3, freq="h"), "y": [1.0, 2.0, 3.0]})
        # Requirements named, not inferred: inference imports and scans the whole environment.
        return mlflow.pyfunc.log_model(
            name="forecaster", python_model=ForecasterModel(config), artifacts={"config": str(path)},
            registered_model_name=FORECASTER, signature=mlflow.models.infer_signature(history),
            pip_requirements=["statsforecast", "pandas", "mlflow"],
        )


def _config_of(version) -> ForecastConfig:
    import mlflow

    model = mlflow.pyfunc.load_model(f"models:/{FORECASTER}/{version.version}")
    return model.unwrap_python_model().config


def write_forecasts(spark, output: pd.DataFrame, settings: Settings, *, version: str | None,
                    run_id: str, issued_at: datetime) -> int:
    """``gold.forecasts`` (the served model's forecasts) and ``gold.forecast_backtests`` (its
    evidence, and the series it skipped and why), each replacing the issue date's rows of the
    series kinds in this run, so a re-run the same day replaces, never duplicates, and a run
    for some kinds leaves the others' forecasts in place. Column lists are fixed here:
    dbt's ``ml`` source and the dashboards read them."""
    from lakehouse.lake import delta

    forecast_date = issued_at.date()
    extra = {"model_name": FORECASTER, "model_version": version, "run_id": run_id,
             "issued_at": pd.Timestamp(issued_at), "forecast_date": forecast_date}
    forecasts = output[output["kind"] == "forecast"].copy()
    ds = pd.to_datetime(forecasts["ds"])  # Spark hands UTC wall-clock times back naive
    forecasts["ds"] = ds.dt.tz_localize("UTC") if ds.dt.tz is None else ds.dt.tz_convert("UTC")
    backtests = output[output["kind"].isin(["metric", "skipped"])].copy()
    backtests["status"] = backtests["kind"].map({"metric": "evaluated", "skipped": "skipped"})
    for name, frame, schema in ((FORECASTS, forecasts, FORECAST_SCHEMA), (BACKTESTS, backtests, BACKTEST_SCHEMA)):
        frame = frame.assign(**extra)[schema.names].reset_index(drop=True)
        frame = frame.astype({"note": object}) if "note" in frame else frame
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        # Only the kinds this run forecast: a run for some kinds (``--kinds``) must not drop
        # the day's forecasts of the others.
        kinds = ", ".join(f"'{k}'" for k in sorted(output[KIND_COLUMN].unique()))
        delta.overwrite_partition(table_uri(Tier.gold, name, settings), table,
                                  predicate=f"forecast_date = '{forecast_date}' AND series_kind IN ({kinds})",
                                  batch_id=f"{name}:{run_id}", partition_by=PARTITION_BY,
                                  storage_options=storage_options(settings))
    return len(forecasts)
