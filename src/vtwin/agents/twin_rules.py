"""Paper D's non-learning references for the heterogeneous env: a rule and random acting.

Both read only the observation dict (``"sensor"`` ``[B, K, 3 + 3U]``, ``"uav"``
``[B, U, 3 + 6 K_max]``, layouts in :mod:`vtwin.envs.twin_update`) and return the env's
action dict, like the learners of :mod:`vtwin.agents.hatd3`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vtwin.agents.heuristics import SeededHeuristic

__all__ = ["RandomTwinUpdate", "TwinUpdateRule"]

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
        uavs = sensor_obs[..., 3:].reshape(B, K, U, 3)[..., :2]  # [B, K, U, 2]
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
