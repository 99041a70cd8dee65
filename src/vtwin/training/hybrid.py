"""The training loop and evaluation of paper C's hybrid-action learners on
:class:`~vtwin.envs.privacy.BatchedCrossRealityPrivacy`.

One learner acts for all M AVs of a copy (paper C Sec. 5.1): an observation row is the M
AVs' features side by side (``[B, M, F]`` → ``[B, M·F]``), an action is every AV's
(radius, angle, server), the reward of a row is the mean over AVs (eq. (20) / (21)). All
copies start episodes together; episode ``k`` of seed ``s`` resets copy ``b`` with seed
``s·10⁶ + k·B + b`` (as :mod:`vtwin.training.single_agent`). On-policy learners
(``kind == "on_policy"``: H-PPO, PPO-relaxed) update after every ``rollout_slots`` slots of
all copies (bootstrapping from V of the next observation) and at each episode end (the
horizon is a time limit: truncated steps bootstrap from V of the final observation).
Off-policy learners (``kind == "off_policy"``: HGDM) store every copy's joint transition
(observation row, the step's ``u`` flattened — HGDM's latent —, AV-mean reward, next
observation, terminated; a truncation is not terminal) and call ``learn`` once per slot,
which updates once ``learning_starts`` transitions are stored, on batches drawn with the
loop's generator (seed + 7, as :mod:`vtwin.training.single_agent`). The budget ``steps``
counts joint transitions (slots × copies), checked at episode ends.

:func:`train_loop` and :func:`evaluate` are the same loop and evaluation behind the
registry's interface (``vtwin.training.train_agent`` / ``evaluate_policy`` on a hybrid env):
with a run folder, a checkpoint after every episode and an exact resume (a rollout is empty
at every episode end, so the resume point holds the agent, the history, the counters, the
loop's generator and an off-policy learner's replay buffer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.hybrid import HybridRollout, HybridSizes, HybridStep
from vtwin.agents.protocol import AgentKind
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.training.checkpoint import Progress, Rows, RunFolder, end_episode
from vtwin.training.metrics import SlotMetrics, metric_spec
from vtwin.training.single_agent import mean_updates

__all__ = [
    "HybridActor",
    "HybridLearner",
    "HybridOffPolicyLearner",
    "evaluate",
    "evaluate_hybrid",
    "hybrid_sizes",
    "train_hybrid",
    "train_loop",
]


class HybridActor(Protocol):
    """What :func:`evaluate_hybrid` needs: the env's action dict (and the step) for
    observation rows [B, M·F]."""

    def act(
        self, obs: NDArray[Any], deterministic: bool = False
    ) -> tuple[dict[str, NDArray[np.generic]], HybridStep]:
        """The env's action dict for observations [B, M·F] and the learner's step."""
        ...


class HybridLearner(Protocol):
    """What :func:`train_hybrid` needs of a hybrid-action on-policy learner."""

    kind: AgentKind
    config: Any
    """Has ``gamma``, ``gae_lambda`` and ``rollout_slots``."""
    cont_dim: int
    """Continuous columns per AV of the step's ``u`` (sizes the rollout)."""

    def act(
        self, obs: NDArray[Any], deterministic: bool = False
    ) -> tuple[dict[str, NDArray[np.generic]], HybridStep]:
        """The env's action dict for observations [B, M·F] and the step the rollout stores."""
        ...

    def value(self, obs: NDArray[Any]) -> NDArray[np.float64]:
        """V(s) [B]."""
        ...

    def update(self, rollout: HybridRollout) -> dict[str, float]:
        """Learn from a filled rollout whose returns were computed; mean metrics."""
        ...


class HybridOffPolicyLearner(Protocol):
    """What :func:`train_hybrid` needs of a hybrid-action off-policy learner (HGDM)."""

    kind: AgentKind
    config: Any
    """Has ``learning_starts``, ``updates_per_step`` and ``batch_size``."""

    def act(
        self, obs: NDArray[Any], deterministic: bool = False
    ) -> tuple[dict[str, NDArray[np.generic]], HybridStep]:
        """The env's action dict for observations [B, M·F] and the step (``u`` is stored)."""
        ...

    def make_buffer(self) -> ReplayBuffer:
        """An empty replay buffer for joint transitions."""
        ...

    def store(self, buffer: ReplayBuffer, step: Transition, /) -> int:
        """Add one slot's joint transitions; returns how many."""
        ...

    def learn(
        self, buffer: ReplayBuffer, rng: np.random.Generator | None = None
    ) -> dict[str, float]:
        """``updates_per_step`` updates once ``learning_starts`` are stored; mean metrics."""
        ...


def hybrid_sizes(env: BatchedCrossRealityPrivacy) -> HybridSizes:
    """The sizes of a hybrid learner for ``env``: M·F observation columns, S servers, M AVs,
    the env's r_max (degrees), its entity layout and each AV's server-distance columns (both
    None for the ``paper`` observation)."""
    keys = None
    if getattr(env, "entity_layout", None) is not None:
        start = env.obs_slices["server_distance"].start
        keys = tuple(tuple(m * env.obs_dim + start + s for s in range(env.S)) for m in range(env.M))
    return HybridSizes(
        obs_dim=env.M * env.obs_dim,
        n_actions=env.S,
        n_agents=env.M,
        r_max_deg=env.r_max_deg,
        entity_layout=getattr(env, "entity_layout", None),
        server_keys=keys,
    )


def _check(env: BatchedCrossRealityPrivacy, agent: object) -> None:
    sizes = getattr(agent, "sizes", None)
    if isinstance(sizes, HybridSizes) and sizes != hybrid_sizes(env):
        raise ValueError(f"agent built for {sizes}, env needs {hybrid_sizes(env)}")


def train_hybrid(
    env: BatchedCrossRealityPrivacy,
    agent: HybridLearner | HybridOffPolicyLearner,
    steps: int,
    seed: int,
    *,
    progress: Callable[[dict[str, float]], None] | None = None,
    run: RunFolder | None = None,
    progress_steps: Progress = None,
) -> pd.DataFrame:
    """Train ``agent`` on ``env`` until ``steps`` joint transitions (slots × copies).

    Returns one row per episode: episode, steps, reward (mean per slot, copy and AV),
    return (mean per-copy episode sum of the AV-mean reward), the env's episode metrics
    (utility, entropy_bits, latency_s, qos_loss), wall_s and the mean update metrics (none
    while an off-policy learner waits for ``learning_starts``). ``progress`` is called with
    each row, ``progress_steps`` with (joint transitions done, ``steps``, the row). With
    ``run`` the run continues from the folder's checkpoint and saves one after every episode.
    """
    _check(env, agent)
    B, horizon = env.B, env.horizon
    on = cast(HybridLearner, agent) if agent.kind == "on_policy" else None
    off = cast(HybridOffPolicyLearner, agent) if agent.kind == "off_policy" else None
    if on is None and off is None:
        raise ValueError(f"agent kind = {agent.kind!r}: train_hybrid needs on_policy or off_policy")
    rollout = (
        HybridRollout(
            min(on.config.rollout_slots, horizon), B, env.M * env.obs_dim, env.M, on.cont_dim
        )
        if on is not None
        else None
    )
    replay = off.make_buffer() if off is not None else None
    sample_rng = np.random.default_rng(seed + 7)
    spec = metric_spec(env)
    rows: Rows = []
    episode, done_steps = 0, 0
    if run is not None:
        episode, done_steps, rows = run.resume(
            cast(Any, agent), steps, rng=sample_rng, replay=replay
        )
    t_start = time.perf_counter()
    while done_steps < steps:
        obs, _ = env.reset(seed * 1_000_000 + episode * B)
        flat = obs.reshape(B, -1)
        ep_reward = np.zeros(B)
        slot_metrics = SlotMetrics(B, env.M, spec)
        updates: list[dict[str, float]] = []
        slots = 0
        for t in range(horizon):
            slots = t + 1
            action, step = agent.act(flat)
            next_obs, reward, terminated, truncated, info = env.step(action)
            next_flat = next_obs.reshape(B, -1)
            rew = np.asarray(reward, dtype=np.float64).reshape(B, -1).mean(axis=1)  # 1/M Σ_m
            ep_reward += rew
            slot_metrics.add(info)
            done = bool(terminated.all() or truncated.all())
            if on is not None and rollout is not None:
                final_v = on.value(next_flat) if truncated.any() else None
                rollout.add(flat, step, rew, terminated, truncated, final_v)
                if rollout.full and not done:
                    rollout.compute_returns(
                        on.value(next_flat), on.config.gamma, on.config.gae_lambda
                    )
                    updates.append(on.update(rollout))
                    rollout.reset()
            if off is not None and replay is not None:
                latent = step.u.reshape(B, -1)
                off.store(replay, Transition(flat, latent, rew, next_flat, terminated))
                updates.append(off.learn(replay, sample_rng))
            flat = next_flat
            if done:
                break
        done_steps += slots * B
        if on is not None and rollout is not None and rollout.pos > 0:
            # the last steps are truncated (bootstrapped from final values) or terminated,
            # so the last value passed here is never used
            rollout.compute_returns(np.zeros(B), on.config.gamma, on.config.gae_lambda)
            updates.append(on.update(rollout))
            rollout.reset()
        episode += 1
        row = {
            "episode": float(episode),
            "steps": float(done_steps),
            "reward": float(ep_reward.mean() / slots),
            "return": float(ep_reward.mean()),
            **slot_metrics.summary(),
            "wall_s": time.perf_counter() - t_start,
        } | mean_updates(updates)
        rows.append(row)
        if progress is not None:
            progress(row)
        counters = (episode, done_steps, steps)
        end_episode(
            run, cast(Any, agent), rows, counters, progress_steps, rng=sample_rng, replay=replay
        )
    history = pd.DataFrame(rows)
    history[["episode", "steps"]] = history[["episode", "steps"]].astype(np.int64)
    return history


def evaluate_hybrid(
    env: BatchedCrossRealityPrivacy,
    agent: HybridActor,
    seed: int,
    deterministic: bool = True,
    episodes: int = 1,
) -> dict[str, float]:
    """Play ``episodes`` whole episodes of every copy without learning (episode ``k`` resets
    copy ``b`` with seed ``seed + k·B + b``, as ``run_episode(env, policy, seed + k·B)``).

    Returns the means over slots, copies and AVs of the reward and of ``utility``,
    ``entropy_bits``, ``latency_s``, ``qos_loss`` and ``confidence``.
    """
    _check(env, agent)
    keys = ("utility", "entropy_bits", "latency_s", "qos_loss", "confidence")
    sums = dict.fromkeys(("reward", *keys), 0.0)
    n = 0
    for ep in range(episodes):
        obs, _ = env.reset(seed + ep * env.B)
        for _ in range(env.horizon):
            action, _step = agent.act(obs.reshape(env.B, -1), deterministic=deterministic)
            obs, reward, _, truncated, info = env.step(action)
            sums["reward"] += float(np.mean(reward))
            for k in keys:
                sums[k] += float(np.mean(info[k]))
            n += 1
            if truncated.all():
                break
    return {k: v / max(n, 1) for k, v in sums.items()}


def train_loop(
    env: BatchedCrossRealityPrivacy,
    agent: Any,
    steps: int,
    seed: int,
    run: RunFolder | None,
    progress: Progress,
) -> Rows:
    """:func:`train_hybrid` behind the registry's loop interface: one row per episode."""
    history = train_hybrid(env, agent, steps, seed, run=run, progress_steps=progress)
    return cast(Rows, history.to_dict(orient="records"))


def evaluate(
    agent: Any, env: BatchedCrossRealityPrivacy, seed: int, episodes: int, deterministic: bool
) -> dict[str, float]:
    """:func:`evaluate_hybrid` behind the registry's evaluation interface, plus ``episodes``."""
    result = evaluate_hybrid(env, agent, seed, deterministic=deterministic, episodes=episodes)
    return {"episodes": float(episodes), **result}
