"""
### Forecast every series, promote only a better model, raise and route alerts

Triggered when a gold mart with forecastable series is published (air quality, water levels,
traffic flow, tourism arrivals).

1. `train_and_score`: the Spark job (`spark_jobs/forecast.py`): every series backtested on
   rolling origins and forecast with statsforecast inside `applyInPandas`; one MLflow run
   (params, MASE/sMAPE, plots); a new `ioc_forecaster` version, moved to `@champion` only when
   it beats the champion on the same backtest; the champion's forecasts to `gold.forecasts`.
   Embedded: a local Spark session in the worker. Production (`IOC_MODE=production`):
   `spark-submit` to `IOC_SPARK_MASTER`.
2. `refresh_alert_marts`: dbt rebuilds only what reads the forecasts (`forecast_alerts`, and
   `incidents`, which stacks them) and publishes those marts.
3. `route_alerts`: each new alert is posted once to its department's webhook
   (`ops.alert_deliveries` remembers what was sent).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag, task

from lakehouse import orchestration as orch
from lakehouse.ml.series import SERIES

_MARTS = sorted({source.mart for source in SERIES})


@dag(
    dag_id="ml_forecast",
    schedule=AssetAny(*(orch.asset("gold", mart) for mart in _MARTS)),
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args={**orch.DEFAULT_ARGS, "retries": 1},
    tags=["ml", "forecasting", "spark", "mlflow"],
    doc_md=__doc__,
)
def ml_forecast():
    forecast_outlets = [orch.asset("gold", "forecasts"), orch.asset("gold", "forecast_backtests")]

    def run_job() -> dict:
        from lakehouse.ml.forecast_job import run_forecast_job

        result = run_forecast_job()
        if result is None:
            return {"series": {}}
        return {"run_id": result.run_id, "version": result.version, "series": result.series,
                "backtest_mase": result.score, "promoted": result.promotion.promoted,
                "promotion": result.promotion.reason, "forecast_rows": result.forecasts_written}

    train_and_score = orch.spark_job_task("train_and_score", "forecast.py", forecast_outlets, run_job)

    @task(outlets=[orch.asset("gold", "forecast_alerts"), orch.asset("gold", "incidents")])
    def refresh_alert_marts() -> dict[str, int]:
        from lakehouse.pipeline.gold import refresh_forecast_marts

        return refresh_forecast_marts().published

    @task
    def route_alerts() -> dict:
        from lakehouse.ml.alerts import route_alerts as route

        result = route()
        return {"sent": result.sent, "already_sent": result.already_sent,
                "failed": result.failed, "unroutable": len(result.unroutable)}

    train_and_score() >> refresh_alert_marts() >> route_alerts()


ml_forecast()
