"""Train and evaluate agents on the batched envs: metrics CSV, checkpoints and resume.

The loop knows envs and agents; neither knows the other. Episodes of all ``B`` env copies
start together (copy seeds ``seed·10⁶ + episode·B + b``), so a run can stop after any
episode and resume from its checkpoint to exactly the result of an uninterrupted run: the
checkpoint holds the agent (networks, optimisers, random states), the replay buffer of an
off-policy agent and the episode counter. On-policy agents update after every ``rollout_slots``
slots of all copies (bootstrapping from V of the next observation) and at each episode end.

A run folder holds ``config.yaml`` (resolved config + training settings), ``metrics.csv``
(one row per episode), ``checkpoint.pt`` and, at the end, ``summary.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from vtwin.agents.buffers import ReplayBuffer, RolloutBuffer
from vtwin.agents.heuristics import RandomAgent
from vtwin.agents.ppo import PPOAgent, PPOConfig
from vtwin.config import VTwinConfig, config_to_yaml, validate_config
from vtwin.envs.premigration import BatchedPreMigration

__all__ = [
    "ALGOS",
    "TrainSettings",
    "evaluate",
    "load_agent",
    "make_agent",
    "make_env",
    "run_policy",
    "train",
]

CONFIG_FILE, METRICS_FILE, CHECKPOINT_FILE, SUMMARY_FILE = (
    "config.yaml",
    "metrics.csv",
    "checkpoint.pt",
    "summary.json",
)


def _dsac_factory(
    obs_dim: int, n_actions: int, seed: int, device: str, params: dict[str, Any]
) -> Any:
    from vtwin.agents.dsac import DSACAgent, DSACConfig

    return DSACAgent(obs_dim, n_actions, _config(DSACConfig, params), device=device, seed=seed)


def _ppo_factory(
    obs_dim: int, n_actions: int, seed: int, device: str, params: dict[str, Any]
) -> Any:
    return PPOAgent(obs_dim, n_actions, _config(PPOConfig, params), device=device, seed=seed)


def _random_factory(
    obs_dim: int, n_actions: int, seed: int, device: str, params: dict[str, Any]
) -> Any:
    if params:
        raise ValueError(f"the random agent takes no parameters, got {sorted(params)}")
    return RandomAgent(obs_dim, n_actions, seed=seed)


ALGOS: dict[str, Callable[[int, int, int, str, dict[str, Any]], Any]] = {
    "ppo": _ppo_factory,
    "dsac": _dsac_factory,
    "random": _random_factory,
}


def _config(cls: Any, params: dict[str, Any]) -> Any:
    """Build a frozen dataclass config, rejecting unknown keys with the valid ones listed."""
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} parameter(s) {unknown}; valid: {', '.join(sorted(valid))}"
        )
    cooked = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return cls(**cooked)


def make_agent(
    algo: str,
    obs_dim: int,
    n_actions: int,
    *,
    seed: int,
    device: str = "auto",
    params: dict[str, Any] | None = None,
) -> Any:
    """An agent by name (``ppo``, ``dsac``, ``random``) with algorithm parameters."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algo '{algo}'; valid: {', '.join(ALGOS)}")
    return ALGOS[algo](obs_dim, n_actions, seed, device, dict(params or {}))


def make_env(config: VTwinConfig, batch_envs: int) -> BatchedPreMigration:
    """The batched env of a config's paper (paper A for now)."""
    if config.paper == "A":
        return BatchedPreMigration(config, batch_envs)
    raise ValueError(f"training on paper {config.paper} envs is not available yet (paper A only)")


@dataclass(frozen=True)
class TrainSettings:
    """How long and how wide to train, and the algorithm's parameters."""

    algo: str
    steps: int
    seed: int = 0
    batch_envs: int = 8
    device: str = "auto"
    algo_params: dict[str, Any] = field(default_factory=dict)


def _write_atomic(path: Path, writer: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    writer(tmp)
    os.replace(tmp, path)


def _save_checkpoint(
    path: Path, agent: Any, replay: ReplayBuffer | None, state: dict[str, Any]
) -> None:
    payload: dict[str, Any] = {"agent": agent.checkpoint(), "state": state}
    if replay is not None:
        n = replay.size
        payload["replay"] = {
            "obs": replay.obs[:n].copy(),
            "next_obs": replay.next_obs[:n].copy(),
            "actions": replay.actions[:n].copy(),
            "rewards": replay.rewards[:n].copy(),
            "terminated": replay.terminated[:n].copy(),
            "pos": replay.pos,
            "size": n,
        }
    _write_atomic(path, lambda p: torch.save(payload, p))


def _load_replay(replay: ReplayBuffer, data: dict[str, Any]) -> None:
    n = int(data["size"])
    for key in ("obs", "next_obs", "actions", "rewards", "terminated"):
        getattr(replay, key)[:n] = data[key]
    replay.pos, replay.size = int(data["pos"]), n


def train(
    config: VTwinConfig,
    settings: TrainSettings,
    out_dir: Path | str,
    *,
    resume: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Train until ``settings.steps`` agent transitions (slots × copies × vehicles) are done.

    Resumes from ``out_dir/checkpoint.pt`` when present (same config and settings required).
    Returns the summary (also written to ``summary.json``).
    """
    if settings.algo not in ALGOS:
        raise ValueError(f"unknown algo '{settings.algo}'; valid: {', '.join(ALGOS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {"config": yaml.safe_load(config_to_yaml(config)), "train": asdict(settings)}
    cfg_path = out / CONFIG_FILE
    if cfg_path.exists() and resume:
        stored = yaml.safe_load(cfg_path.read_text())
        if stored != record:
            raise ValueError(
                f"{out} holds a run with other settings; use another --out or resume=False"
            )
    _write_atomic(cfg_path, lambda p: p.write_text(yaml.safe_dump(record, sort_keys=False)))

    env = make_env(config, settings.batch_envs)
    n_agents = env.B * env.V
    agent = make_agent(
        settings.algo,
        env.obs_dim,
        env.n_actions,
        seed=settings.seed,
        device=settings.device,
        params=settings.algo_params,
    )
    horizon = env.horizon
    on_policy = agent.kind == "on_policy"
    off_policy = agent.kind == "off_policy"
    rollout = (
        RolloutBuffer(min(agent.config.rollout_slots, horizon), n_agents, env.obs_dim)
        if on_policy
        else None
    )
    replay = None
    if off_policy:
        # the capacity must not depend on the budget, or a resumed run would wrap differently;
        # numpy zero pages cost no memory until written
        replay = ReplayBuffer(agent.config.buffer_size, env.obs_dim)
    sample_rng = np.random.default_rng(settings.seed + 7)

    episode, done_steps = 0, 0
    rows: list[dict[str, float]] = []
    ckpt_path = out / CHECKPOINT_FILE
    metrics_path = out / METRICS_FILE
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        agent.restore(ckpt["agent"])
        episode, done_steps = int(ckpt["state"]["episode"]), int(ckpt["state"]["steps"])
        sample_rng.bit_generator.state = ckpt["state"]["sample_rng"]
        if replay is not None and "replay" in ckpt:
            _load_replay(replay, ckpt["replay"])
        if metrics_path.exists():
            rows = pd.read_csv(metrics_path).iloc[:episode].to_dict("records")

    t_start = time.perf_counter()
    while done_steps < settings.steps:
        obs, _ = env.reset(settings.seed * 1_000_000 + episode * env.B)
        flat = obs.reshape(n_agents, -1)
        ep_reward = np.zeros(n_agents)
        latency: list[float] = []
        updates: list[dict[str, float]] = []
        slots = 0
        for t in range(horizon):
            slots = t + 1
            if on_policy:
                act, logp, value = agent.act_with_info(flat)
            elif off_policy and replay is not None and len(replay) < agent.config.learning_starts:
                act = sample_rng.integers(0, env.n_actions, size=n_agents)
            else:
                act = agent.act(flat)
            next_obs, reward, terminated, truncated, info = env.step(act.reshape(env.B, env.V))
            next_flat = next_obs.reshape(n_agents, -1)
            rew = reward.reshape(n_agents)
            term = np.repeat(terminated, env.V)
            trunc = np.repeat(truncated, env.V)
            ep_reward += rew
            latency.append(float(info["latency_s"].mean()))
            if rollout is not None:
                final_v = agent.value(next_flat) if trunc.any() else None
                rollout.add(flat, act, logp, rew, value, term, trunc, final_v)
                if rollout.full and not (term.all() or trunc.all()):
                    rollout.compute_returns(
                        agent.value(next_flat), agent.config.gamma, agent.config.gae_lambda
                    )
                    updates.append(agent.update(rollout))
                    rollout.reset()
            if replay is not None:
                replay.add(flat, act, rew.astype(np.float32), next_flat, term)
                if len(replay) >= agent.config.learning_starts:
                    for _ in range(agent.config.updates_per_step):
                        batch = replay.sample(agent.config.batch_size, sample_rng, agent.device)
                        updates.append(agent.update(batch))
            flat = next_flat
            if term.all() or trunc.all():
                break
        done_steps += slots * n_agents
        if rollout is not None and rollout.pos > 0:
            # the episode's last steps are truncated (bootstrapped from final values) or
            # terminated, so the last value passed here is never used
            rollout.compute_returns(np.zeros(n_agents), agent.config.gamma, agent.config.gae_lambda)
            updates.append(agent.update(rollout))
            rollout.reset()
        episode += 1
        row = {
            "episode": episode,
            "steps": done_steps,
            "return": float(ep_reward.mean()),
            "reward_per_slot": float(ep_reward.mean() / slots),
            "latency_s": float(np.mean(latency)),
            "wall_s": time.perf_counter() - t_start,
        }
        if updates:
            for key in updates[0]:
                row[key] = float(np.mean([u[key] for u in updates if key in u]))
        rows.append(row)
        _write_atomic(metrics_path, lambda p: pd.DataFrame(rows).to_csv(p, index=False))
        state = {
            "episode": episode,
            "steps": done_steps,
            "sample_rng": sample_rng.bit_generator.state,
        }
        _save_checkpoint(ckpt_path, agent, replay, state)
        if progress is not None:
            progress(min(done_steps, settings.steps), settings.steps)

    tail = rows[-max(1, len(rows) // 5) :]
    summary = {
        "episodes": float(episode),
        "steps": float(done_steps),
        "final_return": float(np.mean([r["return"] for r in tail])),
        "final_latency_s": float(np.mean([r["latency_s"] for r in tail])),
    }
    _write_atomic(out / SUMMARY_FILE, lambda p: p.write_text(json.dumps(summary, indent=1)))
    return summary


def load_run(run_dir: Path | str) -> tuple[VTwinConfig, TrainSettings]:
    """The config and settings a run folder was trained with."""
    record = yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text())
    config = validate_config(record["config"], source=str(run_dir))
    return config, TrainSettings(**record["train"])


def run_policy(
    agent: Any,
    env: BatchedPreMigration,
    seed: int,
    *,
    episodes: int = 1,
    deterministic: bool = True,
) -> dict[str, float]:
    """Run ``agent`` (no learning) for whole episodes of every copy of ``env``.

    Episode ``k`` resets the copies with seeds ``seed + k·B + b``. Returns the mean and std
    over episodes of the per-copy return, and the mean reward and latency per slot.
    """
    n_agents = env.B * env.V
    returns, latency, rewards = [], [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed + ep * env.B)
        total = np.zeros(n_agents)
        for _ in range(env.horizon):
            act = agent.act(obs.reshape(n_agents, -1), deterministic=deterministic)
            obs, reward, _, truncated, info = env.step(act.reshape(env.B, env.V))
            total += reward.reshape(n_agents)
            rewards.append(float(reward.mean()))
            latency.append(float(info["latency_s"].mean()))
            if truncated.all():
                break
        returns.append(float(total.mean()))
    return {
        "episodes": float(episodes),
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "reward_per_slot": float(np.mean(rewards)),
        "latency_s": float(np.mean(latency)),
    }


def load_agent(run_dir: Path | str, config: VTwinConfig | None = None) -> tuple[Any, Any]:
    """The trained agent of ``run_dir`` and an env for it (``config`` replaces the run's own,
    e.g. to evaluate over a longer horizon; its observation and action sizes must match)."""
    run_config, settings = load_run(run_dir)
    env = make_env(config or run_config, settings.batch_envs)
    agent = make_agent(
        settings.algo,
        env.obs_dim,
        env.n_actions,
        seed=settings.seed,
        device=settings.device,
        params=settings.algo_params,
    )
    ckpt_path = Path(run_dir) / CHECKPOINT_FILE
    if not ckpt_path.exists():
        raise FileNotFoundError(f"{ckpt_path}: no checkpoint; train first")
    agent.restore(torch.load(ckpt_path, weights_only=False)["agent"])
    return agent, env


def evaluate(
    run_dir: Path | str, *, episodes: int = 3, seed: int = 123_456, deterministic: bool = True
) -> dict[str, float]:
    """Run the trained agent of ``run_dir`` on fresh seeds; mean return and latency."""
    agent, env = load_agent(run_dir)
    return run_policy(agent, env, seed, episodes=episodes, deterministic=deterministic)
