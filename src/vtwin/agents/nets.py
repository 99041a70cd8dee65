"""Network building blocks shared by every agent: MLPs, a per-entity scorer and a sinusoidal
step embedding."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vtwin.layout import EntityLayout

__all__ = [
    "AgentGroup",
    "AgentwiseMLP",
    "EntityScorer",
    "GroupPoolCritic",
    "SigmoidTanh",
    "SinusoidalEmbedding",
    "gather_entities",
    "mlp",
    "soft_bins",
]


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


class _SigmoidTanhFunction(torch.autograd.Function):
    """tanh(x) = 2σ(2x) − 1 forward; the backward from the saved output, 1 − y²."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return torch.ops.aten.tanh_backward(grad, y)


class SigmoidTanh(nn.Module):
    """The hyperbolic tangent, computed on CPU as 2σ(2x) − 1 (within 2·10⁻⁷ of
    :func:`torch.tanh`, the same gradient 1 − tanh²).

    Why: PyTorch's CPU ``tanh`` is slow next to its ``sigmoid``. On [256, 1005, 16] floats
    (one step of the entity ε-network over a ``paper-c`` minibatch), one core of this
    project's AVX-512 VM: ``torch.tanh`` 8.0–9.5 ms, ``torch.sigmoid`` 0.84 ms, this module
    1.6 ms. The entity networks, which run a small MLP over every (AV, server) pair, spent
    about 30 % of HDPPO's and HGDM's training time in ``tanh``. Other devices use
    :func:`torch.tanh`. No parameters, so it replaces ``nn.Tanh`` in a checkpoint freely."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """tanh of ``x``, element-wise."""
        if x.device.type != "cpu":
            return torch.tanh(x)
        out: torch.Tensor = _SigmoidTanhFunction.apply(x)
        return out


def gather_entities(obs: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``obs[:, index]`` for observations [N, obs_dim] and an entity layout's column index
    [E, F]: [N, E, F]. Through ``index_select`` on the flat index, the same values about
    three times faster on CPU than advanced indexing (256 rows of ``paper-c``: 4.9 ms
    against 16.7 ms)."""
    return torch.index_select(obs, 1, index.reshape(-1)).reshape(obs.shape[0], *index.shape)


class EntityScorer(nn.Module):
    """Scores every action from its entity's features with one MLP shared by the entities.

    For an observation row ``x`` and entity ``e`` the MLP sees ``[x[entity_columns[e]],
    x[shared_columns], extra_e]`` and returns the ``actions_per_entity`` scores of ``e``'s
    actions; the output is ``[N, n_entities · actions_per_entity]`` in the env's action order
    (``a = e · actions_per_entity + k``). ``extra`` (``[N, n_actions]``, e.g. a diffusion
    chain's x_t) adds each entity's own slice of per-action inputs. Used as a policy head
    (logits) or a Q head; sharing makes the network learn one function of a server's load
    and distance instead of one per output.
    """

    entity_index: torch.Tensor
    shared_index: torch.Tensor

    def __init__(
        self,
        layout: EntityLayout,
        hidden: Sequence[int] = (64, 64),
        activation: type[nn.Module] = nn.Tanh,
        extra_per_action: int = 0,
        extra_dim: int = 0,
        orthogonal: tuple[float, float] | None = None,
    ) -> None:
        """``extra_per_action``: per-action inputs given to :meth:`forward` (0 or 1);
        ``extra_dim``: width of a per-row input broadcast to every entity (e.g. a step
        embedding)."""
        super().__init__()
        if extra_per_action not in (0, 1) or extra_dim < 0:
            raise ValueError(
                f"EntityScorer: extra_per_action = {extra_per_action} (allowed 0 or 1), "
                f"extra_dim = {extra_dim} (must be ≥ 0)"
            )
        self.n_entities = layout.n_entities
        self.extra_dim = extra_dim
        self.k = layout.actions_per_entity
        self.extra_per_action = extra_per_action
        n_feat = len(layout.entity_columns[0]) + len(layout.shared_columns)
        in_dim = n_feat + extra_per_action * self.k + extra_dim
        self.register_buffer(
            "entity_index", torch.tensor(layout.entity_columns, dtype=torch.long), persistent=False
        )
        self.register_buffer(
            "shared_index", torch.tensor(layout.shared_columns, dtype=torch.long), persistent=False
        )
        self.net = mlp(in_dim, self.k, hidden, activation, orthogonal=orthogonal)

    def project(self, obs: torch.Tensor) -> torch.Tensor:
        """The observation's share of the first layer's pre-activation, [N, E, H₁]: every
        entity's own columns times their weights, plus the shared columns' (once per row,
        broadcast) and the bias. :meth:`forward` adds the ``extra`` inputs' shares to it; a
        caller that scores the same observations many times (a diffusion chain's steps)
        computes it once and passes it as ``projected``."""
        first = self._first
        f_e, f_s = self.entity_index.shape[1], self.shared_index.numel()
        h = nn.functional.linear(
            gather_entities(obs, self.entity_index), first.weight[:, :f_e], first.bias
        )
        if f_s:
            shared = nn.functional.linear(
                obs[:, self.shared_index], first.weight[:, f_e : f_e + f_s]
            )
            h = h + shared[:, None, :]
        return h

    def forward(
        self,
        obs: torch.Tensor,
        extra: torch.Tensor | None = None,
        row_extra: torch.Tensor | None = None,
        projected: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[N, obs_dim] (+ [N, n_actions] per-action, [N, extra_dim] per-row inputs) →
        [N, n_actions] scores. ``projected``: :meth:`project` of ``obs``, when the caller
        has it. The first layer is applied by parts (the same function as one linear layer
        over ``[entity columns, shared columns, extra_e, row_extra]``), so a per-row input
        is multiplied once per row rather than once per entity."""
        if (extra is None) != (self.extra_per_action == 0) or (row_extra is None) != (
            self.extra_dim == 0
        ):
            raise ValueError(
                "EntityScorer: give extra iff built with extra_per_action = 1 and row_extra "
                "iff built with extra_dim > 0"
            )
        n = obs.shape[0]
        h = self.project(obs) if projected is None else projected
        weight = self._first.weight
        start = self.entity_index.shape[1] + self.shared_index.numel()
        if row_extra is not None:
            end = start + self.extra_per_action * self.k
            h = h + nn.functional.linear(row_extra, weight[:, end:])[:, None, :]
        if extra is not None:
            per_entity = extra.reshape(n, self.n_entities, self.k)
            if self.k == 1:  # an outer product: one fused pass instead of a K = 1 matmul
                h = torch.addcmul(h, per_entity, weight[:, start])
            else:
                h = h + nn.functional.linear(per_entity, weight[:, start : start + self.k])
        return self.net[1:](h).reshape(n, self.n_entities * self.k)

    @property
    def _first(self) -> nn.Linear:
        """The MLP's first linear layer (split by input block in :meth:`forward`)."""
        first = self.net[0]
        assert isinstance(first, nn.Linear)
        return first


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


class AgentwiseMLP(nn.Module):
    """``n`` independent MLPs applied side by side: input ``[N, n, in_dim]`` → ``[N, n,
    out_dim]``, agent ``i``'s row through agent ``i``'s own weights (one batched matrix
    product per layer, so n small actors cost about as much as one wide one).

    Each agent's layers are initialised as ``nn.Linear`` initialises one (uniform in
    ±1/√fan_in), ReLU between layers, ``out_activation`` (e.g. ``nn.Tanh``) at the end.
    """

    def __init__(
        self,
        n: int,
        in_dim: int,
        out_dim: int,
        hidden: Sequence[int] = (64, 64),
        out_activation: type[nn.Module] | None = None,
    ) -> None:
        """Sizes as :func:`mlp`'s, for ``n`` agents."""
        super().__init__()
        if n < 1 or in_dim < 1 or out_dim < 1 or any(h < 1 for h in hidden):
            raise ValueError(
                f"AgentwiseMLP sizes must be ≥ 1, got n={n}, in={in_dim}, out={out_dim}"
            )
        widths = [in_dim, *hidden, out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(widths):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(
                nn.Parameter(torch.empty(n, fan_in, fan_out).uniform_(-bound, bound))
            )
            self.biases.append(nn.Parameter(torch.empty(n, fan_out).uniform_(-bound, bound)))
        self.out = out_activation() if out_activation is not None else nn.Identity()

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's output before ``out_activation``."""
        last = len(self.weights) - 1
        h = x.transpose(0, 1)  # [n, N, d]: one batched matrix product per layer
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b.unsqueeze(1), h, w)
            if i < last:
                h = torch.relu(h)
        return h.transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, n, in_dim]`` → ``[N, n, out_dim]``."""
        return self.out(self.pre_activation(x))


@dataclass(frozen=True)
class AgentGroup:
    """One agent type of a :class:`GroupPoolCritic`: ``n`` agents, each observing ``obs``
    columns and acting with ``act`` columns. With ``slots > 0`` an agent's observation ends
    in ``slots`` blocks of ``slot_obs`` columns (e.g. a UAV's queued tasks) whose first
    column is 1 when the slot is in use, and its action ends in ``slots`` values (one per
    block: e.g. the task's step weight); the rest are the agent's own columns.

    With ``bins > 0`` the agent's action is one value in [−1, 1] that the env cuts into
    ``bins`` equal intervals (a discrete choice, e.g. paper D eq. (21)); the critic then sees
    the action as soft memberships of the bins (:func:`soft_bins`) instead of the raw value.
    With ``chosen_by = i`` the bins of group ``i`` pick among this group's agents (bin 0:
    none, bin j: agent j − 1, e.g. a sensor choosing its UAV) and each agent's encoder also
    sees its load: the summed memberships of its bin over group i's agents, × n / (group i's
    n), so an even spread reads 1. With ``chosen_pool`` as well, it also sees *what* chooses
    it: group i's agent embeddings summed with the same weights (e.g. the tasks coming to a
    UAV, whose worth decides what the UAV can make of its next slot)."""

    n: int
    obs: int
    act: int
    slots: int = 0
    slot_obs: int = 0
    bins: int = 0
    chosen_by: int = -1
    chosen_pool: bool = False

    def __post_init__(self) -> None:
        """Refuse sizes that do not add up."""
        own_obs, own_act = self.obs - self.slots * self.slot_obs, self.act - self.slots
        if min(self.n, self.obs, self.act) < 1 or self.slots < 0 or own_obs < 0 or own_act < 0:
            raise ValueError(f"AgentGroup sizes do not add up: {self}")
        if self.slots and self.slot_obs < 1:
            raise ValueError(f"AgentGroup with slots needs slot_obs ≥ 1: {self}")
        if self.bins < 0 or (self.bins and (self.act != 1 or self.slots)):
            raise ValueError(f"AgentGroup with bins needs one action value and no slots: {self}")
        if self.chosen_pool and self.chosen_by < 0:
            raise ValueError(f"AgentGroup.chosen_pool needs chosen_by ≥ 0: {self}")


def soft_bins(action: torch.Tensor, bins: int, width: float = 0.5) -> torch.Tensor:
    """Soft memberships ``[..., bins]`` of values in [−1, 1] in ``bins`` equal intervals: a
    softmax over −(a − c_j)² / (2 σ²) with c_j the interval centres and σ = ``width`` × the
    interval's length. Near a centre the membership is close to one-hot (the critic sees the
    choice the env will make, flat within it, so its gradient does not push a choice around
    for nothing); across an edge it moves smoothly to the neighbour, so an actor still gets
    a gradient toward a better bin."""
    length = 2.0 / bins
    centres = -1.0 + length * (torch.arange(bins, device=action.device, dtype=action.dtype) + 0.5)
    z = (action[..., None] - centres) / (width * length)
    return torch.softmax(-0.5 * z * z, dim=-1)


class GroupPoolCritic(nn.Module):
    """A centralised critic over every agent's observation and action that is built from the
    agents themselves: ``Q(s, a) = head([mean_i e_g(o_i, a_i) for each group g])``.

    ``groups`` lists the agent types (:class:`AgentGroup`); the input row is the global
    state (every agent's observation, group by group, agent by agent) followed by the joint
    action in the same order — the layout of a plain MLP critic's input, so either critic
    takes the same tensors. An agent's embedding is an encoder shared by its type over its
    own observation and action columns, plus, for a type with slots, the sum over its used
    slots of a slot encoder over the slot's observation block and action value. Embeddings
    are averaged per type and an MLP head maps their concatenation to ``out_dim`` values.

    Why (measured on paper D, ``docs/reproductions/paper-d.md``): a plain MLP over the
    945-column state-action row fitted the reward's state part but not how it changes with
    the UAVs' step weights, and actors cannot climb a critic that ignores their actions.
    """

    def __init__(
        self,
        groups: Sequence[AgentGroup],
        embed: int = 64,
        hidden: Sequence[int] = (128, 128),
        out_dim: int = 1,
        encoder_hidden: Sequence[int] = (64,),
    ) -> None:
        """``hidden``: the head's layers; ``encoder_hidden``: the encoders' (they run once per
        agent or slot, so they are kept small)."""
        super().__init__()
        if not groups or embed < 1:
            raise ValueError(f"GroupPoolCritic needs ≥ 1 group and embed ≥ 1, got {groups}")
        self.groups = list(groups)
        self.own = nn.ModuleList()
        self.slot = nn.ModuleList()
        for i, g in enumerate(self.groups):
            own_in = g.obs - g.slots * g.slot_obs + (g.bins or g.act - g.slots)
            if g.chosen_by >= 0:
                # the chooser comes first: forward reads its memberships before this group
                chooser = self.groups[g.chosen_by] if g.chosen_by < i else None
                if chooser is None or chooser.bins != g.n + 1:
                    raise ValueError(
                        f"AgentGroup.chosen_by = {g.chosen_by}: needs an earlier group whose "
                        f"bins are this group's {g.n} agents + 1"
                    )
                own_in += 1 + (embed if g.chosen_pool else 0)
            self.own.append(mlp(max(own_in, 1), embed, encoder_hidden, nn.ReLU, nn.ReLU))
            if g.slots:
                self.slot.append(mlp(g.slot_obs + 1, embed, encoder_hidden, nn.ReLU, nn.ReLU))
            else:
                self.slot.append(nn.Identity())
        self.head = mlp(embed * len(self.groups), out_dim, hidden, nn.ReLU)
        self.state_dim = sum(g.n * g.obs for g in self.groups)
        self.action_dim = sum(g.n * g.act for g in self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, state_dim + action_dim]`` → ``[N, out_dim]``."""
        n = x.shape[0]
        s, a = x[:, : self.state_dim], x[:, self.state_dim :]
        pooled = []
        memberships: dict[int, torch.Tensor] = {}
        embeddings: dict[int, torch.Tensor] = {}
        for i, (g, own_net, slot_net) in enumerate(
            zip(self.groups, self.own, self.slot, strict=True)
        ):
            obs = s[:, : g.n * g.obs].reshape(n, g.n, g.obs)
            acts = a[:, : g.n * g.act].reshape(n, g.n, g.act)
            s, a = s[:, g.n * g.obs :], a[:, g.n * g.act :]
            cut_o, cut_a = g.obs - g.slots * g.slot_obs, g.act - g.slots
            own_act = soft_bins(acts[..., 0], g.bins) if g.bins else acts[..., :cut_a]
            if g.bins:
                memberships[i] = own_act
            parts = [obs[..., :cut_o], own_act]
            if g.chosen_by >= 0:
                chosen = memberships[g.chosen_by]  # [N, n_chooser, n + 1]
                scale = g.n / chosen.shape[1]
                parts.append(chosen[..., 1:].sum(dim=1)[..., None] * scale)
                if g.chosen_pool:  # [N, n, embed]: the choosers' embeddings, by membership
                    pool = torch.einsum("nkj,nke->nje", chosen[..., 1:], embeddings[g.chosen_by])
                    parts.append(pool * scale)
            own = torch.cat(parts, dim=-1)
            if own.shape[-1] == 0:
                own = torch.zeros(n, g.n, 1, dtype=x.dtype, device=x.device)
            h = own_net(own)
            if g.slots:
                blocks = obs[..., cut_o:].reshape(n, g.n, g.slots, g.slot_obs)
                pair = torch.cat([blocks, acts[..., cut_a:, None]], dim=-1)
                used = blocks[..., :1]  # the block's first column: 1 when the slot is used
                h = h + (slot_net(pair) * used).sum(dim=2)
            embeddings[i] = h
            pooled.append(h.mean(dim=1))
        out: torch.Tensor = self.head(torch.cat(pooled, dim=-1))
        return out
