"""What the learners share: masked logits, categorical entropy, Polyak targets, the PPO losses,
:class:`AgentSizes` and :class:`TorchAgent` (construction, device, seeded generators,
checkpoint / restore).

Every helper keeps the exact operations (and their order) the agents used before they were
shared, so trained weights stay bit-identical.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from vtwin.devices import pick_device
from vtwin.layout import EntityLayout

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "MASKED_LOGIT",
    "AgentSizes",
    "ClippedPPOConfig",
    "PPOStats",
    "TorchAgent",
    "as_tensor",
    "categorical_entropy",
    "clipped_surrogate",
    "clipped_value_loss",
    "masked_logits",
    "polyak_update",
    "sample_from_logits",
    "with_mask",
]

MASKED_LOGIT = -1e9
"""Logit given to a masked action: its softmax probability is exactly 0 in float32."""


def masked_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``logits`` with the actions where ``mask`` is False pushed to :data:`MASKED_LOGIT`."""
    if mask is None:
        return logits
    return torch.where(mask, logits, torch.full_like(logits, MASKED_LOGIT))


def categorical_entropy(probs: torch.Tensor, logp: torch.Tensor) -> torch.Tensor:
    """H(π) = −Σ_a π(a) log π(a) per row; masked (probability-0) actions contribute nothing."""
    return -(probs * torch.where(probs > 0, logp, torch.zeros_like(logp))).sum(-1)


@torch.no_grad()
def polyak_update(pairs: Iterable[tuple[nn.Module, nn.Module]], tau: float) -> None:
    """Polyak (soft) target step θ' ← (1 − τ) θ' + τ θ for every (online, target) pair."""
    for online, target in pairs:
        for p, tp in zip(online.parameters(), target.parameters(), strict=True):
            tp.lerp_(p, tau)


def as_tensor(
    x: NDArray[Any] | None, dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """``x`` as a tensor of ``dtype`` on ``device`` (None stays None)."""
    return None if x is None else torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def with_mask(obs: dict[str, Any], mask: NDArray[np.bool_] | None) -> dict[str, Any]:
    """An observation dict whose ``action_mask`` is ``mask`` (unchanged when ``mask`` is None)."""
    return obs if mask is None else {**obs, "action_mask": np.asarray(mask, dtype=bool)}


# ---------------------------------------------------------------------- PPO losses
@dataclass(frozen=True)
class ClippedPPOConfig:
    """Hyper-parameters every PPO variant has (defaults: common CleanRL values)."""

    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_clip: float | None = 0.2
    """Clip of the value change per update (None: no clip)."""
    ent_coef: float = 0.01
    epochs: int = 4
    minibatch_size: int = 256
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    normalize_advantages: bool = True
    rollout_slots: int = 128
    """Env slots between updates."""


def clipped_surrogate(ratio: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's clipped policy loss −E[min(r A, clip(r, 1 ± ε) A)] (Schulman et al. 2017)."""
    return -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()


def clipped_value_loss(
    value: torch.Tensor, ret: torch.Tensor, old_value: torch.Tensor, clip: float | None
) -> torch.Tensor:
    """½ E[(V − R)²], or with ``clip`` the larger of that and the clipped change's error."""
    if clip is None:
        return 0.5 * ((value - ret) ** 2).mean()
    clipped = old_value + (value - old_value).clamp(-clip, clip)
    return 0.5 * torch.max((value - ret) ** 2, (clipped - ret) ** 2).mean()


class PPOStats:
    """Per-minibatch PPO update metrics: losses, entropy, approximate KL and clip fraction."""

    def __init__(self) -> None:
        """Empty lists of every metric."""
        self.values: dict[str, list[float]] = {
            "policy_loss": [],
            "value_loss": [],
            "entropy": [],
            "approx_kl": [],
            "clip_frac": [],
        }

    @torch.no_grad()
    def record(
        self,
        pg: torch.Tensor,
        v_loss: torch.Tensor,
        entropy: torch.Tensor,
        ratio: torch.Tensor,
        clip: float,
    ) -> None:
        """Append one minibatch's losses, entropy, approximate KL and clip fraction."""
        stats = self.values
        stats["policy_loss"].append(float(pg))
        stats["value_loss"].append(float(v_loss))
        stats["entropy"].append(float(entropy))
        stats["approx_kl"].append(float(((ratio - 1) - ratio.log()).mean()))
        stats["clip_frac"].append(float(((ratio - 1).abs() > clip).float().mean()))

    def means(self) -> dict[str, float]:
        """Each metric's mean over the recorded minibatches."""
        return {k: float(np.mean(v)) for k, v in self.values.items()}


def sample_from_logits(
    logits: torch.Tensor, generator: torch.Generator, deterministic: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Actions [N] drawn from softmax(logits) with ``generator`` (the argmax when
    ``deterministic``) and their log-probabilities [N]."""
    if deterministic:
        action = logits.argmax(dim=-1)
    else:
        probs = torch.softmax(logits, dim=-1)
        action = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, action[:, None]).squeeze(-1)
    return action, logp


# ---------------------------------------------------------------------- agent base
@dataclass(frozen=True)
class AgentSizes:
    """The sizes a learner is built for.

    ``obs_dim``: one agent's observation row; ``n_actions``: its discrete actions. A
    multi-agent learner (centralised critic) also has ``n_agents`` and the global state's
    width ``state_dim``; single-agent learners keep the defaults.
    """

    obs_dim: int
    n_actions: int
    n_agents: int = 1
    state_dim: int = 0
    entity_layout: EntityLayout | None = None
    """The env's grouping of observation columns by server, when it declares one (needed by
    networks that score every server with one shared net)."""

    def __post_init__(self) -> None:
        """Refuse sizes no learner can be built for."""
        for name, least in (("obs_dim", 1), ("n_actions", 2), ("n_agents", 1), ("state_dim", 0)):
            value = getattr(self, name)
            if value < least:
                raise ValueError(f"{name} = {value}: must be ≥ {least}")
        layout = self.entity_layout
        if layout is not None:
            if layout.n_actions != self.layout_actions:
                raise ValueError(
                    f"entity_layout has {layout.n_entities} entities × "
                    f"{layout.actions_per_entity} actions; the agent has {self.layout_actions}"
                )
            columns = [c for cols in layout.entity_columns for c in cols]
            columns += list(layout.shared_columns)
            if min(columns) < 0 or max(columns) >= self.obs_dim:
                raise ValueError(f"entity_layout columns must lie in [0, {self.obs_dim})")

    @property
    def layout_actions(self) -> int:
        """How many actions an entity layout must score: ``n_actions`` (one choice per
        row); hybrid learners choose per agent, ``n_agents · n_actions``."""
        return self.n_actions


def net_layout(sizes: AgentSizes, option: str, value: str) -> EntityLayout | None:
    """The layout a network built per option ``option`` (e.g. ``"PPO actor"``) needs:
    None for ``'mlp'``, the env's entity layout for ``'entity'`` (refused if it has none)."""
    if value == "mlp":
        return None
    if value != "entity":
        raise ValueError(f"{option} = {value!r}; allowed: 'mlp', 'entity'")
    if sizes.entity_layout is None:
        raise ValueError(
            f"{option} = 'entity' needs an env that declares an entity_layout; "
            "this one does not (use 'mlp')"
        )
    return sizes.entity_layout


ConfigT = TypeVar("ConfigT", bound="DataclassInstance")
"""A learner's config: a (frozen) dataclass."""


class TorchAgent(nn.Module, ABC, Generic[ConfigT]):
    """Base of the learners: construction, device, seeded generators, checkpoint / restore.

    The constructor does what every learner does — default config (``config_class()``),
    sizes (also as ``obs_dim``, ``n_actions``, ``n_agents``, ``state_dim``), device and
    seeding — then calls :meth:`_build` (networks), moves the agent to its
    device and calls :meth:`_build_optimizers`. A subclass lists its optimisers in
    :meth:`_optimizers` (by checkpoint key); extra state goes through :meth:`_extra_state` /
    :meth:`_load_extra_state`.
    """

    config_class: ClassVar[type[Any]]
    """The config dataclass; its defaults are used when no config is given."""
    config: ConfigT
    sizes: AgentSizes
    obs_dim: int
    n_actions: int
    n_agents: int
    state_dim: int
    device: torch.device
    _gen: torch.Generator
    _rng: np.random.Generator

    def __init__(
        self,
        sizes: AgentSizes,
        config: ConfigT | None = None,
        *,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        """Networks are initialised from ``seed``; sampling uses the agent's own generators."""
        super().__init__()
        self.config = self.config_class() if config is None else config
        self.sizes = sizes
        self.obs_dim, self.n_actions = sizes.obs_dim, sizes.n_actions
        self.n_agents, self.state_dim = sizes.n_agents, sizes.state_dim
        self._seed(device, seed)
        # the networks' initial weights come from the seed, drawn from torch's global
        # generator (nn.Module initialisers take no generator) inside a fork, so building
        # an agent neither depends on nor changes the caller's global random state
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build()
        self.to(self.device)
        self._build_optimizers()

    @abstractmethod
    def _build(self) -> None:
        """Create the networks (on the CPU, right after seeding; the order fixes their weights)."""

    @abstractmethod
    def _build_optimizers(self) -> None:
        """Create the optimisers (after the networks moved to :attr:`device`)."""

    def _seed(self, device: str, seed: int) -> None:
        """Pick the device and make the agent's own torch and numpy generators (sampling,
        minibatches, replay draws); the networks are initialised from ``seed`` apart."""
        self.device = pick_device(device)
        self._gen = torch.Generator(device=self.device).manual_seed(seed)
        self._rng = np.random.default_rng(seed)

    def _optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        """The optimisers by checkpoint key (None: not in use)."""
        return {}

    def _extra_state(self) -> dict[str, Any]:
        """State beyond networks, optimisers and generators (e.g. running statistics)."""
        return {}

    def _load_extra_state(self, ckpt: dict[str, Any]) -> None:
        """Inverse of :meth:`_extra_state`."""

    def checkpoint(self) -> dict[str, Any]:
        """Networks, optimisers, extra state, random states and config (a deep copy).

        Copied so that later training does not alter a checkpoint already taken.
        """
        optimizers = {
            k: None if o is None else o.state_dict() for k, o in self._optimizers().items()
        }
        return copy.deepcopy(
            {
                "model": self.state_dict(),
                **optimizers,
                **self._extra_state(),
                "generator": self._gen.get_state(),
                "rng": self._rng.bit_generator.state,
                "config": asdict(self.config),
            }
        )

    def restore(self, ckpt: dict[str, Any]) -> None:
        """Inverse of :meth:`checkpoint` (the agent must have been built with the same sizes)."""
        self.load_state_dict(ckpt["model"])
        for key, optimizer in self._optimizers().items():
            if optimizer is not None and ckpt[key] is not None:
                optimizer.load_state_dict(ckpt[key])
        self._load_extra_state(ckpt)
        self._gen.set_state(ckpt["generator"])
        self._rng.bit_generator.state = copy.deepcopy(ckpt["rng"])
