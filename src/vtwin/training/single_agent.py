"""The training loop for single-agent batched envs (paper A): one policy for every vehicle.

The env steps ``B`` copies of ``V`` vehicles; the loop flattens them into ``B·V`` rows of one
shared policy. Episodes of all copies start together (copy seeds ``seed·10⁶ + episode·B + b``),
so a run can stop after any episode and resume from its checkpoint to exactly the result of an
uninterrupted run. On-policy agents update after every ``rollout_slots`` slots of all copies
(bootstrapping from V of the next observation) and at each episode end; off-policy agents act
at random (with the loop's generator, seed + 7) until ``learning_starts`` transitions are
stored, then learn through :meth:`~vtwin.agents.protocol.OffPolicyAgent.learn` every slot
(batches drawn with the same generator). The budget ``steps`` counts agent transitions
(slots × copies × vehicles), checked at episode ends.
"""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np

from vtwin.agents.buffers import RolloutBuffer, Transition
from vtwin.agents.protocol import Agent, OffPolicyAgent, OnPolicyAgent, Policy
from vtwin.training.checkpoint import Progress, Rows, RunFolder, end_episode
from vtwin.training.metrics import SlotMetrics, metric_spec

__all__ = ["evaluate", "mean_updates", "train_loop"]


def mean_updates(updates: list[dict[str, float]]) -> dict[str, float]:
    """Each update metric's mean over an episode's updates (keys of the first one)."""
    updates = [u for u in updates if u]
    return (
        {k: float(np.mean([u[k] for u in updates if k in u])) for k in updates[0]}
        if updates
        else {}
    )


def train_loop(
    env: Any, agent: Agent, steps: int, seed: int, run: RunFolder | None, progress: Progress
) -> Rows:
    """Train ``agent`` on a single-agent batched ``env`` until ``steps`` agent transitions.

    Returns one row per episode: episode, steps, return (mean per-vehicle episode sum),
    reward_per_slot, the env's episode metrics, wall_s and the mean update metrics. With a
    ``run`` folder, continues from its checkpoint and saves one after every episode.
    """
    n_agents, horizon = env.B * env.V, env.horizon
    on = cast(OnPolicyAgent, agent) if agent.kind == "on_policy" else None
    off = cast(OffPolicyAgent, agent) if agent.kind == "off_policy" else None
    rollout = (
        RolloutBuffer(min(on.config.rollout_slots, horizon), n_agents, env.obs_dim) if on else None
    )
    replay = off.make_buffer() if off else None
    sample_rng = np.random.default_rng(seed + 7)
    spec = metric_spec(env)

    episode, done_steps, rows = 0, 0, list[dict[str, float]]()
    if run is not None:
        episode, done_steps, rows = run.resume(agent, steps, rng=sample_rng, replay=replay)

    t_start = time.perf_counter()
    while done_steps < steps:
        obs, _ = env.reset(seed * 1_000_000 + episode * env.B)
        flat = obs.reshape(n_agents, -1)
        ep_reward = np.zeros(n_agents)
        slot_metrics = SlotMetrics(env.B, env.V, spec)
        updates: list[dict[str, float]] = []
        slots = 0
        for t in range(horizon):
            slots = t + 1
            if on is not None:
                act, logp, value = on.act_with_info(flat)
            elif (
                off is not None and replay is not None and len(replay) < off.config.learning_starts
            ):
                act = sample_rng.integers(0, env.n_actions, size=n_agents)
            else:
                act = agent.act(flat)
            next_obs, reward, terminated, truncated, info = env.step(act.reshape(env.B, env.V))
            next_flat = next_obs.reshape(n_agents, -1)
            rew = reward.reshape(n_agents)
            term = np.repeat(terminated, env.V)
            trunc = np.repeat(truncated, env.V)
            ep_reward += rew
            slot_metrics.add(info)
            if on is not None and rollout is not None:
                final_v = on.value(next_flat) if trunc.any() else None
                rollout.add(flat, act, logp, rew, value, term, trunc, final_v)
                if rollout.full and not (term.all() or trunc.all()):
                    rollout.compute_returns(
                        on.value(next_flat), on.config.gamma, on.config.gae_lambda
                    )
                    updates.append(on.update(rollout))
                    rollout.reset()
            if off is not None and replay is not None:
                off.store(replay, Transition(flat, act, rew, next_flat, term))
                updates.append(off.learn(replay, sample_rng))
            flat = next_flat
            if term.all() or trunc.all():
                break
        done_steps += slots * n_agents
        if on is not None and rollout is not None and rollout.pos > 0:
            # the episode's last steps are truncated (bootstrapped from final values) or
            # terminated, so the last value passed here is never used
            rollout.compute_returns(np.zeros(n_agents), on.config.gamma, on.config.gae_lambda)
            updates.append(on.update(rollout))
            rollout.reset()
        episode += 1
        row = {
            "episode": episode,
            "steps": done_steps,
            "return": float(ep_reward.mean()),
            "reward_per_slot": float(ep_reward.mean() / slots),
            **slot_metrics.summary(),
            "wall_s": time.perf_counter() - t_start,
        }
        rows.append(row | mean_updates(updates))
        counters = (episode, done_steps, steps)
        end_episode(run, agent, rows, counters, progress, rng=sample_rng, replay=replay)
    return rows


def evaluate(
    agent: Policy, env: Any, seed: int, episodes: int, deterministic: bool
) -> dict[str, float]:
    """Run ``agent`` (no learning) for whole episodes of every copy of ``env``.

    Episode ``k`` resets the copies with seeds ``seed + k·B + b``. Returns the mean and std
    over episodes of the per-copy return, the mean reward per slot and the env's episode
    metrics over every slot.
    """
    n_agents = env.B * env.V
    returns, rewards = [], []
    slot_metrics = SlotMetrics(env.B, env.V, metric_spec(env))
    for ep in range(episodes):
        obs, _ = env.reset(seed + ep * env.B)
        total = np.zeros(n_agents)
        for _ in range(env.horizon):
            act = agent.act(obs.reshape(n_agents, -1), deterministic=deterministic)
            obs, reward, _, truncated, info = env.step(act.reshape(env.B, env.V))
            total += reward.reshape(n_agents)
            rewards.append(float(reward.mean()))
            slot_metrics.add(info)
            if truncated.all():
                break
        returns.append(float(total.mean()))
    return {
        "episodes": float(episodes),
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "reward_per_slot": float(np.mean(rewards)),
        **slot_metrics.summary(),
    }
