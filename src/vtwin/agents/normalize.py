"""Running mean / standard deviation of a stream of vectors, for observation normalisation."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["RunningMeanStd"]


class RunningMeanStd:
    """Mean and variance over every vector seen so far (Chan et al.'s parallel update)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        """``epsilon`` is the pseudo-count of the initial (0 mean, unit variance) estimate."""
        self.mean = np.zeros(shape)
        self.var = np.ones(shape)
        self.count = float(epsilon)

    def update(self, x: ArrayLike) -> None:
        """Fold a batch [N, *shape] into the running estimate."""
        batch = np.asarray(x, dtype=np.float64)
        n = batch.shape[0]
        if n == 0:
            return
        b_mean, b_var = batch.mean(axis=0), batch.var(axis=0)
        delta = b_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total

    def normalize(self, x: ArrayLike, clip: float = 10.0) -> NDArray[np.float64]:
        """(x − mean)/√(var + 1e-8), clipped to ±clip."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / np.sqrt(self.var + 1e-8)
        return np.clip(z, -clip, clip)

    def state_dict(self) -> dict[str, object]:
        """Plain-data snapshot (for checkpoints)."""
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore a snapshot from :meth:`state_dict`."""
        self.mean = np.array(state["mean"], dtype=np.float64)
        self.var = np.array(state["var"], dtype=np.float64)
        self.count = float(state["count"])  # type: ignore[arg-type]
