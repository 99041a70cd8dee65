"""Non-learning agents with the same interface as the learners (random; more per paper)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vtwin.agents.protocol import AgentKind

__all__ = ["RandomAgent", "SeededHeuristic"]


class SeededHeuristic:
    """Base of the rule-based agents: a seeded numpy generator, nothing to learn."""

    kind: AgentKind = "none"
    _rng: np.random.Generator

    def update(self, *_: Any) -> dict[str, float]:
        """Nothing to learn."""
        return {}

    def checkpoint(self) -> dict[str, Any]:
        """The random state (so a restored agent draws the same actions)."""
        return {"rng": self._rng.bit_generator.state}

    def restore(self, ckpt: dict[str, Any]) -> None:
        """Inverse of :meth:`checkpoint`."""
        self._rng.bit_generator.state = ckpt["rng"]


class RandomAgent(SeededHeuristic):
    """Uniform over the allowed actions (all actions when no mask is given)."""

    def __init__(self, obs_dim: int, n_actions: int, *, seed: int = 0, **_: Any) -> None:
        """``obs_dim`` is accepted for interface symmetry; randomness comes from ``seed``."""
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self._rng = np.random.default_rng(seed)

    def act(
        self, obs: NDArray[Any], mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """One uniformly random allowed action per row of ``obs``."""
        n = np.asarray(obs).shape[0]
        if mask is None:
            return np.asarray(self._rng.integers(0, self.n_actions, size=n), dtype=np.int64)
        m = np.asarray(mask, dtype=bool)
        if not m.any(axis=1).all():
            raise ValueError("every row of the action mask must allow at least one action")
        u = self._rng.random((n, self.n_actions))
        return np.argmax(np.where(m, u, -1.0), axis=1).astype(np.int64)
