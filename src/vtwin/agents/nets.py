"""Network building blocks shared by every agent: MLPs and a sinusoidal step embedding."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["SinusoidalEmbedding", "mlp"]


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (256, 256),
    activation: type[nn.Module] = nn.Mish,
    out_activation: type[nn.Module] | None = None,
    orthogonal: tuple[float, float] | None = None,
) -> nn.Sequential:
    """A fully connected network ``in_dim → hidden… → out_dim`` with one activation type.

    ``orthogonal = (hidden_gain, out_gain)``: orthogonal weights of those gains and zero
    biases (Saxe et al. 2014), as CleanRL's and Stable-Baselines3's PPO initialise their
    networks (e.g. √2 for hidden layers, 0.01 for a policy head, 1 for a value head).
    None keeps PyTorch's default initialisation.
    """
    if in_dim < 1 or out_dim < 1 or any(h < 1 for h in hidden):
        raise ValueError(
            f"mlp sizes must be ≥ 1, got in_dim={in_dim}, hidden={list(hidden)}, out_dim={out_dim}"
        )
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    if orthogonal is not None:
        linears = [m for m in layers if isinstance(m, nn.Linear)]
        for i, layer in enumerate(linears):
            gain = orthogonal[1] if i == len(linears) - 1 else orthogonal[0]
            nn.init.orthogonal_(layer.weight, gain)
            nn.init.zeros_(layer.bias)
    if out_activation is not None:
        layers.append(out_activation())
    return nn.Sequential(*layers)


class SinusoidalEmbedding(nn.Module):
    """Transformer-style embedding of a diffusion step index t into ``dim`` features."""

    freqs: torch.Tensor

    def __init__(self, dim: int) -> None:
        """``dim`` must be even: half sines, half cosines over geometric frequencies."""
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"embedding dim = {dim}: must be an even number ≥ 2")
        half = dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half) / max(half - 1, 1))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """[N] step indices (any numeric dtype) → [N, dim] features."""
        args = t.float()[:, None] * self.freqs[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1)
