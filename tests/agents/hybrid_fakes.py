"""Shared scaffolding of the hybrid-action learner tests (H-PPO, HDPPO, PPO-relaxed): a rollout
filled by the agent's own actions under a test's reward, and a spy on the PPO ratios."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from vtwin.agents.hybrid import HybridRollout, HybridStep

Reward = Callable[[dict[str, np.ndarray], HybridStep], np.ndarray]
"""A test's reward per copy [B] from the env action dict and the stored step."""


def fill_rollout(
    agent: Any, slots: int, obs: Callable[[int], np.ndarray], reward: Reward, n_agents: int
) -> HybridRollout:
    """``slots`` slots of ``obs(t)`` ([B, M·F]) acted on by ``agent``, rewarded by ``reward``,
    truncated at the last slot (bootstrapped by the agent's value); returns computed."""
    first = obs(0)
    copies, width = first.shape
    rollout = HybridRollout(slots, copies, width, n_agents, agent.cont_dim)
    for t in range(slots):
        o = first if t == 0 else obs(t)
        action, step = agent.act(o)
        last = t == slots - 1
        rollout.add(
            o,
            step,
            reward(action, step),
            np.zeros(copies, dtype=bool),
            np.full(copies, last),
            agent.value(o) if last else None,
        )
    rollout.compute_returns(np.zeros(copies), agent.config.gamma, agent.config.gae_lambda)
    return rollout


def spy_ratios(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[torch.Tensor]:
    """Every ratio ``module``'s update hands to ``clipped_surrogate``, in call order."""
    seen: list[torch.Tensor] = []
    original = module.clipped_surrogate

    def spy(ratio: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
        seen.append(ratio.detach().clone())
        return original(ratio, adv, clip)

    monkeypatch.setattr(module, "clipped_surrogate", spy)
    return seen


def assert_same_acts(
    a: Any, b: Any, obs: np.ndarray, fields: tuple[str, ...] = ("logp", "value")
) -> None:
    """``a`` and ``b`` act identically on ``obs`` — sampled, deterministic, sampled again —:
    equal env actions and equal ``fields`` of the stored step (each agent draws from its own
    generator, so equal samples mean equal generator states too)."""
    for deterministic in (False, True, False):
        (act_a, step_a), (act_b, step_b) = a.act(obs, deterministic), b.act(obs, deterministic)
        for key in act_a:
            np.testing.assert_array_equal(act_a[key], act_b[key])
        for name in fields:
            np.testing.assert_array_equal(getattr(step_a, name), getattr(step_b, name))
