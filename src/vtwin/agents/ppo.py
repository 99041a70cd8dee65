"""PPO for discrete actions, with optional action masks (CleanRL-style, one readable module).

Clipped surrogate objective, GAE (``vtwin.agents.buffers``), clipped value loss, entropy
bonus and gradient-norm clipping (Schulman et al. 2017). When action masks are given,
masked logits are set to a large negative number both when sampling and when the update
recomputes log-probabilities, so the probability ratio compares the same masked policy
(the "dynamic mask" of paper B's DM-MAPPO relies on this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from vtwin.agents.buffers import RolloutBuffer
from vtwin.agents.common import (
    ClippedPPOConfig,
    PPOStats,
    TorchAgent,
    as_tensor,
    categorical_entropy,
    clipped_surrogate,
    clipped_value_loss,
    masked_logits,
    net_layout,
    sample_from_logits,
)
from vtwin.agents.nets import EntityScorer, mlp
from vtwin.agents.normalize import RunningMeanStd
from vtwin.agents.protocol import AgentKind

__all__ = ["PPOAgent", "PPOConfig"]


@dataclass(frozen=True)
class PPOConfig(ClippedPPOConfig):
    """PPO hyper-parameters (defaults: common CleanRL values, plus value normalisation).

    ``rollout_slots``: env slots per copy between updates (an episode end also closes a
    rollout).
    """

    lr: float = 3e-4
    vf_coef: float = 0.5
    normalize_values: bool = True
    """Critic regresses returns standardised by their running mean/std (as MAPPO's value
    normalisation), so ``value_clip`` is in normalised-return units and the critic's scale
    does not depend on the reward scale or the discount. On by default: with the clip in
    return units the critic of paper A's PPO (returns ≈ −140 at γ = 0.99) could move 0.2
    per update and still had a value loss of ≈ 700 after 200k transitions (≈ 0.3 with it)."""
    normalize_obs: bool = False
    """Actor and critic see observations standardised by their running mean/std (clipped to
    ±10). The statistics are updated after each update's epochs, so a rollout is collected
    and learned from under the same statistics (the probability ratio starts at 1)."""
    orthogonal_init: bool = False
    """Orthogonal initialisation (CleanRL / SB3): gain √2 for hidden layers, 0.01 for the
    policy head (near-uniform initial policy), 1 for the value head."""
    actor: Literal["mlp", "entity"] = "mlp"
    """``mlp``: one MLP from the observation to every logit. ``entity``: the env's
    ``entity_layout`` groups the observation by server and one MLP (``hidden``), shared by
    the servers, turns a server's features plus the shared ones into that server's logits
    (:class:`~vtwin.agents.nets.EntityScorer`); the critic stays an MLP."""


class PPOAgent(TorchAgent[PPOConfig]):
    """Actor (logits over ``n_actions``) and critic (V(s)) trained with PPO."""

    kind: AgentKind = "on_policy"
    config_class = PPOConfig

    def _build(self) -> None:
        cfg = self.config
        root2 = float(np.sqrt(2.0))
        actor_init, critic_init = (
            ((root2, 0.01), (root2, 1.0)) if cfg.orthogonal_init else (None, None)
        )
        layout = net_layout(self.sizes, "PPO actor", cfg.actor)
        self.actor: nn.Module = (
            mlp(self.obs_dim, self.n_actions, cfg.hidden, nn.Tanh, orthogonal=actor_init)
            if layout is None
            else EntityScorer(layout, cfg.hidden, nn.Tanh, orthogonal=actor_init)
        )
        self.critic = mlp(self.obs_dim, 1, cfg.hidden, nn.Tanh, orthogonal=critic_init)
        self.value_norm = RunningMeanStd(())
        self.obs_norm = RunningMeanStd((self.obs_dim,))

    def _build_optimizers(self) -> None:
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr, eps=1e-5)

    # ------------------------------------------------------------------ acting
    def _logits(self, obs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return masked_logits(self.actor(obs), mask)

    def _input(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations as the networks see them (standardised with ``normalize_obs``)."""
        if not self.config.normalize_obs:
            return obs
        mean = torch.as_tensor(self.obs_norm.mean, dtype=obs.dtype, device=obs.device)
        std = torch.as_tensor(np.sqrt(self.obs_norm.var + 1e-8), dtype=obs.dtype, device=obs.device)
        return ((obs - mean) / std).clamp(-10.0, 10.0)

    @torch.no_grad()
    def act_with_info(
        self, obs: NDArray[Any], mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Actions [N], their log-probabilities and V(s) for observations [N, obs_dim]."""
        o = as_tensor(obs, torch.float32, self.device)
        assert o is not None
        o = self._input(o)
        m = as_tensor(mask, torch.bool, self.device)
        logits = self._logits(o, m)
        action, logp = sample_from_logits(logits, self._gen, deterministic)
        value = self._denormalize(self.critic(o).squeeze(-1))
        return (
            action.cpu().numpy().astype(np.int64),
            logp.double().cpu().numpy(),
            value.double().cpu().numpy(),
        )

    def act(
        self, obs: NDArray[Any], mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """Actions [N] for observations [N, obs_dim] (argmax when ``deterministic``)."""
        return self.act_with_info(obs, mask, deterministic)[0]

    @torch.no_grad()
    def value(self, obs: NDArray[Any]) -> NDArray[np.float64]:
        """V(s) [N]."""
        o = as_tensor(obs, torch.float32, self.device)
        assert o is not None
        return self._denormalize(self.critic(self._input(o)).squeeze(-1)).double().cpu().numpy()

    def _denormalize(self, v: torch.Tensor) -> torch.Tensor:
        """Critic output in return units (unchanged without ``normalize_values``)."""
        if not self.config.normalize_values:
            return v
        std = float(np.sqrt(self.value_norm.var + 1e-8))
        return v * std + float(self.value_norm.mean)

    # ------------------------------------------------------------------ learning
    def update(self, rollout: RolloutBuffer) -> dict[str, float]:
        """PPO epochs over a filled rollout whose returns were computed; returns mean metrics."""
        cfg = self.config
        stats = PPOStats()
        mean, std = 0.0, 1.0
        if cfg.normalize_values:
            # targets and old values in the units of the updated running statistics
            self.value_norm.update(rollout.returns[: rollout.pos].reshape(-1))
            mean = float(self.value_norm.mean)
            std = float(np.sqrt(self.value_norm.var + 1e-8))
        for _ in range(cfg.epochs):
            for batch in rollout.minibatches(cfg.minibatch_size, self._rng, self.device):
                obs = self._input(batch["obs"].float())
                logits = self._logits(obs, batch.get("masks"))
                logp_all = torch.log_softmax(logits, dim=-1)
                logp = logp_all.gather(-1, batch["actions"][:, None]).squeeze(-1)
                ratio = torch.exp(logp - batch["logp"].float())
                adv = batch["advantages"].float()
                if cfg.normalize_advantages and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg = clipped_surrogate(ratio, adv, cfg.clip)
                value = self.critic(obs).squeeze(-1)
                ret = (batch["returns"].float() - mean) / std
                old_value = (batch["values"].float() - mean) / std
                v_loss = clipped_value_loss(value, ret, old_value, cfg.value_clip)
                entropy = categorical_entropy(logp_all.exp(), logp_all).mean()
                loss = pg + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
                self.optimizer.zero_grad()
                loss.backward()
                # actor and critic are clipped apart: a large value-loss gradient must not
                # shrink the policy step
                nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.max_grad_norm)
                nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                stats.record(pg, v_loss, entropy, ratio, cfg.clip)
        if cfg.normalize_obs:
            self.obs_norm.update(rollout.obs[: rollout.pos].reshape(-1, self.obs_dim))
        return stats.means()

    # ------------------------------------------------------------------ checkpoints
    def _optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        return {"optimizer": self.optimizer}

    def _extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if self.config.normalize_values:
            state["value_norm"] = self.value_norm.state_dict()
        if self.config.normalize_obs:
            state["obs_norm"] = self.obs_norm.state_dict()
        return state

    def _load_extra_state(self, ckpt: dict[str, Any]) -> None:
        # checkpoints from before value normalisation was the default carry no statistics;
        # the fresh ones (mean 0, variance 1) leave such a critic's outputs as they were
        if self.config.normalize_values and "value_norm" in ckpt:
            self.value_norm.load_state_dict(ckpt["value_norm"])
        if self.config.normalize_obs:
            self.obs_norm.load_state_dict(ckpt["obs_norm"])
