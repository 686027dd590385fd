"""Point-forecast accuracy measures, in the M4 / Tourism-competition conventions.

Why these two: MASE is scale-free and defined for series with zeros (the IOC's traffic
counts and rainfall are often zero), so it can be averaged across stations and is what
model selection ranks on; sMAPE is the figure people outside the team recognise and the
one the M4 competition reported next to MASE. Both follow the published formulas exactly,
so our seasonal-naive numbers on the Tourism data can be checked against the paper.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["mase", "naive_scale", "smape"]

_RELATIVE_ZERO = 1e-10  # a MASE scale this small relative to the data is rounding noise


def _as_1d(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1)


def naive_scale(y_train: ArrayLike, season_length: int) -> float:
    """In-sample MAE of the seasonal naive forecast ``y[t-m]`` on the training data.

    This is the MASE denominator (Hyndman & Koehler 2006; M4 convention). When the training
    data is shorter than one season plus one point (no seasonal difference exists), the lag
    falls back to 1, as the M4 code does for short series. NaNs in the training data are
    ignored pair-wise; nan when no pair remains.
    """
    train = _as_1d(y_train)
    lag = int(season_length) if season_length and season_length > 1 else 1
    if train.size < lag + 1:
        lag = 1
    if train.size < 2:
        return float("nan")
    diffs = np.abs(train[lag:] - train[:-lag])
    diffs = diffs[np.isfinite(diffs)]
    return float(diffs.mean()) if diffs.size else float("nan")


def mase(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_train: ArrayLike,
    season_length: int,
) -> float:
    """Mean absolute scaled error: ``mean|y - ŷ| / naive_scale(y_train, season_length)``.

    A value below 1 means the forecast beats the in-sample seasonal naive one-step error.
    Returns nan when the scale is 0 (a constant or perfectly periodic training series: the
    ratio is undefined, and inf would poison averages) or cannot be computed. "0" allows for
    rounding: a scale below 1e-10 of the training data's mean magnitude is float noise (a
    sine sampled at its period differs from itself by ~1e-15) and would turn noise/noise
    into a meaningless MASE.
    """
    actual, forecast = _as_1d(y_true), _as_1d(y_pred)
    if actual.shape != forecast.shape:
        raise ValueError(f"y_true has {actual.size} values, y_pred {forecast.size}")
    scale = naive_scale(y_train, season_length)
    if not np.isfinite(scale) or actual.size == 0:
        return float("nan")
    magnitude = np.abs(_as_1d(y_train))
    magnitude = float(magnitude[np.isfinite(magnitude)].mean()) if magnitude.size else 0.0
    if scale <= _RELATIVE_ZERO * magnitude or scale == 0.0:
        return float("nan")
    return float(np.mean(np.abs(actual - forecast)) / scale)


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE, M4 convention: ``200/h · Σ |y - ŷ| / (|y| + |ŷ|)``, on a **0–200** scale.

    Not a percentage of 100: a forecast of 0 for a positive actual scores 200. A term whose
    denominator ``|y| + |ŷ|`` is 0 (both zero: a perfect forecast of zero) counts as 0, so
    all-zero series score 0 instead of nan.
    """
    actual, forecast = _as_1d(y_true), _as_1d(y_pred)
    if actual.shape != forecast.shape:
        raise ValueError(f"y_true has {actual.size} values, y_pred {forecast.size}")
    if actual.size == 0:
        return float("nan")
    denominator = np.abs(actual) + np.abs(forecast)
    numerator = np.abs(actual - forecast)
    terms = np.divide(
        numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0
    )
    return float(200.0 * terms.mean())
