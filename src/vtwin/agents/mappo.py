"""MAPPO and DM-MAPPO for paper B's batched multi-agent routing env (one readable module).

Each vehicle is an agent that picks one of ``M`` servers from its local observation o_v
(paper B eq. (19)). The actors are decentralised — one actor per vehicle, θ_v as in paper B's
Algorithm 1 (the default), or one actor shared by all vehicles with the vehicle's one-hot
index appended (``share_actor``, MAPPO's usual parameter sharing) — and the critic is
centralised: V(s, v) from the global state s and the vehicle's one-hot (Yu et al. 2022,
"The surprising effectiveness of PPO in cooperative multi-agent games").

Training is PPO (paper B eqs. (28)–(33)): the clipped surrogate on GAE advantages
(:func:`vtwin.agents.buffers.compute_gae`; paper B's eq. (29)–(30) advantage Q − E[Q] is
estimated by GAE with λ = 0.95, the usual MAPPO choice), an entropy bonus, a (clipped) value
loss (paper B eq. (26)) on returns normalised by running statistics (MAPPO's "value
normalisation"), and gradient-norm clipping of actor and critic apart (as in ``ppo.py``).

**DM-MAPPO** is this agent with ``use_mask=True``: the dynamic mask K_v^t of paper B eq. (23)
(the env's ``action_mask``) sets infeasible logits to a large negative number, so their
probability is 0, both when sampling and when the update recomputes log-probabilities for the
ratio (the rollout stores the mask). Evaluation takes the argmax of the masked probabilities,
paper B eq. (24) (eq. (20) without mask). ``use_mask=False`` is plain MAPPO.

Vehicles that have arrived (``active`` False) still get an action (the env ignores it), but
their steps are dropped before the update: they change neither the losses nor the advantage
normalisation. A vehicle's arrival ends its own episode (no bootstrap).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from vtwin.agents.buffers import RolloutBuffer
from vtwin.agents.common import (
    ClippedPPOConfig,
    PPOStats,
    TorchAgent,
    categorical_entropy,
    clipped_surrogate,
    clipped_value_loss,
    masked_logits,
    sample_from_logits,
    with_mask,
)
from vtwin.agents.nets import mlp
from vtwin.agents.normalize import RunningMeanStd
from vtwin.agents.protocol import AgentKind

__all__ = [
    "MAPPOAgent",
    "MAPPOConfig",
    "MultiAgentRollout",
    "effective_mask",
]

ObsDict = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class MAPPOConfig(ClippedPPOConfig):
    """MAPPO / DM-MAPPO hyper-parameters.

    Defaults follow the MAPPO paper (Yu et al. 2022) for small discrete tasks where it gives
    them — lr 5e-4 for actor and critic, γ = 0.99, λ = 0.95, clip 0.2, 5 epochs, value
    normalisation, hidden width 64 — and CleanRL's PPO otherwise (entropy 0.01, gradient norm
    0.5, advantage normalisation). Paper B gives no hyper-parameters for DM-MAPPO.
    ``value_clip`` is in normalised-return units.
    """

    lr_actor: float = 5e-4
    lr_critic: float = 5e-4
    epochs: int = 5
    minibatch_size: int = 512
    """Active agent-steps per minibatch (a rollout of 64 slots × 8 copies × 5 vehicles has
    up to 2560, i.e. ≥ 5 minibatches per epoch)."""
    critic_hidden: tuple[int, ...] = (128, 128)
    """The critic sees the whole state of every vehicle, so it is wider than the actor."""
    normalize_values: bool = True
    """Critic regresses returns standardised by running mean/std (MAPPO's ValueNorm), so the
    value scale does not depend on the reward scale or the episode length."""
    rollout_slots: int = 64
    """Env slots (of all copies) per update; a rollout may span episode ends (GAE cuts there)."""
    use_mask: bool = True
    """True: DM-MAPPO (dynamic mask, paper B eqs. (23)–(24)); False: MAPPO."""
    share_actor: bool = False
    """False: one actor per vehicle (θ_v, paper B Algorithm 1); True: one actor for all
    vehicles with a vehicle one-hot appended (MAPPO's parameter sharing). Paper B's argmax
    evaluation needs the former: on ``paper-b-city`` at 40 MB the shared actor's argmax piled
    vehicles onto the same servers on two seeds of three (test reward 0.398 / 0.074 / −0.110,
    sampled actions 0.49 / 0.46 on seeds 1 and 2), one actor each scored 0.411 / 0.357 /
    0.406, and 60 MB was level (issue 15, ``docs/reproductions/paper-b.md``)."""
    lr_anneal_steps: int = 0
    """Agent-steps (slots × copies × vehicles, as the training budget counts them) over which
    both learning rates fall linearly to 0, MAPPO's linear decay (Yu et al. 2022); set it to
    the run's budget. 0: constant learning rates."""


def effective_mask(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The mask with every all-False row (e.g. an arrived vehicle) made all-True.

    Keeps the masked softmax defined everywhere; such rows never reach a loss.
    """
    m = np.asarray(mask, dtype=bool)
    return m | ~m.any(axis=-1, keepdims=True)


class MultiAgentRollout(RolloutBuffer):
    """On-policy storage for ``n_slots`` slots × ``B`` copies × ``V`` vehicles.

    :meth:`add` takes one env step. Per vehicle, a step *terminates* when the vehicle stops
    being active (it arrived, or its copy terminated); it is *truncated* (bootstrapped from
    ``final_values``) when its copy hit the time limit while the vehicle is still shown active
    in the next observation. An env that marks every vehicle of a truncated copy inactive in
    that final observation gets them treated as terminated (no bootstrap): V of an "inactive"
    state is never trained, so bootstrapping from it would be worse than the bias.
    """

    def __init__(
        self, n_slots: int, B: int, V: int, obs_dim: int, state_dim: int, n_actions: int
    ) -> None:
        """Zeroed arrays [n_slots, B, V, …] (state: [n_slots, B, state_dim])."""
        if n_slots < 1:
            raise ValueError(f"n_slots = {n_slots}: must be ≥ 1")
        super().__init__(n_slots, (B, V), obs_dim, n_actions)
        self.B, self.V = B, V
        self.state = np.zeros((n_slots, B, state_dim), dtype=np.float32)
        self.active = np.zeros((n_slots, B, V), dtype=bool)

    @property
    def n_slots(self) -> int:
        """Slots the rollout holds."""
        return self.n_steps

    def add(  # type: ignore[override]  # one env step of the multi-agent contract
        self,
        obs: ObsDict,
        actions: NDArray[np.integer],
        logp: NDArray[np.floating],
        values: NDArray[np.floating],
        rewards: NDArray[np.floating],
        next_active: NDArray[np.bool_],
        terminated: NDArray[np.bool_],
        truncated: NDArray[np.bool_],
        final_values: NDArray[np.floating] | None = None,
    ) -> None:
        """Store one step: ``obs`` before it, the actions, and what the env returned.

        ``next_active`` [B, V] is the ``active`` entry of the next observation; ``terminated``
        and ``truncated`` [B] are the env's; ``final_values`` [B, V] = V(next observation),
        needed when any copy was truncated.
        """
        if self.full:
            raise RuntimeError("rollout is full: compute returns, update, then reset()")
        i = self.pos
        active = np.asarray(obs["active"], dtype=bool)
        self.obs[i] = obs["observation"]
        self.state[i] = obs["state"]
        assert self.masks is not None
        self.masks[i] = effective_mask(obs["action_mask"])
        self.active[i] = active
        self.actions[i], self.logp[i], self.values[i] = actions, logp, values
        self.rewards[i] = np.where(active, rewards, 0.0)
        nxt = np.asarray(next_active, dtype=bool)
        term_env = np.asarray(terminated, dtype=bool)[:, None]
        trunc_env = np.asarray(truncated, dtype=bool)[:, None]
        self.truncated[i] = trunc_env & ~term_env & active & nxt
        self.terminated[i] = ~self.truncated[i] & (term_env | ~nxt)
        self.final_values[i] = 0.0 if final_values is None else final_values
        if self.truncated[i].any() and final_values is None:
            raise ValueError("a copy was truncated: pass final_values = V(next observation)")
        self.pos += 1

    def flat_active(self) -> dict[str, NDArray[Any]]:
        """The filled rows' active agent-steps as flat arrays (state repeated per vehicle)."""
        n = self.pos
        assert self.masks is not None
        sel = self.active[:n].reshape(-1)
        agent = np.broadcast_to(np.arange(self.V), (n, self.B, self.V)).reshape(-1)
        state = np.broadcast_to(
            self.state[:n, :, None, :], (n, self.B, self.V, self.state.shape[-1])
        ).reshape(n * self.B * self.V, -1)
        out: dict[str, NDArray[Any]] = {
            "obs": self.obs[:n].reshape(n * self.B * self.V, -1),
            "state": state,
            "agent": agent,
            "masks": self.masks[:n].reshape(n * self.B * self.V, -1),
            "actions": self.actions[:n].reshape(-1),
            "logp": self.logp[:n].reshape(-1),
            "values": self.values[:n].reshape(-1),
            "advantages": self.advantages[:n].reshape(-1),
            "returns": self.returns[:n].reshape(-1),
        }
        return {k: np.ascontiguousarray(v[sel]) for k, v in out.items()}


class MAPPOAgent(TorchAgent[MAPPOConfig]):
    """Decentralised actors π(a | o_v, v) and a centralised critic V(s, v), trained with PPO."""

    kind: AgentKind = "on_policy"
    config_class = MAPPOConfig

    def _build(self) -> None:
        cfg, n_agents, n_actions = self.config, self.n_agents, self.n_actions
        if cfg.share_actor:
            self.actors = nn.ModuleList(
                [mlp(self.obs_dim + n_agents, n_actions, cfg.hidden, nn.Tanh)]
            )
        else:
            self.actors = nn.ModuleList(
                [mlp(self.obs_dim, n_actions, cfg.hidden, nn.Tanh) for _ in range(n_agents)]
            )
        for actor in self.actors:  # small last layer: near-uniform initial policy (CleanRL)
            last = list(actor.children())[-1]
            assert isinstance(last, nn.Linear)
            nn.init.orthogonal_(last.weight, 0.01)
            nn.init.zeros_(last.bias)
        self.critic = mlp(self.state_dim + n_agents, 1, cfg.critic_hidden, nn.Tanh)
        self.value_norm = RunningMeanStd(())
        self.trained_steps = 0  # agent-steps of the rollouts updated on (the lr schedule's clock)

    def _build_optimizers(self) -> None:
        cfg = self.config
        self.actor_optimizer = torch.optim.Adam(self.actors.parameters(), lr=cfg.lr_actor, eps=1e-5)
        self.critic_optimizer = torch.optim.Adam(
            self.critic.parameters(), lr=cfg.lr_critic, eps=1e-5
        )

    # ------------------------------------------------------------------ networks
    def make_rollout(self, B: int) -> MultiAgentRollout:
        """An empty rollout of ``rollout_slots`` slots for ``B`` env copies."""
        return MultiAgentRollout(
            self.config.rollout_slots,
            B,
            self.n_agents,
            self.obs_dim,
            self.state_dim,
            self.n_actions,
        )

    def _onehot(self, agent: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(agent, self.n_agents).float()

    def _logits(
        self, obs: torch.Tensor, agent: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Actor logits [N, M] for flat agent-steps (masked logits pushed to −1e9)."""
        if self.config.share_actor:
            logits = self.actors[0](torch.cat([obs, self._onehot(agent)], dim=-1))
        else:
            logits = obs.new_zeros((obs.shape[0], self.n_actions))
            for v, actor in enumerate(self.actors):
                sel = agent == v
                if bool(sel.any()):
                    logits[sel] = actor(obs[sel])
        return masked_logits(logits, mask if self.config.use_mask else None)

    def _critic(self, state: torch.Tensor, agent: torch.Tensor) -> torch.Tensor:
        """Normalised value [N] of flat agent-steps."""
        return self.critic(torch.cat([state, self._onehot(agent)], dim=-1)).squeeze(-1)

    def _denormalize(self, v: torch.Tensor) -> torch.Tensor:
        if not self.config.normalize_values:
            return v
        std = float(np.sqrt(self.value_norm.var + 1e-8))
        return v * std + float(self.value_norm.mean)

    def _flat(self, obs: ObsDict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Observation dict [B, V, …] → flat (obs, state, agent index, mask) tensors [B·V, …]."""
        o = np.asarray(obs["observation"], dtype=np.float32)
        B, V = o.shape[:2]
        if self.n_agents != V:
            raise ValueError(f"observation has {V} agents, the agent was built for {self.n_agents}")
        s = np.asarray(obs["state"], dtype=np.float32)
        state = np.broadcast_to(s[:, None, :], (B, V, s.shape[-1])).reshape(B * V, -1)
        dev = self.device
        return (
            torch.as_tensor(o.reshape(B * V, -1), device=dev),
            torch.as_tensor(np.ascontiguousarray(state), device=dev),
            torch.as_tensor(np.tile(np.arange(V), B), device=dev),
            torch.as_tensor(effective_mask(obs["action_mask"]).reshape(B * V, -1), device=dev),
        )

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def probs(self, obs: ObsDict) -> NDArray[np.float64]:
        """π(· | o_v) [B, V, M] (masked when ``use_mask``)."""
        o, _, agent, mask = self._flat(obs)
        p = torch.softmax(self._logits(o, agent, mask), dim=-1)
        B, V = np.asarray(obs["active"]).shape
        return p.double().cpu().numpy().reshape(B, V, -1)

    @torch.no_grad()
    def act_with_info(
        self, obs: ObsDict, mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Actions, their log-probabilities and V(s, v), each [B, V].

        Stochastic: a categorical draw from the (masked) policy with the agent's generator;
        ``deterministic``: argmax of the (masked) probabilities (paper B eqs. (20), (24)).
        ``mask`` replaces the observation's ``action_mask``.
        """
        o, s, agent, m = self._flat(with_mask(obs, mask))
        logits = self._logits(o, agent, m)
        action, logp = sample_from_logits(logits, self._gen, deterministic)
        value = self._denormalize(self._critic(s, agent))
        B, V = np.asarray(obs["active"]).shape
        return (
            action.cpu().numpy().astype(np.int64).reshape(B, V),
            logp.double().cpu().numpy().reshape(B, V),
            value.double().cpu().numpy().reshape(B, V),
        )

    def act(
        self, obs: ObsDict, mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """Actions [B, V] for an observation dict of the batched env."""
        return self.act_with_info(obs, mask, deterministic)[0]

    @torch.no_grad()
    def value(self, obs: ObsDict) -> NDArray[np.float64]:
        """V(s, v) [B, V] (in reward units)."""
        _, s, agent, _ = self._flat(obs)
        B, V = np.asarray(obs["active"]).shape
        return self._denormalize(self._critic(s, agent)).double().cpu().numpy().reshape(B, V)

    # ------------------------------------------------------------------ learning
    def evaluate_actions(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """log π(a | o, v) under the stored mask, the policy entropy and the normalised V(s, v)."""
        logits = self._logits(batch["obs"].float(), batch["agent"], batch["masks"])
        logp_all = torch.log_softmax(logits, dim=-1)
        logp = logp_all.gather(-1, batch["actions"][:, None]).squeeze(-1)
        entropy = categorical_entropy(logp_all.exp(), logp_all)
        return logp, entropy, self._critic(batch["state"].float(), batch["agent"])

    def _minibatches(self, data: dict[str, NDArray[Any]]) -> Iterator[dict[str, torch.Tensor]]:
        n = data["actions"].shape[0]
        order = self._rng.permutation(n)
        for start in range(0, n, self.config.minibatch_size):
            idx = order[start : start + self.config.minibatch_size]
            yield {k: torch.as_tensor(v[idx], device=self.device) for k, v in data.items()}

    def update(self, rollout: MultiAgentRollout) -> dict[str, float]:
        """PPO epochs over the active agent-steps of a rollout whose returns were computed.

        Returns mean metrics; ``first_ratio_dev`` = max |ratio − 1| on the first minibatch
        of the first epoch, which is 0 when log-probabilities are recomputed under the same
        (masked) policy that sampled them.
        """
        cfg = self.config
        lr_scale = self._lr_scale()
        self.trained_steps += rollout.pos * rollout.B * rollout.V
        data = rollout.flat_active()
        if data["actions"].shape[0] == 0:
            return {}
        returns = data["returns"]
        if cfg.normalize_values:
            self.value_norm.update(returns)
            mean, std = self.value_norm.mean, np.sqrt(self.value_norm.var + 1e-8)
            data["returns"] = (returns - mean) / std
            data["values"] = (data["values"] - mean) / std
        adv = data["advantages"]
        if cfg.normalize_advantages and adv.size > 1:
            data["advantages"] = (adv - adv.mean()) / (adv.std() + 1e-8)
        stats = PPOStats()
        first_dev = float("nan")
        for _ in range(cfg.epochs):
            for batch in self._minibatches(data):
                logp, entropy, value = self.evaluate_actions(batch)
                ratio = torch.exp(logp - batch["logp"].float())
                if np.isnan(first_dev):
                    first_dev = float((ratio.detach() - 1).abs().max())
                pg = clipped_surrogate(ratio, batch["advantages"].float(), cfg.clip)
                ent = entropy.mean()
                v_loss = clipped_value_loss(
                    value, batch["returns"].float(), batch["values"].float(), cfg.value_clip
                )
                self.actor_optimizer.zero_grad()
                (pg - cfg.ent_coef * ent).backward()
                nn.utils.clip_grad_norm_(self.actors.parameters(), cfg.max_grad_norm)
                self.actor_optimizer.step()
                self.critic_optimizer.zero_grad()
                v_loss.backward()
                nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
                self.critic_optimizer.step()
                stats.record(pg, v_loss, ent, ratio, cfg.clip)
        out = stats.means()
        out["first_ratio_dev"] = first_dev
        out["lr_scale"] = lr_scale
        return out

    def _lr_scale(self) -> float:
        """Set both optimisers' learning rates for the coming update; return the factor.

        Linear decay (``lr_anneal_steps``): the factor is 1 − (agent-steps trained on before
        this update) / ``lr_anneal_steps``, so the first update runs at the full rate.
        """
        cfg = self.config
        if cfg.lr_anneal_steps <= 0:
            return 1.0
        scale = max(0.0, 1.0 - self.trained_steps / cfg.lr_anneal_steps)
        pairs = ((self.actor_optimizer, cfg.lr_actor), (self.critic_optimizer, cfg.lr_critic))
        for opt, lr in pairs:
            for group in opt.param_groups:
                group["lr"] = lr * scale
        return scale

    # ------------------------------------------------------------------ checkpoints
    def _optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        return {"actor_optimizer": self.actor_optimizer, "critic_optimizer": self.critic_optimizer}

    def _extra_state(self) -> dict[str, Any]:
        return {"value_norm": self.value_norm.state_dict(), "trained_steps": self.trained_steps}

    def _load_extra_state(self, ckpt: dict[str, Any]) -> None:
        self.value_norm.load_state_dict(ckpt["value_norm"])
        # checkpoints from before the learning-rate schedule carry no clock: they restart it
        self.trained_steps = int(ckpt.get("trained_steps", 0))
