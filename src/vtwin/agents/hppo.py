"""H-PPO: hybrid-action PPO with parallel discrete and continuous heads (one readable module).

Paper C's H-PPO baseline, after Fan et al. 2019 ("Hybrid actor-critic reinforcement learning
in parameterized action space"): a discrete actor (an MLP from the aggregated state to the
per-AV server logits) and a continuous actor (an MLP to the per-AV Gaussian means of
``u = (u_r, u_θ)``, with a learned state-independent log-σ per AV and dimension) are trained
in parallel against one critic V(s). The policy, the action map and the rollout are the
shared ones of :mod:`vtwin.agents.hybrid`.

Update, per minibatch (paper C eqs. (29)–(31) with Fan et al.'s parallel heads):

* probability ratios from log-probabilities, ``exp(log π_new − log π_old)``, with the old
  log-probabilities stored at collection time. By default (``joint_ratio=False``) each head
  has its own ratio (the discrete one over Σ_m log π_d(e_m), the continuous one over
  Σ_m log π_c(u_m)) and its own clipped surrogate on the shared advantage, as Fan et al.;
  ``joint_ratio=True`` uses the one ratio of the joint log-probability (eq. (26), (29)).
  (The most-copied public H-PPO code divides probabilities and stores max(prob) as the old
  value; neither is done here.)
* clipped surrogate (eq. (30)), clipped value loss (eq. (31)) weighted by ``vf_coef`` = c_v
  = 0.25 (paper C's table), an entropy bonus on the discrete heads (mean per-AV entropy)
  and optionally on the continuous one, gradient-norm clipping of each network apart (as
  ``ppo.py``: a large value-loss gradient must not shrink the policy steps).

Defaults follow paper C's hyper-parameter table (γ = λ = 0.95, lr 10⁻⁴, batch 256,
c_v = 0.25); the rest are CleanRL's PPO values, plus value normalisation as ``ppo.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from vtwin.agents.common import (
    ClippedPPOConfig,
    PPOStats,
    TorchAgent,
    clipped_surrogate,
    clipped_value_loss,
    net_layout,
)
from vtwin.agents.hybrid import (
    CONT_DIM,
    HybridActorCritic,
    HybridDistribution,
    HybridPolicy,
    HybridRollout,
    HybridSizes,
)
from vtwin.agents.nets import EntityScorer, SigmoidTanh, mlp
from vtwin.agents.normalize import RunningMeanStd
from vtwin.agents.protocol import AgentKind

__all__ = ["HPPOAgent", "HPPOConfig"]


@dataclass(frozen=True)
class HPPOConfig(ClippedPPOConfig):
    """H-PPO hyper-parameters (paper C's table where it gives them, else CleanRL's).

    ``minibatch_size`` counts joint steps (one row = all M AVs of one copy and slot);
    ``rollout_slots``: env slots per copy between updates (an episode end also closes a
    rollout).
    """

    gamma: float = 0.95
    gae_lambda: float = 0.95
    lr: float = 1e-4
    minibatch_size: int = 256
    epochs: int = 10
    vf_coef: float = 0.25
    """c_v of paper C eq. (34)."""
    ent_coef: float = 0.01
    """Bonus on the discrete heads' mean per-AV entropy (nats)."""
    ent_coef_continuous: float = 0.0
    """Bonus on the continuous head's mean per-AV entropy (0 as CleanRL's continuous PPO)."""
    init_log_std: float = -0.7
    """Initial log-σ of the Gaussian over u (σ ≈ 0.5 on the unit range of u_r, as CleanRL's
    σ = 1 on [−1, 1])."""
    joint_ratio: bool = False
    """False: one ratio and clipped surrogate per head (Fan et al.'s parallel H-PPO); True:
    one ratio of the joint log-probability (eq. (29))."""
    normalize_values: bool = True
    """Critic regresses returns standardised by running statistics (as ``ppo.py``), so
    ``value_clip`` is in normalised-return units."""
    orthogonal_init: bool = True
    """CleanRL's initialisation: gain √2 hidden, 0.01 on the policy heads, 1 on the value."""
    rollout_slots: int = 128
    discrete_actor: Literal["mlp", "entity"] = "mlp"
    """``mlp``: one MLP from the aggregated state to all M·S server logits (paper C).
    ``entity``: the env's ``entity_layout`` (the ``servers`` observation) groups the row by
    (AV m, server s), and one MLP (``entity_hidden``) shared by all M·S pairs turns a pair's
    features into its logit (:class:`~vtwin.agents.nets.EntityScorer`; ours); the
    continuous actor and the critic stay MLPs."""
    entity_hidden: tuple[int, ...] = (32,)
    """Hidden widths of the ``entity`` discrete actor's shared MLP (it runs once per AV and
    server: M·S = 1005 times per row on ``paper-c``). Measured on ``paper-c`` (servers
    observation, 60-slot episodes, B = 8, 8k joint steps, seed 0; utility / latency of the
    deterministic policy, training speed on a contended core): (64, 64) 4.328 / 17.6 s,
    25 steps/s; (32, 32) 4.299 / 19.5 s, 73 steps/s; (32,) 4.312 / 18.4 s, 108 steps/s
    (max-radius rule 4.382 / 15.5 s; the MLP head on eq. (19), 12k steps: 3.887 / 40.7 s)."""


class HPPOAgent(HybridActorCritic, TorchAgent[HPPOConfig]):
    """Discrete actor (per-AV server logits), continuous actor (per-AV means of ``u`` and a
    learned log-σ) and critic V(s), trained with PPO. Build it with :class:`HybridSizes`."""

    kind: AgentKind = "on_policy"
    config_class = HPPOConfig
    sizes: HybridSizes
    cont_dim: int = CONT_DIM
    """Continuous columns per AV of the stored ``u`` (the rollout is sized by it)."""

    def _build(self) -> None:
        cfg, sizes = self.config, self.sizes
        if not isinstance(sizes, HybridSizes):
            raise TypeError("HPPOAgent needs HybridSizes (obs_dim, servers, AVs, r_max_deg)")
        self.M, self.S = sizes.n_agents, sizes.n_actions
        root2 = float(np.sqrt(2.0))
        actor_init, critic_init = (
            ((root2, 0.01), (root2, 1.0)) if cfg.orthogonal_init else (None, None)
        )
        layout = net_layout(sizes, "HPPOConfig.discrete_actor", cfg.discrete_actor)
        self.discrete_actor: nn.Module = (
            mlp(self.obs_dim, self.M * self.S, cfg.hidden, nn.Tanh, orthogonal=actor_init)
            if layout is None
            else EntityScorer(layout, cfg.entity_hidden, SigmoidTanh, orthogonal=actor_init)
        )
        self.continuous_actor = mlp(
            self.obs_dim, self.M * CONT_DIM, cfg.hidden, nn.Tanh, orthogonal=actor_init
        )
        self.log_std = nn.Parameter(torch.full((self.M, CONT_DIM), cfg.init_log_std))
        self.critic = mlp(self.obs_dim, 1, cfg.hidden, nn.Tanh, orthogonal=critic_init)
        self.value_norm = RunningMeanStd(())

    def _build_optimizers(self) -> None:
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr, eps=1e-5)

    # ------------------------------------------------------------------ acting
    def distribution(self, obs: torch.Tensor) -> HybridPolicy:
        """The hybrid policy for observations [N, M·F]. The continuous means are offset by
        0.5, so an untrained head (outputs ≈ 0) starts mid-range: r ≈ r_max/2, θ ≈ π."""
        n = obs.shape[0]
        logits = self.discrete_actor(obs).reshape(n, self.M, self.S)
        mean = 0.5 + self.continuous_actor(obs).reshape(n, self.M, CONT_DIM)
        return HybridDistribution(logits, mean, self.log_std)

    # ------------------------------------------------------------------ learning
    def update(self, rollout: HybridRollout) -> dict[str, float]:
        """PPO epochs over a filled rollout whose returns were computed; mean metrics."""
        cfg = self.config
        stats = PPOStats()
        extra: dict[str, list[float]] = {"entropy_continuous": [], "std_radius": []}
        mean, std = 0.0, 1.0
        if cfg.normalize_values:
            # targets and old values in the units of the updated running statistics
            self.value_norm.update(rollout.returns[: rollout.pos].reshape(-1))
            mean = float(self.value_norm.mean)
            std = float(np.sqrt(self.value_norm.var + 1e-8))
        for _ in range(cfg.epochs):
            for batch in rollout.minibatches(cfg.minibatch_size, self._rng, self.device):
                obs = batch["obs"].float()
                dist = self.distribution(obs)
                logp_d, logp_c = dist.log_prob_parts(batch["server"], batch["u"].float())
                old_d, old_c = batch["logp_discrete"].float(), batch["logp_continuous"].float()
                adv = batch["advantages"].float()
                if cfg.normalize_advantages and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                if cfg.joint_ratio:
                    ratio = torch.exp((logp_d + logp_c) - (old_d + old_c))  # eq. (29)
                    pg = clipped_surrogate(ratio, adv, cfg.clip)  # eq. (30)
                else:  # Fan et al.: each head its own ratio and clipped surrogate
                    ratio_d = torch.exp(logp_d - old_d)
                    ratio_c = torch.exp(logp_c - old_c)
                    pg = clipped_surrogate(ratio_d, adv, cfg.clip) + clipped_surrogate(
                        ratio_c, adv, cfg.clip
                    )
                    ratio = ratio_d * ratio_c  # the joint ratio, for the statistics
                value = self.critic(obs).squeeze(-1)
                ret = (batch["returns"].float() - mean) / std
                old_value = (batch["values"].float() - mean) / std
                v_loss = clipped_value_loss(value, ret, old_value, cfg.value_clip)  # eq. (31)
                ent_d, ent_c = dist.entropy()
                entropy_d, entropy_c = ent_d.mean(), ent_c.mean()
                loss = (
                    pg
                    + cfg.vf_coef * v_loss
                    - cfg.ent_coef * entropy_d
                    - cfg.ent_coef_continuous * entropy_c
                )
                self.optimizer.zero_grad()
                loss.backward()
                for group in self._clip_groups():
                    nn.utils.clip_grad_norm_(group, cfg.max_grad_norm)
                self.optimizer.step()
                stats.record(pg, v_loss, entropy_d, ratio, cfg.clip)
                extra["entropy_continuous"].append(float(entropy_c.detach()))
                extra["std_radius"].append(float(self.log_std.detach()[:, 0].exp().mean()))
        return stats.means() | {k: float(np.mean(v)) for k, v in extra.items()}

    def _clip_groups(self) -> list[list[nn.Parameter]]:
        """The parameter groups whose gradient norms are clipped apart: each actor head and
        the critic (a large value-loss gradient must not shrink the policy steps)."""
        return [
            list(self.discrete_actor.parameters()),
            [*self.continuous_actor.parameters(), self.log_std],
            list(self.critic.parameters()),
        ]

    # ------------------------------------------------------------------ checkpoints
    def _optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        return {"optimizer": self.optimizer}

    def _extra_state(self) -> dict[str, Any]:
        return {"value_norm": self.value_norm.state_dict()}

    def _load_extra_state(self, ckpt: dict[str, Any]) -> None:
        self.value_norm.load_state_dict(ckpt["value_norm"])
