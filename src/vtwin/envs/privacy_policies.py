"""Non-learning hybrid-action policies for paper C: Geo-I, max-radius, random, and
nearest-without-noise.

Each policy acts for all copies and AVs of a :class:`~vtwin.envs.privacy.BatchedCrossRealityPrivacy`
at once: ``reset(env)`` at the start of an episode, ``act(env)`` for the current slot (it
reads the env's public state: connected servers, sizes, the r_max bound) and ``observe(info)``
with the info of the step just taken. :func:`run_episode` plays one episode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from vtwin.arrays import FloatArray
from vtwin.physics.privacy import sample_planar_laplace

if TYPE_CHECKING:
    from vtwin.envs.privacy import BatchedCrossRealityPrivacy, HybridAction
# They sit with the env (not in vtwin.agents) because they read its state, as paper A's
# greedy rule (BatchedPreMigration.greedy_actions) does.

__all__ = [
    "GeoIPolicy",
    "HybridPolicy",
    "MaxRadiusPolicy",
    "NearestPolicy",
    "RandomHybridPolicy",
    "make_privacy_policy",
    "run_episode",
]


class HybridPolicy(Protocol):
    """What :func:`run_episode` needs of a paper C policy."""

    def reset(self, env: BatchedCrossRealityPrivacy) -> None:
        """Start an episode of ``env``."""
        ...

    def act(self, env: BatchedCrossRealityPrivacy) -> HybridAction:
        """Hybrid actions [B, M] for the current slot."""
        ...

    def observe(self, info: dict[str, Any]) -> None:
        """The info of the step just taken."""
        ...


class GeoIPolicy:
    """Geo-indistinguishability (paper C's Geo-I baseline, after Andrés et al.).

    Perturbation: planar Laplace noise with budget ε (``privacy.geo_i_epsilon_per_km``, 1/km):
    radius by the inverse CDF with the Lambert W function (paper C eq. (1)), angle uniform in
    [0, 2π). The radius in metres becomes degrees of latitude (eq. (2) adds it in degrees);
    draws beyond the env's r_max are cut to r_max, as the action bound (18b) requires.
    Agent server: greedy on past performance — the server that would have given the lowest
    latency in the previous slot (``info["latency_by_server_s"]``); in the first slot, the
    connected server.
    """

    def __init__(self, epsilon_per_km: float | None = None, *, seed: int = 0) -> None:
        """``epsilon_per_km`` defaults to the env config's ``privacy.geo_i_epsilon_per_km``."""
        if epsilon_per_km is not None and not (np.isfinite(epsilon_per_km) and epsilon_per_km > 0):
            raise ValueError(f"epsilon_per_km = {epsilon_per_km!r}: must be a finite number > 0")
        self.epsilon_per_km = epsilon_per_km
        self._rng = np.random.default_rng(seed)
        self._best: np.ndarray | None = None

    def reset(self, env: BatchedCrossRealityPrivacy) -> None:
        """Forget the previous slot's latencies."""
        self._best = None

    def act(self, env: BatchedCrossRealityPrivacy) -> HybridAction:
        """Laplace-perturbed reports and the greedy agent servers."""
        eps_km = self.epsilon_per_km or env.privacy.geo_i_epsilon_per_km
        r_m, theta = sample_planar_laplace(eps_km / 1e3, (env.B, env.M), self._rng)
        radius = np.minimum(r_m / env.m_per_deg[1], env.r_max_deg)
        server = env.connected.copy() if self._best is None else self._best
        return {"radius_deg": radius, "angle_rad": theta, "server": server}

    def observe(self, info: dict[str, Any]) -> None:
        """Keep the server with the lowest latency in the slot just played."""
        self._best = np.argmin(info["latency_by_server_s"], axis=-1)


class MaxRadiusPolicy(GeoIPolicy):
    """The one-slot rule a learner must beat: the largest radius r_max (the entropy term
    dominates the utility, and a mechanism-aware adversary is least sure at r_max), a
    uniform angle, and Geo-I's greedy agent server (lowest latency last slot)."""

    def __init__(self, *, seed: int = 0) -> None:
        """Randomness (the angles) from ``seed``."""
        super().__init__(None, seed=seed)

    def act(self, env: BatchedCrossRealityPrivacy) -> HybridAction:
        """r = r_max, θ uniform, the greedy server."""
        shape = (env.B, env.M)
        server = env.connected.copy() if self._best is None else self._best
        return {
            "radius_deg": np.full(shape, env.r_max_deg),
            "angle_rad": self._rng.uniform(0.0, 2.0 * np.pi, shape),
            "server": server,
        }


class RandomHybridPolicy:
    """Uniform radius in [0, r_max], angle in [0, 2π) and agent server."""

    def __init__(self, *, seed: int = 0) -> None:
        """Randomness from ``seed``."""
        self._rng = np.random.default_rng(seed)

    def reset(self, env: BatchedCrossRealityPrivacy) -> None:
        """Nothing to reset."""

    def act(self, env: BatchedCrossRealityPrivacy) -> HybridAction:
        """Uniform hybrid actions."""
        shape = (env.B, env.M)
        return {
            "radius_deg": self._rng.uniform(0.0, env.r_max_deg, shape),
            "angle_rad": self._rng.uniform(0.0, 2.0 * np.pi, shape),
            "server": self._rng.integers(0, env.S, shape),
        }

    def observe(self, info: dict[str, Any]) -> None:
        """Nothing to learn."""


class NearestPolicy:
    """No protection: the true position (r = 0) and the agent on the connected server."""

    def __init__(self, **_: Any) -> None:
        """No parameters."""

    def reset(self, env: BatchedCrossRealityPrivacy) -> None:
        """Nothing to reset."""

    def act(self, env: BatchedCrossRealityPrivacy) -> HybridAction:
        """r = 0, θ = 0, agent server = connected server."""
        zeros = np.zeros((env.B, env.M))
        return {"radius_deg": zeros, "angle_rad": zeros.copy(), "server": env.connected.copy()}

    def observe(self, info: dict[str, Any]) -> None:
        """Nothing to learn."""


_POLICIES: dict[str, type[GeoIPolicy] | type[RandomHybridPolicy] | type[NearestPolicy]] = {
    "geo_i": GeoIPolicy,
    "max_radius": MaxRadiusPolicy,
    "random": RandomHybridPolicy,
    "nearest": NearestPolicy,
}


def make_privacy_policy(name: str, *, seed: int = 0) -> HybridPolicy:
    """A paper C reference policy by name: ``geo_i``, ``max_radius``, ``random`` or
    ``nearest``."""
    cls = _POLICIES.get(name)
    if cls is None:
        raise ValueError(f"unknown paper C policy {name!r}; known: {', '.join(_POLICIES)}")
    return cls(seed=seed)


def run_episode(
    env: BatchedCrossRealityPrivacy,
    policy: HybridPolicy,
    seed: int | list[int],
    keys: tuple[str, ...] = ("utility", "entropy_bits", "latency_s", "qos_loss", "confidence"),
) -> dict[str, FloatArray]:
    """Play one episode in every copy; returns each ``info`` key in ``keys`` stacked over
    slots ``[T, B, M]``."""
    env.reset(seed)
    policy.reset(env)
    out: dict[str, list[FloatArray]] = {k: [] for k in keys}
    for _ in range(env.horizon):
        _, _, _, truncated, info = env.step(policy.act(env))
        policy.observe(info)
        for k in keys:
            out[k].append(np.asarray(info[k], dtype=np.float64))
        if truncated.all():
            break
    return {k: np.stack(v) for k, v in out.items()}
