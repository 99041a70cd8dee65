"""The training loop for heterogeneous-agent batched envs (paper D's ``BatchedTwinUpdate``).

The env takes ``{"sensor": [B, K], "uav": [B, U, A_u]}`` and returns one global reward
``[B, 1]`` per slot and an observation dict with ``"sensor"``, ``"uav"`` and ``"state"``
(``env_kind`` = ``heterogeneous``, marked by ``action_kind``). Off-policy learners (the TD3
family of :mod:`vtwin.agents.hatd3`) store every copy's joint transition (state row, joint
action, reward, next state row; a truncation is not terminal) and ``learn`` once per slot.
The rule-based reference and random acting are agents of kind ``none``. All copies start
episodes together; episode ``k`` of seed ``s`` resets copy ``b`` with seed ``s·10⁶ + k·B +
b``. The budget ``steps`` counts joint transitions (slots × copies), checked at episode ends.

History rows: episode, steps, reward (mean per slot and copy), return (mean per-copy
episode sum), utility, fidelity_sum, delay_s, violations, served (means per slot), wall_s
and the mean update metrics. With a run folder: a checkpoint after every episode and an
exact resume (agent, history, counters, the loop's generator and the replay buffer).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import numpy as np

from vtwin.agents.buffers import Transition
from vtwin.training.checkpoint import Progress, Rows, RunFolder, end_episode
from vtwin.training.single_agent import mean_updates

__all__ = ["METRICS", "evaluate", "train_loop"]

METRICS = (
    "utility",
    "fidelity_sum",
    "delay_s",
    "violations",
    "served",
    "c1_dropped",
    "c4_late",
    "c5_border",
)
"""Per-slot terms of the env averaged into the history and the evaluation."""


def _seeds(base: int, episode: int, B: int) -> list[int]:
    return [base + episode * B + b for b in range(B)]


def _episode(
    env: Any, agent: Any, seeds: list[int], learn: Any = None, deterministic: bool = False
) -> dict[str, float]:
    """One episode of every copy; ``learn(obs, action, reward, next_obs)`` after each slot."""
    obs, _ = env.reset(seeds)
    sums = dict.fromkeys(METRICS, 0.0)
    ret = np.zeros(env.B)
    slots = 0
    for _ in range(env.horizon):
        action = agent.act(obs, deterministic=deterministic)
        next_obs, reward, _, truncated, info = env.step(action)
        r = np.asarray(reward, dtype=np.float64).reshape(env.B)
        ret += r
        for k in METRICS:
            sums[k] += float(np.mean(info[k]))
        slots += 1
        if learn is not None:
            learn(obs, action, r, next_obs)
        obs = next_obs
        if truncated.all():
            break
    row = {k: v / slots for k, v in sums.items()}
    return row | {"reward": float(ret.mean() / slots), "return": float(ret.mean())}


def _store_and_learn(
    agent: Any,
    buffer: Any,
    rng: np.random.Generator,
    updates: list[dict[str, float]],
    obs: Any,
    action: Any,
    reward: np.ndarray,
    next_obs: Any,
) -> None:
    """Store every copy's joint transition of one slot, then one ``learn`` call."""
    done = np.zeros(len(reward), dtype=bool)  # a truncation is not terminal
    step = Transition(obs["state"], agent.joint_action(action), reward, next_obs["state"], done)
    agent.store(buffer, step)
    updates.append(agent.learn(buffer, rng))


def train_loop(
    env: Any, agent: Any, steps: int, seed: int, run: RunFolder | None, progress: Progress
) -> Rows:
    """Train ``agent`` on a heterogeneous batched ``env`` until ``steps`` joint transitions
    (module docstring); one history row per episode."""
    B = env.B
    off = agent.kind == "off_policy"
    buffer = agent.make_buffer() if off else None
    sample_rng = np.random.default_rng(seed + 7)
    episode, done_steps, rows = 0, 0, list[dict[str, float]]()
    if run is not None:
        episode, done_steps, rows = run.resume(agent, steps, rng=sample_rng, replay=buffer)
    t_start = time.perf_counter()
    while done_steps < steps:
        updates: list[dict[str, float]] = []
        learn = partial(_store_and_learn, agent, buffer, sample_rng, updates) if off else None
        row = _episode(env, agent, _seeds(seed * 1_000_000, episode, B), learn)
        done_steps += B * env.horizon
        episode += 1
        row = {
            "episode": episode,
            "steps": done_steps,
            **row,
            "wall_s": time.perf_counter() - t_start,
        }
        rows.append(row | mean_updates(updates))
        end_episode(
            run, agent, rows, (episode, done_steps, steps), progress, replay=buffer, rng=sample_rng
        )
    return rows


def evaluate(
    agent: Any, env: Any, seed: int, episodes: int, deterministic: bool
) -> dict[str, float]:
    """``agent`` without learning for ``episodes`` episodes of every copy (episode ``k``
    resets copy ``b`` with seed ``seed + k·B + b``): the means of :data:`METRICS`, reward
    (per slot) and return (per copy), over all episodes."""
    if episodes < 1:
        raise ValueError(f"episodes = {episodes}: must be ≥ 1")
    rows = [
        _episode(env, agent, _seeds(seed, k, env.B), deterministic=deterministic)
        for k in range(episodes)
    ]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} | {
        "episodes": float(episodes)
    }
