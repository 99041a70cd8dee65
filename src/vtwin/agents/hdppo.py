"""HDPPO / LHDPPO: hybrid-action PPO with two diffusion actors (paper C Sec. 5.2.2).

Paper C's learner. The hybrid policy factorises into a continuous and a discrete part
(eq. (22)); each is produced by a state-conditioned diffusion chain
(:class:`~vtwin.agents.diffusion.Diffusion`, eqs. (23)–(25)) of U = ``denoising_steps`` reverse
steps, and PPO trains both chains and a critic V(s):

* **Mean-only chains.** Both chains start at x_U = 0 and take the reverse means only (no
  noise is added between steps), so each chain's output x_0 is a deterministic function of
  the state. This is our reading of the paper's "mean-only denoising mode … the stochasticity
  … is solely introduced by the final distributions": with it the log-probability of a stored
  action can be recomputed exactly at update time, which the PPO ratio (eq. (29)) needs.
* **Continuous actor** → per-AV means μ(s) [M, 2] = 0.5 + x_0 (the 0.5 offset as in H-PPO, so
  an untrained actor starts mid-range: r ≈ r_max/2, θ ≈ π), Gaussian with a learned,
  state-independent log-σ [M, 2] (eq. (27)); the action map and the rollout are the shared
  ones of :mod:`vtwin.agents.hybrid`.
* **Discrete actor** → per-AV server logits [M, S] (x_0 of length M·S reshaped), Categorical
  per AV (eq. (28)).
* Joint log-probability = sum of both parts (eq. (26)); ratio of the joint log-probability
  (eq. (29); ``joint_ratio=False``: one ratio and clipped surrogate per part, as H-PPO);
  clipped surrogate (eq. (30)); clipped value loss, c_v = 0.25 (eq. (31)); entropy bonus on
  the discrete part, mean per-AV entropy (eq. (32)); auxiliary diffusion reconstruction of
  the executed one-hot servers on positive-advantage rows (eq. (33)); total loss eq. (34).
* The entropy and auxiliary coefficients anneal linearly from ``ent_coef`` / ``aux_coef`` to
  ``ent_coef_final`` / ``aux_coef_final`` over the agent's first ``anneal_steps`` joint
  transitions, counted by :meth:`HDPPOAgent.update` (so the schedule is part of the agent's
  state and repeats exactly per seed; it is saved in checkpoints).

Both chains' last ε-layer is initialised small (orthogonal, gain 0.01, as a PPO policy head),
so an untrained chain outputs x_0 ≈ 0: uniform server logits and μ = 0.5. Ours beyond the
paper: x_0 bounds for both chains (``discrete_x0_clip``, ``continuous_x0_clip``, measured in
their docstrings) and a small penalty on ε_θ before the tanh (``eps_reg``, as DSAC's).
Sampling and the auxiliary loss's noise draw from the agent's own generator.

**LHDPPO** is this same agent trained on the LLM-designed reward (the env's ``reward.kind =
"paper-c-llm"``, eq. (21)); **HDPPO** is it on the manual reward (``"paper-c"``, eq. (20)).
The learner does not know which reward it sees, so there is no second class.

**GHPPO** (paper C's "GDM-assisted H-PPO" baseline) is this update with an MLP continuous
head (``continuous_actor="mlp"``) and no auxiliary loss: :mod:`vtwin.agents.ghppo`.

Defaults follow paper C's table (Fig. 3: γ = λ = 0.95, lr 10⁻⁴, batch 256, U = 5, c_v = 0.25,
initial entropy coefficient 0.1, initial auxiliary coefficient 0.01); the rest are H-PPO's.
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
from vtwin.agents.diffusion import Diffusion, Schedule, Squash
from vtwin.agents.hybrid import (
    CONT_DIM,
    HybridActorCritic,
    HybridDistribution,
    HybridRollout,
    HybridSizes,
)
from vtwin.agents.nets import EntityScorer, SigmoidTanh, mlp
from vtwin.agents.normalize import RunningMeanStd
from vtwin.agents.protocol import AgentKind
from vtwin.layout import EntityLayout

__all__ = ["HDPPOAgent", "HDPPOConfig", "linear_anneal"]

HEAD_GAIN = 0.01
"""Orthogonal gain of the policy outputs' last layer (CleanRL's PPO policy head)."""


def linear_anneal(start: float, final: float, seen: int, steps: int) -> float:
    """``start`` moved linearly to ``final`` over ``steps`` (0: no annealing), at ``seen``."""
    if steps == 0:
        return start
    frac = min(1.0, seen / steps)
    return start + (final - start) * frac


@dataclass(frozen=True)
class HDPPOConfig(ClippedPPOConfig):
    """HDPPO hyper-parameters (paper C's table where it gives them, else H-PPO's).

    ``minibatch_size`` and ``anneal_steps`` count joint steps (one row = all M AVs of one copy
    and slot); ``rollout_slots``: env slots per copy between updates.
    """

    gamma: float = 0.95
    gae_lambda: float = 0.95
    lr: float = 1e-4
    """Learning rate of the diffusion actors (paper C's table), the critic and log-σ."""
    minibatch_size: int = 256
    epochs: int = 10
    vf_coef: float = 0.25
    """c_v of eq. (34)."""
    ent_coef: float = 0.1
    """Initial c_ent of eq. (32) (paper C's table), on the discrete part's mean per-AV
    entropy (nats)."""
    ent_coef_final: float = 0.01
    """c_ent at the end of the annealing (ours: H-PPO's constant bonus)."""
    aux_coef: float = 0.01
    """Initial c_aux of eq. (34) (paper C's table)."""
    aux_coef_final: float = 0.0
    """c_aux at the end of the annealing (ours)."""
    anneal_steps: int = 20_000
    """Joint transitions over which both coefficients move linearly to their final values
    (0: constant at the initial values)."""
    denoising_steps: int = 5
    """U, reverse steps of both chains (paper C's table)."""
    schedule: Schedule = "vp"
    """β schedule of both chains."""
    denoiser_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of both ε-networks (Mish)."""
    t_dim: int = 16
    """Width of the step embedding fed to the ε-networks."""
    discrete_actor: Literal["mlp", "entity"] = "mlp"
    """ε-network of the discrete chain. ``mlp``: one MLP from the aggregated state, x_t and the
    step embedding to all M·S entries of ε (paper C). ``entity``: the env's
    ``entity_layout`` (the ``servers`` observation) groups the row by (AV m, server s), and
    one MLP (``entity_hidden``) shared by all M·S pairs maps a pair's features, its entry
    of x_t and the step embedding to its entry of ε (ours, as H-PPO's ``discrete_actor``;
    :class:`~vtwin.agents.nets.EntityScorer`)."""
    entity_hidden: tuple[int, ...] = (16,)
    """Hidden widths of the ``entity`` ε-network (tanh). It runs M·S times per row and chain
    step (1005 pairs × U = 5 on ``paper-c``), so it is kept small: one forward and backward
    pass of the chain over 256 rows of ``paper-c`` took 1.85 s with (32,) and Mish (the MLP
    chain's activation), 0.84 s with (32,) and tanh, 0.40 s with (16,) and tanh (one core,
    contended; the observation's first-layer share computed once per chain rather than per
    step, :meth:`~vtwin.agents.diffusion.Diffusion.project`: 2.7 s before). On ``paper-c``
    (servers observation, 60-slot episodes, B = 8, 8k joint steps, seed 0) (32,) with Mish
    reached utility 4.184 / latency 19.7 s, (16,) with tanh 4.302 / 16.4 s (rule 4.382 /
    15.5 s)."""
    continuous_actor: Literal["diffusion", "mlp"] = "diffusion"
    """``diffusion``: the means come from a chain (HDPPO); ``mlp``: from an MLP as H-PPO's
    continuous head (GHPPO)."""
    discrete_x0_clip: float | None = 3.0
    """Bound c of the discrete chain's x_0 = the logits, in [−c, c] (``c·tanh(x/c)``); None:
    unbounded (the mean-only chain from x_U = 0 then reaches ±17.5 with the ``vp`` schedule at
    U = 5). A logit range of 2c caps one server's probability at e^{2c}/(e^{2c} + S − 1) and
    keeps every other one above e^{−2c}/(1 + (S−1)e^{−2c}): 0.98 / 0.0025 for S = 9 at c = 3
    (S = 201, ``paper-c``: 0.67 when sampling; argmax acting is unaffected). Measured on a
    stress bandit (M = 5, S = 9, 160 rows per update, lr 3·10⁻⁴, no entropy bonus, the best
    server changes after 20 updates; p(new best) on 64 probe states 10 / 20 / 40 updates
    after the change): unbounded, the softmax turned one-hot (logit ranges 13–15, smallest
    probability 2·10⁻⁸) and p stayed 0.00 / 0.00 / 0.80, one AV of five never recovering;
    c = 3 with ``eps_reg`` = 10⁻³: 0.14 / 0.43 / 0.93 (its cap); c = 5, same: 0.10 / 0.20 / 0.80.
    On the TINY ``paper-c-synth`` set-up (8k joint steps, seed 0) c = 1 / 3 / 5 / 10 scored
    4.332 / 4.332 / 4.335 / 4.337 (logit ranges 1.1–2.2: no bound binds that early)."""
    continuous_x0_clip: float = 1.0
    """Bound of the continuous chain's x_0, so μ ∈ (−0.5, 1.5): the whole useful range of
    u_r ∈ [0, 1] and a full turn of u_θ, with gradients kept by the tanh."""
    x0_squash: Squash = "tanh"
    """How both chains bound x_0 (``tanh``: c·tanh(x/c); ``clip``: hard clip)."""
    eps_reg: float = 1e-3
    """Weight of a penalty on the chains' ε-network outputs before the tanh of the reverse
    mean (mean ε_θ² over the steps of each chain's last run), as DSAC's ``eps_reg``; 0 is
    eq. (34) as printed. Without it a bounded chain drives ε_θ into the tanh's flat ends to
    hold x_0 near its bound: in the stress bandit of ``discrete_x0_clip`` (c = 3) 70 % of the
    tanh(ε) saturated and p(new best) stalled at 0.48 (0.93 with the penalty)."""
    init_log_std: float = -0.7
    """Initial log-σ of the Gaussian over u (as H-PPO)."""
    joint_ratio: bool = True
    """True: one ratio of the joint log-probability (eq. (29)); False: one ratio and clipped
    surrogate per part (H-PPO's default)."""
    normalize_values: bool = True
    """Critic regresses returns standardised by running statistics (as H-PPO)."""
    orthogonal_init: bool = True
    """Orthogonal critic (and MLP head) initialisation as H-PPO."""

    def __post_init__(self) -> None:
        """Refuse values no learner can run with, naming the field and what is allowed."""
        unit = {"gamma": self.gamma, "gae_lambda": self.gae_lambda, "clip": self.clip}
        for name, value in unit.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} = {value}: must be in [0, 1]")
        positive = {
            "lr": self.lr,
            "continuous_x0_clip": self.continuous_x0_clip,
            "max_grad_norm": self.max_grad_norm,
        }
        for name, value in positive.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} = {value}: must be a finite number > 0")
        non_negative = {
            "vf_coef": self.vf_coef,
            "ent_coef": self.ent_coef,
            "ent_coef_final": self.ent_coef_final,
            "aux_coef": self.aux_coef,
            "aux_coef_final": self.aux_coef_final,
            "eps_reg": self.eps_reg,
        }
        for name, value in non_negative.items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} = {value}: must be a finite number ≥ 0")
        at_least = {
            "minibatch_size": (self.minibatch_size, 1),
            "epochs": (self.epochs, 1),
            "rollout_slots": (self.rollout_slots, 1),
            "denoising_steps": (self.denoising_steps, 1),
            "anneal_steps": (self.anneal_steps, 0),
        }
        for name, (count, least) in at_least.items():
            if count < least:
                raise ValueError(f"{name} = {count}: must be an integer ≥ {least}")
        c = self.discrete_x0_clip
        if c is not None and not (np.isfinite(c) and c > 0):
            raise ValueError(f"discrete_x0_clip = {c}: must be a finite number > 0 (or None)")
        if self.t_dim < 2 or self.t_dim % 2:
            raise ValueError(f"t_dim = {self.t_dim}: must be an even integer ≥ 2")
        if self.discrete_actor not in ("mlp", "entity"):
            raise ValueError(f"discrete_actor = {self.discrete_actor!r}; allowed: 'mlp', 'entity'")
        if self.continuous_actor not in ("diffusion", "mlp"):
            raise ValueError(
                f"continuous_actor = {self.continuous_actor!r}; allowed: 'diffusion', 'mlp'"
            )
        if self.x0_squash not in ("tanh", "clip"):
            raise ValueError(f"x0_squash = {self.x0_squash!r}; allowed: 'tanh', 'clip'")
        if self.value_clip is not None and not self.value_clip > 0:
            raise ValueError(f"value_clip = {self.value_clip}: must be > 0 (or None)")


def _small_output(net: nn.Sequential) -> None:
    """Orthogonal init of gain :data:`HEAD_GAIN`, zero bias, on ``net``'s last linear layer."""
    last = [m for m in net if isinstance(m, nn.Linear)][-1]
    nn.init.orthogonal_(last.weight, HEAD_GAIN)
    nn.init.zeros_(last.bias)


class HDPPOAgent(HybridActorCritic, TorchAgent[HDPPOConfig]):
    """Discrete diffusion actor (per-AV server logits), continuous actor (a diffusion chain or
    an MLP, per-AV means of ``u``, learned log-σ) and critic V(s), trained with PPO. Build it
    with :class:`~vtwin.agents.hybrid.HybridSizes`."""

    kind: AgentKind = "on_policy"
    config_class = HDPPOConfig
    sizes: HybridSizes
    cont_dim: int = CONT_DIM
    """Continuous columns per AV of the stored ``u`` (the rollout is sized by it)."""
    continuous_actor: nn.Module

    def _build(self) -> None:
        cfg, sizes = self.config, self.sizes
        if not isinstance(sizes, HybridSizes):
            raise TypeError(
                f"{type(self).__name__} needs HybridSizes (obs_dim, servers, AVs, r_max_deg)"
            )
        self.M, self.S = sizes.n_agents, sizes.n_actions
        layout = net_layout(sizes, f"{type(cfg).__name__}.discrete_actor", cfg.discrete_actor)
        self.discrete_actor = self._chain(self.M * self.S, cfg.discrete_x0_clip, layout)
        if cfg.continuous_actor == "diffusion":
            self.continuous_actor = self._chain(self.M * CONT_DIM, cfg.continuous_x0_clip)
        else:  # GHPPO: H-PPO's MLP head
            init = (float(np.sqrt(2.0)), HEAD_GAIN) if cfg.orthogonal_init else None
            self.continuous_actor = mlp(
                self.obs_dim, self.M * CONT_DIM, cfg.hidden, nn.Tanh, orthogonal=init
            )
        self.log_std = nn.Parameter(torch.full((self.M, CONT_DIM), cfg.init_log_std))
        critic_init = (float(np.sqrt(2.0)), 1.0) if cfg.orthogonal_init else None
        self.critic = mlp(self.obs_dim, 1, cfg.hidden, nn.Tanh, orthogonal=critic_init)
        self.value_norm = RunningMeanStd(())
        self.transitions_seen = 0
        """Joint transitions of every update so far (the annealing clock)."""

    def _chain(
        self, x_dim: int, x0_clip: float | None, layout: EntityLayout | None = None
    ) -> Diffusion:
        """A mean-only chain of U steps over x_0 [x_dim], started near x_0 ≈ 0 (its ε-network
        one MLP per entity of ``layout`` when given)."""
        cfg = self.config
        chain = Diffusion(
            self.obs_dim,
            x_dim,
            n_steps=cfg.denoising_steps,
            schedule=cfg.schedule,
            hidden=tuple(cfg.denoiser_hidden if layout is None else cfg.entity_hidden),
            t_dim=cfg.t_dim,
            x0_clip=x0_clip,
            x0_squash=cfg.x0_squash,
            layout=layout,
            activation=nn.Mish if layout is None else SigmoidTanh,
        )
        eps = chain.eps.net if isinstance(chain.eps, EntityScorer) else chain.eps
        assert isinstance(eps, nn.Sequential)
        _small_output(eps)
        return chain

    def _build_optimizers(self) -> None:
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr, eps=1e-5)

    # ------------------------------------------------------------------ acting
    def chain_outputs(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Server logits [N, M, S] (eq. (28)) and Gaussian means [N, M, 2] (eq. (27)) for
        observations [N, M·F]: the chains' mean-only x_0 (from x_U = 0), the means offset by
        0.5. Differentiable."""
        n = obs.shape[0]
        logits = self.discrete_actor.sample(obs, deterministic=True).reshape(n, self.M, self.S)
        if isinstance(self.continuous_actor, Diffusion):
            x0 = self.continuous_actor.sample(obs, deterministic=True)
        else:
            x0 = self.continuous_actor(obs)
        return logits, 0.5 + x0.reshape(n, self.M, CONT_DIM)

    def distribution(self, obs: torch.Tensor) -> HybridDistribution:
        """The hybrid policy π_c · π_d for observations [N, M·F] (eq. (22))."""
        logits, mean = self.chain_outputs(obs)
        return HybridDistribution(logits, mean, self.log_std)

    # ------------------------------------------------------------------ learning
    def coefficients(self) -> tuple[float, float]:
        """(c_ent, c_aux) the next update uses: linearly annealed over ``anneal_steps``
        joint transitions of the updates so far (eqs. (32), (34))."""
        cfg, seen = self.config, self.transitions_seen
        return (
            linear_anneal(cfg.ent_coef, cfg.ent_coef_final, seen, cfg.anneal_steps),
            linear_anneal(cfg.aux_coef, cfg.aux_coef_final, seen, cfg.anneal_steps),
        )

    def aux_loss(
        self,
        obs: torch.Tensor,
        server: torch.Tensor,
        advantages: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Eq. (33): the executed servers [N, M] as a concatenated one-hot x_0^d ∈ {0,1}^{M·S},
        noised to a uniformly drawn step u (x_u = √ᾱ_u x_0 + √(1−ᾱ_u) ε), reconstructed by
        the discrete chain's ε-network as x̂_0, and scored by the L1 error (mean over the M·S
        entries); rows with a raw advantage ≤ 0 count as zero, and the mean is over all N
        rows (the expectation of eq. (33)). Exactly 0 when no advantage is positive."""
        n = obs.shape[0]
        chain = self.discrete_actor
        x0 = nn.functional.one_hot(server, self.S).reshape(n, self.M * self.S).float()
        t = torch.randint(0, chain.n_steps, (n,), device=obs.device, generator=generator)
        noise = torch.randn(x0.shape, device=obs.device, generator=generator)
        x0_hat = chain.predict_x0(chain.q_sample(x0, t, noise), t, obs)
        l1 = (x0_hat - x0).abs().mean(-1)  # ℓ_diff per row
        positive = (advantages > 0).float()  # 1(Â_t > 0)
        return (positive * l1).mean()  # paper C eq. (33)

    def update(self, rollout: HybridRollout) -> dict[str, float]:
        """PPO epochs over a filled rollout whose returns were computed; mean metrics
        (plus the coefficients used, the auxiliary loss and ``eps_saturation``: the share of the
        discrete chain's tanh(ε) beyond 0.99)."""
        cfg = self.config
        ent_coef, aux_coef = self.coefficients()
        stats = PPOStats()
        extra: dict[str, list[float]] = {
            "entropy_continuous": [],
            "std_radius": [],
            "aux_loss": [],
            "eps_saturation": [],
        }
        mean, std = 0.0, 1.0
        if cfg.normalize_values:
            # targets and old values in the units of the updated running statistics
            self.value_norm.update(rollout.returns[: rollout.pos].reshape(-1))
            mean = float(self.value_norm.mean)
            std = float(np.sqrt(self.value_norm.var + 1e-8))
        for _ in range(cfg.epochs):
            for batch in rollout.minibatches(cfg.minibatch_size, self._rng, self.device):
                obs = batch["obs"].float()
                server = batch["server"]
                dist = self.distribution(obs)
                logp_d, logp_c = dist.log_prob_parts(server, batch["u"].float())
                old_d, old_c = batch["logp_discrete"].float(), batch["logp_continuous"].float()
                raw_adv = batch["advantages"].float()
                adv = raw_adv
                if cfg.normalize_advantages and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                if cfg.joint_ratio:
                    ratio = torch.exp((logp_d + logp_c) - (old_d + old_c))  # paper C eq. (29)
                    pg = clipped_surrogate(ratio, adv, cfg.clip)  # paper C eq. (30)
                else:  # one ratio and clipped surrogate per part (as H-PPO)
                    ratio_d = torch.exp(logp_d - old_d)
                    ratio_c = torch.exp(logp_c - old_c)
                    pg = clipped_surrogate(ratio_d, adv, cfg.clip) + clipped_surrogate(
                        ratio_c, adv, cfg.clip
                    )
                    ratio = ratio_d * ratio_c  # the joint ratio, for the statistics
                saturation = self.discrete_actor.saturation()
                value = self.critic(obs).squeeze(-1)
                ret = (batch["returns"].float() - mean) / std  # R̂ = Â + V_old
                old_value = (batch["values"].float() - mean) / std
                v_loss = clipped_value_loss(value, ret, old_value, cfg.value_clip)  # eq. (31)
                ent_d, ent_c = dist.entropy()
                entropy_d = ent_d.mean()  # 1/M Σ_m H(π_d,m), averaged over rows
                ent_loss = -ent_coef * entropy_d  # paper C eq. (32)
                aux = (
                    self.aux_loss(obs, server, raw_adv, self._gen)  # paper C eq. (33)
                    if aux_coef > 0
                    else torch.zeros((), device=obs.device)
                )
                loss = pg + cfg.vf_coef * v_loss + ent_loss + aux_coef * aux  # paper C eq. (34)
                if cfg.eps_reg > 0:
                    loss = loss + cfg.eps_reg * self._eps_square()
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.discrete_actor.parameters(), cfg.max_grad_norm)
                nn.utils.clip_grad_norm_(
                    [*self.continuous_actor.parameters(), self.log_std], cfg.max_grad_norm
                )
                nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                self._release_graphs()
                stats.record(pg, v_loss, entropy_d, ratio, cfg.clip)
                extra["entropy_continuous"].append(float(ent_c.mean().detach()))
                extra["std_radius"].append(float(self.log_std.detach()[:, 0].exp().mean()))
                extra["aux_loss"].append(float(aux.detach()))
                extra["eps_saturation"].append(saturation)
        self.transitions_seen += rollout.pos * rollout.n_envs
        return (
            stats.means()
            | {k: float(np.mean(v)) for k, v in extra.items()}
            | {"ent_coef": ent_coef, "aux_coef": aux_coef}
        )

    def _eps_square(self) -> torch.Tensor:
        """Mean ε_θ² (before the tanh) over the diffusion chains' last runs (an MLP head adds
        nothing)."""
        chains = [
            m for m in (self.discrete_actor, self.continuous_actor) if isinstance(m, Diffusion)
        ]
        return torch.stack([chain.eps_square() for chain in chains]).mean()

    def _release_graphs(self) -> None:
        """Drop the chains' references to the last autograd graph (see ``Diffusion``)."""
        for module in (self.discrete_actor, self.continuous_actor):
            if isinstance(module, Diffusion):
                module.release_graph()

    # ------------------------------------------------------------------ checkpoints
    def _optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        return {"optimizer": self.optimizer}

    def _extra_state(self) -> dict[str, Any]:
        return {
            "value_norm": self.value_norm.state_dict(),
            "transitions_seen": self.transitions_seen,
        }

    def _load_extra_state(self, ckpt: dict[str, Any]) -> None:
        self.value_norm.load_state_dict(ckpt["value_norm"])
        self.transitions_seen = int(ckpt["transitions_seen"])
