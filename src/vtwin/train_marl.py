"""Train and evaluate paper B's multi-agent learners and baselines on a batched routing env.

The env follows the batched multi-agent contract of ``vtwin.envs.routing``: ``B`` copies of
``V`` vehicles (agents) choosing one of ``M`` servers; ``reset(seeds)`` → (obs, info) and
``step(actions [B, V])`` → (obs, reward [B, V], terminated [B], truncated [B], info), where
obs = {"observation" [B, V, obs_dim], "action_mask" [B, V, M], "state" [B, state_dim],
"active" [B, V]}. A finished copy returns zeros / inactive until every copy is done; then all
copies are reset together (no auto-reset). Episode ``k`` of a run with seed ``s`` resets copy
``b`` with seed ``s·10⁶ + k·B + b``.

Algorithms (:data:`MARL_ALGOS`): ``dm_mappo`` (MAPPO with the dynamic mask), ``mappo`` (no
mask), ``masac``, ``greedy`` and ``random``. MAPPO updates after every ``rollout_slots`` slots
of all copies (a rollout may span episodes; GAE cuts at each vehicle's end) and once more at
the end of the run with what is left; MASAC takes ``updates_per_step`` gradient steps per slot
once ``learning_starts`` transitions are stored. The budget ``steps`` counts agent
transitions (slots × copies × vehicles, active or not), checked at episode ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from vtwin.agents.mappo import MAPPOAgent, MAPPOConfig
from vtwin.agents.marl_heuristics import GreedyRouting, RandomRouting
from vtwin.agents.masac import MASACAgent, MASACConfig
from vtwin.train import _config

__all__ = ["MARL_ALGOS", "evaluate_marl", "make_marl_agent", "train_marl"]

MARL_ALGOS = ("dm_mappo", "mappo", "masac", "greedy", "random")


def make_marl_agent(
    algo: str,
    env: Any,
    *,
    seed: int = 0,
    device: str = "auto",
    params: dict[str, Any] | None = None,
) -> Any:
    """An agent by name (see :data:`MARL_ALGOS`) sized for ``env``, with its parameters.

    ``dm_mappo`` / ``mappo`` take :class:`MAPPOConfig` fields except ``use_mask`` (the name
    decides it); ``masac`` takes :class:`MASACConfig` fields; ``greedy`` takes ``epsilon``;
    ``random`` takes none. Unknown keys are refused with the valid ones listed.
    """
    p = dict(params or {})
    sizes = (env.V, env.obs_dim, env.state_dim, env.M)
    if algo in ("dm_mappo", "mappo"):
        if "use_mask" in p:
            raise ValueError(
                f"'{algo}' fixes use_mask; pick 'dm_mappo' (mask) or 'mappo' (no mask) instead"
            )
        p["use_mask"] = algo == "dm_mappo"
        return MAPPOAgent(*sizes, _config(MAPPOConfig, p), device=device, seed=seed)
    if algo == "masac":
        return MASACAgent(*sizes, _config(MASACConfig, p), device=device, seed=seed)
    if algo == "greedy":
        unknown = sorted(set(p) - {"epsilon"})
        if unknown:
            raise ValueError(f"unknown greedy parameter(s) {unknown}; valid: epsilon")
        has_sat = bool(getattr(env, "has_sat", True))
        return GreedyRouting(env.V, env.M, seed=seed, has_satellite=has_sat, **p)
    if algo == "random":
        if p:
            raise ValueError(f"the random agent takes no parameters, got {sorted(p)}")
        return RandomRouting(env.V, env.M, seed=seed)
    raise ValueError(f"unknown algo '{algo}'; valid: {', '.join(MARL_ALGOS)}")


class _EpisodeStats:
    """Per-episode sums over active agent-steps (the quantities paper B's figures report)."""

    def __init__(self, B: int, V: int) -> None:
        self.reward = np.zeros((B, V))
        self.steps = np.zeros((B, V))
        self.fails = np.zeros((B, V))
        self.latency = 0.0
        self.latency_ok = 0.0
        self.infeasible = 0.0
        self.variance: list[float] = []

    def add(
        self,
        active: NDArray[np.bool_],
        running: NDArray[np.bool_],
        reward: NDArray[np.floating],
        info: dict[str, Any],
    ) -> None:
        """One slot: ``active`` vehicles acted, ``running`` copies were not finished yet."""
        a = active.astype(np.float64)
        self.reward += np.asarray(reward) * a
        self.steps += a
        self.fails += np.asarray(info["failure"], dtype=np.float64) * a
        latency = np.asarray(info["latency_s"]) * a
        self.latency += float(latency.sum())
        self.latency_ok += float((latency * (1.0 - np.asarray(info["failure"]))).sum())
        self.infeasible += float((np.asarray(info["infeasible"], dtype=np.float64) * a).sum())
        if running.any():
            self.variance.extend(np.asarray(info["workload_variance"])[running].tolist())

    def summary(self) -> dict[str, float]:
        """Means over the episode's active agent-steps; packet loss also per vehicle (eq. 15)."""
        n = max(float(self.steps.sum()), 1.0)
        drove = self.steps > 0
        q_v = self.fails[drove] / self.steps[drove]
        return {
            "return": float(self.reward.mean()),
            "reward_per_step": float(self.reward.sum() / n),
            "latency_s": self.latency / n,
            "latency_ok_s": (  # NaN when every step failed
                self.latency_ok / ok if (ok := n - float(self.fails.sum())) > 0 else float("nan")
            ),
            "packet_loss": float(self.fails.sum() / n),
            "packet_loss_per_vehicle": float(q_v.mean()) if q_v.size else 0.0,
            "workload_variance": float(np.mean(self.variance)) if self.variance else 0.0,
            "infeasible_share": self.infeasible / n,
            "agent_steps": float(self.steps.sum()),
        }


def _episode_seeds(base: int, episode: int, B: int) -> list[int]:
    return [base + episode * B + b for b in range(B)]


def train_marl(
    env: Any,
    algo: str,
    steps: int,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    device: str = "auto",
) -> tuple[Any, pd.DataFrame]:
    """Train ``algo`` on ``env`` (an env or a zero-argument factory) for ``steps`` agent steps.

    Returns the agent and a history with one row per episode: episode, steps, return (mean
    per-vehicle episode sum), reward_per_step, latency_s, packet_loss,
    packet_loss_per_vehicle, workload_variance, infeasible_share, agent_steps, wall_s and
    the mean update metrics of the episode. ``progress(done, total)`` is called per episode.
    """
    if steps < 1:
        raise ValueError(f"steps = {steps}: must be ≥ 1")
    if isinstance(env, type) or not hasattr(env, "step"):
        env = env()  # a factory (an env class counts as one)
    agent = make_marl_agent(algo, env, seed=seed, device=device, params=params)
    B, V = env.B, env.V
    rollout = agent.make_rollout(B) if agent.kind == "on_policy" else None
    buffer = agent.make_buffer() if agent.kind == "off_policy" else None
    rows: list[dict[str, float]] = []
    episode, done_steps = 0, 0
    t_start = time.perf_counter()

    def _ppo_update(next_obs: dict[str, Any]) -> dict[str, float]:
        assert rollout is not None
        cfg = agent.config
        rollout.compute_returns(agent.value(next_obs), cfg.gamma, cfg.gae_lambda)
        out: dict[str, float] = agent.update(rollout)
        rollout.reset()
        return out

    while done_steps < steps:
        obs, _ = env.reset(_episode_seeds(seed * 1_000_000, episode, B))
        finished = np.zeros(B, dtype=bool)
        stats = _EpisodeStats(B, V)
        updates: list[dict[str, float]] = []
        for _ in range(env.horizon + 1):
            if rollout is not None:
                act, logp, value = agent.act_with_info(obs)
            else:
                act = agent.act(obs)
            next_obs, reward, term, trunc, info = env.step(act)
            active = np.asarray(obs["active"], dtype=bool)
            stats.add(active, ~finished, reward, info)
            finished |= np.asarray(term, dtype=bool) | np.asarray(trunc, dtype=bool)
            done_steps += B * V
            if rollout is not None:
                final_v = agent.value(next_obs) if np.any(trunc) else None
                rollout.add(obs, act, logp, value, reward, next_obs["active"], term, trunc, final_v)
                if rollout.full:
                    updates.append(_ppo_update(next_obs))
            if buffer is not None:
                agent.store(buffer, obs, act, reward, next_obs, term)
                learned = agent.learn(buffer)
                if learned:
                    updates.append(learned)
            obs = next_obs
            if finished.all():
                break
        else:
            raise RuntimeError(
                f"the env ran {env.horizon + 1} slots without ending every copy "
                f"(horizon = {env.horizon}); it must terminate or truncate all copies"
            )
        episode += 1
        if rollout is not None and rollout.pos > 0 and done_steps >= steps:
            updates.append(_ppo_update(obs))  # the leftover; every vehicle's last step has ended
        row: dict[str, float] = {"episode": float(episode), "steps": float(done_steps)}
        row |= stats.summary()
        row["wall_s"] = time.perf_counter() - t_start
        updates = [u for u in updates if u]
        for key in updates[0] if updates else ():
            row[key] = float(np.mean([u[key] for u in updates if key in u]))
        rows.append(row)
        if progress is not None:
            progress(min(done_steps, steps), steps)
    history = pd.DataFrame(rows)
    history[["episode", "steps"]] = history[["episode", "steps"]].astype(int)
    return agent, history


def evaluate_marl(
    agent: Any, env: Any, seed: int, episodes: int = 1, deterministic: bool = True
) -> dict[str, float]:
    """Run ``agent`` without learning for ``episodes`` episodes of every copy of ``env``.

    Episode ``k`` resets copy ``b`` with seed ``seed + k·B + b``. Returns, over all active
    agent-steps: ``reward_per_step`` (mean reward), ``latency_s`` (and ``latency_ok_s`` over
    the steps without failure), ``packet_loss`` (mean ξ,
    paper B eq. (14)), ``infeasible_share`` (share of masked actions executed); over vehicles:
    ``packet_loss_per_vehicle`` (eq. (15) q_v averaged) and ``return`` (mean episode sum);
    over slots of running copies: ``workload_variance``; plus ``episodes`` and
    ``agent_steps``.
    """
    if episodes < 1:
        raise ValueError(f"episodes = {episodes}: must be ≥ 1")
    B, V = env.B, env.V
    per_episode: list[dict[str, float]] = []
    for ep in range(episodes):
        obs, _ = env.reset(_episode_seeds(seed, ep, B))
        finished = np.zeros(B, dtype=bool)
        stats = _EpisodeStats(B, V)
        for _ in range(env.horizon + 1):
            act = agent.act(obs, deterministic=deterministic)
            next_obs, reward, term, trunc, info = env.step(act)
            stats.add(np.asarray(obs["active"], dtype=bool), ~finished, reward, info)
            finished |= np.asarray(term, dtype=bool) | np.asarray(trunc, dtype=bool)
            obs = next_obs
            if finished.all():
                break
        per_episode.append(stats.summary())
    frame = pd.DataFrame(per_episode)
    weights = frame["agent_steps"].to_numpy()
    out = {"episodes": float(episodes), "agent_steps": float(weights.sum())}
    for key in ("reward_per_step", "latency_s", "packet_loss", "infeasible_share"):
        out[key] = float(np.average(frame[key], weights=np.maximum(weights, 1e-12)))
    ok_steps = weights * (1.0 - frame["packet_loss"].to_numpy())
    ok_latency = np.nan_to_num(frame["latency_ok_s"].to_numpy()) * ok_steps
    out["latency_ok_s"] = (
        float(ok_latency.sum() / ok_steps.sum()) if ok_steps.sum() > 0 else float("nan")
    )
    for key in ("return", "packet_loss_per_vehicle", "workload_variance"):
        out[key] = float(frame[key].mean())
    return out
