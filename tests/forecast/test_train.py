"""The training pipeline: splits, windows, train-only scaling, early stopping, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from vtwin.data.traffic import TrafficSeries, synthetic_traffic
from vtwin.forecast.train import (
    ForecastSettings,
    TrainedForecaster,
    evaluate_forecaster,
    make_windows,
    persistence_evaluation,
    split_bounds,
    train_forecaster,
)

FAST = {"epochs": 3, "patience": 2, "batch_size": 128}


@pytest.fixture(scope="module")
def series() -> TrafficSeries:
    return synthetic_traffic(2, days=3.0, seed=5)


def test_settings_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="epoch"):
        ForecastSettings.model_validate({"epoch": 3})
    with pytest.raises(ValidationError, match="allowed: lstm_transformer"):
        ForecastSettings(model="arima")
    with pytest.raises(ValidationError, match="at least 10 %"):
        ForecastSettings(val_fraction=0.5, test_fraction=0.45)
    with pytest.raises(ValidationError, match="window"):
        ForecastSettings(window=0)


def test_split_is_in_time_order_and_counts_observed_steps() -> None:
    s = split_bounds(100, 0.1, 0.2)
    assert (s.train, s.val, s.test) == ((0, 70), (70, 80), (80, 100))
    # steps 0-49 and 150-199 hold data (a 100-step hole in between)
    observed = np.r_[np.arange(50), np.arange(150, 200)]
    s = split_bounds(200, 0.1, 0.2, observed)
    assert s.train == (0, 170) and s.val == (170, 180) and s.test == (180, 200)
    with pytest.raises(ValueError, match="too few"):
        split_bounds(2, 0.4, 0.4)


def test_windows_by_hand_and_missing_values() -> None:
    v = np.arange(10, dtype=float)[:, None]
    x, y, sid, step = make_windows(v, 0, 10, window=3)
    assert x.shape == (7, 3, 1) and y.tolist() == list(range(3, 10))
    assert x[0, :, 0].tolist() == [0, 1, 2] and step.tolist() == list(range(3, 10))
    x, y, _, _ = make_windows(v, 2, 8, window=3, horizon=2)  # inside [2, 8) only
    assert x[:, 0, 0].tolist() == [2.0, 3.0] and y.tolist() == [6.0, 7.0]
    v[5] = np.nan  # every window touching step 5 (as input or target) is dropped
    x, y, sid, _ = make_windows(v, 0, 10, window=3)
    assert y.tolist() == [3.0, 4.0, 9.0] and (sid == 0).all()


def test_scaler_sees_the_training_part_only(series: TrafficSeries) -> None:
    settings = ForecastSettings(model="gru", **FAST)
    a = train_forecaster(series, settings)
    train_stop = round(series.n_steps * 0.7)
    np.testing.assert_allclose(a.mean, series.values[:train_stop].mean(axis=0))
    np.testing.assert_allclose(a.std, series.values[:train_stop].std(axis=0))
    # scaling the test part by 100 changes nothing that training produced
    test_start = series.n_steps - round(series.n_steps * 0.2)
    values = series.values.copy()
    values[test_start:] *= 100.0
    altered = TrafficSeries(values, series.time_s, series.names, series.quantity, series.unit)
    b = train_forecaster(altered, settings)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)
    assert a.history == b.history
    for key, tensor in a.model.state_dict().items():
        assert torch.equal(tensor, b.model.state_dict()[key]), key


def test_training_is_deterministic_and_beats_persistence(series: TrafficSeries) -> None:
    settings = ForecastSettings(model="lstm_transformer", epochs=8, patience=3)
    a = train_forecaster(series, settings)
    b = train_forecaster(series, settings)
    assert a.history == b.history
    ev = evaluate_forecaster(a, series)
    assert ev.metrics == evaluate_forecaster(b, series).metrics
    assert ev.metrics["r2"] > 0.8
    assert set(ev.metrics) == {"rmse", "mae", "error_rate_pct", "r2", "rmse_scaled", "n"}
    assert ev.actual.shape == ev.predicted.shape == (len(ev.time_s), 2)
    c = train_forecaster(series, settings.model_copy(update={"seed": 1}))
    assert c.history != a.history


def test_early_stopping_keeps_the_best_epoch(series: TrafficSeries) -> None:
    trained = train_forecaster(
        series, ForecastSettings(model="lstm", epochs=200, patience=2, lr=0.05)
    )
    epochs = len(trained.history)
    assert epochs < 200
    val = [h["val_mse"] for h in trained.history]
    assert trained.best_epoch == int(np.argmin(val)) + 1
    assert epochs - trained.best_epoch == 2


def test_persistence_uses_the_last_value_on_the_same_windows(series: TrafficSeries) -> None:
    ev = persistence_evaluation(series)
    steps = np.flatnonzero(np.isfinite(ev.predicted[:, 0]))
    np.testing.assert_allclose(ev.predicted[steps, 0], ev.actual[steps - 1, 0])
    trained = train_forecaster(series, ForecastSettings(model="gru", **FAST))
    assert evaluate_forecaster(trained, series).metrics["n"] == ev.metrics["n"]


def test_save_and_load_round_trip(series: TrafficSeries, tmp_path: Path) -> None:
    trained = train_forecaster(series, ForecastSettings(model="cnn_gru", **FAST))
    trained.save(tmp_path / "f")
    loaded = TrainedForecaster.load(tmp_path / "f")
    assert loaded.settings == trained.settings and loaded.names == trained.names
    assert (
        evaluate_forecaster(loaded, series).metrics == evaluate_forecaster(trained, series).metrics
    )
    with pytest.raises(FileNotFoundError, match=r"forecaster\.json"):
        TrainedForecaster.load(tmp_path)


def test_evaluate_on_all_of_new_data(series: TrafficSeries) -> None:
    trained = train_forecaster(series, ForecastSettings(model="gru", **FAST))
    other = synthetic_traffic(3, days=1.0, seed=9)  # three series: pooled scaler
    ev = evaluate_forecaster(trained, other, "all")
    assert ev.metrics["n"] == 3 * (other.n_steps - 6)
    with pytest.raises(ValueError, match="allowed: train, val, test"):
        evaluate_forecaster(trained, series, "future")


def test_too_short_series_fails_clearly() -> None:
    tiny = synthetic_traffic(1, days=0.02, seed=0)  # 5 steps
    with pytest.raises(ValueError, match=r"too few|no complete training window"):
        train_forecaster(tiny, ForecastSettings(**FAST))


def test_max_train_windows_subsamples_deterministically(series: TrafficSeries) -> None:
    settings = ForecastSettings(model="gru", max_train_windows=100, **FAST)
    a, b = train_forecaster(series, settings), train_forecaster(series, settings)
    assert a.history == b.history
    full = train_forecaster(series, ForecastSettings(model="gru", **FAST))
    assert a.history != full.history
