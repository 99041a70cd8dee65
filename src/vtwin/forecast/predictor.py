"""The :class:`Predictor` interface that environments use to look one slot ahead.

A predictor takes the recent history of every server's load and returns the expected load of
the next slot per server, in the history's units. Paper B's migration agents observe these
predictions ("with prediction") or the last measured loads ("without prediction", the
:class:`LastValuePredictor`).

``history`` is ``[steps, n_servers]`` (one env) or ``[batch, steps, n_servers]`` (batched
envs), oldest step first, with at least :attr:`Predictor.window` steps; the result is
``[n_servers]`` or ``[batch, n_servers]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from vtwin.forecast.train import TrainedForecaster

__all__ = ["LastValuePredictor", "ModelPredictor", "Predictor", "check_history"]


@runtime_checkable
class Predictor(Protocol):
    """Anything with a ``window`` (steps of history needed) and ``predict_next``."""

    @property
    def window(self) -> int: ...

    def predict_next(self, history: np.ndarray) -> np.ndarray: ...


def check_history(history: np.ndarray, window: int) -> np.ndarray:
    """Validate a history array and return it as float64 with a batch axis ([B, steps, M])."""
    h = np.asarray(history, dtype=np.float64)
    if h.ndim not in (2, 3):
        raise ValueError(
            f"history shape {h.shape}: expected [steps, n_servers] or [batch, steps, n_servers]"
        )
    if h.shape[-2] < window:
        raise ValueError(f"history has {h.shape[-2]} steps; the predictor needs ≥ {window}")
    if not np.isfinite(h[..., -window:, :]).all():
        raise ValueError("history holds NaN or inf in the steps the predictor reads")
    return h if h.ndim == 3 else h[None]


class LastValuePredictor:
    """Predicts that the next slot's load equals the last measured one (no forecasting)."""

    window = 1

    def predict_next(self, history: np.ndarray) -> np.ndarray:
        h = np.asarray(history, dtype=np.float64)
        out = check_history(h, 1)[:, -1, :]
        return out if h.ndim == 3 else out[0]


class ModelPredictor:
    """A trained forecaster as a :class:`Predictor`.

    When the history has as many servers as the model was trained on, each server uses the
    scaler of the training series in the same position; otherwise every server uses the pooled
    scaler (mean of the training means and standard deviations), which works for a model
    without server embedding. ``scale`` multiplies the data before prediction (and divides the
    result): e.g. to feed loads in MB to a model trained on vehicles per 5 minutes.
    """

    def __init__(self, trained: TrainedForecaster, *, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"scale = {scale}: must be > 0")
        self.trained = trained
        self.scale = scale

    @classmethod
    def load(cls, folder: str | Path, *, scale: float = 1.0, device: str = "cpu") -> ModelPredictor:
        """Load a forecaster saved by ``TrainedForecaster.save`` / ``vtwin forecast train``."""
        return cls(TrainedForecaster.load(folder, device=device), scale=scale)

    @property
    def window(self) -> int:
        return self.trained.window

    def predict_next(self, history: np.ndarray) -> np.ndarray:
        t = self.trained
        if t.settings.horizon != 1:
            raise ValueError(
                f"the model predicts {t.settings.horizon} steps ahead, not the next slot"
            )
        raw = np.asarray(history, dtype=np.float64)
        h = check_history(raw, t.window)[:, -t.window :, :] * self.scale  # [B, T, M]
        b, w, m = h.shape
        if m == len(t.names):
            mean, std = t.mean, t.std
        elif t.settings.server_embedding:
            raise ValueError(
                f"history has {m} servers; this model embeds its {len(t.names)} training series"
            )
        else:
            pm, ps = t.pooled
            mean, std = np.full(m, pm), np.full(m, ps)
        x = ((h - mean) / std).transpose(0, 2, 1).reshape(b * m, w, 1).astype(np.float32)
        series = np.tile(np.arange(m), b) if t.settings.server_embedding else None
        with torch.no_grad():
            pred = t.predict_scaled(x, series).reshape(b, m)
        out = (pred * std + mean) / self.scale
        return out if raw.ndim == 3 else out[0]
