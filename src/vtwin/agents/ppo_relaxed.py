"""PPO-relaxed: paper C's baseline that relaxes the discrete agent server into a continuous value.

Paper C Sec. 6.1 (ref. [27]): "a PPO-based algorithm employing clipped surrogate objectives and
GAE for stable policy updates, where discrete migration actions are similarly relaxed into
continuous values for tractable training". Here the whole action of AV m is one continuous
vector ``u_m = (u_r, u_θ, u_e)`` drawn from one diagonal Gaussian actor (state-dependent
means, a learned state-independent log-σ per AV and column); the env receives

* radius and angle as H-PPO's (:func:`~vtwin.agents.hybrid.to_env_action`:
  ``r = r_max · clip(u_r, 0, 1)``, ``θ = 2π · (u_θ mod 1)``);
* agent server ``e = clip(round(u_e · (S − 1)), 0, S − 1)``: ``u_e`` is the server index
  scaled to [0, 1] and rounded to the nearest index, Gaussian mass beyond either end choosing
  the end server (RSU 0 or the satellite). Rounding is the usual relaxation of an integer
  decision; it imposes an order on the servers, which is what relaxing a categorical choice
  costs. Paper C does not say which order. ``server_order = "index"`` takes the env's (RSUs
  in placement order, then the satellite), which has no relation to the choice's value: on
  ``paper-c`` the index picks servers no better than at random. ``"distance"`` (ours, used by
  the experiments) ranks each AV's servers from the nearest to the farthest, read off the
  ``servers`` observation, so that nearby values of ``u_e`` are servers at similar distances
  (24k steps, seed 0: utility 3.971 → 4.374, latency 36.6 → 16.0 s).

The log-probability is that of the unrounded, unclipped Gaussian sample (CleanRL's convention
for bounded Box actions, as H-PPO's continuous head), so the PPO ratio compares densities of
the same ``u`` while the env never sees an out-of-range value.

How it runs in :func:`~vtwin.training.hybrid.train_hybrid`: the step stores ``u`` with three
columns per AV (:class:`~vtwin.agents.hybrid.HybridRollout` has ``cont_dim`` = 3), the
rounded server (for the record; no log-probability refers to it), a discrete log-probability
of exactly 0 and the whole Gaussian log-probability as the continuous part. That is the
smallest change to the shared parts — one width — and it keeps the rollout, the GAE and
H-PPO's update code: PPO-relaxed *is* H-PPO's machinery with the discrete head removed and
one ratio (eq. (29) with log π_d ≡ 0), so :class:`PPORelaxedAgent` subclasses
:class:`~vtwin.agents.hppo.HPPOAgent` and replaces only the networks and the distribution.

Loss per minibatch: clipped surrogate on the Gaussian's ratio (paper C eq. (30)), clipped
value loss weighted by c_v = 0.25 (eq. (31)), an optional entropy bonus on the Gaussian
(``ent_coef_continuous``, 0 by default as CleanRL's continuous PPO), gradient-norm clipping of
the actor and the critic apart. Defaults: paper C's table (γ = λ = 0.95, lr 10⁻⁴, batch 256,
c_v = 0.25), the rest H-PPO's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

from vtwin.agents.hppo import HPPOAgent, HPPOConfig
from vtwin.agents.hybrid import HybridPolicy, HybridSizes
from vtwin.agents.nets import gather_entities, mlp
from vtwin.agents.normalize import RunningMeanStd

__all__ = ["RELAXED_DIM", "PPORelaxedAgent", "PPORelaxedConfig", "RelaxedDistribution"]

RELAXED_DIM = 3
"""Continuous columns per AV: (u_r, u_θ, u_e)."""


@dataclass(frozen=True)
class PPORelaxedConfig(HPPOConfig):
    """PPO-relaxed hyper-parameters: H-PPO's (paper C's table where it gives them), with the
    two fields that only make sense with a discrete head fixed.

    ``joint_ratio`` must stay True (one Gaussian, one ratio); ``ent_coef`` (H-PPO's bonus on
    the discrete heads) must stay 0 — use ``ent_coef_continuous`` for an entropy bonus.
    ``init_log_std`` is the starting log-σ of all three columns (σ ≈ 0.5 on the unit range:
    about ±(S − 1)/2 servers around the mean at the start).
    """

    ent_coef: float = 0.0
    joint_ratio: bool = True
    server_order: Literal["index", "distance"] = "index"
    """What the relaxed index ``u_e`` runs over. ``index``: the env's server order (RSUs in
    placement order, then the satellite). ``distance`` (ours): each AV's servers from the
    nearest to the farthest, read off its observation (the ``servers`` observation's
    distance columns, :attr:`~vtwin.agents.hybrid.HybridSizes.server_keys`), so that
    neighbouring values of ``u_e`` are servers at similar distances."""


class RelaxedDistribution:
    """Per AV a diagonal Gaussian over ``u = (u_r, u_θ, u_e)`` for N rows, with the server
    read off ``u_e`` (:meth:`server_of`). ``mean`` [N, M, 3]; ``log_std`` broadcastable to it.
    Satisfies :class:`~vtwin.agents.hybrid.HybridPolicy` with a discrete part ≡ 0."""

    def __init__(
        self,
        mean: torch.Tensor,
        log_std: torch.Tensor,
        n_servers: int,
        order: torch.Tensor | None = None,
    ) -> None:
        """Build the Gaussian (no copy; gradients flow through ``mean`` and ``log_std``).
        ``order`` [N, M, S]: the server at each rank of the relaxed index (None: rank =
        server)."""
        self.continuous = Normal(mean, log_std.exp().expand_as(mean))
        self.n_servers = n_servers
        self.order = order

    def server_of(self, u: torch.Tensor) -> torch.Tensor:
        """Servers [N, M] of samples [N, M, 3]: the rank ``clip(round(u_e · (S − 1)), 0,
        S − 1)`` (round half to even; a NaN ``u_e`` would be an error upstream, never produced
        here), mapped through ``order`` when given."""
        top = self.n_servers - 1
        rank = torch.round(u[..., 2] * top).clamp(0, top).long()
        if self.order is None:
            return rank
        return self.order.gather(-1, rank.unsqueeze(-1)).squeeze(-1)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Servers [N, M] and unclipped samples ``u`` [N, M, 3], drawn with ``generator``."""
        loc, scale = self.continuous.loc, self.continuous.scale
        noise = torch.randn(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
        u = loc + scale * noise
        return self.server_of(u), u

    def mode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The means and the servers they round to (deterministic acting)."""
        loc = self.continuous.loc
        return self.server_of(loc), loc

    def log_prob_parts(
        self, server: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(0, Σ_m Σ_k log N(u_mk; μ_mk, σ_mk)) [N] each: the server is a function of ``u``,
        so all the probability is in the Gaussian (``server`` is not read)."""
        logp_c = self.continuous.log_prob(u).sum((-2, -1))
        return torch.zeros_like(logp_c), logp_c

    def log_prob(self, server: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Joint log-probability [N] (= the Gaussian's)."""
        return self.log_prob_parts(server, u)[1]

    def entropy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(0, differential entropy summed over the three columns) [N, M] each, in nats."""
        ent_c = self.continuous.entropy().sum(-1)
        return torch.zeros_like(ent_c), ent_c


class PPORelaxedAgent(HPPOAgent):
    """One Gaussian actor over ``(u_r, u_θ, u_e)`` per AV, a learned log-σ [M, 3] and a critic
    V(s), trained by H-PPO's update with one ratio. Build it with
    :class:`~vtwin.agents.hybrid.HybridSizes`."""

    config_class = PPORelaxedConfig
    config: PPORelaxedConfig
    cont_dim: int = RELAXED_DIM

    def _build(self) -> None:
        cfg, sizes = self.config, self.sizes
        if not isinstance(sizes, HybridSizes):
            raise TypeError("PPORelaxedAgent needs HybridSizes (obs_dim, servers, AVs, r_max_deg)")
        _validate(cfg)
        self.M, self.S = sizes.n_agents, sizes.n_actions
        root2 = float(np.sqrt(2.0))
        actor_init, critic_init = (
            ((root2, 0.01), (root2, 1.0)) if cfg.orthogonal_init else (None, None)
        )
        self.actor = mlp(
            self.obs_dim, self.M * RELAXED_DIM, cfg.hidden, nn.Tanh, orthogonal=actor_init
        )
        self.log_std = nn.Parameter(torch.full((self.M, RELAXED_DIM), cfg.init_log_std))
        self.critic = mlp(self.obs_dim, 1, cfg.hidden, nn.Tanh, orthogonal=critic_init)
        self.value_norm = RunningMeanStd(())
        keys: torch.Tensor | None = None
        if cfg.server_order == "distance":
            if sizes.server_keys is None:
                raise ValueError(
                    "PPORelaxedConfig.server_order = 'distance' needs per-server distances in "
                    "the observation (privacy.observation = servers); this env has none "
                    "(use 'index')"
                )
            keys = torch.tensor(sizes.server_keys, dtype=torch.long)
        self.key_index: torch.Tensor | None
        self.register_buffer("key_index", keys, persistent=False)

    def distribution(self, obs: torch.Tensor) -> HybridPolicy:
        """The relaxed policy for observations [N, M·F]. Means are offset by 0.5, so an
        untrained actor (outputs ≈ 0) starts mid-range: r ≈ r_max/2, θ ≈ π, the middle
        server."""
        mean = 0.5 + self.actor(obs).reshape(obs.shape[0], self.M, RELAXED_DIM)
        order = None
        if self.key_index is not None:  # nearest first; ties keep the env's order
            order = torch.sort(gather_entities(obs, self.key_index), dim=-1, stable=True).indices
        return RelaxedDistribution(mean, self.log_std, self.S, order)

    def _clip_groups(self) -> list[list[nn.Parameter]]:
        """The actor (with log-σ) and the critic, clipped apart."""
        return [[*self.actor.parameters(), self.log_std], list(self.critic.parameters())]


def _validate(cfg: PPORelaxedConfig) -> None:
    """One-line errors naming the field, its value and what is allowed."""
    checks: list[tuple[str, object, bool, str]] = [
        ("joint_ratio", cfg.joint_ratio, cfg.joint_ratio is True, "True (one Gaussian, one ratio)"),
        (
            "server_order",
            cfg.server_order,
            cfg.server_order in ("index", "distance"),
            "'index' or 'distance'",
        ),
        (
            "ent_coef",
            cfg.ent_coef,
            cfg.ent_coef == 0.0,
            "0 (no discrete head; see ent_coef_continuous)",
        ),
        ("gamma", cfg.gamma, 0.0 <= cfg.gamma <= 1.0, "a number in [0, 1]"),
        ("gae_lambda", cfg.gae_lambda, 0.0 <= cfg.gae_lambda <= 1.0, "a number in [0, 1]"),
        ("lr", cfg.lr, bool(np.isfinite(cfg.lr)) and cfg.lr > 0, "a finite number > 0"),
        ("clip", cfg.clip, cfg.clip > 0, "a number > 0"),
        ("vf_coef", cfg.vf_coef, cfg.vf_coef >= 0, "a number ≥ 0"),
        ("ent_coef_continuous", cfg.ent_coef_continuous, cfg.ent_coef_continuous >= 0, "≥ 0"),
        ("epochs", cfg.epochs, cfg.epochs >= 1, "an integer ≥ 1"),
        ("minibatch_size", cfg.minibatch_size, cfg.minibatch_size >= 1, "an integer ≥ 1"),
        ("rollout_slots", cfg.rollout_slots, cfg.rollout_slots >= 1, "an integer ≥ 1"),
        ("max_grad_norm", cfg.max_grad_norm, cfg.max_grad_norm > 0, "a number > 0"),
        (
            "init_log_std",
            cfg.init_log_std,
            bool(np.isfinite(cfg.init_log_std)),
            "a finite number",
        ),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            raise ValueError(f"PPORelaxedConfig.{name} = {value!r}: must be {allowed}")
