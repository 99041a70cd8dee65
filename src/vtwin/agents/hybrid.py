"""What every hybrid-action learner of paper C shares: sizes, the hybrid distribution, the map
to the env's action and an on-policy rollout buffer.

Paper C's action (Sec. 5.1.2) is, per AV m of M, a continuous perturbation (radius r ∈ [0,
r_max] in degrees, angle θ ∈ [0, 2π)) and a discrete agent server e among S = N + 1 (the N
RSUs, then the satellite). One learner acts for all M AVs from the aggregated state (eq. (19)):
an observation row is the M AVs' features side by side, ``[M·F]``.

Policy (:class:`HybridDistribution`): per AV a Categorical over the S servers and a diagonal
Gaussian over ``u = (u_r, u_θ)`` in a normalised space. The joint log-probability of a whole
action is the sum over AVs of both parts (paper C eq. (26), with eq. (28)'s sum over AVs for
the discrete part). The env receives (:func:`to_env_action`)

* radius ``r = r_max · clip(u_r, 0, 1)`` — a Gaussian mass beyond the bounds acts as the bound;
* angle ``θ = 2π · (u_θ mod 1)`` — the circle is periodic, so no clipping is needed;

and the log-probability is that of the unclipped sample ``u`` (CleanRL's convention for
bounded Box actions), so the ratio of an update compares densities of the same ``u`` while
the env never sees an out-of-range value.

The rollout (:class:`HybridRollout`) holds ``[T, B]`` joint steps: observations ``[B, M·F]``,
servers ``[B, M]``, samples ``u`` ``[B, M, K]`` (K = 2 here; PPO-relaxed stores 3), the
discrete and continuous log-probabilities ``[B]`` (their sum is the joint one), V(s) ``[B]``
and the reward ``[B]`` — the mean over AVs, as paper C's rewards eq. (20) and eq. (21) both
are ``1/M Σ_m``. Advantages by :func:`~vtwin.agents.buffers.compute_gae`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from torch.distributions import Categorical, Normal

from vtwin.agents.buffers import GAERows
from vtwin.agents.common import AgentSizes
from vtwin.arrays import BoolArray, FloatArray, IntArray

__all__ = [
    "CONT_DIM",
    "HybridActorCritic",
    "HybridDistribution",
    "HybridPolicy",
    "HybridRollout",
    "HybridSizes",
    "HybridStep",
    "to_env_action",
]

CONT_DIM = 2
"""Continuous parameters per AV: (u_r, u_θ)."""
TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class HybridSizes(AgentSizes):
    """Sizes of a paper C hybrid learner.

    ``obs_dim`` = M·F (the M AVs' features side by side), ``n_actions`` = S servers per AV,
    ``n_agents`` = M AVs; ``r_max_deg`` is the env's perturbation bound in degrees (the
    action map needs it, see :func:`to_env_action`); ``entity_layout``, when the env
    declares one, has one entity per (AV m, server s) in order m·S + s.
    """

    r_max_deg: float = 0.001
    server_keys: tuple[tuple[int, ...], ...] | None = None
    """Per AV, the S observation columns of a per-server key, in server order, that a learner
    may rank the servers by (``servers`` observation: the AV's distance to each server; None
    otherwise). PPO-relaxed's ``server_order = "distance"`` reads it."""

    @property
    def layout_actions(self) -> int:
        """An entity layout scores every AV's servers: M·S entities in action order
        m·S + s."""
        return self.n_agents * self.n_actions

    def __post_init__(self) -> None:
        """Refuse sizes no learner can be built for, and a non-positive r_max."""
        super().__post_init__()
        if not (np.isfinite(self.r_max_deg) and self.r_max_deg > 0):
            raise ValueError(f"r_max_deg = {self.r_max_deg}: must be a finite number > 0")
        if self.obs_dim % self.n_agents:
            raise ValueError(
                f"obs_dim = {self.obs_dim} is not a multiple of n_agents = {self.n_agents} "
                "(one row holds every AV's features)"
            )
        if self.server_keys is not None and (
            len(self.server_keys) != self.n_agents
            or any(len(k) != self.n_actions for k in self.server_keys)
        ):
            raise ValueError(
                f"server_keys: needs {self.n_agents} AVs × {self.n_actions} servers of columns"
            )


class HybridDistribution:
    """Per-AV Categorical over S servers × diagonal Gaussian over ``u`` [2], for N rows.

    ``logits`` [N, M, S]; ``mean`` [N, M, 2]; ``log_std`` broadcastable to ``mean`` (e.g. a
    learned [M, 2] parameter). Log-probabilities and entropies are in nats.
    """

    def __init__(self, logits: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        """Build both parts (no copy of the inputs; gradients flow through them)."""
        self.discrete = Categorical(logits=logits)
        self.continuous = Normal(mean, log_std.exp().expand_as(mean))

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Servers [N, M] and samples ``u`` [N, M, 2], drawn with ``generator``."""
        probs = self.discrete.probs
        n, m, s = probs.shape
        server = torch.multinomial(probs.reshape(n * m, s), 1, generator=generator)
        noise = torch.randn(
            self.continuous.loc.shape,
            generator=generator,
            device=probs.device,
            dtype=self.continuous.loc.dtype,
        )
        u = self.continuous.loc + self.continuous.scale * noise
        return server.reshape(n, m), u

    def mode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The most likely server of every AV and the Gaussian means (deterministic acting)."""
        return self.discrete.logits.argmax(dim=-1), self.continuous.loc

    def log_prob_parts(
        self, server: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(discrete, continuous) log-probabilities [N], each summed over the AVs (and the
        two continuous dimensions) of servers [N, M] and unclipped samples [N, M, 2]."""
        logp_d = self.discrete.log_prob(server).sum(-1)
        logp_c = self.continuous.log_prob(u).sum((-2, -1))
        return logp_d, logp_c

    def log_prob(self, server: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Joint log-probability [N] of the hybrid action (paper C eq. (26))."""
        logp_d, logp_c = self.log_prob_parts(server, u)
        return logp_d + logp_c

    def entropy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(discrete, continuous) entropies [N, M] per AV (the continuous one summed over its
        two dimensions; a differential entropy, so it may be negative)."""
        return self.discrete.entropy(), self.continuous.entropy().sum(-1)


class HybridPolicy(Protocol):
    """What an on-policy hybrid learner's update needs of its policy for N rows: a draw, the
    mode, log-probabilities split into a discrete and a continuous part, and entropies.
    :class:`HybridDistribution` is one; PPO-relaxed's all-Gaussian policy
    (:mod:`vtwin.agents.ppo_relaxed`) another, whose discrete part is identically 0."""

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Servers [N, M] and continuous samples ``u`` [N, M, K]."""
        ...

    def mode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The deterministic action: servers [N, M] and ``u`` [N, M, K]."""
        ...

    def log_prob_parts(
        self, server: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(discrete, continuous) log-probabilities [N], each summed over the AVs."""
        ...

    def entropy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(discrete, continuous) entropies [N, M] per AV, in nats."""
        ...


def to_env_action(
    server: NDArray[np.integer], u: NDArray[np.floating], r_max_deg: float
) -> dict[str, NDArray[np.generic]]:
    """The env's action dict from servers [B, M] and unclipped samples ``u`` [B, M, K ≥ 2]
    (only the first two columns are read):
    ``radius_deg = r_max · clip(u_r, 0, 1)`` (degrees), ``angle_rad = 2π · (u_θ mod 1)``
    (radians, in [0, 2π)), ``server`` as int64. Computed in float64."""
    u64 = np.asarray(u, dtype=np.float64)
    radius = r_max_deg * np.clip(u64[..., 0], 0.0, 1.0)
    angle = TWO_PI * np.mod(u64[..., 1], 1.0)
    angle = np.where(angle < TWO_PI, angle, 0.0)  # a fraction rounding up to 1 is angle 0
    return {"radius_deg": radius, "angle_rad": angle, "server": np.asarray(server, np.int64)}


class HybridStep(NamedTuple):
    """What a hybrid learner's ``act`` hands the rollout for one env step of N rows."""

    server: IntArray
    """[N, M] agent servers."""
    u: NDArray[np.float32]
    """[N, M, K] the continuous sample the log-probabilities refer to: H-PPO's unclipped
    Gaussian (u_r, u_θ) (K = 2; the env saw them mapped by :func:`to_env_action`),
    PPO-relaxed's (u_r, u_θ, u_e) (K = 3), HGDM's latent (K = 2 + S)."""
    logp_discrete: FloatArray
    """[N] Σ_m log π_d(e_m | s)."""
    logp_continuous: FloatArray
    """[N] Σ_m log π_c(u_m | s)."""
    value: FloatArray
    """[N] V(s) in return units."""

    @property
    def logp(self) -> FloatArray:
        """[N] joint log-probability (eq. (26))."""
        return self.logp_discrete + self.logp_continuous


class HybridRollout(GAERows):
    """On-policy storage for ``n_steps`` × ``n_envs`` joint steps of M AVs (GAE and
    ``reset`` from :class:`~vtwin.agents.buffers.GAERows`); ``cont_dim`` continuous columns
    per AV (2 for H-PPO, 3 for PPO-relaxed)."""

    def __init__(
        self, n_steps: int, n_envs: int, obs_dim: int, n_agents: int, cont_dim: int = CONT_DIM
    ) -> None:
        """Empty arrays for ``n_steps`` slots of ``n_envs`` copies."""
        if n_steps < 1 or n_envs < 1:
            raise ValueError(f"n_steps = {n_steps}, n_envs = {n_envs}: both must be ≥ 1")
        if cont_dim < CONT_DIM:
            raise ValueError(f"cont_dim = {cont_dim}: must be ≥ {CONT_DIM} (u_r, u_θ, …)")
        self.n_steps, self.n_envs, self.n_agents = n_steps, n_envs, n_agents
        self.cont_dim = cont_dim
        shape = (n_steps, n_envs)
        self.obs = np.zeros((*shape, obs_dim), dtype=np.float32)
        self.server = np.zeros((*shape, n_agents), dtype=np.int64)
        self.u = np.zeros((*shape, n_agents, cont_dim), dtype=np.float32)
        self.logp_discrete = np.zeros(shape)
        self.logp_continuous = np.zeros(shape)
        self._init_rows(shape)

    def add(
        self,
        obs: NDArray[np.floating],
        step: HybridStep,
        rewards: FloatArray,
        terminated: BoolArray,
        truncated: BoolArray,
        final_values: FloatArray | None = None,
    ) -> None:
        """Store one slot of every copy: observations [B, M·F], the act's ``step``, rewards
        [B] (mean over AVs), end flags [B] and, for truncated copies, V(final obs) [B]."""
        if self.full:
            raise RuntimeError("rollout is full: compute returns, update, then reset()")
        i = self.pos
        self.obs[i], self.server[i], self.u[i] = obs, step.server, step.u
        self.logp_discrete[i], self.logp_continuous[i] = step.logp_discrete, step.logp_continuous
        self.values[i], self.rewards[i] = step.value, rewards
        self.terminated[i], self.truncated[i] = terminated, truncated
        self.final_values[i] = 0.0 if final_values is None else final_values
        self.pos += 1

    def minibatches(
        self, batch_size: int, rng: np.random.Generator, device: torch.device
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Shuffled minibatches of the filled rows' joint steps as tensors on ``device``."""
        rows = self.pos
        n = rows * self.n_envs
        order = rng.permutation(n)
        flat: dict[str, NDArray[np.generic]] = {
            "obs": self.obs[:rows].reshape(n, -1),
            "server": self.server[:rows].reshape(n, self.n_agents),
            "u": self.u[:rows].reshape(n, self.n_agents, self.cont_dim),
            "logp_discrete": self.logp_discrete[:rows].reshape(n),
            "logp_continuous": self.logp_continuous[:rows].reshape(n),
            "values": self.values[:rows].reshape(n),
            "advantages": self.advantages[:rows].reshape(n),
            "returns": self.returns[:rows].reshape(n),
        }
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield {k: torch.as_tensor(v[idx], device=device) for k, v in flat.items()}


class HybridActorCritic(ABC):
    """``act``, ``value`` and the value de-normalisation the hybrid PPO learners share (H-PPO,
    PPO-relaxed, HDPPO, GHPPO). The learner provides ``distribution(obs)``, a ``critic``
    V(s), ``value_norm`` (running return statistics), ``config.normalize_values``,
    ``sizes.r_max_deg``, ``device`` and its generator ``_gen``."""

    config: Any
    sizes: HybridSizes
    critic: torch.nn.Module
    value_norm: Any
    device: torch.device
    _gen: torch.Generator

    @abstractmethod
    def distribution(self, obs: torch.Tensor) -> Any:
        """The hybrid policy for observations [N, M·F]."""

    @torch.no_grad()
    def act(
        self, obs: NDArray[Any], deterministic: bool = False
    ) -> tuple[dict[str, NDArray[np.generic]], HybridStep]:
        """The env's action dict for observations [N, M·F] (N copies) and the step the
        rollout stores. ``deterministic``: the most likely server and the Gaussian means."""
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        dist = self.distribution(o)
        server, u = dist.mode() if deterministic else dist.sample(self._gen)
        logp_d, logp_c = dist.log_prob_parts(server, u)  # paper C eqs. (28), (27)
        value = self._denormalize(self.critic(o).squeeze(-1))
        server_np = server.cpu().numpy().astype(np.int64)
        u_np = u.cpu().numpy().astype(np.float32)
        step = HybridStep(
            server_np,
            u_np,
            logp_d.double().cpu().numpy(),
            logp_c.double().cpu().numpy(),
            value.double().cpu().numpy(),
        )
        return to_env_action(server_np, u_np, self.sizes.r_max_deg), step

    @torch.no_grad()
    def value(self, obs: NDArray[Any]) -> NDArray[np.float64]:
        """V(s) [N] in return units."""
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        out: NDArray[np.float64] = (
            self._denormalize(self.critic(o).squeeze(-1)).double().cpu().numpy()
        )
        return out

    def _denormalize(self, v: torch.Tensor) -> torch.Tensor:
        """Critic output in return units (unchanged without ``normalize_values``)."""
        if not self.config.normalize_values:
            return v
        std = float(np.sqrt(self.value_norm.var + 1e-8))
        return v * std + float(self.value_norm.mean)
