"""Paper B's reward, eq. (22): z-scored latency and load plus the failure indicator."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np

from vtwin.arrays import BoolArray, FloatArray
from vtwin.config import VTwinConfig
from vtwin.rewards.base import RewardOutput, RewardTerms, builtin_weights

__all__ = ["EnvFactory", "PaperBReward", "ZScoreScope", "reference_moments"]


ZScoreScope = Literal["reference", "episode", "env"]

_KEYS = ("latency", "load")
"""The z-scored terms: ``latency`` is T_sum (s), ``load`` is S'_m of the host (MB)."""

_Z_FLOOR = {"latency": 1e-6, "load": 1e-6}
"""Smallest standard deviation (s, MB) a z-score divides by: equal values give z = 0."""

_REFERENCE_CACHE: dict[str, dict[str, tuple[float, float]]] = {}
_REFERENCE_COPIES = 8
_REFERENCE_SEED = 987_654_321  # reference episodes use seeds no training or test run uses


class _CalibrationEnv(Protocol):
    """What :func:`reference_moments` needs of a batched env."""

    B: int
    V: int
    horizon: int
    n_actions: int

    def reset(self, seed: int | Sequence[int] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start episodes, one seed per copy."""
        ...

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Advance every copy one slot."""
        ...


EnvFactory = Callable[[VTwinConfig, int], _CalibrationEnv]
"""Builds a batched env with ``B`` copies on a config: ``factory(config, B)``."""


class PaperBReward:
    """Paper B eq. (22) per active vehicle: ``−(w_T z(T_sum) + w_s z(S'_m) + w_d ξ)``.

    z is a z-score over time, ``z = (x − mean) / max(std, 10⁻⁶)`` (latency in s, load in MB).
    Scopes: ``reference`` — fixed mean and std (:func:`reference_moments`: one episode of a
    uniformly random policy on the same config), so rewards are comparable across methods
    and episodes; ``episode`` — running statistics per copy, restarted by :meth:`reset`
    (each slot the active vehicles' values join the running count/mean/variance, Chan's
    parallel update); ``env`` — running statistics kept across episodes.

    Terms: ``latency_s`` (T_sum), ``load_mb`` (S'_m), ``failure`` (ξ) and ``active`` (bool);
    inactive vehicles get 0. Components ``latency``, ``load``, ``failure`` are the three
    weighted terms (they sum to −reward).
    """

    names: tuple[str, ...] = ("latency_s", "load_mb", "failure", "active")
    components: tuple[str, ...] = ("latency", "load", "failure")

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        scope: ZScoreScope = "episode",
        reference: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        """Weights ``latency`` (w_T), ``load`` (w_s), ``failure`` (w_d); ``reference`` moments
        (mean, std) per z-scored term, needed by the ``reference`` scope."""
        if scope not in ("reference", "episode", "env"):
            raise ValueError(f"scope = {scope!r}: must be 'reference', 'episode' or 'env'")
        if scope == "reference" and reference is None:
            raise ValueError("scope = 'reference' needs reference moments (reference_moments)")
        self.weights = builtin_weights("paper-b", weights)
        self.scope = scope
        self._reference = dict(reference) if scope == "reference" and reference else None
        self.B = 0
        self._stats: dict[str, FloatArray] | None = None

    @classmethod
    def from_config(
        cls,
        config: VTwinConfig,
        env_factory: EnvFactory,
        reference: VTwinConfig | None = None,
    ) -> PaperBReward:
        """The reward of ``config`` (``reward.weights``, ``routing.zscore_scope``); with the
        ``reference`` scope, moments from ``reference`` (default: ``config``) calibrated on
        envs built by ``env_factory``."""
        rc = config.routing
        if rc is None:
            raise ValueError(
                f"config '{config.name}': the paper-b reward needs a 'routing:' section"
            )
        scope = rc.zscore_scope
        moments = (
            reference_moments(reference or config, env_factory) if scope == "reference" else None
        )
        return cls(config.reward.weights, scope, moments)

    def reset(self, B: int) -> None:
        """New episodes of ``B`` copies: the ``episode`` scope restarts its statistics."""
        if self.scope == "episode" or self._stats is None or self.B != B:
            self._stats = {k: np.zeros((3, B)) for k in _KEYS}  # count, mean, M2
        self.B = B

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """Reward [B, V] and its weighted ``latency``, ``load`` and ``failure`` parts."""
        active = terms["active"]
        z_lat = self._zscore("latency", terms["latency_s"], active)
        z_load = self._zscore("load", terms["load_mb"], active)
        w_t, w_s, w_d = (self.weights[k] for k in self.components)
        r_lat = np.where(active, w_t * z_lat, 0.0)
        r_load = np.where(active, w_s * z_load, 0.0)
        xi = np.where(active, terms["failure"], 0.0)
        r_fail = w_d * xi
        reward = np.where(active, -(r_lat + r_load + r_fail), 0.0)  # paper B eq. (22)
        return reward, {"latency": r_lat, "load": r_load, "failure": r_fail}

    def moments(self, key: str) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviation [B] of ``key`` (running ones: 0 before any value)."""
        if self._reference is not None:
            mu_ref, sd_ref = self._reference[key]
            return np.full(self.B, mu_ref), np.full(self.B, sd_ref)
        n, mean, m2 = self._state()[key]
        var = np.divide(m2, n, out=np.zeros_like(m2), where=n > 0)
        return mean.copy(), np.sqrt(var)

    def info(self) -> dict[str, Any]:
        """``zscore``: the current means and stds per copy (``latency_mean``, …)."""
        return {
            "zscore": {
                f"{k}_{s}": v
                for k in _KEYS
                for s, v in zip(("mean", "std"), self.moments(k), strict=True)
            }
        }

    def _state(self) -> dict[str, FloatArray]:
        if self._stats is None:
            raise RuntimeError("call reset(B) before using the paper-b reward")
        return self._stats

    def _zscore(self, key: str, x: FloatArray, active: BoolArray) -> FloatArray:
        """Fold this slot's active values into the running stats of ``key``; z-score ``x``.

        With the ``reference`` scope the fixed reference moments are used instead.
        """
        if self._reference is not None:
            mu_ref, sd_ref = self._reference[key]
            return (x - mu_ref) / max(sd_ref, _Z_FLOOR[key])
        st = self._state()[key]
        n_b = active.sum(axis=1).astype(np.float64)
        safe = np.maximum(n_b, 1.0)
        mean_b = np.where(active, x, 0.0).sum(axis=1) / safe
        dev = np.where(active, x - mean_b[:, None], 0.0)
        m2_b = (dev * dev).sum(axis=1)
        n, mean, m2 = st
        total = n + n_b
        frac = np.divide(n_b, total, out=np.zeros_like(total), where=total > 0)
        delta = mean_b - mean
        st[1] = np.where(n_b > 0, mean + delta * frac, mean)  # Chan et al. parallel update
        st[2] = np.where(n_b > 0, m2 + m2_b + delta * delta * n * frac, m2)
        st[0] = total
        mu, sd = self.moments(key)
        return (x - mu[:, None]) / np.maximum(sd, _Z_FLOOR[key])[:, None]


def reference_moments(
    config: VTwinConfig, env_factory: EnvFactory
) -> dict[str, tuple[float, float]]:
    """Mean and std over time of latency (s) and host load (MB) under a random policy.

    One episode of :data:`_REFERENCE_COPIES` copies with uniformly random actions, on an env
    built by ``env_factory(calibration config, copies)`` with running z-scores (so nothing
    recurses); the env's step info must carry ``latency_s`` and ``load_mb`` [B, V] and its
    observation an ``active`` mask. Deterministic per config and cached per config. These
    fixed moments z-score the rewards of the default ``reference`` scope (paper B eq. (22)
    normalises "in the time dimension"; fixing the statistics keeps the reward stationary
    and comparable between methods, which running statistics are not: a constant policy
    scores about 0 against its own running mean).
    """
    key = config.model_dump_json()
    if key not in _REFERENCE_CACHE:
        rc = config.routing
        if rc is None:
            raise ValueError(f"config '{config.name}': reference moments need a 'routing:' section")
        calib = config.model_copy(
            update={"routing": rc.model_copy(update={"zscore_scope": "episode"})}
        )
        env = env_factory(calib, _REFERENCE_COPIES)
        obs, _ = env.reset([_REFERENCE_SEED + b for b in range(_REFERENCE_COPIES)])
        rng = np.random.default_rng(_REFERENCE_SEED)
        lat: list[FloatArray] = []
        load: list[FloatArray] = []
        for _ in range(env.horizon):
            active = obs["active"]
            obs, _, term, trunc, info = env.step(rng.integers(0, env.n_actions, (env.B, env.V)))
            lat.append(info["latency_s"][active])
            load.append(info["load_mb"][active])
            if (term | trunc).all():
                break
        lat_all, load_all = np.concatenate(lat), np.concatenate(load)
        if lat_all.size == 0:
            raise ValueError(f"config '{config.name}': no vehicle drove in the reference episode")
        _REFERENCE_CACHE[key] = {
            "latency": (float(lat_all.mean()), float(lat_all.std())),
            "load": (float(load_all.mean()), float(load_all.std())),
        }
    return _REFERENCE_CACHE[key]
