"""The calling contract every agent satisfies, learners and rule-based baselines alike.

Observations are what the agent's env kind hands out: single-agent envs give flat arrays
``[N, obs_dim]`` (the training loop flattens copies × vehicles), multi-agent envs an
observation dict (``observation``, ``action_mask``, ``state``, ``active``; actions
``[B, V]``). ``mask`` overrides the dict's ``action_mask`` (or masks a flat observation).

The training loops need a little more from learners: :class:`OnPolicyAgent` (log-probs and
values for a rollout) and :class:`OffPolicyAgent` (a replay buffer filled by
:meth:`OffPolicyAgent.store` and drained by :meth:`OffPolicyAgent.learn`).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vtwin.agents.buffers import ReplayBuffer, Transition

__all__ = ["Agent", "AgentKind", "OffPolicyAgent", "OnPolicyAgent", "Policy"]

AgentKind = Literal["on_policy", "off_policy", "none"]
"""How an agent learns: from its own fresh rollouts, from a replay buffer, or not at all."""


@runtime_checkable
class Policy(Protocol):
    """What evaluation needs: actions for observations (every :class:`Agent` is one)."""

    def act(self, obs: Any, /, *, deterministic: bool = False) -> NDArray[Any]:
        """Actions for a batch of observations (the argmax policy when ``deterministic``)."""
        ...


@runtime_checkable
class Agent(Protocol):
    """Acts on observations; learns from a batch; saves and restores its whole state."""

    kind: AgentKind

    def act(
        self, obs: Any, mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> NDArray[np.int64]:
        """Actions for a batch of observations (the argmax policy when ``deterministic``)."""
        ...

    def update(self, batch: Any, /) -> dict[str, float]:
        """One learning step on a rollout or replay batch; its metrics (empty: nothing learnt)."""
        ...

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to act and learn on exactly as from now (a copy)."""
        ...

    def restore(self, ckpt: dict[str, Any], /) -> None:
        """Inverse of :meth:`checkpoint`."""
        ...


@runtime_checkable
class OnPolicyAgent(Agent, Protocol):
    """A learner updated from rollouts of its own actions (``kind == "on_policy"``)."""

    config: Any
    """Has ``gamma``, ``gae_lambda`` and ``rollout_slots``."""

    def act_with_info(
        self, obs: Any, mask: NDArray[np.bool_] | None = None, deterministic: bool = False
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Actions, their log-probabilities and the value estimates."""
        ...

    def value(self, obs: Any, /) -> NDArray[np.float64]:
        """Value estimates of observations."""
        ...


@runtime_checkable
class OffPolicyAgent(Agent, Protocol):
    """A learner updated from a replay buffer (``kind == "off_policy"``)."""

    config: Any
    """Has ``learning_starts``, ``updates_per_step`` and ``batch_size``."""

    def make_buffer(self) -> ReplayBuffer:
        """An empty replay buffer for this agent's transitions."""
        ...

    def store(self, buffer: ReplayBuffer, step: Transition, /) -> int:
        """Add one env step's transitions to ``buffer``; returns how many were stored."""
        ...

    def learn(
        self, buffer: ReplayBuffer, rng: np.random.Generator | None = None
    ) -> dict[str, float]:
        """``updates_per_step`` updates on batches drawn from ``buffer``; mean metrics."""
        ...
