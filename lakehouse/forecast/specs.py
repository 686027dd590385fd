"""One forecasting policy per sampling frequency: season, horizon, backtest design, models.

Why per frequency and not per series: the Spark job forecasts ~1,000 series in one pass and
every series of a kind shares its sampling rate, its operational horizon (air quality and
water levels: the next day; traffic: the next day in 15-minute buckets; visitors: two
weeks) and therefore its cost envelope. The candidate models are picked for that envelope:
the budget is 1,000 series backtested and forecast in under 120 s on 2 cores, i.e. about
200 ms of one core per series, all models and windows included (see the measured costs in
``benchmarks/forecast_tourism.py --ioc-cost``).

The three competition frequencies (``monthly``, ``quarterly``, ``yearly``) exist so the very
same code can be scored on the Tourism competition data (``lakehouse.forecast.tourism``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_LEVEL",
    "SPECS",
    "FrequencySpec",
    "baseline_model",
    "candidate_models",
    "optional_models",
]

DEFAULT_LEVEL: tuple[int, ...] = (80, 95)


@dataclass(frozen=True)
class FrequencySpec:
    """How series of one frequency are regularised, backtested and forecast.

    ``n_windows`` rolling origins, ``step`` points apart, each forecast ``horizon`` points
    ahead; the earliest origin needs ``min_train`` points before it, so a series needs
    ``min_train + horizon + (n_windows - 1) * step`` points for the full backtest (fewer
    windows are used when it is shorter, see ``backtest.process_series``).
    """

    name: str
    freq: str  # pandas offset alias of the regular grid ('h', '15min', 'D', 'MS', 'QS', 'YS')
    season_length: int  # main seasonal period, in points (1: none)
    horizon: int  # points forecast ahead, in the backtest and in production
    n_windows: int  # rolling-origin backtest windows
    step: int  # points between two backtest origins
    min_train: int  # fewest points a model is fitted on (shorter series are skipped)
    level: tuple[int, ...] = DEFAULT_LEVEL  # prediction-interval levels, percent
    # Cost bound: only the most recent points are used (None: all). Model fitting time grows
    # with length, and old history adds little to a day-ahead forecast.
    max_history: int | None = None
    # Longest run of missing grid points filled by linear interpolation; a longer gap cuts
    # the series and only the stretch after the last such gap is used.
    max_gap: int = 3
    # Extra seasonal periods (points) for MSTL, e.g. the week in hourly data.
    extra_seasons: tuple[int, ...] = field(default=())
    # True: every backtest origin refits the models (classical rolling origin). False: fit
    # once at the earliest origin and only re-filter the later windows with the same
    # parameters (statsforecast's ``cross_validation(refit=False)``): several times cheaper
    # for long high-frequency series.
    refit: bool = True

    def __post_init__(self) -> None:
        if self.season_length < 1 or self.horizon < 1 or self.step < 1:
            raise ValueError(f"{self.name}: season_length, horizon and step must be >= 1")
        if self.n_windows < 1:
            raise ValueError(f"{self.name}: n_windows must be >= 1")
        if self.min_train < 2:
            raise ValueError(f"{self.name}: min_train must be >= 2")
        if not self.level or any(not 0 < lv < 100 for lv in self.level):
            raise ValueError(f"{self.name}: levels must be in (0, 100), got {self.level}")
        if tuple(sorted(set(self.level))) != tuple(self.level):
            raise ValueError(f"{self.name}: levels must be strictly increasing, got {self.level}")
        if self.max_history is not None and self.max_history < self.min_train:
            raise ValueError(f"{self.name}: max_history is below min_train")

    @property
    def required_points(self) -> int:
        """Points needed for the full ``n_windows`` backtest."""
        return self.min_train + self.horizon + (self.n_windows - 1) * self.step


SPECS: dict[str, FrequencySpec] = {
    spec.name: spec
    for spec in (
        # Air quality (PM2.5/PM10) and river levels: daily cycle, weekly traffic-driven
        # pattern in the air. Three weeks of history (the weekly STL needs two before the
        # earliest origin); 2 daily origins, fitted once.
        FrequencySpec("hourly", "h", 24, 24, n_windows=2, step=24, min_train=24 * 7,
                      max_history=24 * 21, max_gap=3, extra_seasons=(24 * 7,), refit=False),
        # Traffic counters: strong daily and weekly shape. Two weeks, so the weekly naive has
        # a full week to copy at every origin.
        FrequencySpec("15min", "15min", 96, 96, n_windows=2, step=96, min_train=96 * 3,
                      max_history=96 * 14, max_gap=4, extra_seasons=(96 * 7,), refit=False),
        # Tourism visitors per site (and daily water-level summaries): weekly cycle.
        FrequencySpec("daily", "D", 7, 14, n_windows=3, step=7, min_train=7 * 8,
                      max_history=365 * 2, max_gap=2, refit=False),
        # The Tourism competition frequencies, horizons as in the competition.
        FrequencySpec("monthly", "MS", 12, 24, n_windows=2, step=12, min_train=36,
                      max_gap=1, refit=True),
        FrequencySpec("quarterly", "QS", 4, 8, n_windows=3, step=4, min_train=12,
                      max_gap=1, refit=True),
        FrequencySpec("yearly", "YS", 1, 4, n_windows=3, step=2, min_train=6,
                      max_gap=1, refit=True),
    )
}


def _stl_kwargs(period: int, seasonal_window: int = 11) -> dict[str, int]:
    """R ``stl()``'s default loess jumps (window/10, rounded up) for ``period``.

    statsmodels evaluates every loess fit at every point (jump 1); R interpolates between
    fits every window/10 points: 3-5x faster on hourly and 15-minute data. statsforecast
    passes one set of STL arguments to every period of an MSTL, so multi-seasonal models use
    the jumps of their longest period (hourly [24, 168]: 2.2x faster than the jumps of 24,
    same backtest MASE on synthetic hourly series, measured).
    """
    trend_window = math.ceil(1.5 * period / (1 - 1.5 / seasonal_window))
    trend_window += 1 - trend_window % 2  # next odd
    low_pass_window = period + 1 - period % 2
    return {
        "seasonal_jump": math.ceil(seasonal_window / 10),
        "trend_jump": math.ceil(trend_window / 10),
        "low_pass_jump": math.ceil(low_pass_window / 10),
    }


def baseline_model(spec: FrequencySpec) -> Any:
    """The benchmark every series is compared with: seasonal naive, or naive without a season."""
    from statsforecast.models import Naive, SeasonalNaive

    if spec.season_length > 1:
        return SeasonalNaive(season_length=spec.season_length)
    return Naive()


def candidate_models(spec: FrequencySpec) -> list[Any]:
    """Fresh statsforecast model objects to backtest for ``spec``; the baseline comes first.

    Aliases are unique within a spec (they name the output rows). The choices, measured on
    the 2-core box (``benchmarks/forecast_tourism.py --ioc-cost``) and on the Tourism data:

    * ``AutoETS`` restricted to additive seasonality (``ZNA`` for the IOC series, ``ZZA`` for
      the competition ones): multiplicative seasonality is slower to fit and, on Tourism
      monthly, less accurate; statsforecast's ETS refuses seasons above 24, so for 15-minute
      data ETS enters as MSTL's trend model.
    * ``MSTL`` (STL decomposition + damped-trend ETS on the seasonally adjusted series) for
      the high-frequency, multi-seasonal series, with R's loess jumps (``_stl_kwargs``).
    * A weekly seasonal naive for traffic: near-free and right on weekends, where the daily
      naive copies a weekday.
    * ``AutoTheta`` for the competition frequencies: cheap and the strongest single method on
      yearly tourism data.
    * ``AutoARIMA`` is not a default anywhere: even with a limited order search it costs
      4-10x ETS per fit (160-260 ms on a daily or monthly series, seconds at season 96) and
      did not beat ETS on Tourism. It is in ``optional_models`` for challenger policies.
    """
    from statsforecast.models import MSTL, AutoETS, AutoTheta, SeasonalNaive

    models: list[Any] = [baseline_model(spec)]
    m = spec.season_length
    if spec.name == "hourly":
        models += [
            AutoETS(season_length=m, model="ZNA"),
            MSTL(season_length=[m, *spec.extra_seasons],
                 trend_forecaster=AutoETS(model="AAN", damped=True),
                 stl_kwargs=_stl_kwargs(max(m, *spec.extra_seasons))),
        ]
    elif spec.name == "15min":
        models += [
            SeasonalNaive(season_length=spec.extra_seasons[0], alias="WeeklyNaive"),
            MSTL(season_length=m, trend_forecaster=AutoETS(model="AAN", damped=True),
                 stl_kwargs=_stl_kwargs(m)),
        ]
    elif spec.name == "daily":
        models += [
            AutoETS(season_length=m, model="ZNA"),
            MSTL(season_length=m, trend_forecaster=AutoETS(model="AAN", damped=True),
                 stl_kwargs=_stl_kwargs(m)),
        ]
    elif m > 1:  # monthly, quarterly and any other seasonal spec
        models += [AutoETS(season_length=m, model="ZZA"), AutoTheta(season_length=m)]
    else:  # yearly and any other non-seasonal spec
        models += [AutoETS(model="ZZN"), AutoTheta()]
    return models


def optional_models(spec: FrequencySpec) -> list[Any]:
    """Models a policy may add by alias (``process_series(..., models=[...])``) that are not
    defaults because of their cost; only offered where the season is at most 24 points."""
    from statsforecast.models import AutoARIMA, AutoTheta

    if spec.season_length > 24:
        return []
    m = spec.season_length
    extra = [AutoARIMA(season_length=m, max_p=2, max_q=2, max_P=1, max_Q=1,
                       approximation=True)]
    if spec.name in ("hourly", "daily"):
        extra.append(AutoTheta(season_length=m))
    return extra
