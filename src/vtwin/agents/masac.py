"""Multi-agent soft actor-critic for discrete actions (paper B's MASAC baseline), one module.

Discrete SAC (Christodoulou 2019) per vehicle with centralised critics: one actor shared by all
vehicles, π(a | o_v, v) over the ``M`` servers (local observation + the vehicle's one-hot);
twin critics Q_i(s, v) → Q over the vehicle's ``M`` actions from the global state and the
one-hot, with Polyak-averaged target copies. Being discrete, expectations over the policy are
exact sums over actions:

    critic target  y = r + γ (1 − done) Σ_a π(a|o') [min_i Q'_i(s', v, a) − α log π(a|o')]
    actor loss     E[Σ_a π(a|o) (α log π(a|o) − min_i Q_i(s, v, a))]
    temperature    log α ← log α − lr ∇ log α · (H_target − H(π(·|o)))

The target entropy is ``target_entropy_scale · log(n)`` with n the number of *allowed*
actions of the row (all ``M`` without mask), so a row with one feasible server asks for no
entropy and α does not blow up on heavily masked states.

With ``use_mask`` the dynamic mask (paper B eq. (23)) zeroes the probability of infeasible
servers in the actor's distribution at s (acting and actor loss) and at s' (the target's
expectation). Arrived vehicles' steps are not stored; an arrival is a terminal transition.

Replay rows reuse :class:`vtwin.agents.buffers.ReplayBuffer`: a row packs
``[local obs | vehicle one-hot | global state | mask as 0/1]`` (see :meth:`MASACAgent.pack`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.common import masked_logits, with_mask
from vtwin.agents.mappo import ObsDict, effective_mask
from vtwin.agents.nets import mlp
from vtwin.agents.soft_ac import SoftACConfig, SoftActorCriticBase

__all__ = ["MASACAgent", "MASACConfig"]


@dataclass(frozen=True)
class MASACConfig(SoftACConfig):
    """MASAC hyper-parameters (defaults: SAC lore — Haarnoja et al. 2018, Christodoulou 2019).

    lr 3e-4, τ = 0.005, γ = 0.99 and batch 256 are SAC's defaults. The target entropy fraction
    0.5 of log n (Christodoulou's 0.98 keeps the policy almost uniform; 0.5–0.6 is the common
    practical choice). ``learning_starts`` and ``updates_per_step`` count agent transitions and
    gradient steps per env slot and are read by :meth:`MASACAgent.learn`.
    """

    lr_actor: float = 3e-4
    lr_critic: float = 3e-4
    batch_size: int = 256
    buffer_size: int = 200_000
    """Agent transitions kept (paper B scale: 5 vehicles × a few thousand slots)."""
    hidden: tuple[int, ...] = (128, 128)
    alpha: float = 0.2
    """Starting (or, without ``auto_alpha``, fixed) entropy temperature."""
    auto_alpha: bool = True
    target_entropy_scale: float = 0.5
    max_grad_norm: float | None = 10.0
    use_mask: bool = True


class MASACAgent(SoftActorCriticBase[MASACConfig]):
    """Shared discrete actor π(a | o_v, v), centralised twin critics Q(s, v, ·) and targets."""

    config_class = MASACConfig

    def _build_nets(self) -> None:
        """The shared actor (obs | one-hot) and the centralised twin critics (state | one-hot)."""
        hidden, n_agents, n_actions = self.config.hidden, self.n_agents, self.n_actions
        self.actor = mlp(self.obs_dim + n_agents, n_actions, hidden)
        self.q1 = mlp(self.state_dim + n_agents, n_actions, hidden)
        self.q2 = mlp(self.state_dim + n_agents, n_actions, hidden)

    # ------------------------------------------------------------------ packing
    @property
    def row_dim(self) -> int:
        """Width of one packed replay row."""
        return self.obs_dim + self.n_agents + self.state_dim + self.n_actions

    def pack(self, obs: ObsDict) -> NDArray[np.float32]:
        """Observation dict [B, V, …] → rows [B, V, row_dim]: obs | one-hot | state | mask."""
        o = np.asarray(obs["observation"], dtype=np.float32)
        B, V = o.shape[:2]
        if self.n_agents != V:
            raise ValueError(f"observation has {V} agents, the agent was built for {self.n_agents}")
        onehot = np.broadcast_to(np.eye(V, dtype=np.float32), (B, V, V))
        s = np.asarray(obs["state"], dtype=np.float32)
        state = np.broadcast_to(s[:, None, :], (B, V, s.shape[-1]))
        mask = effective_mask(obs["action_mask"]).astype(np.float32)
        return np.concatenate([o, onehot, state, mask], axis=-1)

    def _unpack(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows → (actor input = obs | one-hot, critic input = state | one-hot, bool mask)."""
        k = self.obs_dim + self.n_agents
        onehot = rows[:, self.obs_dim : k]
        actor_in = rows[:, :k]
        critic_in = torch.cat([rows[:, k : k + self.state_dim], onehot], dim=-1)
        mask = rows[:, k + self.state_dim :] > 0.5
        return actor_in, critic_in, mask

    def make_buffer(self) -> ReplayBuffer:
        """An empty replay buffer of ``buffer_size`` packed rows."""
        return ReplayBuffer(self.config.buffer_size, self.row_dim)

    def store(self, buffer: ReplayBuffer, step: Transition) -> int:
        """Add the active vehicles' transitions of one env step; returns how many.

        A transition is terminal when the vehicle is inactive in ``next_obs`` (it arrived) or
        its copy terminated; a time-limit truncation is not terminal (it bootstraps).
        """
        obs, actions, rewards, next_obs, terminated = step
        active = np.asarray(obs["active"], dtype=bool)
        done = np.asarray(terminated, dtype=bool)[:, None] | ~np.asarray(
            next_obs["active"], dtype=bool
        )
        rows, next_rows = self.pack(obs)[active], self.pack(next_obs)[active]
        rewards_f32 = np.asarray(rewards, dtype=np.float32)
        buffer.add(
            Transition(
                rows, np.asarray(actions)[active], rewards_f32[active], next_rows, done[active]
            )
        )
        n = int(active.sum())
        self.stored_steps += n
        return n

    # ------------------------------------------------------------------ policy
    def _policy(
        self, actor_in: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """π and log π [N, M]; infeasible actions get probability 0 when ``use_mask``."""
        logits = masked_logits(self.actor(actor_in), mask if self.config.use_mask else None)
        return torch.softmax(logits, dim=-1), torch.log_softmax(logits, dim=-1)

    def _target_entropy(self, mask: torch.Tensor) -> torch.Tensor:
        """``target_entropy_scale · log(#allowed actions)`` per row."""
        if self.config.use_mask:
            n = mask.sum(-1).float()
        else:
            n = torch.full(mask.shape[:1], float(self.n_actions), device=mask.device)
        return self.config.target_entropy_scale * torch.log(n)

    @torch.no_grad()
    def probs(self, obs: ObsDict) -> NDArray[np.float64]:
        """π(· | o_v) [B, V, M]."""
        rows = torch.as_tensor(self.pack(obs), device=self.device)
        B, V = rows.shape[:2]
        actor_in, _, mask = self._unpack(rows.reshape(B * V, -1))
        return self._policy(actor_in, mask)[0].double().cpu().numpy().reshape(B, V, -1)

    @torch.no_grad()
    def act(
        self, obs: ObsDict, mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """Actions [B, V]: a draw from π with the agent's generator, or its argmax
        (``mask`` replaces the observation's ``action_mask``)."""
        rows = torch.as_tensor(self.pack(with_mask(obs, mask)), device=self.device)
        B, V = rows.shape[:2]
        actor_in, _, allowed = self._unpack(rows.reshape(B * V, -1))
        probs, _ = self._policy(actor_in, allowed)
        if deterministic:
            action = probs.argmax(dim=-1)
        else:
            action = torch.multinomial(probs, 1, generator=self._gen).squeeze(-1)
        return action.cpu().numpy().astype(np.int64).reshape(B, V)

    # ------------------------------------------------------------------ learning
    @torch.no_grad()
    def critic_target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """y = r + γ (1 − done) Σ_a π(a|o') [min_i Q'_i(s', v, a) − α log π(a|o')] per row.

        π at s' is masked with the next-state mask when ``use_mask`` (infeasible servers have
        probability 0 and add nothing to the expectation).
        """
        next_actor_in, next_critic_in, next_mask = self._unpack(batch["next_obs"].float())
        next_probs, next_logp = self._policy(next_actor_in, next_mask)
        return self._soft_target(batch, next_probs, next_logp, next_critic_in)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on both critics, the actor and α, then the Polyak target step."""
        actor_in, critic_in, mask = self._unpack(batch["obs"].float())
        y = self.critic_target(batch)
        return self._sac_step(
            critic_in,
            batch["actions"].long(),
            y,
            lambda: self._policy(actor_in, mask),
            lambda: self._target_entropy(mask),
        )
