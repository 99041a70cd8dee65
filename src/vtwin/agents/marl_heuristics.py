"""Paper B's non-learning baselines for the batched routing env: Greedy and Random.

Both take the env's observation dict and return actions [B, V], like the learners
(:class:`vtwin.agents.mappo.MAPPOAgent`), so every figure compares like with like.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vtwin.agents.common import with_mask
from vtwin.agents.heuristics import SeededHeuristic

__all__ = ["GreedyRouting", "RandomRouting"]

ObsDict = dict[str, NDArray[Any]]


class RandomRouting(SeededHeuristic):
    """Paper B Sec. VII-A "Random": a uniformly random server of all ``M``, mask ignored."""

    def __init__(self, n_agents: int, n_actions: int, *, seed: int = 0) -> None:
        """Randomness comes from a numpy Generator seeded with ``seed``."""
        self.n_agents, self.n_actions = n_agents, n_actions
        self._rng = np.random.default_rng(seed)

    def act(
        self, obs: ObsDict, mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """Uniform actions [B, V] (``mask`` and ``deterministic`` are accepted and ignored)."""
        shape = np.asarray(obs["active"]).shape
        return np.asarray(self._rng.integers(0, self.n_actions, size=shape), dtype=np.int64)


class GreedyRouting(RandomRouting):
    """Paper B Sec. VII-A "Greedy": the nearest feasible non-satellite server, ε-random.

    The first ``M − 1`` entries of each observation are the (normalised) distances to the
    ``M − 1`` non-satellite servers; among those the mask allows, the nearest is chosen, and
    the satellite (index ``M − 1``) when none is allowed. With probability ``epsilon`` (paper:
    10 %, "to enhance exploration and avoid infeasible actions") a uniformly random server of
    all ``M`` is taken instead. The ε-draw is part of the baseline, so it also applies when
    ``deterministic`` is asked for (set ``epsilon=0`` for the pure nearest-feasible rule).
    """

    def __init__(
        self,
        n_agents: int,
        n_actions: int,
        *,
        epsilon: float = 0.1,
        seed: int = 0,
        has_satellite: bool = True,
    ) -> None:
        """``epsilon`` ∈ [0, 1] is the probability of a uniformly random server;
        ``has_satellite`` False: every action is a ground server (no satellite fallback)."""
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon = {epsilon}: must be in [0, 1]")
        super().__init__(n_agents, n_actions, seed=seed)
        self.epsilon = float(epsilon)
        self.has_satellite = has_satellite

    def greedy(self, obs: ObsDict) -> NDArray[np.int64]:
        """The nearest allowed non-satellite server per vehicle [B, V].

        When none is allowed: the satellite, or (without one) the nearest server.
        """
        ground = self.n_actions - 1 if self.has_satellite else self.n_actions
        dist = np.asarray(obs["observation"], dtype=np.float64)[..., :ground]
        allowed = np.asarray(obs["action_mask"], dtype=bool)[..., :ground]
        best = np.argmin(np.where(allowed, dist, np.inf), axis=-1)
        fallback = ground if self.has_satellite else np.argmin(dist, axis=-1)
        return np.where(allowed.any(axis=-1), best, fallback).astype(np.int64)

    def act(
        self, obs: ObsDict, mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """Greedy actions [B, V], each replaced by a uniform server with probability ε
        (``mask`` replaces the observation's ``action_mask``)."""
        act = self.greedy(with_mask(obs, mask))
        explore = self._rng.random(act.shape) < self.epsilon
        uniform = self._rng.integers(0, self.n_actions, size=act.shape)
        return np.where(explore, uniform, act).astype(np.int64)
