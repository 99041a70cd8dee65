"""Training runs from a config: the env of the config's paper, the right loop, a run folder.

:func:`train` picks the single-agent loop (paper A) or the multi-agent loop (paper B) from
the config's paper, writes ``config.yaml`` (resolved config + :class:`TrainSettings`) and
leaves the loop's ``metrics.csv`` / ``checkpoint.pt`` and a ``summary.json`` in the run
folder; :func:`evaluate` runs the trained agent of a folder on fresh seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vtwin.agents.protocol import Agent
from vtwin.config import VTwinConfig, config_to_yaml, validate_config
from vtwin.training.checkpoint import CONFIG_FILE, RunFolder, write_atomic
from vtwin.training.metrics import metric_spec
from vtwin.training.multi_agent import evaluate_multi_agent, train_multi_agent
from vtwin.training.registry import EnvKind, algorithm, env_kind, make_agent
from vtwin.training.single_agent import evaluate_single_agent, train_single_agent

__all__ = ["TrainSettings", "evaluate", "load_agent", "load_run", "make_env", "train"]

_PAPER_ENVS: dict[str, EnvKind] = {"A": "single_agent", "B": "multi_agent"}
"""The papers with a batched env to train on, and its kind."""


@dataclass(frozen=True)
class TrainSettings:
    """How long and how wide to train, and the algorithm's parameters."""

    algo: str
    steps: int
    seed: int = 0
    batch_envs: int = 8
    device: str = "auto"
    algo_params: dict[str, Any] = field(default_factory=dict)


def _paper_kind(config: VTwinConfig) -> EnvKind:
    if config.paper not in _PAPER_ENVS:
        raise ValueError(
            f"training on paper {config.paper} envs is not available yet; "
            f"papers with a batched env: {', '.join(_PAPER_ENVS)}"
        )
    return _PAPER_ENVS[config.paper]


def make_env(config: VTwinConfig, batch_envs: int) -> Any:
    """The batched env of a config's paper: ``BatchedPreMigration`` (A) or
    ``BatchedMigrationRouting`` (B) with ``batch_envs`` copies."""
    _paper_kind(config)
    if config.paper == "A":
        from vtwin.envs.premigration import BatchedPreMigration

        return BatchedPreMigration(config, batch_envs)
    from vtwin.envs.routing import BatchedMigrationRouting

    return BatchedMigrationRouting(config, batch_envs)


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
    Returns the summary (also written to ``summary.json``): ``episodes``, ``steps``,
    ``final_return`` and ``final_<metric>`` for each of the env's episode metrics, means
    over the last fifth of the episodes.
    """
    algorithm(settings.algo, _paper_kind(config))  # refuse a bad name before writing anything
    run = RunFolder(out_dir)
    record = {"config": yaml.safe_load(config_to_yaml(config)), "train": asdict(settings)}
    cfg_path = run.file(CONFIG_FILE)
    if cfg_path.exists() and resume and yaml.safe_load(cfg_path.read_text()) != record:
        raise ValueError(
            f"{run.path} holds a run with other settings; use another --out or resume=False"
        )
    write_atomic(cfg_path, lambda p: p.write_text(yaml.safe_dump(record, sort_keys=False)))

    env = make_env(config, settings.batch_envs)
    loop = train_single_agent if env_kind(env) == "single_agent" else train_multi_agent
    _, history = loop(
        env,
        settings.algo,
        settings.steps,
        settings.seed,
        settings.algo_params,
        progress,
        device=settings.device,
        out_dir=run.path,
        resume=resume,
    )
    tail = history.iloc[-max(1, len(history) // 5) :]
    summary = {"episodes": float(len(history)), "steps": float(history["steps"].iloc[-1])}
    for col in ("return", *(metric_spec(env) or {})):
        summary[f"final_{col}"] = float(np.mean(tail[col].to_numpy()))
    run.write_summary(summary)
    return summary


def load_run(run_dir: Path | str) -> tuple[VTwinConfig, TrainSettings]:
    """The config and settings a run folder was trained with."""
    record = yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text())
    config = validate_config(record["config"], source=str(run_dir))
    return config, TrainSettings(**record["train"])


def load_agent(run_dir: Path | str, config: VTwinConfig | None = None) -> tuple[Agent, Any]:
    """The trained agent of ``run_dir`` and an env for it (``config`` replaces the run's own,
    e.g. to evaluate over a longer horizon; its observation and action sizes must match)."""
    run_config, settings = load_run(run_dir)
    env = make_env(config or run_config, settings.batch_envs)
    agent = make_agent(
        settings.algo,
        env,
        seed=settings.seed,
        device=settings.device,
        params=settings.algo_params,
    )
    agent.restore(RunFolder(run_dir).agent_state())
    return agent, env


def evaluate(
    run_dir: Path | str, *, episodes: int = 3, seed: int = 123_456, deterministic: bool = True
) -> dict[str, float]:
    """Run the trained agent of ``run_dir`` on fresh seeds: return and the env's metrics."""
    agent, env = load_agent(run_dir)
    if env_kind(env) == "single_agent":
        return evaluate_single_agent(
            agent, env, seed, episodes=episodes, deterministic=deterministic
        )
    return evaluate_multi_agent(agent, env, seed, episodes, deterministic)
