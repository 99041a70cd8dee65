"""What paper A's diffusion SAC, paper B's MASAC and paper C's HGDM share: the gradient step,
the replay path and checkpoints.

:class:`SoftActorCriticBase` is the base of an agent that has ``config`` (with
``learning_starts``, ``updates_per_step``, ``batch_size``, ``tau``, ``max_grad_norm``),
``update(batch)``, twin critics ``q1``/``q2`` with target copies, an ``actor`` and
``log_alpha``. Each agent builds its actor and critics in :meth:`_build_nets`; the base adds
the target copies, log α and the optimisers. :meth:`_sac_step` is the part
of an update the discrete agents do alike (critic regression, actor and temperature steps,
Polyak targets), :meth:`_continuous_sac_step` (with :meth:`_continuous_target`) its
counterpart for continuous actions and critics Q(s, a) (HGDM's latent); :meth:`learn` is the
one replay path of every off-policy agent and training loop.
"""

from __future__ import annotations

import copy
import math
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.common import ConfigT, TorchAgent, categorical_entropy, polyak_update
from vtwin.agents.protocol import AgentKind

__all__ = ["SoftACConfig", "SoftActorCriticBase"]


@dataclass(frozen=True)
class SoftACConfig:
    """Hyper-parameters every soft actor-critic here shares, with the same defaults (SAC's,
    Haarnoja et al. 2018). Each agent's config adds its own learning rates, sizes and α."""

    gamma: float = 0.99
    tau: float = 0.005
    """Polyak step of the target networks, in (0, 1]."""
    lr_alpha: float = 3e-4
    learning_starts: int = 1000
    """Transitions stored before :meth:`SoftActorCriticBase.learn` starts updating."""
    updates_per_step: int = 1
    """Gradient steps per :meth:`SoftActorCriticBase.learn` call (one env slot)."""
    lr_anneal_steps: int = 0
    """Linear decay of the actor's and critics' learning rates to 0 over this many stored
    transitions (the factor is 1 − stored / ``lr_anneal_steps``, floored at 0); 0 keeps them
    constant. A training budget passes its own transition count to end at rate 0."""


class SoftActorCriticBase(TorchAgent[ConfigT]):
    """Base module: the shared SAC step, :meth:`learn` from a replay buffer, checkpoints."""

    kind: AgentKind = "off_policy"
    _polyak_nets: ClassVar[tuple[str, ...]] = ("q1", "q2")
    """Networks ``name`` with a target copy ``name_target`` moved by Polyak steps."""
    log_alpha: torch.Tensor
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer
    alpha_optimizer: torch.optim.Optimizer | None

    @property
    def _cfg(self) -> Any:
        """The config, duck-typed: every SAC config has the fields this base reads."""
        return self.config

    @abstractmethod
    def _build_nets(self) -> None:
        """Create ``actor``, ``q1`` and ``q2`` (in that order: it fixes their initial weights)."""

    def _build(self) -> None:
        """The agent's nets (:meth:`_build_nets`), then their frozen target copies and log α."""
        cfg = self._cfg
        if not 0.0 < cfg.tau <= 1.0:
            raise ValueError(f"tau = {cfg.tau}: must be in (0, 1]")
        if cfg.lr_anneal_steps < 0:
            raise ValueError(
                f"lr_anneal_steps = {cfg.lr_anneal_steps}: must be ≥ 0 (0: constant rates)"
            )
        self.stored_steps = 0  # transitions stored so far: the learning-rate schedule's clock
        self._build_nets()
        for name in self._polyak_nets:
            target = copy.deepcopy(self.get_submodule(name))
            target.requires_grad_(False)
            self.add_module(f"{name}_target", target)
        # log α is a parameter (so it travels with state_dict) that only α's optimiser steps.
        self.log_alpha = nn.Parameter(
            torch.tensor(math.log(cfg.alpha)), requires_grad=cfg.auto_alpha
        )

    def _build_optimizers(self) -> None:
        """Adam for the actor, the twin critics ``q1``/``q2`` and (when tuned) log α."""
        cfg = self._cfg
        actor, q1, q2 = (self.get_submodule(name) for name in ("actor", "q1", "q2"))
        self.actor_optimizer = torch.optim.Adam(actor.parameters(), lr=cfg.lr_actor)
        self.critic_optimizer = torch.optim.Adam(
            [*q1.parameters(), *q2.parameters()], lr=cfg.lr_critic
        )
        self.alpha_optimizer = (
            torch.optim.Adam([self.log_alpha], lr=cfg.lr_alpha) if cfg.auto_alpha else None
        )

    def _optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        return {
            "actor_optimizer": self.actor_optimizer,
            "critic_optimizer": self.critic_optimizer,
            "alpha_optimizer": self.alpha_optimizer,
        }

    @property
    def alpha(self) -> float:
        """Current entropy temperature."""
        return float(self.get_parameter("log_alpha").detach().exp())

    def _temperature_step(self, entropy_gap: torch.Tensor) -> None:
        """Adjust log α so the policy entropy tracks its target (``entropy − target``, detached);
        a no-op when α is fixed."""
        if self.alpha_optimizer is None:
            return
        log_alpha = self.get_parameter("log_alpha")
        alpha_loss = log_alpha * entropy_gap.mean()
        self.alpha_optimizer.zero_grad()
        alpha_loss.backward()
        self.alpha_optimizer.step()

    @torch.no_grad()
    def _soft_target(
        self,
        batch: dict[str, torch.Tensor],
        next_probs: torch.Tensor,
        next_logp: torch.Tensor,
        next_critic_in: torch.Tensor,
    ) -> torch.Tensor:
        """y = r + γ (1 − terminated) Σ_a π'(a|s') [min_i Q'_i(s', a) − α log π'(a|s')].

        ``next_probs`` / ``next_logp``: the (target) policy at s'; masked actions have
        probability 0 and add nothing.
        """
        alive = 1.0 - batch["terminated"].float()
        alpha = self.get_parameter("log_alpha").detach().exp()
        q1_target, q2_target = self.get_submodule("q1_target"), self.get_submodule("q2_target")
        next_q = torch.min(q1_target(next_critic_in), q2_target(next_critic_in))
        soft = torch.where(next_probs > 0, next_q - alpha * next_logp, torch.zeros_like(next_q))
        return batch["rewards"].float() + self._cfg.gamma * alive * (next_probs * soft).sum(-1)

    def _sac_step(
        self,
        critic_in: torch.Tensor,
        actions: torch.Tensor,
        y: torch.Tensor,
        policy: Callable[[], tuple[torch.Tensor, torch.Tensor]],
        target_entropy: Callable[[], torch.Tensor | float],
        actor_penalty: Callable[[], torch.Tensor] | None = None,
    ) -> dict[str, float]:
        """Critics, actor, temperature and targets after the critic target ``y`` is known.

        Both critics minimise (Q_i(s, a) − y)²; the actor minimises
        −E_s[Σ_a π(a|s) min_i Q_i(s, a) + α H(π(·|s))] with the critics held fixed
        (``policy()`` gives π and log π at s, differentiably); α (``auto_alpha``) minimises
        log α · (H(π) − ``target_entropy()``); then the Polyak target step.
        ``actor_penalty()``, when given, is added to the actor loss after ``policy()`` ran.
        """
        cfg = self._cfg
        q1_net, q2_net = self.get_submodule("q1"), self.get_submodule("q2")
        alpha = self.get_parameter("log_alpha").detach().exp()
        q1 = q1_net(critic_in).gather(-1, actions[:, None]).squeeze(-1)
        q2 = q2_net(critic_in).gather(-1, actions[:, None]).squeeze(-1)
        critic_loss = nn.functional.mse_loss(q1, y) + nn.functional.mse_loss(q2, y)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(
                [*q1_net.parameters(), *q2_net.parameters()], cfg.max_grad_norm
            )
        self.critic_optimizer.step()

        probs, logp = policy()
        with torch.no_grad():
            q_min = torch.min(q1_net(critic_in), q2_net(critic_in))
        entropy = categorical_entropy(probs, logp)
        actor_loss = -((probs * q_min).sum(-1) + alpha * entropy).mean()
        if actor_penalty is not None:
            actor_loss = actor_loss + actor_penalty()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.get_submodule("actor").parameters(), cfg.max_grad_norm)
        self.actor_optimizer.step()

        self._temperature_step(entropy.detach() - target_entropy())
        self.soft_update()
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": actor_loss.item(),
            "alpha": self.alpha,
            "entropy": entropy.mean().item(),
            "q_mean": (0.5 * (q1 + q2)).mean().item(),
        }

    # ------------------------------------------------------------------ continuous actions
    @torch.no_grad()
    def _continuous_target(
        self,
        batch: dict[str, torch.Tensor],
        next_obs: torch.Tensor,
        next_actions: torch.Tensor,
        next_logp: torch.Tensor,
    ) -> torch.Tensor:
        """y = r + γ (1 − terminated) [min_i Q'_i(s', a') − α log π(a'|s')] with a' ~ π(·|s')
        one sampled action per row (SAC for continuous actions, Haarnoja et al. 2018, eq. (3)
        with the twin-critic minimum of their 2018b version); critics called ``q(s, a)``."""
        alive = 1.0 - batch["terminated"].float()
        alpha = self.get_parameter("log_alpha").detach().exp()
        q1_target, q2_target = self.get_submodule("q1_target"), self.get_submodule("q2_target")
        next_q = torch.min(q1_target(next_obs, next_actions), q2_target(next_obs, next_actions))
        soft = next_q - alpha * next_logp
        return batch["rewards"].float() + self._cfg.gamma * alive * soft

    def _continuous_sac_step(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        y: torch.Tensor,
        policy: Callable[[], tuple[torch.Tensor, torch.Tensor]],
        target_entropy: float,
        actor_penalty: Callable[[], torch.Tensor] | None = None,
    ) -> dict[str, float]:
        """:meth:`_sac_step` for continuous actions and critics ``q(s, a) → [N]``.

        Both critics minimise (Q_i(s, a) − y)²; ``policy()`` draws a ~ π(·|s)
        reparameterised, with log π(a|s) [N]; the actor minimises
        E_s[α log π(a|s) − min_i Q_i(s, a)] (Haarnoja et al. 2018b, eq. (7)) with the critics'
        weights held fixed (their gradients are not even computed) while a's gradient runs
        through them; α (``auto_alpha``) minimises log α · (−log π − ``target_entropy``)
        (eq. (18)); then the Polyak target step. ``actor_penalty()`` is added to the actor
        loss after ``policy()`` ran.
        """
        cfg = self._cfg
        q1_net, q2_net = self.get_submodule("q1"), self.get_submodule("q2")
        alpha = self.get_parameter("log_alpha").detach().exp()
        q1, q2 = q1_net(obs, actions), q2_net(obs, actions)
        critic_loss = nn.functional.mse_loss(q1, y) + nn.functional.mse_loss(q2, y)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        critic_params = [*q1_net.parameters(), *q2_net.parameters()]
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(critic_params, cfg.max_grad_norm)
        self.critic_optimizer.step()

        new_actions, logp = policy()
        for p in critic_params:
            p.requires_grad_(False)
        try:
            q_new = torch.min(q1_net(obs, new_actions), q2_net(obs, new_actions))
        finally:
            for p in critic_params:
                p.requires_grad_(True)
        actor_loss = (alpha * logp - q_new).mean()
        if actor_penalty is not None:
            actor_loss = actor_loss + actor_penalty()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.get_submodule("actor").parameters(), cfg.max_grad_norm)
        self.actor_optimizer.step()

        entropy = -logp.detach()
        self._temperature_step(entropy - target_entropy)
        self.soft_update()
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": actor_loss.item(),
            "alpha": self.alpha,
            "entropy": entropy.mean().item(),
            "q_mean": (0.5 * (q1 + q2)).mean().item(),
        }

    def soft_update(self) -> None:
        """Polyak step θ' ← (1 − τ) θ' + τ θ for every network with a target copy."""
        pairs = [
            (self.get_submodule(n), self.get_submodule(f"{n}_target")) for n in self._polyak_nets
        ]
        polyak_update(pairs, self._cfg.tau)

    @abstractmethod
    def update(self, batch: Any) -> dict[str, float]:
        """One gradient step on a replay batch (each agent defines it)."""

    # ------------------------------------------------------------------ replay
    def make_buffer(self) -> ReplayBuffer:
        """An empty replay buffer of ``buffer_size`` flat observations.

        Its capacity does not depend on any budget, so a resumed run wraps like an
        uninterrupted one; numpy's zero pages cost no memory until written.
        """
        return ReplayBuffer(self._cfg.buffer_size, self.obs_dim)

    def store(self, buffer: ReplayBuffer, step: Transition) -> int:
        """Add flat transitions ([N, obs_dim] observations, [N] the rest); returns N."""
        buffer.add(step)
        n = int(np.asarray(step.obs).shape[0])
        self.stored_steps += n
        return n

    def _lr_scale(self) -> float:
        """Set the actor's and critics' learning rates for the coming updates; return the factor
        (``lr_anneal_steps``: 1 − stored transitions / ``lr_anneal_steps``, at least 0)."""
        cfg = self._cfg
        if cfg.lr_anneal_steps <= 0:
            return 1.0
        scale = max(0.0, 1.0 - self.stored_steps / cfg.lr_anneal_steps)
        for opt, lr in (
            (self.actor_optimizer, cfg.lr_actor),
            (self.critic_optimizer, cfg.lr_critic),
        ):
            for group in opt.param_groups:
                group["lr"] = lr * scale
        return scale

    def _extra_state(self) -> dict[str, Any]:
        return {"stored_steps": self.stored_steps}

    def _load_extra_state(self, ckpt: dict[str, Any]) -> None:
        self.stored_steps = int(ckpt.get("stored_steps", 0))

    def learn(
        self, buffer: ReplayBuffer, rng: np.random.Generator | None = None
    ) -> dict[str, float]:
        """``updates_per_step`` updates on batches from ``buffer``, drawn with ``rng`` (default:
        the agent's own generator).

        Returns the mean metrics, or ``{}`` while the buffer holds fewer than
        ``learning_starts`` transitions.
        """
        cfg = self._cfg
        if len(buffer) < max(cfg.learning_starts, 1):
            return {}
        draw = self._rng if rng is None else rng
        lr_scale = self._lr_scale()
        stats: dict[str, list[float]] = {}
        for _ in range(cfg.updates_per_step):
            info = self.update(buffer.sample(cfg.batch_size, draw, self.device))
            for k, v in info.items():
                stats.setdefault(k, []).append(v)
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        if cfg.lr_anneal_steps > 0:
            out["lr_scale"] = lr_scale
        return out
