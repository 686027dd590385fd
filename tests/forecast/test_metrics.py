"""MASE and sMAPE against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lakehouse.forecast import mase, naive_scale, smape


def test_smape_by_hand() -> None:
    # 200/2 * (10/210 + 20/380)
    expected = 100 * (10 / 210 + 20 / 380)
    assert smape([100, 200], [110, 180]) == pytest.approx(expected)
    assert smape([100, 200], [110, 180]) == pytest.approx(10.025062656641603)


def test_smape_is_on_a_0_to_200_scale() -> None:
    assert smape([5.0], [0.0]) == pytest.approx(200.0)  # forecast 0 for a positive actual
    assert smape([1.0, 1.0], [-1.0, -1.0]) == pytest.approx(200.0)
    assert smape([3.0, 4.0], [3.0, 4.0]) == 0.0


def test_smape_terms_with_zero_denominator_count_as_zero() -> None:
    assert smape([0.0, 0.0], [0.0, 0.0]) == 0.0  # all-zero series, perfect forecast
    assert smape([0.0, 10.0], [0.0, 0.0]) == pytest.approx(100.0)  # (0 + 200) / 2


def test_naive_scale_seasonal_and_lag_one_fallback() -> None:
    # m = 4: |5-1|, |6-2|, |7-3|, |8-4| = 4 each
    assert naive_scale([1, 2, 3, 4, 5, 6, 7, 8], 4) == pytest.approx(4.0)
    # 3 points < one season + 1 -> lag 1: |3-1|, |2-3| -> 1.5
    assert naive_scale([1, 3, 2], 4) == pytest.approx(1.5)
    # exactly one season + 1 points: the seasonal lag is used, |x5 - x1|
    assert naive_scale([1, 9, 9, 9, 4], 4) == pytest.approx(3.0)
    assert naive_scale([1, 2, 4], 1) == pytest.approx(1.5)


def test_mase_by_hand() -> None:
    train = [1, 2, 3, 4, 5, 6, 7, 8]  # seasonal scale 4
    assert mase([10, 12], [8, 8], train, 4) == pytest.approx(3 / 4)  # MAE (2 + 4)/2 = 3
    assert mase([3.0], [0.0], [1, 3, 2], 4) == pytest.approx(3 / 1.5)  # lag-1 fallback
    assert mase([10, 12], [10, 12], train, 4) == 0.0  # perfect forecast


def test_mase_is_nan_when_the_scale_is_zero() -> None:
    assert math.isnan(mase([5, 5], [4, 6], [5, 5, 5, 5, 5, 5], 2))  # constant training data
    assert math.isnan(mase([1, 2], [1, 2], [1, 2, 1, 2, 1, 2], 2))  # perfectly periodic
    assert math.isnan(mase([1.0], [1.0], [7.0], 1))  # one training point: no difference
    # a sine sampled at its period: seasonal differences are ~1e-15 rounding noise, not data
    sine = 20 + 5 * np.sin(np.arange(96) * 2 * np.pi / 24)
    assert 0 < naive_scale(sine, 24) < 1e-12
    assert math.isnan(mase(sine[:24], sine[:24] + 1e-15, sine, 24))
    assert mase([2.0], [1.0], [1e-6, 2e-6, 4e-6], 1) == pytest.approx(1 / 1.5e-6)  # small data


def test_metrics_reject_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        smape([1, 2], [1])
    with pytest.raises(ValueError):
        mase([1, 2], [1], [1, 2, 3], 1)


def test_metrics_accept_numpy_and_lists_alike() -> None:
    actual, forecast = np.array([[1.0, 2.0]]), np.array([1.5, 2.5])
    assert smape(actual, forecast) == pytest.approx(smape([1.0, 2.0], [1.5, 2.5]))
