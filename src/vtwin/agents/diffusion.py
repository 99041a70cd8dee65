"""A state-conditioned DDPM used as a policy (paper A Sec. III; reused by papers C's LHDPPO).

Forward process ``q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I)`` (paper A eq. (6)) with the
closed form ``x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε``. The reverse step (eq. (7)) has mean

    μ_θ(x_t, t, s) = (x_t − β_t tanh(ε_θ(x_t, t, s)) / √(1−ᾱ_t)) / √α_t      (paper A eq. (8))

and variance β̃_t = β_t (1−ᾱ_{t−1})/(1−ᾱ_t); ``x_T ~ N(0, I)`` and the chain runs to x_0
(eq. (9)). ``deterministic=True`` starts from x_T = 0 and uses the means only, so the same
state always gives the same x_0. Everything is batched and differentiable end to end.

Bounded x_0 (``x0_clip = c``). Eq. (8) is the DDPM posterior mean written through ε; the same
mean is ``coef1_t x̂_0 + coef2_t x_t`` with the predicted start
``x̂_0 = (x_t − √(1−ᾱ_t) tanh ε_θ)/√ᾱ_t`` (Ho et al. 2020, eqs. (7), (15)). With ``c`` set,
x̂_0 is clipped to [−c, c] before that mean is taken, as the reference diffusion-policy code
does ("clip_denoised": Diffusion-QL, GDMOPT with ``max_action``); at the last step
coef1 = 1 and coef2 = 0, so the chain's output x_0 lies in [−c, c]. Without it, ε bounded by
tanh cannot cancel x_T: the chain amplifies by ∏ 1/√α_t (≈ 12 for the ``vp`` schedule at any
number of steps) and x_0 ends near ±12–20, which saturates a softmax over it (paper A eq. (10)).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from vtwin.agents.nets import EntityScorer, SinusoidalEmbedding, mlp
from vtwin.layout import EntityLayout

__all__ = ["Diffusion", "beta_schedule"]

Schedule = Literal["linear", "cosine", "vp"]
SATURATED = 0.99
"""|tanh ε| above which :meth:`Diffusion.saturation` counts an entry as saturated."""
Squash = Literal["clip", "tanh"]


def beta_schedule(kind: Schedule, n_steps: int) -> torch.Tensor:
    """Noise variances β_1..β_N (float64) for the ``linear``, ``cosine`` or ``vp`` schedule."""
    if n_steps < 1:
        raise ValueError(f"n_steps = {n_steps}: must be ≥ 1")
    if kind == "linear":  # Ho et al. (2020), scaled to the number of steps
        scale = 1000.0 / n_steps
        return torch.linspace(scale * 1e-4, min(scale * 0.02, 0.999), n_steps, dtype=torch.float64)
    if kind == "cosine":  # Nichol & Dhariwal (2021)
        s = 0.008
        x = torch.linspace(0, n_steps, n_steps + 1, dtype=torch.float64)
        abar = torch.cos(((x / n_steps) + s) / (1 + s) * math.pi / 2) ** 2
        abar = abar / abar[0]
        return torch.clip(1 - abar[1:] / abar[:-1], 1e-6, 0.999)
    if kind == "vp":  # variance-preserving SDE discretisation (Song et al. 2021)
        t = torch.arange(1, n_steps + 1, dtype=torch.float64)
        b_min, b_max = 0.1, 10.0
        alpha = torch.exp(-b_min / n_steps - 0.5 * (b_max - b_min) * (2 * t - 1) / n_steps**2)
        return 1 - alpha
    raise ValueError(f"beta schedule = {kind!r}; allowed: linear, cosine, vp")


class Diffusion(nn.Module):
    """ε-network + noise schedule: sample x_0 given a state, or noise a given x_0."""

    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    sqrt_abar: torch.Tensor
    sqrt_one_minus_abar: torch.Tensor
    posterior_std: torch.Tensor
    posterior_coef1: torch.Tensor
    posterior_coef2: torch.Tensor

    def __init__(
        self,
        state_dim: int,
        x_dim: int,
        *,
        n_steps: int = 100,
        schedule: Schedule = "vp",
        hidden: tuple[int, ...] = (256, 256),
        t_dim: int = 16,
        x0_clip: float | None = None,
        x0_squash: Squash = "clip",
        layout: EntityLayout | None = None,
        activation: type[nn.Module] = nn.Mish,
    ) -> None:
        """``x_dim`` is the size of x_0 (e.g. the number of discrete actions); ``x0_clip``
        bounds the predicted x_0 of every step to [−x0_clip, x0_clip] (None: eq. (8) as is), by
        clipping (``x0_squash="clip"``) or by ``c·tanh(x/c)`` (``"tanh"``). With ``layout``
        (x_0 indexed like the env's actions) ε_θ is one network shared by the entities: an
        entity's entries of ε come from its entries of x_t, its features, the shared ones
        and the step embedding (:class:`~vtwin.agents.nets.EntityScorer`). ``activation``:
        the ε-network's hidden activation (Mish as the reference diffusion-policy code)."""
        super().__init__()
        if x0_clip is not None and not x0_clip > 0:
            raise ValueError(f"x0_clip = {x0_clip}: must be > 0 (or None)")
        self.state_dim, self.x_dim, self.n_steps, self.t_dim = state_dim, x_dim, n_steps, t_dim
        if x0_squash not in ("clip", "tanh"):
            raise ValueError(f"x0_squash = {x0_squash!r}; allowed: clip, tanh")
        self.x0_clip, self.x0_squash = x0_clip, x0_squash
        # per reverse step of the last sample(): share of saturated tanh(ε), mean of ε² (graph)
        self._saturated: list[torch.Tensor] = []
        self._raw_sq: list[torch.Tensor] = []
        betas = beta_schedule(schedule, n_steps)
        alphas = 1.0 - betas
        abar = torch.cumprod(alphas, dim=0)
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
        post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
        for name, value in {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": abar,
            "sqrt_abar": abar.sqrt(),
            "sqrt_one_minus_abar": (1.0 - abar).sqrt(),
            "posterior_std": post_var.clamp(min=1e-20).sqrt(),
            # q(x_{t−1} | x_t, x_0) mean = coef1 x_0 + coef2 x_t (Ho et al. 2020, eq. (7))
            "posterior_coef1": betas * abar_prev.sqrt() / (1.0 - abar),
            "posterior_coef2": (1.0 - abar_prev) * alphas.sqrt() / (1.0 - abar),
        }.items():
            self.register_buffer(name, value.float(), persistent=False)
        self.t_embed = nn.Sequential(
            SinusoidalEmbedding(t_dim),
            nn.Linear(t_dim, t_dim * 2),
            nn.Mish(),
            nn.Linear(t_dim * 2, t_dim),
        )
        self.eps: nn.Sequential | EntityScorer
        self.per_entity = layout is not None
        if layout is None:
            self.eps = mlp(x_dim + t_dim + state_dim, x_dim, hidden, activation)
        else:
            if layout.n_actions != x_dim:
                raise ValueError(f"layout has {layout.n_actions} actions; x_dim = {x_dim}")
            self.eps = EntityScorer(layout, hidden, activation, extra_per_action=1, extra_dim=t_dim)

    def project(self, state: torch.Tensor) -> torch.Tensor:
        """The state's share of ε_θ's first layer (bias included): ``[N, H₁]`` for an MLP
        ε-network, ``[N, E, H₁]`` per entity. It is the same at every reverse step, so
        :meth:`sample` computes it once per chain rather than once per step (the state is
        by far the widest input: 8040 columns against x_t's 1015 on ``paper-c``)."""
        if isinstance(self.eps, EntityScorer):
            return self.eps.project(state)
        first = self._first
        return nn.functional.linear(state, first.weight[:, self.x_dim + self.t_dim :], first.bias)

    def predict_eps(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        state: torch.Tensor,
        projected: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """ε_θ(x_t, t, s) for a batch: x_t [N, x_dim], t [N] (0-based step), state [N, S].
        ``projected``: :meth:`project` of ``state`` when the caller has it. The MLP's first
        layer is applied by input block, the same function as one linear layer over
        ``[x_t, step embedding, state]``."""
        if isinstance(self.eps, EntityScorer):
            return self.eps(state, extra=x_t, row_extra=self.t_embed(t), projected=projected)
        h = self.project(state) if projected is None else projected
        weight = self._first.weight
        h = h + nn.functional.linear(x_t, weight[:, : self.x_dim])
        h = h + nn.functional.linear(
            self.t_embed(t), weight[:, self.x_dim : self.x_dim + self.t_dim]
        )
        assert isinstance(self.eps, nn.Sequential)
        return self.eps[1:](h)

    @property
    def _first(self) -> nn.Linear:
        """The MLP ε-network's first linear layer."""
        assert isinstance(self.eps, nn.Sequential)
        first = self.eps[0]
        assert isinstance(first, nn.Linear)
        return first

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Closed-form forward noising x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (t 0-based, paper A eq. (6))."""
        return self.sqrt_abar[t, None] * x0 + self.sqrt_one_minus_abar[t, None] * noise

    def p_mean(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        state: torch.Tensor,
        projected: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Reverse-step mean μ_θ(x_t, t, s) of paper A eq. (8) (tanh-squashed ε); with
        ``x0_clip`` the posterior mean of the clipped predicted x_0 (module docstring).
        ``projected`` as in :meth:`predict_eps`."""
        raw = self.predict_eps(x_t, t, state, projected)
        self._raw_sq.append(raw.square().mean())
        eps = torch.tanh(raw)
        self._saturated.append((eps.detach().abs() > SATURATED).float().mean())
        if self.x0_clip is None:
            beta = self.betas[t, None]
            return (x_t - beta * eps / self.sqrt_one_minus_abar[t, None]) / self.alphas[
                t, None
            ].sqrt()
        x0_hat = self._x0_from_eps(x_t, t, eps)
        return self.posterior_coef1[t, None] * x0_hat + self.posterior_coef2[t, None] * x_t

    def _x0_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x̂_0 = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t, bounded as ``x0_clip`` / ``x0_squash`` say."""
        x0_hat = (x_t - self.sqrt_one_minus_abar[t, None] * eps) / self.sqrt_abar[t, None]
        c = self.x0_clip
        if c is None:
            return x0_hat
        return x0_hat.clamp(-c, c) if self.x0_squash == "clip" else c * torch.tanh(x0_hat / c)

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The start x̂_0 the ε-network predicts from x_t at step t (0-based) [N, x_dim]: the
        same tanh-squashed ε and the same bound as a reverse step of :meth:`p_mean` use
        (without ``x0_clip``: unbounded). Differentiable; for reconstruction losses."""
        eps = torch.tanh(self.predict_eps(x_t, t, state))
        return self._x0_from_eps(x_t, t, eps)

    def sample(
        self,
        state: torch.Tensor,
        *,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Run the reverse chain x_N → x_0 (eq. (9)) for a batch of states; differentiable."""
        n = state.shape[0]
        self._saturated, self._raw_sq = [], []
        # per entity the state's share of ε_θ's first layer is the same at every step
        projected = self.project(state)  # the state's share, once for all steps
        if deterministic:
            x = torch.zeros(n, self.x_dim, device=state.device)
        else:
            x = torch.randn(n, self.x_dim, device=state.device, generator=generator)
        for step in reversed(range(self.n_steps)):
            t = torch.full((n,), step, device=state.device, dtype=torch.long)
            x = self.p_mean(x, t, state, projected)
            if step > 0 and not deterministic:
                z = torch.randn(n, self.x_dim, device=state.device, generator=generator)
                x = x + self.posterior_std[step] * z
        return x

    def skip_sample(
        self, n: int, device: torch.device | str, generator: torch.Generator | None = None
    ) -> None:
        """Draw the noise a non-deterministic :meth:`sample` of ``n`` states draws, in the same
        order and shapes, without running the chain. A caller that does not need the chain's
        output (DSAC's target at γ = 0) keeps its random stream, and so its results, exactly
        as if the chain had run."""
        for _ in range(self.n_steps):  # x_N, then one z per step above step 0
            torch.randn(n, self.x_dim, device=device, generator=generator)

    def saturation(self) -> float:
        """Share of the tanh(ε) entries of the last :meth:`sample` call with |tanh ε| > 0.99
        (0 before any call). Near 1 the chain no longer passes gradients: the actor stops
        learning (docs/reproductions/paper-a.md)."""
        if not self._saturated:
            return 0.0
        return float(torch.stack(self._saturated).mean())

    def eps_square(self) -> torch.Tensor:
        """Mean of ε_θ² before the tanh of eq. (8) over the last :meth:`sample` call's steps,
        differentiable (0 before any call): a penalty on it keeps tanh(ε) out of saturation,
        as SAC's reference code penalises its pre-tanh mean (Haarnoja et al. 2018)."""
        if not self._raw_sq:
            return torch.zeros(())
        return torch.stack(self._raw_sq).mean()

    def release_graph(self) -> None:
        """Detach what :meth:`eps_square` keeps of the last chain, so the chain's autograd
        graph is freed (and the module can be deep-copied) once the loss used it."""
        self._raw_sq = [v.detach() for v in self._raw_sq]

    def loss(
        self, x0: torch.Tensor, state: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Denoising loss E‖ε − ε_θ(x_t, t, s)‖² at random steps (behaviour-cloning term)."""
        n = x0.shape[0]
        t = torch.randint(0, self.n_steps, (n,), device=x0.device, generator=generator)
        noise = torch.randn(x0.shape, device=x0.device, generator=generator)
        return ((self.predict_eps(self.q_sample(x0, t, noise), t, state) - noise) ** 2).mean()
