"""The per-series forecaster that Spark's ``groupBy(...).applyInPandas`` calls.

``process_series`` takes the history of one or several series (``unique_id, ds, y``) and
returns, stacked in one frame with a ``kind`` column:

* ``'metric'`` rows: each candidate model's rolling-origin backtest MASE and sMAPE (mean
  over the windows), the selected one flagged;
* ``'forecast'`` rows: ``spec.horizon`` points ahead with 80/95 % intervals from the model
  with the lowest backtest MASE (``selected``) and from the seasonal-naive baseline, so every
  forecast can be compared with the benchmark it has to beat;
* ``'skipped'`` rows: one per series too short to forecast, with the reason in ``note``.

Why our own small loop and not ``StatsForecast.cross_validation``: Spark already gives one
series per call, so the DataFrame machinery of ``StatsForecast`` (and its ``n_jobs``) adds
only per-call overhead; the model objects' ``forecast``/``fit``/``forward`` methods are the
same code it runs, with ``n_jobs=1`` semantics (one process, one core). Everything is
deterministic: no random state, series and models in a fixed order.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from lakehouse.forecast.metrics import mase, smape
from lakehouse.forecast.specs import (
    DEFAULT_LEVEL,
    FrequencySpec,
    baseline_model,
    candidate_models,
    optional_models,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "OUTPUT_SCHEMA",
    "backtest_windows",
    "output_columns",
    "output_schema",
    "process_series",
    "regularise",
    "resolve_models",
    "summarise",
]

_DAY_NS = 86_400 * 10**9


def _level_tag(level: float) -> str:
    return f"{level:g}".replace(".", "_")


def output_columns(level: Sequence[float] = DEFAULT_LEVEL) -> list[str]:
    """Column order of ``process_series``' result for the interval ``level``s."""
    bounds = [f"yhat_{side}_{_level_tag(lv)}" for lv in level for side in ("lo", "hi")]
    return ["kind", "unique_id", "model", "ds", "yhat", *bounds, "selected", "mase", "smape",
            "n_windows", "n_obs", "note"]


_DDL_TYPES = {"kind": "string", "unique_id": "string", "model": "string", "ds": "timestamp",
              "selected": "boolean", "n_windows": "int", "n_obs": "int", "note": "string"}


def output_schema(level: Sequence[float] = DEFAULT_LEVEL) -> str:
    """Spark DDL for ``applyInPandas(..., schema=...)``. ``ds`` is a UTC wall-clock timestamp:
    run the job with ``spark.sql.session.timeZone=UTC`` (as ``lakehouse.spark`` does)."""
    return ", ".join(f"{c} {_DDL_TYPES.get(c, 'double')}" for c in output_columns(level))


OUTPUT_COLUMNS: list[str] = output_columns(DEFAULT_LEVEL)
OUTPUT_SCHEMA: str = output_schema(DEFAULT_LEVEL)


# --------------------------------------------------------------------------- preparation


def _normalise_ds(ds: pd.Series, freq: str) -> pd.Series:
    """Timestamps as tz-naive values. Sub-daily grids are instants: tz-aware input becomes
    UTC. Daily and coarser grids are calendar dates: tz-aware input keeps its local wall
    clock (a visitor count dated 2025-03-01 00:00+07:00 stays on 1 March, not 28 Feb)."""
    ds = pd.to_datetime(ds, errors="coerce")
    if isinstance(ds.dtype, pd.DatetimeTZDtype):
        offset = to_offset(freq)
        if isinstance(offset, Tick) and offset.nanos < _DAY_NS:
            ds = ds.dt.tz_convert("UTC")
        ds = ds.dt.tz_localize(None)
    return ds.astype("datetime64[ns]")


def regularise(ds: pd.Series, y: pd.Series, spec: FrequencySpec) -> tuple[pd.Series, str | None]:
    """One series on the ``spec.freq`` grid, gap-free, most recent ``max_history`` points.

    Readings are averaged per grid bucket (duplicates, irregular sampling); gaps of at most
    ``spec.max_gap`` buckets are filled by linear interpolation; at a longer gap the older
    part is dropped (the models need a contiguous series, and the recent stretch is what a
    forecast depends on). Returns the series and a note when something was cut.
    """
    values = pd.to_numeric(pd.Series(y).reset_index(drop=True), errors="coerce").astype(float)
    stamps = _normalise_ds(pd.Series(ds).reset_index(drop=True), spec.freq)
    frame = pd.DataFrame({"ds": stamps.to_numpy(), "y": values.to_numpy()})
    frame = frame[frame["ds"].notna()]
    frame.loc[~np.isfinite(frame["y"].to_numpy()), "y"] = np.nan
    if frame["y"].notna().sum() == 0:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], name="ds")), None
    series = frame.set_index("ds")["y"].sort_index().resample(spec.freq).mean()
    valid = series.notna().to_numpy()
    first, last = int(np.argmax(valid)), len(valid) - int(np.argmax(valid[::-1]))
    series = series.iloc[first:last]
    note = None
    missing = series.isna().to_numpy()
    if missing.any():
        run_id = np.cumsum(np.r_[True, missing[1:] != missing[:-1]])
        run_len = pd.Series(missing).groupby(run_id).transform("size").to_numpy()
        long_gap = missing & (run_len > spec.max_gap)
        series = series.interpolate(method="linear", limit_area="inside")
        if long_gap.any():
            cut = int(np.flatnonzero(long_gap)[-1]) + 1
            note = f"gap of more than {spec.max_gap} points: kept the last {len(series) - cut}"
            series = series.iloc[cut:]
    if spec.max_history is not None and len(series) > spec.max_history:
        series = series.iloc[-spec.max_history:]
    return series, note


def backtest_windows(n_obs: int, spec: FrequencySpec) -> int:
    """Rolling-origin windows that fit in ``n_obs`` points: ``spec.n_windows``, or fewer for a
    short series (down to 0: no backtest, the baseline is used)."""
    spare = n_obs - spec.min_train - spec.horizon
    if spare < 0:
        return 0
    return min(spec.n_windows, 1 + spare // spec.step)


def _alias(model: Any) -> str:
    return str(getattr(model, "alias", type(model).__name__))


def resolve_models(spec: FrequencySpec, models: Sequence[Any] | None = None) -> list[Any]:
    """The models to backtest: ``candidate_models(spec)`` by default, or models named by
    alias from ``candidate_models`` and ``optional_models`` (``["SeasonalNaive", "AutoETS"]``),
    or statsforecast model objects. The baseline is always included, first: the forecasts
    are compared with it and it is the fallback."""
    defaults = candidate_models(spec)
    if models is None:
        chosen = defaults
    else:
        by_alias = {_alias(m): m for m in [*optional_models(spec), *defaults]}
        chosen = []
        for item in models:
            if isinstance(item, str):
                if item not in by_alias:
                    raise ValueError(f"unknown model {item!r} for spec {spec.name!r}; "
                                     f"candidates: {sorted(by_alias)}")
                chosen.append(by_alias[item])
            else:
                chosen.append(copy.deepcopy(item))
    baseline = baseline_model(spec)
    aliases = [_alias(m) for m in chosen]
    if _alias(baseline) in aliases:
        index = aliases.index(_alias(baseline))
        chosen = [chosen[index], *chosen[:index], *chosen[index + 1:]]
    else:
        chosen = [baseline, *chosen]
    aliases = [_alias(m) for m in chosen]
    if len(set(aliases)) != len(aliases):
        raise ValueError(f"model aliases must be unique, got {aliases}")
    return chosen


# --------------------------------------------------------------------------- the forecaster


def _checked(values: np.ndarray, h: int, floor: float | None) -> np.ndarray:
    """The point forecast, validated, clipped at ``floor`` (0 for a series that never went
    negative: counts, concentrations and visitors cannot)."""
    values = np.asarray(values, dtype=float).reshape(-1)
    if values.size != h or not np.isfinite(values).all():
        raise FloatingPointError("non-finite or short forecast")
    return values if floor is None else np.maximum(values, floor)


def _floor(history: np.ndarray) -> float | None:
    return 0.0 if history.size and history.min() >= 0 else None


def _backtest_model(model: Any, y: np.ndarray, cutoffs: list[int], spec: FrequencySpec
                    ) -> tuple[list[float], list[float]]:
    """MASE and sMAPE of one model at each origin (raises when the model fails)."""
    h, m = spec.horizon, spec.season_length
    scores_mase, scores_smape = [], []
    fitted = None
    for index, cutoff in enumerate(cutoffs):
        train, actual = y[:cutoff], y[cutoff:cutoff + h]
        if spec.refit:
            forecast = copy.deepcopy(model).forecast(y=train, h=h)["mean"]
        elif not hasattr(model, "forward"):  # naive models: a refit is a copy, as cheap
            forecast = model.forecast(y=train, h=h)["mean"]
        elif fitted is None:
            fitted = copy.deepcopy(model).fit(y=train)
            forecast = fitted.predict(h=h)["mean"]
        else:  # same parameters, states re-filtered over the longer history
            forecast = fitted.forward(y=train, h=h)["mean"]
        forecast = _checked(forecast, h, _floor(train))
        scores_mase.append(mase(actual, forecast, train, m))
        scores_smape.append(smape(actual, forecast))
    return scores_mase, scores_smape


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _final_forecast(model: Any, y: np.ndarray, spec: FrequencySpec) -> dict[str, np.ndarray]:
    """Fit on all points, forecast ``horizon`` ahead with ordered intervals (clipped at 0
    like the point forecast when the series never went negative)."""
    h = spec.horizon
    floor = _floor(y)
    out = copy.deepcopy(model).forecast(y=y, h=h, level=list(spec.level))
    mean = _checked(out["mean"], h, floor)
    result = {"yhat": mean}
    inner_lo, inner_hi = mean, mean
    for lv in spec.level:  # increasing: each band must contain the narrower one
        lo = np.asarray(out.get(f"lo-{lv}", np.full(h, np.nan)), dtype=float).reshape(-1)
        hi = np.asarray(out.get(f"hi-{lv}", np.full(h, np.nan)), dtype=float).reshape(-1)
        lo = np.where(np.isfinite(lo), lo, inner_lo)
        hi = np.where(np.isfinite(hi), hi, inner_hi)
        if floor is not None:
            lo, hi = np.maximum(lo, floor), np.maximum(hi, floor)
        inner_lo, inner_hi = np.minimum(lo, inner_lo), np.maximum(hi, inner_hi)
        result[f"yhat_lo_{_level_tag(lv)}"] = inner_lo
        result[f"yhat_hi_{_level_tag(lv)}"] = inner_hi
    return result


def _failure(error: Exception) -> str:
    return f"failed: {type(error).__name__}: {str(error)[:120]}"


def _one_series(uid: str, ds: pd.Series, y: pd.Series, spec: FrequencySpec,
                models: list[Any], forecast_all: bool) -> list[dict[str, Any]]:
    series, cut_note = regularise(ds, y, spec)
    n_obs = len(series)
    base = {"unique_id": uid, "n_obs": n_obs}
    if n_obs < spec.min_train:
        reason = f"too_short: {n_obs} points, needs {spec.min_train}"
        if cut_note:
            reason += f" ({cut_note})"
        return [{**base, "kind": "skipped", "n_windows": 0, "note": reason}]

    values = series.to_numpy(dtype=float)
    n_windows = backtest_windows(n_obs, spec)
    cutoffs = [n_obs - spec.horizon - (n_windows - 1 - k) * spec.step for k in range(n_windows)]
    aliases = [_alias(m) for m in models]
    scores: dict[str, tuple[float, float]] = {}
    notes: dict[str, str | None] = {a: cut_note for a in aliases}
    if n_windows:
        for alias, model in zip(aliases, models, strict=True):
            try:
                per_mase, per_smape = _backtest_model(model, values, cutoffs, spec)
                scores[alias] = (_nanmean(per_mase), _nanmean(per_smape))
            except Exception as error:  # noqa: BLE001 - a model failing on one series is left out
                notes[alias] = _failure(error)
    else:
        reason = "no_backtest: too short for one window, baseline used"
        notes = {a: f"{reason}; {cut_note}" if cut_note else reason for a in aliases}

    def rank(index: int) -> tuple[int, float, int, float, int]:
        m_, s_ = scores[aliases[index]]
        return (0 if np.isfinite(m_) else 1, m_ if np.isfinite(m_) else 0.0,
                0 if np.isfinite(s_) else 1, s_ if np.isfinite(s_) else 0.0, index)

    order = sorted((i for i, a in enumerate(aliases) if a in scores), key=rank)
    order += [0] if 0 not in order else []  # the baseline is the last resort

    forecasts: dict[str, dict[str, np.ndarray]] = {}
    selected: str | None = None
    for index in order:  # best first; a model failing on the full series yields to the next
        try:
            forecasts[aliases[index]] = _final_forecast(models[index], values, spec)
            selected = aliases[index]
            break
        except Exception as error:  # noqa: BLE001 - recorded, the next-best model is tried
            notes[aliases[index]] = _failure(error)
    wanted = aliases if forecast_all else [aliases[0]]
    for alias, model in zip(aliases, models, strict=True):
        if alias in wanted and alias not in forecasts and not _failed(notes[alias]):
            try:
                forecasts[alias] = _final_forecast(model, values, spec)
            except Exception as error:  # noqa: BLE001 - recorded in the metric row's note
                notes[alias] = _failure(error)

    rows: list[dict[str, Any]] = []
    for alias in aliases:
        m_, s_ = scores.get(alias, (np.nan, np.nan))
        rows.append({**base, "kind": "metric", "model": alias, "mase": m_, "smape": s_,
                     "selected": alias == selected, "n_windows": n_windows,
                     "note": notes[alias]})
    future = pd.date_range(series.index[-1], periods=spec.horizon + 1, freq=spec.freq)[1:]
    for alias in aliases:
        if alias not in forecasts:
            continue
        block = forecasts[alias]
        for step in range(spec.horizon):
            rows.append({**base, "kind": "forecast", "model": alias, "ds": future[step],
                         **{k: float(v[step]) for k, v in block.items()},
                         "selected": alias == selected, "n_windows": n_windows,
                         "note": None})
    return rows


def _failed(note: str | None) -> bool:
    return bool(note) and note.startswith("failed:")


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in columns:
        if column in ("kind", "unique_id", "model", "note"):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        elif column == "ds":
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        elif column == "selected":
            frame[column] = np.array([v is True or v is np.True_ for v in frame[column]],
                                     dtype=bool)
        elif column in ("n_windows", "n_obs"):
            frame[column] = frame[column].fillna(0).astype("int32")
        else:
            frame[column] = frame[column].astype(float)
    return frame


def process_series(
    pdf: pd.DataFrame,
    spec: FrequencySpec,
    *,
    models: Sequence[Any] | None = None,
    forecast_all: bool = False,
) -> pd.DataFrame:
    """Backtest, select and forecast every series in ``pdf`` (``unique_id, ds, y``).

    Per series: ``regularise`` to ``spec.freq``; a series with fewer than ``spec.min_train``
    points gets one ``'skipped'`` row (``note`` says why) and nothing else. Otherwise up to
    ``spec.n_windows`` rolling origins (fewer when the series is short, recorded in
    ``n_windows``; with none, ``note`` says ``no_backtest`` and the baseline is selected),
    each forecasting ``spec.horizon`` points; per model the mean MASE (seasonal-naive scale of
    the data before each origin) and sMAPE (0-200); the model with the lowest MASE is
    selected (ties and undefined MASE, e.g. a constant series: lowest sMAPE, then the
    earlier candidate, the baseline first). The selected model and the baseline (every
    model with ``forecast_all=True``) are refitted on all points and forecast ``horizon``
    ahead with intervals at ``spec.level``, ordered ``lo95 <= lo80 <= yhat <= hi80 <= hi95``.
    A series that never went negative gets forecasts and bounds clipped at 0, in the
    backtest as in production.

    A model that fails on a series is reported (``note``) and left out, never fatal.
    ``models`` restricts or replaces the candidates (see ``resolve_models``). Columns:
    ``output_columns(spec.level)`` (``OUTPUT_COLUMNS`` for the default 80/95 levels).
    """
    columns = output_columns(spec.level)
    missing = {"unique_id", "ds", "y"} - set(pdf.columns)
    if missing:
        raise ValueError(f"process_series needs columns unique_id, ds, y; missing {sorted(missing)}")
    chosen = resolve_models(spec, models)
    rows: list[dict[str, Any]] = []
    ids = pdf["unique_id"].astype(str)
    with warnings.catch_warnings():
        # statsmodels/statsforecast warn per fit (convergence, tiny samples): noise in executor
        # logs; failures that matter surface as exceptions and land in ``note``.
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            for uid, part in pdf.groupby(ids, sort=True):
                rows.extend(_one_series(str(uid), part["ds"], part["y"], spec, chosen, forecast_all))
    return _frame(rows, columns)


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean backtest MASE and sMAPE per model, plus the ``'auto'`` policy (each series'
    selected model): the figures compared between versions of the forecaster.

    Takes ``process_series`` output (only ``kind == 'metric'`` rows are used). Columns:
    ``model, mase, smape, series`` (series with a finite MASE for that model), ``'auto'``
    last. Note that ``'auto'`` is measured on the windows it was selected on, so it is
    optimistic as an estimate of future accuracy; it is a fair basis for comparing
    policies, which all get the same advantage.
    """
    rows = metrics
    if "kind" in rows.columns:
        rows = rows[rows["kind"] == "metric"]
    per_model = (rows.groupby("model", sort=True)
                 .agg(mase=("mase", "mean"), smape=("smape", "mean"),
                      series=("mase", lambda s: int(np.isfinite(s).sum())))
                 .reset_index())
    chosen = rows[rows["selected"].fillna(False).astype(bool)]
    auto = pd.DataFrame({"model": ["auto"], "mase": [chosen["mase"].mean()],
                         "smape": [chosen["smape"].mean()],
                         "series": [int(np.isfinite(chosen["mase"]).sum())]})
    return pd.concat([per_model, auto], ignore_index=True)
