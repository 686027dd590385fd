"""spark-submit entry point of the forecasting job (``lakehouse.ml.forecast_job``).

    spark-submit --master "$IOC_SPARK_MASTER" spark_jobs/forecast.py [--kinds pm25,water_level]

Embedded mode runs the same function from the ``ml_forecast`` DAG on a local session.
"""

from __future__ import annotations

import argparse
import logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="", help="comma-separated series kinds (default: all)")
    parser.add_argument("--config", default="", help="forecast policy as JSON (ForecastConfig)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from lakehouse.ml.forecast_job import run_forecast_job
    from lakehouse.ml.forecaster import ForecastConfig

    config = ForecastConfig.from_json(args.config) if args.config else None
    result = run_forecast_job(config=config, kinds=[k for k in args.kinds.split(",") if k] or None)
    if result is None:
        print("nothing to forecast: no gold series yet")
        return
    print(f"run {result.run_id}: {result.series} series, backtest MASE {result.score:.3f}; "
          f"{result.promotion.reason}; {result.forecasts_written} forecast rows")


if __name__ == "__main__":
    main()
