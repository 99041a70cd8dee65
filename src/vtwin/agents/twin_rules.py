"""Paper D's non-learning references for the heterogeneous env: a rule and random acting.

Both read only the observation dict (``"sensor"`` ``[B, K, 4 + 3U]``, ``"uav"``
``[B, U, 3 + 6 K_max]``, layouts in :mod:`vtwin.envs.twin_update`) and return the env's
action dict, like the learners of :mod:`vtwin.agents.hatd3`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vtwin.agents.heuristics import SeededHeuristic

__all__ = ["RandomTwinUpdate", "TwinUpdateGreedy", "TwinUpdateRule"]

ObsDict = dict[str, NDArray[Any]]


class RandomTwinUpdate(SeededHeuristic):
    """Uniform actions in [−1, 1] for every sensor and UAV."""

    def __init__(self, uav_action: int, *, seed: int = 0) -> None:
        """``uav_action``: a UAV's action width (2 + K_max)."""
        self.uav_action = uav_action
        self._rng = np.random.default_rng(seed)

    def act(
        self, obs: ObsDict, mask: Any = None, deterministic: bool = False
    ) -> dict[str, NDArray[np.float64]]:
        """Uniform actions (``mask`` and ``deterministic`` are accepted and ignored)."""
        B, K, _ = np.asarray(obs["sensor"]).shape
        U = np.asarray(obs["uav"]).shape[1]
        return {
            "sensor": self._rng.uniform(-1.0, 1.0, (B, K)),
            "uav": self._rng.uniform(-1.0, 1.0, (B, U, self.uav_action)),
        }


class TwinUpdateRule(SeededHeuristic):
    """The rule-based reference of issue 19: each sensor offloads to the nearest UAV with room
    left in its queue (K_max, sensors in index order); each UAV splits its steps evenly over
    its queue and flies at full speed toward the centroid of the queued sensors, hovering
    (minimum speed) within ``hover_radius`` of it or with an empty queue. Distances are in
    the observation's area-normalised coordinates."""

    def __init__(self, uav_action: int, *, hover_radius: float = 0.02, seed: int = 0) -> None:
        """``uav_action``: a UAV's action width (2 + K_max)."""
        self.uav_action = uav_action
        self.hover_radius = hover_radius
        self._rng = np.random.default_rng(seed)

    def act(
        self, obs: ObsDict, mask: Any = None, deterministic: bool = False
    ) -> dict[str, NDArray[np.float64]]:
        """Deterministic actions from the observations."""
        sensor_obs = np.asarray(obs["sensor"], dtype=np.float64)
        uav_obs = np.asarray(obs["uav"], dtype=np.float64)
        B, K, _ = sensor_obs.shape
        U = uav_obs.shape[1]
        own = sensor_obs[..., 1:3]  # [B, K, 2]
        first = sensor_obs.shape[-1] - 3 * U  # the sensor's own columns, then 3 per UAV
        uavs = sensor_obs[..., first:].reshape(B, K, U, 3)[..., :2]  # [B, K, U, 2]
        dist = np.linalg.norm(uavs - own[:, :, None], axis=-1)  # [B, K, U]
        room = self.uav_action - 2  # K_max
        taken = np.zeros((B, U), dtype=np.int64)
        nearest = np.empty((B, K), dtype=np.int64)
        rows = np.arange(B)
        for k in range(K):  # in sensor order, as the env queues them
            open_ = taken < room
            d = np.where(open_, dist[:, k], np.inf)
            pick = np.where(open_.any(axis=1), d.argmin(axis=1), dist[:, k].argmin(axis=1))
            nearest[:, k] = pick
            taken[rows, pick] += 1
        sensor = (nearest + 1.5) / (U + 1) * 2.0 - 1.0  # the middle of UAV i's bin (eq. (21))
        queue = uav_obs[..., 3:].reshape(B, U, -1, 6)
        present = queue[..., 0] > 0.5
        count = present.sum(axis=-1)
        centroid = (present[..., None] * queue[..., 1:3]).sum(axis=2) / np.maximum(count, 1)[
            ..., None
        ]
        gap = centroid - uav_obs[..., :2]
        dist = np.linalg.norm(gap, axis=-1)
        heading = np.arctan2(gap[..., 1], gap[..., 0]) / np.pi
        go = (count > 0) & (dist > self.hover_radius)
        speed = np.where(go, 1.0, -1.0)
        weights = np.ones((B, U, self.uav_action - 2))
        uav = np.concatenate([heading[..., None], speed[..., None], weights], axis=-1)
        return {"sensor": sensor, "uav": np.clip(uav, -1.0, 1.0)}


class TwinUpdateGreedy(TwinUpdateRule):
    """A stronger reference (ours): :class:`TwinUpdateRule`'s offloading and flight, but each
    UAV fills its step budget greedily by fidelity per step, F_max / (z_max − z_min): the best
    task first, up to its z_max and to the steps it can run before the deadline, then the
    next. Knows the env's constants (budget, deadline, z_min and the feature scales)."""

    def __init__(
        self,
        uav_action: int,
        *,
        budget: float,
        deadline_s: float,
        z_min: float,
        z_scale: float,
        f_scale: float,
        speed_scale: float,
        weight_floor: float = 0.0,
        seed: int = 0,
    ) -> None:
        """Scales: the upper bounds the env divides z_max, F_max and f_u by; ``weight_floor``:
        the env's smallest weight (its weight is floor + (1 − floor)(a + 1)/2)."""
        super().__init__(uav_action, seed=seed)
        self.weight_floor = weight_floor
        self.budget, self.deadline_s, self.z_min = budget, deadline_s, z_min
        self.z_scale, self.f_scale, self.speed_scale = z_scale, f_scale, speed_scale

    def act(
        self, obs: ObsDict, mask: Any = None, deterministic: bool = False
    ) -> dict[str, NDArray[np.float64]]:
        """The rule's actions with greedy step weights."""
        out = super().act(obs)
        uav_obs = np.asarray(obs["uav"], dtype=np.float64)
        B, U, _ = uav_obs.shape
        queue = uav_obs[..., 3:].reshape(B, U, -1, 6)
        present = queue[..., 0] > 0.5
        z_max = queue[..., 4] * self.z_scale
        f_max = queue[..., 5] * self.f_scale
        f_u = uav_obs[..., 2] * self.speed_scale  # steps/s
        ratio = np.where(present, f_max / np.maximum(z_max - self.z_min, 1e-9), -np.inf)
        cap = np.minimum(z_max, 0.99 * self.deadline_s * f_u[..., None])  # steps worth having
        order = np.argsort(-ratio, axis=-1, kind="stable")
        want = np.zeros_like(z_max)
        left = np.full((B, U), self.budget)
        for j in range(order.shape[-1]):
            idx = order[..., j : j + 1]
            take = np.minimum(
                np.take_along_axis(np.where(present, cap, 0.0), idx, -1)[..., 0], left
            )
            np.put_along_axis(want, idx, take[..., None], -1)
            left -= take
        top = want.max(axis=-1, keepdims=True)
        share = np.where(top > 0, want / np.maximum(top, 1e-12), 1.0)  # the weight wanted
        u = np.clip((share - self.weight_floor) / (1.0 - self.weight_floor), 0.0, 1.0)
        out["uav"][..., 2:] = 2.0 * u - 1.0
        return out
