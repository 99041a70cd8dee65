"""The on-disk forecaster cache: keys, reuse across processes, switching it off."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import vtwin
from vtwin.data.traffic import synthetic_traffic
from vtwin.forecast.cache import CACHE_VERSION, ForecasterCache, forecaster_cache_dir
from vtwin.forecast.predictor import ModelPredictor
from vtwin.forecast.train import (
    ForecastSettings,
    TrainedForecaster,
    evaluate_forecaster,
    train_forecaster,
)

KEY_PARTS = [[2.0, 2.0], 5.0, 0, 0.25, 1, 500]


def _trainer(calls: list[int]) -> tuple[TrainedForecaster, float]:
    calls.append(1)
    series = synthetic_traffic(2, days=2.0, seed=5)
    trained = train_forecaster(series, ForecastSettings(model="gru", epochs=1, patience=1))
    return trained, float(evaluate_forecaster(trained, series, "test").metrics["error_rate_pct"])


def test_the_key_hashes_versions_device_and_parts_as_before() -> None:
    """The key is the one the paper B experiments used, so caches written before stay valid."""
    cache = ForecasterCache(None, device="cpu")
    expected = [CACHE_VERSION, vtwin.__version__, torch.__version__, "cpu", *KEY_PARTS]
    digest = hashlib.sha256(json.dumps(expected).encode()).hexdigest()[:20]
    assert cache.key(KEY_PARTS) == digest and len(digest) == 20
    assert cache.key([*KEY_PARTS[:-1], 501]) != digest
    assert cache.folder(KEY_PARTS) is None  # no root: caching off
    assert ForecasterCache("/cache", device="cpu").folder(KEY_PARTS) == Path("/cache") / digest


def test_trained_forecasters_are_cached_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process (here: a second cache object) loads the forecaster from disk and
    predicts exactly what the trained one did; VTWIN_CACHE_DIR=off stores nothing."""
    monkeypatch.setenv("VTWIN_CACHE_DIR", str(tmp_path))
    calls: list[int] = []
    trained, err = ForecasterCache.from_env().get_or_train(KEY_PARTS, lambda: _trainer(calls))
    assert calls == [1]
    assert len(list((tmp_path / "forecasters").glob("*/error.json"))) == 1
    loaded, err2 = ForecasterCache.from_env().get_or_train(KEY_PARTS, lambda: _trainer(calls))
    assert calls == [1] and err2 == err
    history = np.random.default_rng(0).random((4, trained.window, 2)).astype(np.float32) * 50
    np.testing.assert_array_equal(
        ModelPredictor(trained).predict_next(history), ModelPredictor(loaded).predict_next(history)
    )
    monkeypatch.setenv("VTWIN_CACHE_DIR", "off")
    assert forecaster_cache_dir() is None and ForecasterCache.from_env().root is None
    ForecasterCache.from_env().get_or_train(KEY_PARTS, lambda: _trainer(calls))
    assert calls == [1, 1]


def test_incomplete_entries_are_retrained_and_unwritable_roots_only_cost_the_reuse(
    tmp_path: Path,
) -> None:
    cache = ForecasterCache(tmp_path)
    folder = cache.folder(KEY_PARTS)
    assert folder is not None
    folder.mkdir(parents=True)
    (folder / "forecaster.json").write_text("{}")  # a crash before error.json was written
    calls: list[int] = []
    cache.get_or_train(KEY_PARTS, lambda: _trainer(calls))
    assert calls == [1] and (folder / "error.json").is_file()
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    trained, _ = ForecasterCache(blocked).get_or_train(KEY_PARTS, lambda: _trainer(calls))
    assert calls == [1, 1] and isinstance(trained, TrainedForecaster)


def test_default_folder_is_under_the_home_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VTWIN_CACHE_DIR", raising=False)
    assert forecaster_cache_dir() == Path.home() / ".cache" / "vtwin" / "forecasters"
    monkeypatch.setenv("VTWIN_CACHE_DIR", " None ")
    assert forecaster_cache_dir() is None
