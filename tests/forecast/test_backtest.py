"""The per-series forecaster: backtest, selection, forecasts, edge series, Spark contract."""

from __future__ import annotations

import re
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from lakehouse.forecast import (
    OUTPUT_COLUMNS,
    OUTPUT_SCHEMA,
    SPECS,
    backtest_windows,
    candidate_models,
    output_columns,
    output_schema,
    process_series,
    regularise,
    resolve_models,
    summarise,
)

DAILY = SPECS["daily"]
HOURLY = SPECS["hourly"]


def frame(uid: str, values, freq: str, start: str = "2025-01-06", tz: str | None = None
          ) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    ds = pd.date_range(start, periods=len(values), freq=freq, tz=tz)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": values})


def seasonal(n: int, period: int, seed: int = 0, noise: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 30 * np.sin(2 * np.pi * t / period) + rng.normal(0, noise, n)


def rows(out: pd.DataFrame, kind: str) -> pd.DataFrame:
    return out[out["kind"] == kind].reset_index(drop=True)


def assert_ordered_intervals(forecasts: pd.DataFrame) -> None:
    assert len(forecasts)
    cols = ["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]
    values = forecasts[cols].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= 0).all()


# --------------------------------------------------------------------------- contract


def test_output_schema_is_the_ddl_of_the_output_columns() -> None:
    names = [part.strip().split(" ")[0] for part in OUTPUT_SCHEMA.split(",")]
    assert names == OUTPUT_COLUMNS == output_columns((80, 95))
    assert OUTPUT_SCHEMA == output_schema()
    assert "ds timestamp" in OUTPUT_SCHEMA and "selected boolean" in OUTPUT_SCHEMA
    assert {"yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"} <= set(OUTPUT_COLUMNS)
    assert re.fullmatch(r"(\w+ (string|timestamp|double|boolean|int)(, )?)+", OUTPUT_SCHEMA)
    assert "yhat_lo_99" in output_schema((80, 99))


def test_specs_match_the_brief() -> None:
    expected = {"hourly": (24, 24), "15min": (96, 96), "daily": (7, 14), "monthly": (12, 24),
                "quarterly": (4, 8), "yearly": (1, 4)}
    assert {k: (s.season_length, s.horizon) for k, s in SPECS.items()} == expected
    for name, spec in SPECS.items():
        assert spec.name == name and spec.level == (80, 95)
        aliases = [m.alias for m in candidate_models(spec)]
        assert aliases[0] == ("Naive" if spec.season_length == 1 else "SeasonalNaive")
        assert len(set(aliases)) == len(aliases) >= 3
    with pytest.raises(ValueError):
        replace(DAILY, level=(95, 80))


def test_backtest_windows_shrink_with_history() -> None:
    spec = DAILY  # min_train 56, horizon 14, 3 windows, step 7
    assert backtest_windows(spec.required_points, spec) == 3
    assert backtest_windows(spec.required_points + 100, spec) == 3
    assert backtest_windows(56 + 14 + 7, spec) == 2
    assert backtest_windows(56 + 14, spec) == 1
    assert backtest_windows(56 + 13, spec) == 0


def test_resolve_models_by_alias_keeps_the_baseline_first() -> None:
    names = [m.alias for m in resolve_models(DAILY, ["AutoETS"])]
    assert names == ["SeasonalNaive", "AutoETS"]
    names = [m.alias for m in resolve_models(DAILY, ["MSTL", "SeasonalNaive", "AutoARIMA"])]
    assert names == ["SeasonalNaive", "MSTL", "AutoARIMA"]  # AutoARIMA: an optional model
    with pytest.raises(ValueError, match="unknown model"):
        resolve_models(DAILY, ["Prophet"])


# --------------------------------------------------------------------------- behaviour


@pytest.fixture(scope="module")
def hourly_out() -> pd.DataFrame:
    # 4 weeks of a strong daily cycle: the seasonal models must beat a non-seasonal naive
    from statsforecast.models import Naive

    values = seasonal(24 * 28, 24, seed=1, noise=2.0)
    return process_series(frame("aq:1", values, "h"), HOURLY,
                          models=["SeasonalNaive", "AutoETS", "MSTL", Naive()])


def test_seasonal_models_beat_naive_and_one_is_selected(hourly_out: pd.DataFrame) -> None:
    metrics = rows(hourly_out, "metric").set_index("model")
    assert list(metrics.index) == ["SeasonalNaive", "AutoETS", "MSTL", "Naive"]
    assert (metrics["n_windows"] == HOURLY.n_windows).all()
    assert (metrics["n_obs"] == HOURLY.max_history).all()  # 28 days cut to 21
    for model in ("SeasonalNaive", "AutoETS", "MSTL"):
        assert metrics.loc[model, "mase"] < metrics.loc["Naive", "mase"] / 2
        assert metrics.loc[model, "smape"] < metrics.loc["Naive", "smape"]
    assert metrics["selected"].sum() == 1
    chosen = metrics.index[metrics["selected"]][0]
    assert chosen != "Naive"
    assert metrics.loc[chosen, "mase"] == metrics["mase"].min()


def test_forecast_rows_continue_the_grid_for_selected_and_baseline(hourly_out) -> None:
    forecasts = rows(hourly_out, "forecast")
    chosen = rows(hourly_out, "metric").query("selected")["model"].iloc[0]
    assert set(forecasts["model"]) == {"SeasonalNaive", chosen}
    expected = pd.date_range("2025-02-03 00:00", periods=24, freq="h")  # after 28 days
    for model, block in forecasts.groupby("model"):
        assert list(block["ds"]) == list(expected)
        assert block["selected"].all() == (model == chosen)
    assert_ordered_intervals(forecasts)
    assert forecasts[["mase", "smape"]].isna().all().all()


def test_a_perfect_backtest_forecast_scores_mase_zero() -> None:
    # 60 noisy days then a repeating week: the seasonal naive is exact in every window,
    # while the MASE scale (from the training data, noisy part included) is positive.
    rng = np.random.default_rng(3)
    week = np.array([5.0, 7, 9, 8, 6, 12, 15])
    values = np.r_[rng.uniform(0, 20, 60), np.tile(week, 10)]
    out = process_series(frame("site:1", values, "D"), DAILY)
    metrics = rows(out, "metric").set_index("model")
    assert metrics.loc["SeasonalNaive", "mase"] == 0.0
    assert metrics.loc["SeasonalNaive", "smape"] == 0.0
    assert metrics.loc["SeasonalNaive", "selected"]
    baseline = rows(out, "forecast").query("model == 'SeasonalNaive'")
    np.testing.assert_allclose(baseline["yhat"], np.tile(week, 2))


def test_intervals_are_ordered_for_every_spec_and_model() -> None:
    for spec, n in ((SPECS["15min"], 96 * 9), (DAILY, 200), (SPECS["quarterly"], 40),
                    (SPECS["yearly"], 25)):
        values = seasonal(n, spec.season_length if spec.season_length > 1 else 5, noise=3.0)
        out = process_series(frame("s", values + np.arange(n) * 0.1, spec.freq), spec,
                             forecast_all=True)
        forecasts = rows(out, "forecast")
        assert set(forecasts["model"]) == {m.alias for m in candidate_models(spec)} - set(
            rows(out, "metric").dropna(subset=["note"])["model"])
        assert_ordered_intervals(forecasts)


def test_non_negative_series_never_get_negative_forecasts() -> None:
    # a falling count with a weekly cycle: linear trends would cross zero within 14 days
    values = np.maximum(0.0, 60 - 0.5 * np.arange(120) + 5 * np.sin(np.arange(120)))
    out = process_series(frame("count", values, "D"), DAILY, forecast_all=True)
    forecasts = rows(out, "forecast")
    assert (forecasts[["yhat_lo_95", "yhat_lo_80", "yhat"]] >= 0).all().all()
    assert_ordered_intervals(forecasts)
    signed = process_series(frame("signed", values - 30, "D"), DAILY)  # history below 0
    assert (rows(signed, "forecast")["yhat_lo_95"] < 0).any()


def test_refit_and_fit_once_backtests_both_run() -> None:
    values = seasonal(150, 7, seed=5, noise=4.0)
    fit_once = rows(process_series(frame("s", values, "D"), DAILY), "metric")
    refit = rows(process_series(frame("s", values, "D"), replace(DAILY, refit=True)), "metric")
    assert list(fit_once["model"]) == list(refit["model"])
    assert fit_once["mase"].notna().all() and refit["mase"].notna().all()
    # the baseline has no parameters: identical either way
    assert fit_once["mase"].iloc[0] == refit["mase"].iloc[0]


# --------------------------------------------------------------------------- edge series


def test_short_series_get_one_skipped_row() -> None:
    out = process_series(frame("short", np.arange(20.0), "D"), DAILY)
    assert list(out["kind"]) == ["skipped"]
    assert out["note"].iloc[0].startswith("too_short: 20 points")
    assert out["n_obs"].iloc[0] == 20 and out["n_windows"].iloc[0] == 0
    assert list(out.columns) == OUTPUT_COLUMNS


def test_too_short_for_a_window_uses_the_baseline() -> None:
    out = process_series(frame("s", seasonal(60, 7), "D"), DAILY)  # >= min_train, < 1 window
    metrics = rows(out, "metric")
    assert (metrics["n_windows"] == 0).all() and metrics["mase"].isna().all()
    assert metrics.query("selected")["model"].tolist() == ["SeasonalNaive"]
    assert metrics["note"].str.startswith("no_backtest").all()
    forecasts = rows(out, "forecast")
    assert set(forecasts["model"]) == {"SeasonalNaive"} and forecasts["selected"].all()


def test_constant_series_does_not_crash() -> None:
    out = process_series(frame("flat", np.full(120, 42.0), "D"), DAILY)
    metrics = rows(out, "metric")
    assert metrics["mase"].isna().all()  # scale 0: MASE undefined
    assert metrics.query("selected")["model"].tolist() == ["SeasonalNaive"]  # ties: baseline
    forecasts = rows(out, "forecast")
    np.testing.assert_allclose(forecasts["yhat"], 42.0)
    assert_ordered_intervals(forecasts)


def test_all_zero_series_does_not_crash() -> None:
    out = process_series(frame("zero", np.zeros(120), "D"), DAILY)
    metrics = rows(out, "metric").set_index("model")
    assert metrics.loc["SeasonalNaive", "smape"] == 0.0
    forecasts = rows(out, "forecast")
    np.testing.assert_allclose(forecasts.query("selected")["yhat"], 0.0, atol=1e-9)
    assert_ordered_intervals(forecasts)


def test_nans_are_interpolated_and_long_gaps_cut() -> None:
    values = seasonal(200, 7, seed=2)
    values[[50, 51, 120, 180]] = np.nan  # short gaps: filled
    out = process_series(frame("holes", values, "D"), DAILY)
    assert rows(out, "metric")["n_obs"].iloc[0] == 200
    assert rows(out, "metric")["mase"].notna().all()

    values[60:70] = np.nan  # 10 missing days > max_gap: only the 130 days after it are kept
    series, note = regularise(frame("cut", values, "D")["ds"], pd.Series(values), DAILY)
    assert len(series) == 130 and not series.isna().any()
    assert "kept the last 130" in note
    out = process_series(frame("cut", values, "D"), DAILY)
    assert rows(out, "metric")["n_obs"].iloc[0] == 130
    assert rows(out, "metric")["note"].fillna("").str.contains("kept the last 130").any()


def test_all_nan_and_irregular_input() -> None:
    out = process_series(frame("void", np.full(100, np.nan), "D"), DAILY)
    assert list(out["kind"]) == ["skipped"]
    # duplicated, unsorted, sub-hourly readings are averaged into hourly buckets
    base = frame("aq", seasonal(24 * 10, 24), "h")
    doubled = pd.concat([base, base.assign(ds=base["ds"] + pd.Timedelta(minutes=20),
                                           y=base["y"] + 2)]).sample(frac=1, random_state=0)
    series, _ = regularise(doubled["ds"], doubled["y"], HOURLY)
    np.testing.assert_allclose(series.to_numpy(), base["y"].to_numpy() + 1)


def test_timezones_are_normalised() -> None:
    values = seasonal(24 * 10, 24)
    local = frame("aq", values, "h", start="2025-01-06 07:00", tz="Asia/Ho_Chi_Minh")
    out = process_series(local, HOURLY)
    # sub-daily: instants in UTC, tz-naive; history ends 2025-01-16 06:00+07 = 15 Jan 23:00 UTC
    assert rows(out, "forecast")["ds"].min() == pd.Timestamp("2025-01-16 00:00")
    assert rows(out, "forecast")["ds"].dt.tz is None
    daily = frame("site", seasonal(100, 7), "D", start="2025-03-01", tz="Asia/Ho_Chi_Minh")
    series, _ = regularise(daily["ds"], daily["y"], DAILY)
    assert series.index[0] == pd.Timestamp("2025-03-01")  # calendar dates keep their day


def test_several_series_in_one_frame_and_determinism() -> None:
    pdf = pd.concat([frame("b", seasonal(150, 7, seed=1), "D"),
                     frame("a", seasonal(150, 7, seed=2), "D"),
                     frame("c", np.arange(10.0), "D")])
    first = process_series(pdf, DAILY)
    second = process_series(pdf.sample(frac=1, random_state=1), DAILY)
    pd.testing.assert_frame_equal(first, second)
    assert list(dict.fromkeys(first["unique_id"])) == ["a", "b", "c"]
    assert first.query("unique_id == 'c'")["kind"].tolist() == ["skipped"]
    assert first.dtypes["ds"] == "datetime64[ns]" and first.dtypes["selected"] == bool


def test_summarise_means_per_model_and_auto() -> None:
    metrics = pd.DataFrame({
        "kind": "metric", "unique_id": ["a", "a", "b", "b"],
        "model": ["SeasonalNaive", "AutoETS"] * 2, "mase": [1.0, 0.5, 2.0, 3.0],
        "smape": [10.0, 5.0, 20.0, 30.0], "selected": [False, True, True, False]})
    table = summarise(metrics).set_index("model")
    assert list(table.index) == ["AutoETS", "SeasonalNaive", "auto"]
    assert table.loc["AutoETS", "mase"] == pytest.approx(1.75)
    assert table.loc["SeasonalNaive", "mase"] == pytest.approx(1.5)
    assert table.loc["auto", "mase"] == pytest.approx(1.25)  # 0.5 (a) and 2.0 (b)
    assert table.loc["auto", "smape"] == pytest.approx(12.5)
    assert table.loc["auto", "series"] == 2


# --------------------------------------------------------------------------- Spark


@pytest.mark.slow
def test_apply_in_pandas_with_output_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """The frame converts to ``OUTPUT_SCHEMA`` inside a real ``groupBy().applyInPandas``."""
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # workers: this venv's Python
    active = SparkSession.getActiveSession()
    spark = active or (SparkSession.builder.master("local[1]").appName("forecast-test")
                       .config("spark.ui.enabled", "false")
                       .config("spark.pyspark.python", sys.executable)
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    try:
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC", pyspark.__version__
        pdf = pd.concat([frame("a", seasonal(120, 7, seed=1), "D"),
                         frame("b", np.zeros(120), "D"), frame("c", np.arange(5.0), "D")])
        result = (spark.createDataFrame(pdf).groupBy("unique_id")
                  .applyInPandas(lambda part: process_series(part, DAILY), schema=OUTPUT_SCHEMA)
                  .toPandas())
        expected = process_series(pdf, DAILY)
        result = result.sort_values(["unique_id", "kind", "model", "ds"], na_position="first")
        expected = expected.sort_values(["unique_id", "kind", "model", "ds"], na_position="first")
        assert list(result.columns) == OUTPUT_COLUMNS
        assert len(result) == len(expected)
        np.testing.assert_allclose(result["yhat"].to_numpy(float), expected["yhat"].to_numpy(float))
        assert list(result["ds"].dropna()) == list(expected["ds"].dropna())
    finally:
        if active is None:
            spark.stop()
