"""A tiny batched multi-agent routing env with paper B's env contract, for the MARL tests.

``V`` vehicles drive straight lines across the unit square; ``M − 1`` ground servers sit at
fixed points and server ``M − 1`` is the satellite. Each slot every ground server has a random
load in [0, 1]; a ground server is infeasible for a vehicle when it is overloaded
(load > ``overload``) or out of range (distance > ``radius``). The satellite is never masked.

Reward of an active vehicle: ``−cost − 5·infeasible`` with ``cost`` = distance to the chosen
ground server or ``sat_cost`` for the satellite. So a good policy must read the mask (or the
loads in the observation) *and* the distances: the nearest feasible server is optimal, and
Random loses about 5 × (share of infeasible servers) per step.

Vehicles arrive after 6–14 slots (then inactive, reward 0); the horizon is 12 slots, so some
copies terminate (all arrived) and some are truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

SERVERS = np.array([[0.2, 0.2], [0.8, 0.2], [0.2, 0.8], [0.8, 0.8], [0.5, 0.5]])


class FakeRouting:
    """``B`` copies × ``V`` vehicles, ``M = len(SERVERS) + 1`` actions (last = satellite)."""

    episode_metrics: ClassVar[dict[str, tuple[str, ...]]] = {
        "latency_s": ("steps", "latency_s"),
        "latency_ok_s": ("steps", "latency_s", "failure"),
        "packet_loss": ("steps", "failure"),
        "packet_loss_per_vehicle": ("agents", "failure"),
        "workload_variance": ("copies", "workload_variance"),
        "infeasible_share": ("steps", "infeasible"),
    }

    def __init__(
        self,
        B: int = 8,
        V: int = 3,
        *,
        horizon: int = 12,
        radius: float = 0.6,
        overload: float = 0.6,
        sat_cost: float = 0.7,
        penalty: float = 5.0,
    ) -> None:
        """Sizes and the feasibility / cost constants of the toy problem."""
        self.B, self.V = B, V
        self.M = len(SERVERS) + 1
        self.horizon = horizon
        self.radius, self.overload = radius, overload
        self.sat_cost, self.penalty = sat_cost, penalty
        # observation: distances to ground servers, ground loads, own position, time fraction
        self.obs_dim = (self.M - 1) * 2 + 3
        # state: every vehicle's position and active flag, ground loads, time fraction
        self.state_dim = 3 * V + (self.M - 1) + 1
        self._rngs = [np.random.default_rng(b) for b in range(B)]
        self._alloc()

    def _alloc(self) -> None:
        B, V = self.B, self.V
        self.t = 0
        self.start = np.zeros((B, V, 2))
        self.end = np.zeros((B, V, 2))
        self.t_end = np.zeros((B, V), dtype=np.int64)
        self.loads = np.zeros((B, self.M - 1))
        self.done = np.zeros(B, dtype=bool)

    # ------------------------------------------------------------------ helpers
    def _positions(self) -> NDArray[np.float64]:
        frac = np.clip(self.t / np.maximum(self.t_end, 1), 0.0, 1.0)[..., None]
        return self.start + frac * (self.end - self.start)

    def _active(self) -> NDArray[np.bool_]:
        return (self.t < self.t_end) & ~self.done[:, None]

    def _distances(self) -> NDArray[np.float64]:
        pos = self._positions()
        return np.linalg.norm(pos[:, :, None, :] - SERVERS[None, None], axis=-1)  # [B, V, M-1]

    def _mask(self, dist: NDArray[np.float64]) -> NDArray[np.bool_]:
        ok = (dist <= self.radius) & (self.loads[:, None, :] <= self.overload)
        sat = np.ones((*ok.shape[:2], 1), dtype=bool)
        return np.concatenate([ok, sat], axis=-1)

    def _obs(self) -> dict[str, NDArray[Any]]:
        B, V = self.B, self.V
        active = self._active()
        dist = self._distances()
        pos = self._positions()
        tfrac = np.full((B, V, 1), self.t / self.horizon)
        loads = np.broadcast_to(self.loads[:, None, :], (B, V, self.M - 1))
        obs = np.concatenate([dist / np.sqrt(2.0), loads, pos, tfrac], axis=-1)
        state = np.concatenate(
            [pos.reshape(B, -1), active.astype(float), self.loads, tfrac[:, 0]], axis=-1
        )
        mask = self._mask(dist)
        # inactive vehicles: zeros everywhere (the contract's "finished copy returns zeros")
        obs = np.where(active[..., None], obs, 0.0)
        mask = mask & active[..., None]
        return {
            "observation": obs.astype(np.float32),
            "action_mask": mask,
            "state": state.astype(np.float32),
            "active": active,
        }

    # ------------------------------------------------------------------ API
    def reset(
        self, seed: int | Sequence[int] | None = None
    ) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """Start every copy: copy ``b`` uses ``seed + b`` (or ``seed[b]``)."""
        if seed is None:
            seeds: list[int | None] = [None] * self.B
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + b for b in range(self.B)]
        else:
            seeds = [int(s) for s in seed]
        self._rngs = [np.random.default_rng(s) for s in seeds]
        self._alloc()
        for b, rng in enumerate(self._rngs):
            self.start[b] = rng.random((self.V, 2))
            self.end[b] = rng.random((self.V, 2))
            self.t_end[b] = rng.integers(6, 15, size=self.V)
            self.loads[b] = rng.random(self.M - 1)
        return self._obs(), {}

    def step(
        self, actions: ArrayLike
    ) -> tuple[
        dict[str, NDArray[Any]],
        NDArray[np.float64],
        NDArray[np.bool_],
        NDArray[np.bool_],
        dict[str, Any],
    ]:
        """Serve every active vehicle by its chosen server, then advance one slot."""
        a = np.asarray(actions, dtype=np.int64)
        if a.shape != (self.B, self.V) or a.min() < 0 or a.max() >= self.M:
            raise ValueError(f"actions must be int [B, V] in [0, {self.M}), got {a.shape}")
        active = self._active()
        dist = self._distances()
        mask = self._mask(dist)
        ground = a < self.M - 1
        d_chosen = np.take_along_axis(
            np.concatenate([dist, np.zeros((self.B, self.V, 1))], axis=-1), a[..., None], -1
        )[..., 0]
        cost = np.where(ground, d_chosen, self.sat_cost)
        infeasible = ~np.take_along_axis(mask, a[..., None], -1)[..., 0]
        reward = np.where(active, -cost - self.penalty * infeasible, 0.0)
        counts = np.stack([(a == m) & active for m in range(self.M - 1)], -1).sum(1)
        load_mb = self.loads + 0.1 * counts
        chosen_load = np.take_along_axis(
            np.concatenate([load_mb, np.zeros((self.B, 1))], -1), a, -1
        )
        info = {
            "latency_s": np.where(active, 0.01 + cost, 0.0),
            "failure": np.where(active, infeasible, False).astype(np.float64),
            "load_mb": np.where(active, chosen_load, 0.0),
            "infeasible": (active & infeasible).astype(np.float64),
            "active": active,
            "workload_variance": load_mb.var(axis=-1),
            "reward_components": {
                "latency": np.where(active, -cost, 0.0),
                "load": np.zeros((self.B, self.V)),
                "failure": np.where(active, -self.penalty * infeasible, 0.0),
            },
        }
        self.t += 1
        for b, rng in enumerate(self._rngs):
            self.loads[b] = rng.random(self.M - 1)
        was_done = self.done.copy()
        terminated = ~was_done & ~self._active().any(axis=1)
        truncated = ~was_done & ~terminated & (self.t >= self.horizon)
        # the final observation still shows the vehicles on the road as active (so a truncated
        # copy can be bootstrapped); from the next step on the copy is all zeros / inactive
        obs = self._obs()
        self.done |= terminated | truncated
        return obs, reward, terminated, truncated, info
