"""The Tourism competition loader and the evaluation of the production forecaster on it."""

from __future__ import annotations

import numpy as np
import pytest

from lakehouse.forecast import SPECS, mase, smape
from lakehouse.forecast.tourism import (
    EXPECTED_COUNTS,
    FREQUENCIES,
    PAPER_NAIVE_MASE,
    aggregate_tourism,
    evaluate_tourism,
    load_tourism_series,
    score_tourism,
    tourism_frame,
)


@pytest.fixture(scope="module")
def all_series():
    return load_tourism_series()


def _naive_forecast(item) -> np.ndarray:
    """The seasonal naive by hand: the last season repeated (the last value for yearly)."""
    return np.resize(item.train[-item.period:], item.horizon)


def test_loader_counts_horizons_and_periods(all_series) -> None:
    counts = {f: sum(s.frequency == f for s in all_series) for f in FREQUENCIES}
    assert counts == EXPECTED_COUNTS == {"monthly": 366, "quarterly": 427, "yearly": 518}
    assert len(all_series) == 1311
    for item in all_series:
        spec = SPECS[item.frequency]
        assert item.horizon == spec.horizon == {"monthly": 24, "quarterly": 8, "yearly": 4}[
            item.frequency]
        assert item.period == max(spec.season_length, 1)
        assert np.isfinite(item.train).all() and np.isfinite(item.test).all()
    assert [s.unique_id for s in all_series[:2]] == ["M1", "M2"]
    assert len(load_tourism_series(["quarterly"], limit=5)) == 5
    with pytest.raises(ValueError):
        load_tourism_series(["weekly"])


def test_frame_lays_the_training_part_on_the_spec_grid(all_series) -> None:
    item = next(s for s in all_series if s.frequency == "quarterly")
    pdf = tourism_frame(item)
    assert list(pdf.columns) == ["unique_id", "ds", "y"]
    assert len(pdf) == len(item.train) and pdf["ds"].diff().dropna().dt.days.between(89, 92).all()


@pytest.mark.parametrize("frequency", FREQUENCIES)
def test_direct_naive_mase_reproduces_the_paper(all_series, frequency) -> None:
    """Seasonal naive (naive for yearly) on every series of the frequency: the paper's
    1.63 / 1.70 / 3.01 to two decimals. Checks the data and the MASE scale convention."""
    scores = [mase(s.test, _naive_forecast(s), s.train, s.period)
              for s in all_series if s.frequency == frequency]
    assert round(float(np.mean(scores)), 2) == PAPER_NAIVE_MASE[frequency]


def test_production_naive_equals_the_direct_computation(all_series) -> None:
    """The first 50 monthly series through ``process_series`` (baseline only): the same
    forecasts, hence the same MASE and sMAPE, as the seasonal naive by hand."""
    first = [s for s in all_series if s.frequency == "monthly"][:50]
    scores = score_tourism(first, models={"monthly": ["SeasonalNaive"]})
    assert set(scores["model"]) == {"SeasonalNaive", "auto"}
    base = scores[scores["model"] == "SeasonalNaive"].set_index("unique_id")
    direct_mase = [mase(s.test, _naive_forecast(s), s.train, 12) for s in first]
    direct_smape = [smape(s.test, _naive_forecast(s)) for s in first]
    np.testing.assert_allclose(base.loc[[s.unique_id for s in first], "mase"], direct_mase)
    np.testing.assert_allclose(base.loc[[s.unique_id for s in first], "smape"], direct_smape)
    summary = aggregate_tourism(scores).iloc[0]
    assert summary["naive_mase"] == pytest.approx(np.mean(direct_mase))
    assert summary["auto_mase"] == pytest.approx(np.mean(direct_mase))  # the only candidate


def test_evaluate_tourism_end_to_end_on_a_few_series() -> None:
    table = evaluate_tourism(limit=3).set_index("frequency")
    assert list(table.index) == list(FREQUENCIES)
    assert (table["series"] == 3).all()
    assert table.loc["yearly", "baseline"] == "Naive"
    assert table.loc["monthly", "baseline"] == "SeasonalNaive"
    for column in ("naive_mase", "auto_mase", "naive_smape", "auto_smape", "mase_ratio"):
        assert np.isfinite(table[column]).all()
    assert (table["auto_smape"] <= 200).all()
    assert "model_AutoETS_mase" in table.columns
