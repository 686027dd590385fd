"""Benchmark the forecasting job's Spark pass: N series backtested and forecast on 2 cores.

    python benchmarks/forecast_spark.py [--series 1000] [--mix hourly=0.6,15min=0.2,daily=0.2]
                                        [--reference 60] [--master local[2]]

1. Makes ``--series`` synthetic series shaped like the IOC's (hourly sensors with daily and
   weekly cycles and noise: 3 weeks; 15-minute traffic counters: 2 weeks; daily visitor
   counts: 2 years), split by ``--mix``.
2. Times ``run_policy`` (the job's one Spark pass: ``groupBy(series_kind, unique_id)
   .applyInPandas(forecast_frame)`` with the default ``ForecastConfig``: rolling-origin
   backtest of every candidate, selection by MASE, forecast with 80/95 % intervals) on a
   local session, after a warm-up pass on a few series (Python workers started and
   statsforecast imported, as in a long-running job).
3. Reference, in the same process: ``forecast_frame`` on ``--reference`` of the same series in
   a plain pandas loop on one core, scaled to all series: what one core does without Spark.

Prints wall time, series/s, per-kind counts, the job's mean backtest MASE, the speed-up over
the one-core reference, and PASS/FAIL against the target (< 120 s for 1,000 series on 2 cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

TARGET_S = 120.0
LENGTHS = {"hourly": ("pm25", "h", 24 * 21), "15min": ("traffic_flow", "15min", 96 * 14),
           "daily": ("visitors", "D", 730)}


def make_series(count: int, mix: dict[str, float], seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    kinds = [spec for spec, share in mix.items() for _ in range(round(count * share))][:count]
    for i, spec in enumerate(kinds):
        kind, freq, length = LENGTHS[spec]
        ds = pd.date_range("2026-01-01", periods=length, freq=freq)
        t = np.arange(length)
        per_day = {"h": 24, "15min": 96, "D": 1}[freq]
        level = rng.uniform(20, 200)
        daily = 0.3 * level * np.sin(2 * np.pi * t / max(per_day, 7)) if per_day > 1 else 0
        weekly = 0.15 * level * np.sin(2 * np.pi * t / (7 * per_day))
        y = np.clip(level + daily + weekly + rng.normal(0, 0.08 * level, length), 0, None)
        frames.append(pd.DataFrame({"series_kind": kind, "unique_id": f"{kind}:S{i:05d}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--mix", default="hourly=0.6,15min=0.2,daily=0.2")
    parser.add_argument("--reference", type=int, default=60, help="series timed in the one-core pandas loop")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    console = Console()
    mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}

    from lakehouse.ml.forecast_job import policy_score, run_policy
    from lakehouse.ml.forecaster import ForecastConfig, forecast_frame
    from lakehouse.settings import get_settings
    from lakehouse.spark import get_spark

    rows = make_series(args.series, mix)
    counts = rows.groupby("series_kind")["unique_id"].nunique().to_dict()
    console.print(f"{args.series} series ({counts}), {len(rows):,} rows")
    spark = get_spark(get_settings().model_copy(update={"spark_master": args.master}), app_name="bench-forecast")
    config = ForecastConfig()

    frame = spark.createDataFrame(rows).repartition(8, "unique_id").cache()
    frame.count()
    warm = frame.where(frame.unique_id.isin(sorted(rows.unique_id.unique())[:4]))
    run_policy(warm, config)  # start the Python workers, import statsforecast in them

    started = time.perf_counter()
    output = run_policy(frame, config)
    spark_s = time.perf_counter() - started
    score = policy_score(output)
    forecast_series = output.loc[output["kind"] == "forecast", "unique_id"].nunique()

    sample_ids = rows.drop_duplicates("unique_id").groupby("series_kind").head(
        max(1, args.reference // len(counts)))["unique_id"]
    sample = rows[rows.unique_id.isin(sample_ids)]
    started = time.perf_counter()
    for _, one in sample.groupby("unique_id"):
        forecast_frame(one, config)
    ref_s = time.perf_counter() - started
    per_series = ref_s / sample_ids.size
    ref_all = per_series * args.series

    table = Table(title=f"Forecasting pass: {args.series} series on {args.master}")
    for column in ("measure", "value"):
        table.add_column(column)
    table.add_row("Spark wall time (run_policy)", f"{spark_s:.1f} s")
    table.add_row("series/s", f"{args.series / spark_s:.1f}")
    table.add_row("series forecast (not skipped)", str(forecast_series))
    table.add_row("mean backtest MASE (selected)", f"{score:.3f}")
    table.add_row(f"one-core pandas loop ({sample_ids.size} series)", f"{ref_s:.1f} s = {1000 * per_series:.0f} ms/series")
    table.add_row("one core, scaled to all series", f"{ref_all:.1f} s")
    table.add_row("speed-up over one core", f"{ref_all / spark_s:.2f}x")
    verdict = "PASS" if spark_s < TARGET_S * args.series / 1000 else "FAIL"
    table.add_row("target (< 120 s per 1,000 series)", verdict)
    console.print(table)
    spark.stop()


if __name__ == "__main__":
    main()
