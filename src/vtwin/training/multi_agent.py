"""The training loop for multi-agent batched envs (paper B's routing): learners and baselines.

The env follows the batched multi-agent contract of ``vtwin.envs.routing``: ``B`` copies of
``V`` vehicles (agents) choosing one of ``M`` servers; ``reset(seeds)`` → (obs, info) and
``step(actions [B, V])`` → (obs, reward [B, V], terminated [B], truncated [B], info), where
obs = {"observation" [B, V, obs_dim], "action_mask" [B, V, M], "state" [B, state_dim],
"active" [B, V]}. A finished copy returns zeros / inactive until every copy is done; then all
copies are reset together (no auto-reset). Episode ``k`` of a run with seed ``s`` resets copy
``b`` with seed ``s·10⁶ + k·B + b``.

On-policy agents (MAPPO) update after every ``rollout_slots`` slots of all copies (a rollout
may span episodes; GAE cuts at each vehicle's end) and once more at the end of the run with
what is left; off-policy agents (MASAC) store every slot's active transitions and
:meth:`~vtwin.agents.protocol.OffPolicyAgent.learn` (``updates_per_step`` gradient steps per
slot once ``learning_starts`` transitions are stored). The budget ``steps`` counts agent
transitions (slots × copies × vehicles, active or not), checked at episode ends. The history's
metric columns are the env's (:mod:`vtwin.training.metrics`).

With a run folder, every episode end writes ``metrics.csv`` and ``checkpoint.pt``; a resumed
run equals an uninterrupted one (weights and history) provided that ``reset(seeds)`` fully
determines an episode (true of the routing env unless ``routing.zscore_scope = env``, whose
running statistics carry over from episode to episode).
"""

from __future__ import annotations

import time
from typing import Any, Protocol, cast

import numpy as np

from vtwin.agents.buffers import Transition
from vtwin.agents.mappo import MultiAgentRollout
from vtwin.agents.protocol import Agent, OffPolicyAgent, OnPolicyAgent, Policy
from vtwin.training.checkpoint import Progress, ResumePoint, Rows, RunFolder, end_episode
from vtwin.training.metrics import EpisodeMetrics, combine_episodes, metric_spec
from vtwin.training.single_agent import mean_updates

__all__ = ["evaluate", "train_loop"]


class _RolloutAgent(OnPolicyAgent, Protocol):
    def make_rollout(self, B: int) -> MultiAgentRollout:
        """An empty rollout for ``B`` env copies."""
        ...


def _episode_seeds(base: int, episode: int, B: int) -> list[int]:
    return [base + episode * B + b for b in range(B)]


def train_loop(
    env: Any, agent: Agent, steps: int, seed: int, run: RunFolder | None, progress: Progress
) -> Rows:
    """Train ``agent`` on a multi-agent batched ``env`` until ``steps`` agent transitions.

    Returns one row per episode: episode, steps, return (mean per-vehicle episode sum),
    reward_per_step, the env's episode metrics (paper B: latency_s, latency_ok_s,
    packet_loss, packet_loss_per_vehicle, workload_variance, infeasible_share),
    agent_steps, wall_s and the mean update metrics of the episode. With a ``run`` folder,
    continues from its checkpoint and saves one after every episode.
    """
    B, V = env.B, env.V
    on = cast(_RolloutAgent, agent) if agent.kind == "on_policy" else None
    off = cast(OffPolicyAgent, agent) if agent.kind == "off_policy" else None
    rollout = on.make_rollout(B) if on is not None else None
    buffer = off.make_buffer() if off is not None else None
    spec = metric_spec(env)

    episode, done_steps, rows = 0, 0, list[dict[str, float]]()
    if run is not None:
        episode, done_steps, rows = run.resume(agent, steps, rollout=rollout, replay=buffer)

    def _ppo_update(next_obs: dict[str, Any]) -> dict[str, float]:
        assert on is not None and rollout is not None
        cfg = on.config
        rollout.compute_returns(on.value(next_obs), cfg.gamma, cfg.gae_lambda)
        out = on.update(rollout)
        rollout.reset()
        return out

    t_start = time.perf_counter()
    while done_steps < steps:
        obs, _ = env.reset(_episode_seeds(seed * 1_000_000, episode, B))
        finished = np.zeros(B, dtype=bool)
        stats = EpisodeMetrics(B, V, spec)
        updates: list[dict[str, float]] = []
        for _ in range(env.horizon + 1):
            if on is not None:
                act, logp, value = on.act_with_info(obs)
            else:
                act = agent.act(obs)
            next_obs, reward, term, trunc, info = env.step(act)
            active = np.asarray(obs["active"], dtype=bool)
            stats.add(active, ~finished, reward, info)
            finished |= np.asarray(term, dtype=bool) | np.asarray(trunc, dtype=bool)
            done_steps += B * V
            if on is not None and rollout is not None:
                final_v = on.value(next_obs) if np.any(trunc) else None
                rollout.add(obs, act, logp, value, reward, next_obs["active"], term, trunc, final_v)
                if rollout.full:
                    updates.append(_ppo_update(next_obs))
            if off is not None and buffer is not None:
                off.store(buffer, Transition(obs, act, reward, next_obs, term))
                updates.append(off.learn(buffer))
            obs = next_obs
            if finished.all():
                break
        else:
            raise RuntimeError(
                f"the env ran {env.horizon + 1} slots without ending every copy "
                f"(horizon = {env.horizon}); it must terminate or truncate all copies"
            )
        episode += 1
        row: dict[str, float] = {"episode": episode, "steps": done_steps}
        row |= stats.summary()
        row["wall_s"] = time.perf_counter() - t_start
        resume: ResumePoint | None = None  # taken before an end-of-run update
        if rollout is not None and rollout.pos > 0 and done_steps >= steps:
            if run is not None:
                before = [*rows, row | mean_updates(updates)]
                resume = ResumePoint.take(agent, before, episode, done_steps, rollout=rollout)
            updates.append(_ppo_update(obs))  # the leftover; every vehicle's last step has ended
        rows.append(row | mean_updates(updates))
        counters = (episode, done_steps, steps)
        end_episode(
            run, agent, rows, counters, progress, rollout=rollout, replay=buffer, resume=resume
        )
    return rows


def evaluate(
    agent: Policy, env: Any, seed: int, episodes: int, deterministic: bool
) -> dict[str, float]:
    """Run ``agent`` without learning for ``episodes`` episodes of every copy of ``env``.

    Episode ``k`` resets copy ``b`` with seed ``seed + k·B + b``. Returns ``episodes``,
    ``agent_steps``, ``reward_per_step`` (mean reward over acting agent-steps), ``return``
    (mean per-agent episode sum) and the env's episode metrics over all episodes
    (:func:`vtwin.training.metrics.combine_episodes`); for paper B: ``latency_s``,
    ``latency_ok_s`` (steps without failure), ``packet_loss`` (ξ, eq. (14)),
    ``packet_loss_per_vehicle`` (eq. (15)), ``workload_variance``, ``infeasible_share``.
    """
    if episodes < 1:
        raise ValueError(f"episodes = {episodes}: must be ≥ 1")
    B, V = env.B, env.V
    spec = metric_spec(env)
    per_episode: list[EpisodeMetrics] = []
    for ep in range(episodes):
        obs, _ = env.reset(_episode_seeds(seed, ep, B))
        finished = np.zeros(B, dtype=bool)
        stats = EpisodeMetrics(B, V, spec)
        for _ in range(env.horizon + 1):
            act = agent.act(obs, deterministic=deterministic)
            next_obs, reward, term, trunc, info = env.step(act)
            stats.add(np.asarray(obs["active"], dtype=bool), ~finished, reward, info)
            finished |= np.asarray(term, dtype=bool) | np.asarray(trunc, dtype=bool)
            obs = next_obs
            if finished.all():
                break
        per_episode.append(stats)
    return combine_episodes(per_episode)
