"""Table II metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtwin.forecast.metrics import error_rate_pct, forecast_metrics, mae, r2, rmse

ACTUAL = [10.0, 20.0, 30.0, 40.0]
PRED = [12.0, 18.0, 33.0, 40.0]
# errors: +2, -2, +3, 0 → squares 4, 4, 9, 0 (sum 17); |e| sum 7; mean |actual| = 25
# mean actual 25 → Σ(a - ā)² = 225 + 25 + 25 + 225 = 500


def test_metrics_by_hand() -> None:
    assert rmse(ACTUAL, PRED) == pytest.approx(math.sqrt(17 / 4))
    assert mae(ACTUAL, PRED) == pytest.approx(7 / 4)
    assert error_rate_pct(ACTUAL, PRED) == pytest.approx(100 * (7 / 4) / 25)
    assert r2(ACTUAL, PRED) == pytest.approx(1 - 17 / 500)
    assert forecast_metrics(ACTUAL, PRED) == {
        "rmse": rmse(ACTUAL, PRED),
        "mae": mae(ACTUAL, PRED),
        "error_rate_pct": error_rate_pct(ACTUAL, PRED),
        "r2": r2(ACTUAL, PRED),
    }


def test_perfect_and_mean_predictions() -> None:
    assert rmse(ACTUAL, ACTUAL) == 0.0
    assert r2(ACTUAL, ACTUAL) == 1.0
    assert r2(ACTUAL, [25.0] * 4) == pytest.approx(0.0)


def test_nan_elements_are_ignored_and_shapes_checked() -> None:
    a = np.array([[10.0, np.nan], [20.0, 30.0]])
    p = np.array([[11.0, 5.0], [np.nan, 27.0]])
    assert mae(a, p) == pytest.approx(2.0)  # pairs (10, 11) and (30, 27)
    with pytest.raises(ValueError, match="shape"):
        rmse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        mae([np.nan], [1.0])
    with pytest.raises(ValueError, match="every actual value is 0"):
        error_rate_pct([0.0, 0.0], [1.0, 1.0])
