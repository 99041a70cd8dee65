"""What paper A's diffusion SAC and paper B's MASAC share: the replay loop and checkpoints.

:class:`SoftActorCriticBase` is the ``nn.Module`` base of an agent that has ``config``
(with ``learning_starts``, ``updates_per_step``, ``batch_size``), ``update(batch)``,
``actor_optimizer``, ``critic_optimizer``, ``alpha_optimizer`` (or None), a torch generator
``_gen``, a numpy generator ``_rng`` and ``device`` (:meth:`_setup_optimizers` makes the
optimisers and generators from ``actor``, ``q1``, ``q2`` and ``log_alpha``).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn

from vtwin.agents.buffers import ReplayBuffer

__all__ = ["SoftActorCriticBase"]


class SoftActorCriticBase(nn.Module, ABC):
    """Base module: :meth:`learn` from a replay buffer, :meth:`checkpoint` / :meth:`restore`."""

    config: Any
    device: torch.device
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer
    alpha_optimizer: torch.optim.Optimizer | None
    _gen: torch.Generator
    _rng: np.random.Generator

    def _setup_optimizers(self, seed: int) -> None:
        """Adam for the actor, the twin critics ``q1``/``q2`` and (when tuned) log α; seeded
        torch and numpy generators. Call after the nets are built and moved to the device."""
        cfg = self.config
        actor, q1, q2 = (self.get_submodule(name) for name in ("actor", "q1", "q2"))
        log_alpha = self.get_parameter("log_alpha")
        self.actor_optimizer = torch.optim.Adam(actor.parameters(), lr=cfg.lr_actor)
        self.critic_optimizer = torch.optim.Adam(
            [*q1.parameters(), *q2.parameters()], lr=cfg.lr_critic
        )
        self.alpha_optimizer = (
            torch.optim.Adam([log_alpha], lr=cfg.lr_alpha) if cfg.auto_alpha else None
        )
        self._gen = torch.Generator(device=self.device).manual_seed(seed)
        self._rng = np.random.default_rng(seed)

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

    @abstractmethod
    def update(self, batch: Any) -> dict[str, float]:
        """One gradient step on a replay batch (each agent defines it)."""

    def learn(self, buffer: ReplayBuffer) -> dict[str, float]:
        """``updates_per_step`` updates on batches from ``buffer`` (drawn with the agent's rng).

        Returns the mean metrics, or ``{}`` while the buffer holds fewer than
        ``learning_starts`` transitions.
        """
        cfg = self.config
        if len(buffer) < max(cfg.learning_starts, 1):
            return {}
        stats: dict[str, list[float]] = {}
        for _ in range(cfg.updates_per_step):
            info = self.update(buffer.sample(cfg.batch_size, self._rng, self.device))
            for k, v in info.items():
                stats.setdefault(k, []).append(v)
        return {k: float(np.mean(v)) for k, v in stats.items()}

    def checkpoint(self) -> dict[str, Any]:
        """Nets, targets, log α, optimisers, random states and config (a deep copy).

        Copied so that later training does not alter a checkpoint already taken.
        """
        return copy.deepcopy(
            {
                "model": self.state_dict(),
                "actor_optimizer": self.actor_optimizer.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict(),
                "alpha_optimizer": (
                    None if self.alpha_optimizer is None else self.alpha_optimizer.state_dict()
                ),
                "generator": self._gen.get_state(),
                "rng": self._rng.bit_generator.state,
                "config": asdict(self.config),
            }
        )

    def restore(self, ckpt: dict[str, Any]) -> None:
        """Inverse of :meth:`checkpoint` (the agent must have been built with the same sizes)."""
        self.load_state_dict(ckpt["model"])
        self.actor_optimizer.load_state_dict(ckpt["actor_optimizer"])
        self.critic_optimizer.load_state_dict(ckpt["critic_optimizer"])
        if self.alpha_optimizer is not None and ckpt["alpha_optimizer"] is not None:
            self.alpha_optimizer.load_state_dict(ckpt["alpha_optimizer"])
        self._gen.set_state(ckpt["generator"])
        self._rng.bit_generator.state = copy.deepcopy(ckpt["rng"])
