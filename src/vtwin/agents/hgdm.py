"""HGDM: paper C's hybrid-GDM baseline, a diffusion soft actor-critic on a continuous latent.

Paper C Sec. 6.1 (ref. [21], Kang et al.): "a GDM-based Soft Actor-Critic (SAC) algorithm that
expresses both discrete and continuous decisions as continuous latent variables and maps them
to executable hybrid actions during inference". Per AV m of M the actor outputs a latent
``x_m ∈ (−1, 1)^{2+S}``, laid out ``[x_r, x_θ, s_0 … s_{S−1}]``, and :func:`latent_to_env_action`
maps it to the env's action:

* radius ``r = r_max · (x_r + 1)/2`` (x_r = −1 → 0, x_r = 1 → r_max; clipped to [0, r_max]);
* angle ``θ = π · (x_θ + 1) mod 2π`` (x_θ = ±1 are both θ = 0: the circle is periodic);
* agent server ``e = argmax_k s_k`` (the S server scores; ties → the lowest index).

Actor. A state-conditioned DDPM (:class:`~vtwin.agents.diffusion.Diffusion`, U = 5 reverse
steps as paper C's table, predicted x_0 bounded by ``x0_clip`` as DSAC's) turns Gaussian noise
into μ ∈ [−c, c]^{M(2+S)}; the latent is ``x = tanh(u)``, ``u = μ + σ ξ``, ξ ~ N(0, I), with a
learned state-independent log-σ per latent column. This is SAC's squashed Gaussian
(Haarnoja et al. 2018b, App. C) whose mean is the diffusion chain's output.

Entropy — what we chose and why. A diffusion policy has no closed-form density, and the public
diffusion actors handle SAC's entropy three ways: Diffusion-QL (Wang, Hunt & Zhou 2023) and
DIPO (Yang et al. 2023) have none (behaviour-cloning loss plus Q, or a diffusion loss on
Q-gradient-improved actions); DACER (Wang et al. 2024, "Diffusion Actor-Critic with Entropy
Regulator") adds Gaussian noise of scale ∝ α to the chain's output and tunes α against an
entropy estimated by fitting a Gaussian mixture to 200 chain samples per state. We keep
DACER's structure — exploration is a Gaussian around the chain output — but take the entropy
of that Gaussian in closed form: log π(x | s, z) of the squashed Gaussian given the chain's
noise z,

    log π(x|s, z) = Σ_k [log N(u_k; μ_k(s, z), σ_k) − log(1 − tanh² u_k)]      (SAC eq. (21)),

which enters SAC's soft target, actor loss and temperature step as in SAC (divided by the
latent width D, see ``HGDMConfig.alpha``). Since
H(x | s) ≥ H(x | s, z), it is a lower bound of the policy's entropy, so the temperature never
credits the chain's own spread (DACER's estimate does, at 200 chains per state, too slow for
a CPU budget). The chain's own noise alone could not serve: its per-step variances β̃_t are
fixed by the schedule, so the entropy of its path does not depend on θ.

Critics. Twin Q(s, x) MLPs over the observation and the latent (Polyak targets); targets
``y = r + γ [min_i Q'_i(s', x') − α log π(x'|s')]`` with x' from the current actor (SAC; no
target actor). The temperature weighs log π per latent column, ``log π / D`` with
D = M(2 + S) (our choice, see ``HGDMConfig.alpha``), tuned automatically toward
``target_entropy_per_dim`` (SAC's −dim(A) heuristic, per column). All steps through
:class:`~vtwin.agents.soft_ac.SoftActorCriticBase` (:meth:`_continuous_sac_step`).

Defaults: paper C's table (lr 10⁻⁴ for actor and critics, batch 256, γ = 0.95, U = 5); the
rest SAC's and DSAC's (τ = 0.005, x0_clip = 3 with tanh squash, eps_reg 10⁻³).

Entity form (``network = "entity"``, ours). On ``paper-c`` the latent has 1 015 columns, 1 005
of them server scores, and an MLP denoiser and MLP critics over [observation, latent] have to
learn the value of each of the 201 servers once per output column; the other paper C learners
got a network shared by the (AV, server) pairs for the same reason (``discrete_actor =
"entity"``), so HGDM gets the same here. The denoiser is split in two blocks
(:class:`BlockChain`): each AV's radius and angle entries from an MLP, its server scores from
one network shared by the pairs. The critics (:class:`EntityLatentCritic`) see, per AV, the
features of the server its scores choose (a soft argmax over the pairs' features).
The latent, its map to the action, the squashed Gaussian and every SAC step are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from vtwin.agents.buffers import ReplayBuffer
from vtwin.agents.common import as_tensor, net_layout
from vtwin.agents.diffusion import Diffusion, Schedule, Squash
from vtwin.agents.hybrid import CONT_DIM, HybridSizes, HybridStep
from vtwin.agents.nets import SigmoidTanh, gather_entities, mlp
from vtwin.agents.soft_ac import SoftACConfig, SoftActorCriticBase
from vtwin.layout import EntityLayout

__all__ = [
    "BlockChain",
    "EntityLatentCritic",
    "HGDMAgent",
    "HGDMConfig",
    "LatentActor",
    "LatentCritic",
    "latent_to_env_action",
]

LOG_STD_MIN, LOG_STD_MAX = -5.0, 1.0
"""Bounds of the learned log-σ (pre-tanh units), as SAC clamps its log-σ head."""
TWO_PI = 2.0 * np.pi
LOG2 = math.log(2.0)


@dataclass(frozen=True)
class HGDMConfig(SoftACConfig):
    """HGDM hyper-parameters: paper C's table where it gives them (lr, batch, γ, U), else
    SAC's (Haarnoja et al. 2018b) and DSAC's (``vtwin.agents.dsac``).

    ``learning_starts`` counts stored joint transitions (one per copy and slot);
    ``updates_per_step`` gradient steps per env slot of all copies.
    """

    gamma: float = 0.95
    lr_actor: float = 1e-4
    lr_critic: float = 1e-4
    batch_size: int = 256
    buffer_size: int = 200_000
    """Joint transitions kept (each one [M·F] observations and an [M·(2+S)] latent)."""
    learning_starts: int = 1000
    denoising_steps: int = 5
    """U of paper C's table."""
    schedule: Schedule = "vp"
    hidden: tuple[int, ...] = (128, 128)
    """Hidden widths of the denoiser and of each critic (paper C gives none). Measured on
    ``paper-c-synth`` TINY (B = 8, 4000 steps, seeds 0/1/2, share of the random → max-radius
    gap; with SAC's summed log π, before the per-column temperature of ``alpha``): 128 × 128
    closes 0.959 / 0.949 / 0.949, 256 × 256 0.941 / 0.936 / 0.934 and runs 1.5× slower per
    update. With the per-column temperature, 128 × 128: 0.959 / 0.957 / 0.958."""
    alpha: float = 0.2
    """Starting (or, without ``auto_alpha``, fixed) temperature, on log π / D (the mean
    log-density per latent column, D = M(2 + S)) where SAC has log π; i.e. SAC's α is α/D.
    Why: the latent is wide (D = 55 on the tiny test set-up, 1015 on ``paper-c``), and with
    SAC's sum the entropy term outweighed the reward (α = 0.2 × ≈ 40 nats ≈ 8 per slot
    against rewards ≈ 4.3): measured on ``paper-c-synth`` TINY (B = 8, seed 0) the soft Q
    went negative, the temperature fell too slowly (lr 3·10⁻⁴) and the entropy bonus pulled
    the deterministic radius back from 0.985 to 0.97 r_max: 4.321 at 4000 steps, 4.263 at
    8000. Per column: 4.321 / 4.323. (SAC's sum with α = 0.05: 4.330 / 4.325; with
    lr_alpha = 3·10⁻³: 4.315 / 4.344 — both fixes that depend on D.)"""
    auto_alpha: bool = True
    target_entropy_per_dim: float = -1.0
    """Target entropy per latent column (nats): SAC's −dim(A) heuristic divided by D."""
    init_log_std: float = 0.0
    """Starting log-σ of the Gaussian around the chain (pre-tanh units): σ = 1 spreads the
    first latents over most of (−1, 1), a random warm-up without a separate random policy."""
    max_grad_norm: float | None = 1.0
    x0_clip: float = 3.0
    """Bound c of the chain's predicted x_0 (pre-tanh units; tanh(3) = 0.995, so the
    deterministic latent reaches 99.75 % of r_max)."""
    x0_squash: Squash = "tanh"
    eps_reg: float = 1e-3
    """Penalty on the denoiser's ε² before its tanh (DSAC's ``eps_reg``)."""
    network: Literal["mlp", "entity"] = "mlp"
    """``mlp``: one MLP denoiser over the whole latent and MLP critics over [observation,
    latent] (the paper's description). ``entity`` (ours, the form the other paper C learners'
    entity heads take; needs the env's ``entity_layout``, the ``servers`` observation): the
    server scores come from a denoiser shared by every (AV, server) pair, and the critics see
    the latent through the features of the server it chooses (:class:`EntityLatentCritic`);
    see the module docstring."""
    entity_hidden: tuple[int, ...] = (16,)
    """``entity``: hidden widths (tanh) of the shared server-score denoiser (HDPPO's
    ``entity_hidden``)."""
    critic_temperature: float = 0.1
    """``entity``: τ of the critics' soft choice softmax(s / τ) over a latent's server scores
    s ∈ (−1, 1); small τ is close to the argmax the env executes."""


def latent_to_env_action(x: NDArray[np.floating], r_max_deg: float) -> dict[str, NDArray[Any]]:
    """The env's action dict from latents [N, M, 2 + S] in [−1, 1] (module docstring):
    ``radius_deg = r_max · clip((x_r + 1)/2, 0, 1)`` (degrees), ``angle_rad = π (x_θ + 1) mod
    2π`` (radians, in [0, 2π)), ``server = argmax`` of the S scores (int64). Float64."""
    x64 = np.asarray(x, dtype=np.float64)
    radius = r_max_deg * np.clip(0.5 * (x64[..., 0] + 1.0), 0.0, 1.0)
    angle = np.mod(np.pi * (x64[..., 1] + 1.0), TWO_PI)
    angle = np.where(angle < TWO_PI, angle, 0.0)  # a remainder rounding up to 2π is angle 0
    server = np.argmax(x64[..., CONT_DIM:], axis=-1).astype(np.int64)
    return {"radius_deg": radius, "angle_rad": angle, "server": server}


def _chain_kw(cfg: HGDMConfig) -> dict[str, Any]:
    """The chain settings every HGDM denoiser shares (steps, schedule, x_0 bound)."""
    return {
        "n_steps": cfg.denoising_steps,
        "schedule": cfg.schedule,
        "x0_clip": cfg.x0_clip,
        "x0_squash": cfg.x0_squash,
    }


class BlockChain(nn.Module):
    """The reverse chain over the latent [N, M(2 + S)] with a denoiser in two blocks
    (``network = "entity"``, ours): each AV's 2 continuous entries come from an MLP denoiser
    (``hidden``), its S server scores from one denoiser shared by all (AV, server) pairs
    (:class:`~vtwin.agents.diffusion.Diffusion` over the env's entity layout,
    ``entity_hidden``, tanh, as HDPPO's entity chain). Both blocks use the same schedule and
    steps and every entry gets its own noise, so this is one DDPM chain whose ε-network
    reads x_t block by block. It offers what :class:`LatentActor` uses of a
    :class:`~vtwin.agents.diffusion.Diffusion`."""

    def __init__(
        self, obs_dim: int, layout: EntityLayout, n_agents: int, n_servers: int, cfg: HGDMConfig
    ) -> None:
        """The two denoisers; the latent is laid out per AV as [x_r, x_θ, s_0 … s_{S−1}]."""
        super().__init__()
        self.M, self.S = n_agents, n_servers
        self.cont = Diffusion(
            obs_dim, n_agents * CONT_DIM, hidden=tuple(cfg.hidden), **_chain_kw(cfg)
        )
        self.servers = Diffusion(
            obs_dim,
            n_agents * n_servers,
            hidden=tuple(cfg.entity_hidden),
            layout=layout,
            activation=SigmoidTanh,
            **_chain_kw(cfg),
        )

    def sample(
        self,
        state: torch.Tensor,
        *,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """x_0 [N, M(2 + S)] of both blocks, in the latent's per-AV order; differentiable."""
        n = state.shape[0]
        cont = self.cont.sample(state, deterministic=deterministic, generator=generator)
        scores = self.servers.sample(state, deterministic=deterministic, generator=generator)
        cont, scores = cont.reshape(n, self.M, CONT_DIM), scores.reshape(n, self.M, self.S)
        return torch.cat([cont, scores], dim=-1).reshape(n, -1)

    def _weights(self) -> tuple[float, float]:
        """Each block's share of the latent's entries."""
        total = float(self.M * (CONT_DIM + self.S))
        return self.M * CONT_DIM / total, self.M * self.S / total

    def eps_square(self) -> torch.Tensor:
        """Mean ε² before the tanh over every entry of the last chain (differentiable)."""
        wc, ws = self._weights()
        return wc * self.cont.eps_square() + ws * self.servers.eps_square()

    def saturation(self) -> float:
        """Share of saturated tanh(ε) entries over both blocks of the last chain."""
        wc, ws = self._weights()
        return wc * self.cont.saturation() + ws * self.servers.saturation()

    def release_graph(self) -> None:
        """Free both blocks' graphs (:meth:`Diffusion.release_graph`)."""
        self.cont.release_graph()
        self.servers.release_graph()


class LatentActor(nn.Module):
    """Diffusion chain → μ, then the squashed Gaussian ``x = tanh(μ + σ ξ)`` over the
    latent [N, D] (module docstring); ``log_std`` [D] is learned."""

    def __init__(
        self,
        obs_dim: int,
        latent_dim: int,
        cfg: HGDMConfig,
        blocks: tuple[EntityLayout, int, int] | None = None,
    ) -> None:
        """The chain (``cfg``'s steps, schedule, widths, x0 bound) and log-σ = ``init_log_std``.
        ``blocks`` = (layout, M, S): a :class:`BlockChain` (``network = "entity"``) instead
        of one MLP denoiser."""
        super().__init__()
        self.chain: Diffusion | BlockChain
        if blocks is None:
            self.chain = Diffusion(obs_dim, latent_dim, hidden=tuple(cfg.hidden), **_chain_kw(cfg))
        else:
            self.chain = BlockChain(obs_dim, *blocks, cfg)
        self.log_std = nn.Parameter(torch.full((latent_dim,), float(cfg.init_log_std)))

    def std(self) -> torch.Tensor:
        """σ [D] (log-σ clamped to [LOG_STD_MIN, LOG_STD_MAX])."""
        return self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()

    def forward(
        self, obs: torch.Tensor, generator: torch.Generator, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents x [N, D] and log π(x | s, z) [N] (nats), differentiable (reparameterised).

        ``deterministic``: x = tanh(μ) of the mean-only chain, and log π is 0 (a point has no
        density; nothing reads it)."""
        mu = self.chain.sample(obs, deterministic=deterministic, generator=generator)
        if deterministic:
            return torch.tanh(mu), torch.zeros(obs.shape[0], device=obs.device)
        log_std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        xi = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        u = mu + log_std.exp() * xi
        # log N(u; μ, σ) = −ξ²/2 − log σ − ½ log 2π;
        # log(1 − tanh² u) = 2 (log 2 − u − softplus(−2u)), stable for large |u|
        log_normal = -0.5 * xi.square() - log_std - 0.5 * math.log(2.0 * math.pi)
        log_jac = 2.0 * (LOG2 - u - nn.functional.softplus(-2.0 * u))
        return torch.tanh(u), (log_normal - log_jac).sum(-1)


class LatentCritic(nn.Module):
    """Q(s, x) [N] from observations [N, obs_dim] and latents [N, D] (one MLP)."""

    def __init__(self, obs_dim: int, latent_dim: int, hidden: tuple[int, ...]) -> None:
        """An MLP ``obs_dim + D → hidden… → 1`` (Mish)."""
        super().__init__()
        self.net = mlp(obs_dim + latent_dim, 1, hidden)

    def forward(self, obs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Q values [N]."""
        return self.net(torch.cat([obs, x], dim=-1)).squeeze(-1)


class EntityLatentCritic(nn.Module):
    """Q(s, x) [N] that reads each AV's server choice off its scores (``network =
    "entity"``, ours).

    For AV m the critic takes the features of the server its latent chooses: the soft argmax
    f̄_m = Σ_e softmax(s_m / τ)_e f_{m,e} over the (AV m, server e) pairs' features of the env's
    entity layout (the AV's own columns, which every pair of m repeats, pass through
    unchanged). With small τ this is the argmax server's features the env acts on, and it is
    differentiable in the scores: the gradient moves s_m toward the servers whose features the
    head values more. A head maps [f̄_m, x_r, x_θ] to q_m, shared by the AVs, and Q = the mean
    over AVs of q_m, as the reward is a mean over AVs. Selecting before the head (not
    embedding all S pairs first) keeps the critic's cost independent of the server count."""

    entity_index: torch.Tensor
    shared_index: torch.Tensor

    def __init__(
        self,
        layout: EntityLayout,
        n_agents: int,
        n_servers: int,
        hidden: tuple[int, ...],
        temperature: float,
    ) -> None:
        """Head ``pair features + 2 → hidden… → 1`` (Mish)."""
        super().__init__()
        if layout.n_entities != n_agents * n_servers:
            raise ValueError(
                f"EntityLatentCritic: layout has {layout.n_entities} entities, expected "
                f"{n_agents} AVs × {n_servers} servers"
            )
        self.M, self.S, self.temperature = n_agents, n_servers, temperature
        self.register_buffer(
            "entity_index", torch.tensor(layout.entity_columns, dtype=torch.long), persistent=False
        )
        self.register_buffer(
            "shared_index", torch.tensor(layout.shared_columns, dtype=torch.long), persistent=False
        )
        n_feat = len(layout.entity_columns[0])
        self.head = mlp(n_feat + len(layout.shared_columns) + CONT_DIM, 1, hidden)

    def forward(self, obs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Q values [N] for observations [N, obs_dim] and latents [N, M(2 + S)]."""
        n = obs.shape[0]
        feats = gather_entities(obs, self.entity_index).reshape(n * self.M, self.S, -1)
        latent = x.reshape(n, self.M, CONT_DIM + self.S)
        choice = torch.softmax(latent[..., CONT_DIM:] / self.temperature, dim=-1)
        chosen = torch.bmm(choice.reshape(n * self.M, 1, self.S), feats).reshape(n, self.M, -1)
        parts = [chosen, latent[..., :CONT_DIM]]
        if self.shared_index.numel():
            parts.append(obs[:, None, self.shared_index].expand(-1, self.M, -1))
        return self.head(torch.cat(parts, dim=-1)).squeeze(-1).mean(-1)


class HGDMAgent(SoftActorCriticBase[HGDMConfig]):
    """Diffusion actor over the hybrid latent, twin critics Q(s, x) with targets, α. Build it
    with :class:`~vtwin.agents.hybrid.HybridSizes`; drive it with
    :func:`~vtwin.training.hybrid.train_hybrid` (``kind == "off_policy"``)."""

    config_class = HGDMConfig
    sizes: HybridSizes
    actor: LatentActor

    def _build_nets(self) -> None:
        """Check the config, then the actor, the twin critics and the entropy target."""
        sizes, cfg = self.sizes, self.config
        if not isinstance(sizes, HybridSizes):
            raise TypeError("HGDMAgent needs HybridSizes (obs_dim, servers, AVs, r_max_deg)")
        _validate(cfg)
        self.M, self.S = sizes.n_agents, sizes.n_actions
        self.per_av = CONT_DIM + self.S
        self.latent_dim = self.M * self.per_av
        layout = net_layout(sizes, "HGDMConfig.network", cfg.network)
        self.q1: LatentCritic | EntityLatentCritic
        self.q2: LatentCritic | EntityLatentCritic
        if layout is None:
            self.actor = LatentActor(self.obs_dim, self.latent_dim, cfg)
            self.q1 = LatentCritic(self.obs_dim, self.latent_dim, tuple(cfg.hidden))
            self.q2 = LatentCritic(self.obs_dim, self.latent_dim, tuple(cfg.hidden))
        else:
            self.actor = LatentActor(self.obs_dim, self.latent_dim, cfg, (layout, self.M, self.S))
            self.q1, self.q2 = (
                EntityLatentCritic(
                    layout, self.M, self.S, tuple(cfg.hidden), cfg.critic_temperature
                )
                for _ in range(2)
            )
        self.target_entropy = cfg.target_entropy_per_dim

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(
        self, obs: NDArray[Any], deterministic: bool = False
    ) -> tuple[dict[str, NDArray[np.generic]], HybridStep]:
        """The env's action dict for observations [N, M·F] and the step the loop stores:
        ``u`` = the latents [N, M, 2 + S], the argmax servers, log π(x|s, z) as the
        continuous log-probability (the discrete one is 0: the server is a function of x)
        and ``value`` = min_i Q_i(s, x). ``deterministic``: the mean-only chain, no noise."""
        o = as_tensor(obs, torch.float32, self.device)
        assert o is not None
        x, logp = self.actor(o, self._gen, deterministic)
        value = torch.min(self.q1(o, x), self.q2(o, x))
        n = o.shape[0]
        latent = x.reshape(n, self.M, self.per_av).cpu().numpy().astype(np.float32)
        action = latent_to_env_action(latent, self.sizes.r_max_deg)
        step = HybridStep(
            action["server"],
            latent,
            np.zeros(n),
            logp.double().cpu().numpy(),
            value.double().cpu().numpy(),
        )
        return action, step

    # ------------------------------------------------------------------ learning
    def make_buffer(self) -> ReplayBuffer:
        """An empty replay buffer of ``buffer_size`` joint transitions: observations [M·F],
        latents [M·(2+S)] as float32 actions."""
        return ReplayBuffer(self.config.buffer_size, self.obs_dim, action_dim=self.latent_dim)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on both critics, the actor and α, then the Polyak targets.

        ``batch``: obs [N, M·F], actions = latents [N, D], rewards [N] (mean over AVs),
        next_obs, terminated (:meth:`ReplayBuffer.sample`). Soft target with one x' ~ π(·|s')
        from the current actor; the actor's gradient runs through the squash, the Gaussian
        and every denoising step (SAC's reparameterisation)."""
        obs, next_obs = batch["obs"].float(), batch["next_obs"].float()
        d = float(self.latent_dim)
        with torch.no_grad():
            next_x, next_logp = self.actor(next_obs, self._gen)
        y = self._continuous_target(batch, next_obs, next_x, next_logp / d)
        cfg = self.config

        def policy() -> tuple[torch.Tensor, torch.Tensor]:
            x, logp = self.actor(obs, self._gen)
            return x, logp / d  # log π per latent column (see HGDMConfig.alpha)

        metrics = self._continuous_sac_step(
            obs,
            batch["actions"].float(),
            y,
            policy,
            self.target_entropy,
            (lambda: cfg.eps_reg * self.actor.chain.eps_square()) if cfg.eps_reg else None,
        )
        self.actor.chain.release_graph()
        metrics["eps_saturation"] = self.actor.chain.saturation()
        metrics["std"] = float(self.actor.std().detach().mean())
        return metrics


def _validate(cfg: HGDMConfig) -> None:
    """One-line errors naming the field, its value and what is allowed."""

    def positive(v: float) -> bool:
        return bool(np.isfinite(v)) and v > 0

    checks: list[tuple[str, object, bool, str]] = [
        ("gamma", cfg.gamma, 0.0 <= cfg.gamma <= 1.0, "a number in [0, 1]"),
        ("lr_actor", cfg.lr_actor, positive(cfg.lr_actor), "a finite number > 0"),
        ("lr_critic", cfg.lr_critic, positive(cfg.lr_critic), "a finite number > 0"),
        ("lr_alpha", cfg.lr_alpha, positive(cfg.lr_alpha), "a finite number > 0"),
        ("alpha", cfg.alpha, positive(cfg.alpha), "a finite number > 0"),
        ("batch_size", cfg.batch_size, cfg.batch_size >= 1, "an integer ≥ 1"),
        ("buffer_size", cfg.buffer_size, cfg.buffer_size >= 1, "an integer ≥ 1"),
        ("learning_starts", cfg.learning_starts, cfg.learning_starts >= 0, "an integer ≥ 0"),
        ("updates_per_step", cfg.updates_per_step, cfg.updates_per_step >= 1, "an integer ≥ 1"),
        ("denoising_steps", cfg.denoising_steps, cfg.denoising_steps >= 1, "an integer ≥ 1"),
        (
            "schedule",
            cfg.schedule,
            cfg.schedule in ("linear", "cosine", "vp"),
            "linear, cosine, vp",
        ),
        ("hidden", cfg.hidden, len(cfg.hidden) > 0 and min(cfg.hidden) >= 1, "widths ≥ 1"),
        ("x0_clip", cfg.x0_clip, positive(cfg.x0_clip), "a finite number > 0"),
        ("x0_squash", cfg.x0_squash, cfg.x0_squash in ("clip", "tanh"), "clip, tanh"),
        ("eps_reg", cfg.eps_reg, cfg.eps_reg >= 0, "a number ≥ 0 (0: no penalty)"),
        (
            "entity_hidden",
            cfg.entity_hidden,
            len(cfg.entity_hidden) > 0 and min(cfg.entity_hidden) >= 1,
            "widths ≥ 1",
        ),
        (
            "critic_temperature",
            cfg.critic_temperature,
            positive(cfg.critic_temperature),
            "a finite number > 0",
        ),
        (
            "init_log_std",
            cfg.init_log_std,
            LOG_STD_MIN <= cfg.init_log_std <= LOG_STD_MAX,
            f"a number in [{LOG_STD_MIN:g}, {LOG_STD_MAX:g}]",
        ),
        (
            "target_entropy_per_dim",
            cfg.target_entropy_per_dim,
            bool(np.isfinite(cfg.target_entropy_per_dim)),
            "a finite number (nats per latent column)",
        ),
        (
            "max_grad_norm",
            cfg.max_grad_norm,
            cfg.max_grad_norm is None or positive(cfg.max_grad_norm),
            "None or a number > 0",
        ),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            raise ValueError(f"HGDMConfig.{name} = {value!r}: must be {allowed}")
