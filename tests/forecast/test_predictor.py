"""The Predictor interface: last value and trained models, single and batched histories."""

from __future__ import annotations

import numpy as np
import pytest

from vtwin.data.traffic import synthetic_traffic
from vtwin.forecast.predictor import LastValuePredictor, ModelPredictor, Predictor
from vtwin.forecast.train import ForecastSettings, evaluate_forecaster, train_forecaster


def test_last_value_predictor() -> None:
    p = LastValuePredictor()
    assert isinstance(p, Predictor) and p.window == 1
    h = np.arange(12, dtype=float).reshape(4, 3)
    assert p.predict_next(h).tolist() == [9.0, 10.0, 11.0]
    assert p.predict_next(np.stack([h, h + 1])).shape == (2, 3)
    with pytest.raises(ValueError, match="expected"):
        p.predict_next(np.zeros(3))


def test_model_predictor_matches_the_evaluation() -> None:
    series = synthetic_traffic(2, days=3.0, seed=5)
    trained = train_forecaster(series, ForecastSettings(model="gru", epochs=3, patience=2))
    predictor = ModelPredictor(trained)
    assert isinstance(predictor, Predictor) and predictor.window == 6
    ev = evaluate_forecaster(trained, series, "all")
    t = 100
    out = predictor.predict_next(series.values[t - 6 : t])
    np.testing.assert_allclose(out, ev.predicted[t], rtol=1e-5)
    batch = np.stack([series.values[t - 8 : t], series.values[t - 7 : t + 1]])
    got = predictor.predict_next(batch)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got[0], ev.predicted[t], rtol=1e-5)
    np.testing.assert_allclose(got[1], ev.predicted[t + 1], rtol=1e-5)
    # a different number of servers uses the pooled scaler
    assert predictor.predict_next(np.tile(series.values[t - 6 : t, :1], (1, 5))).shape == (5,)
    # loads in other units: scale converts them for the model and back
    scaled = ModelPredictor(trained, scale=0.5).predict_next(series.values[t - 6 : t] * 2)
    np.testing.assert_allclose(scaled, out * 2, rtol=1e-5)
    with pytest.raises(ValueError, match="needs ≥ 6"):
        predictor.predict_next(series.values[:3])
    with pytest.raises(ValueError, match="NaN"):
        predictor.predict_next(np.full((6, 2), np.nan))
