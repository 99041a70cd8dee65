"""Diffusion soft actor-critic for discrete actions (paper A Sec. III), in one readable module.

The actor is a state-conditioned DDPM (:class:`vtwin.agents.diffusion.Diffusion`): the reverse
chain of paper A eqs. (7)–(9) turns Gaussian noise into a vector x_0 with one entry per action,
and the softmax of x_0 is the policy π_θ(·|s) (paper A eq. (10)). Two critics Q_φ1, Q_φ2 output
Q(s, ·) for every discrete action at once and are regressed on a shared target (paper A
eqs. (11)–(12)); slowly moving copies of the actor and both critics provide that target.
The actor maximises the expected min-critic value plus an entropy bonus β̄ H(π) (paper A
eq. (13)); its gradient runs back through every denoising step of the chain.

Action masks: masked entries of x_0 are replaced by a large negative number before the softmax,
so they get probability exactly 0 — both when acting (``mask``) and in the target at s'
(``next_masks`` of a replay batch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from vtwin.agents.common import as_tensor, masked_logits, net_layout
from vtwin.agents.diffusion import Diffusion, Schedule, Squash
from vtwin.agents.nets import EntityScorer, mlp
from vtwin.agents.soft_ac import SoftACConfig, SoftActorCriticBase

__all__ = ["DSACAgent", "DSACConfig"]


@dataclass(frozen=True)
class DSACConfig(SoftACConfig):
    """Diffusion-SAC hyper-parameters (defaults: paper A where it gives them, else SAC lore).

    ``alpha`` is the entropy temperature β̄ of paper A eq. (13). With ``auto_alpha`` it is
    learned instead (log α, target entropy ``target_entropy_scale · log(n_actions)``), and
    ``alpha`` is only its starting value; the target ignores action masks (always all
    ``n_actions``).

    x_0 is bounded (``x0_clip``, ``x0_squash``): the softmax of eq. (10) sees logits in
    [−c, c], so one action can take at most e^{2c}/(e^{2c} + n − 1) of the probability
    (c = 3, 90 actions: 0.82). α and the reward scale decide where inside that range the
    policy settles: the best soft policy is π ∝ exp(Q/α), which is interior only when the
    Q differences that matter are below 2cα.
    ``learning_starts`` and ``updates_per_step`` are
    read by :meth:`DSACAgent.learn` (and by training loops) — :meth:`DSACAgent.update` is
    always exactly one gradient step.
    """

    lr_actor: float = 1e-4
    lr_critic: float = 1e-4
    batch_size: int = 512
    buffer_size: int = 1_000_000
    denoising_steps: int = 100
    schedule: Schedule = "vp"
    hidden: tuple[int, ...] = (256, 256)
    alpha: float = 0.05
    auto_alpha: bool = False
    target_entropy_scale: float = 0.6
    max_grad_norm: float | None = 1.0
    x0_clip: float | None = 3.0
    """Bound c of the chain's predicted x_0 (:class:`~vtwin.agents.diffusion.Diffusion`);
    None runs eq. (8) unbounded. Measured on ``paper-a`` (200 slots, 8 copies, 40k
    transitions, argmax evaluation): unbounded, the noisy chain amplifies x_T about 12-fold
    (|x_0| ≈ 21, softmax entropy 0.2 of log 90 = 4.5 nats) and the mean-only chain ends with
    every entry at ±20, so its argmax is one fixed action (−6 % of the random→greedy gap);
    bounded at 1 it closes 30 %. c = 3 lets the sampled policy become nearly greedy."""
    critic: Literal["mlp", "entity"] = "mlp"
    """``entity``: both critics Q(s, ·) are networks shared by the servers of the env's
    ``entity_layout`` (:class:`~vtwin.agents.nets.EntityScorer`); ``mlp``: MLPs over the
    whole observation."""
    denoiser: Literal["mlp", "entity"] = "mlp"
    """The same choice for the actor's ε_θ. A shared denoiser runs once per server at every
    denoising step: on ``paper-a`` (18 servers, 10 steps, 128×128) an update took 1.3 s
    against 0.16 s with an MLP, too slow for a CPU budget."""
    eps_reg: float = 1e-3
    """Weight of a penalty on the denoiser's output before the tanh of eq. (8), mean ε_θ²
    over the actor's chain, added to the actor loss (SAC's reference code penalises its
    pre-tanh mean the same way, by 1e-3); 0 is eq. (13) as printed. Without it, entries
    whose soft-optimal logit lies beyond the bound c drive ε_θ ever further: tanh(ε)
    saturates, its gradient vanishes and the actor can freeze for good (``eps_saturation``
    in the update metrics tracks it; measured in docs/reproductions/paper-a.md)."""
    eval_chains: int = 0
    """What ``deterministic`` acting takes the argmax of. 0: the softmax of one mean-only chain
    (x_N = 0, no noise added). K > 0: the policy itself, π(·|s) = E_noise[softmax(x_0)],
    estimated by averaging K noisy chains (drawn with the agent's seeded generator, so still
    repeatable per seed). Measured on ``paper-a`` (200 slots, 8 copies, 40k transitions,
    ``DSAC_PARAMS``, seed 0): the mean-only chain closes 78 % of the random→greedy gap, K = 8
    64 % and K = 32 67 %; the mean-only chain is the sharper ranking, so it stays the
    default."""
    x0_squash: Squash = "tanh"
    """How x_0 is bounded: hard ``clip`` (the reference code's clip_denoised) or the smooth
    ``c·tanh(x/c)``. Measured as above (c = 3, γ = 0, α = 0.2): a hard clip pins entries at
    +c, where their gradient is zero, so the mean chain's argmax picks among ties (13 % of
    the gap); tanh keeps gradients and the order of the entries (34 %)."""


class DSACAgent(SoftActorCriticBase[DSACConfig]):
    """Diffusion actor (paper A eqs. (6)–(10)), twin critics Q(s, ·) and their target copies."""

    config_class = DSACConfig
    _polyak_nets = ("actor", "q1", "q2")
    actor_target: Diffusion

    def _build_nets(self) -> None:
        """The diffusion actor, the twin critics Q(s, ·) and the entropy target."""
        cfg, obs_dim, n_actions = self.config, self.obs_dim, self.n_actions
        if not cfg.eps_reg >= 0.0:
            raise ValueError(f"eps_reg = {cfg.eps_reg}: must be ≥ 0 (0: no penalty)")
        if cfg.eval_chains < 0:
            raise ValueError(f"eval_chains = {cfg.eval_chains}: must be ≥ 0 (0: mean-only chain)")
        self.actor = Diffusion(
            obs_dim,
            n_actions,
            n_steps=cfg.denoising_steps,
            schedule=cfg.schedule,
            hidden=tuple(cfg.hidden),
            x0_clip=cfg.x0_clip,
            x0_squash=cfg.x0_squash,
            layout=net_layout(self.sizes, "DSAC denoiser", cfg.denoiser),
        )
        self.q1 = self._critic()
        self.q2 = self._critic()
        self.target_entropy = cfg.target_entropy_scale * math.log(n_actions)

    def _critic(self) -> nn.Module:
        """Q(s, ·) over every action: an MLP, or one scorer shared by the entities."""
        layout = net_layout(self.sizes, "DSAC critic", self.config.critic)
        if layout is None:
            return mlp(self.obs_dim, self.n_actions, self.config.hidden)
        return EntityScorer(layout, self.config.hidden, nn.Mish)

    # ------------------------------------------------------------------ policy

    def _policy(
        self,
        actor: Diffusion,
        obs: torch.Tensor,
        mask: torch.Tensor | None,
        deterministic: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """π(·|s) and log π(·|s) [N, n_actions]: reverse chain → x_0 → masked softmax (eq. (10))."""
        x0 = actor.sample(obs, deterministic=deterministic, generator=self._gen)
        logits = masked_logits(x0, mask)
        return torch.softmax(logits, dim=-1), torch.log_softmax(logits, dim=-1)

    def _inputs(
        self, obs: NDArray[Any], mask: NDArray[np.bool_] | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        o = as_tensor(obs, torch.float32, self.device)
        assert o is not None
        m = as_tensor(mask, torch.bool, self.device)
        if m is not None and not bool(m.any(dim=-1).all()):
            raise ValueError("every row of the action mask must allow at least one action")
        return o, m

    @torch.no_grad()
    def probs(
        self, obs: NDArray[Any], mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.float64]:
        """π(·|s) [N, n_actions] from one run of the chain (mean-only when ``deterministic``)."""
        o, m = self._inputs(obs, mask)
        return self._policy(self.actor, o, m, deterministic)[0].double().cpu().numpy()

    @torch.no_grad()
    def act_with_info(
        self, obs: NDArray[Any], mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Actions [N], their log π and the soft-free value Σ_a π(a|s) min_i Q_i(s, a) [N].

        Stochastic: one noisy reverse chain, then a categorical draw from π, both with the
        agent's seeded generator. ``deterministic``: argmax of the mean-only chain's softmax
        (``eval_chains`` = 0) or of π averaged over ``eval_chains`` noisy chains.
        """
        o, m = self._inputs(obs, mask)
        k = self.config.eval_chains
        if deterministic and k > 0:
            # the mode of the marginal policy: average π over K noisy chains
            probs = torch.stack([self._policy(self.actor, o, m)[0] for _ in range(k)]).mean(0)
            logp = torch.log(probs)
        else:
            probs, logp = self._policy(self.actor, o, m, deterministic)
        if deterministic:
            action = probs.argmax(dim=-1)
        else:
            action = torch.multinomial(probs, 1, generator=self._gen).squeeze(-1)
        q = torch.min(self.q1(o), self.q2(o))
        value = (probs * q).sum(-1)
        return (
            action.cpu().numpy().astype(np.int64),
            logp.gather(-1, action[:, None]).squeeze(-1).double().cpu().numpy(),
            value.double().cpu().numpy(),
        )

    def act(
        self, obs: NDArray[Any], mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """Actions [N] for observations [N, obs_dim] (mean chain + argmax if ``deterministic``)."""
        return self.act_with_info(obs, mask, deterministic)[0]

    # ------------------------------------------------------------------ learning
    def _critic_target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The critics' target y (:meth:`update`). At γ = 0 (paper A's runs) y = r: the target
        actor's chain at s' and the target critics would only be multiplied by 0, so they are
        skipped (about a fifth of an update's time at 10 denoising steps) and only the chain's
        noise is drawn, which keeps every result equal to that of the full computation
        (:meth:`_soft_critic_target`; tested)."""
        if self.config.gamma == 0.0:
            self.actor_target.skip_sample(batch["obs"].shape[0], self.device, self._gen)
            return batch["rewards"].float()
        return self._soft_critic_target(batch)

    @torch.no_grad()
    def _soft_critic_target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """y of eq. (12) with the soft expectation over the target actor (:meth:`update`)."""
        next_masks = batch.get("next_masks")
        next_obs = batch["next_obs"].float()
        next_probs, next_logp = self._policy(
            self.actor_target, next_obs, None if next_masks is None else next_masks.bool()
        )
        return self._soft_target(batch, next_probs, next_logp, next_obs)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on both critics, the actor and (optionally) α; then Polyak targets.

        ``batch`` holds obs, actions, rewards, next_obs, terminated and optionally next_masks
        (masks at s') and masks (masks at s, used by the actor loss), as from
        :meth:`ReplayBuffer.sample`.

        Critic target. Paper A eq. (12) bootstraps with min_i Q'_i(s', π_θ'(s')). For a
        discrete policy we take the expectation over the target actor's whole distribution
        instead of one sampled action, and add the soft (entropy) term of soft actor-critic:

            y = r + γ (1 − terminated) Σ_a π'(a|s') [min_i Q'_i(s', a) − α log π'(a|s')].

        With α = 0 and a one-hot π' this is exactly eq. (12). Both critics minimise
        (Q_i(s, a) − y)² (eq. (11)).

        Actor loss (eq. (13) as a minimisation): −E_s[Σ_a π(a|s) min_i Q_i(s, a) + α H(π(·|s))],
        differentiated through the full noisy reverse chain; the critics are held fixed.

        α (``auto_alpha``): minimise log α · (H(π) − H_target) — α shrinks when the policy is
        more random than the target entropy and grows when it is less.
        """
        obs = batch["obs"].float()
        masks = batch.get("masks")
        metrics = self._sac_step(
            obs,
            batch["actions"].long(),
            self._critic_target(batch),
            # the actor's gradients run through every denoising step of the chain (eq. (13))
            lambda: self._policy(self.actor, obs, None if masks is None else masks.bool()),
            lambda: self.target_entropy,
            (lambda: self.config.eps_reg * self.actor.eps_square())
            if self.config.eps_reg
            else None,
        )
        self.actor.release_graph()
        # share of saturated tanh(ε) in the actor's chain: near 1 the actor has stopped learning
        metrics["eps_saturation"] = self.actor.saturation()
        return metrics
