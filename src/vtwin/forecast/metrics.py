"""Forecast accuracy metrics of paper B's Table II: RMSE, MAE, error rate (%) and R².

All take ``actual`` and ``predicted`` arrays of the same shape (any shape; every element is
one prediction) in the units of the data, and ignore elements where either is NaN. With
``e = predicted − actual`` over the n kept elements:

- RMSE = sqrt(mean(e²)), MAE = mean(|e|) (data units);
- error rate = 100 · mean(|e|) / mean(|actual|) (%), paper B's "error rate" (Sec. VII-B);
- R² = 1 − Σe² / Σ(actual − mean(actual))² (coefficient of determination; 1 is perfect,
  0 is no better than predicting the mean of the test values, negative is worse).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["error_rate_pct", "forecast_metrics", "mae", "r2", "rmse"]


def _pair(actual: ArrayLike, predicted: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if a.shape != p.shape:
        raise ValueError(f"actual has shape {a.shape} but predicted has shape {p.shape}")
    keep = np.isfinite(a) & np.isfinite(p)
    if not keep.any():
        raise ValueError("no element where both actual and predicted are finite")
    return a[keep], p[keep]


def rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Root mean square error (data units)."""
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((p - a) ** 2)))


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute error (data units)."""
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(p - a)))


def error_rate_pct(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean |error| over mean |actual|, in percent (paper B, Table II "error rate")."""
    a, p = _pair(actual, predicted)
    scale = float(np.mean(np.abs(a)))
    if scale == 0.0:
        raise ValueError("error rate is undefined: every actual value is 0")
    return 100.0 * float(np.mean(np.abs(p - a))) / scale


def r2(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Coefficient of determination R² (NaN when the actual values are all equal)."""
    a, p = _pair(actual, predicted)
    total = float(np.sum((a - a.mean()) ** 2))
    if total == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((p - a) ** 2)) / total


def forecast_metrics(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """All four Table II metrics: ``rmse``, ``mae``, ``error_rate_pct``, ``r2``."""
    return {
        "rmse": rmse(actual, predicted),
        "mae": mae(actual, predicted),
        "error_rate_pct": error_rate_pct(actual, predicted),
        "r2": r2(actual, predicted),
    }
