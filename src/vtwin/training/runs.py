"""Training runs from a config: the env of the config's paper, the right loop, a run folder.

:func:`train` picks the single-agent loop (paper A), the multi-agent loop (paper B) or the
hybrid-action loop (paper C) from
the config's paper, writes ``config.yaml`` (resolved config + :class:`TrainSettings`) and
leaves the loop's ``metrics.csv`` / ``checkpoint.pt`` and a ``summary.json`` in the run
folder; :func:`evaluate` runs the trained agent of a folder on fresh seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from vtwin.agents.protocol import Agent, Policy
from vtwin.atomicio import write_atomic
from vtwin.config import VTwinConfig, config_to_yaml, validate_config
from vtwin.devices import available_memory_bytes, keep_freed_memory
from vtwin.training import hetero, hybrid, multi_agent, single_agent
from vtwin.training.checkpoint import CONFIG_FILE, Progress, RunFolder
from vtwin.training.metrics import metric_spec
from vtwin.training.registry import EnvKind, algorithm, env_kind, make_agent

__all__ = [
    "TrainSettings",
    "available_memory_bytes",
    "check_batch_memory",
    "copy_bytes",
    "evaluate",
    "evaluate_policy",
    "load_agent",
    "load_run",
    "make_env",
    "train",
    "train_agent",
]

_LOOPS = {
    "single_agent": single_agent,
    "multi_agent": multi_agent,
    "hybrid": hybrid,
    "heterogeneous": hetero,
}

_PAPER_ENVS: dict[str, EnvKind] = {
    "A": "single_agent",
    "B": "multi_agent",
    "C": "hybrid",
    "D": "heterogeneous",
}
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


def train_agent(
    env: Any,
    algo: str,
    steps: int,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    device: str = "auto",
    out_dir: Path | str | None = None,
    resume: bool = True,
    on_episode: Callable[[Mapping[str, float]], None] | None = None,
) -> tuple[Agent, pd.DataFrame]:
    """Train ``algo`` on a batched ``env`` (or a zero-argument env factory) for ``steps``
    agent transitions, with the loop of the env's kind.

    Returns the agent and its history, one row per episode (see ``single_agent.train_loop``
    and ``multi_agent.train_loop``). ``progress(done, total)`` (agent transitions) and
    ``on_episode(row)`` (the episode's metrics row: ``return`` and the env's metrics) are
    called after every episode. With
    ``out_dir`` the run folder gets ``metrics.csv`` and ``checkpoint.pt`` after every
    episode, and (``resume``) a run continues exactly from the checkpoint there. The process's
    allocator is set to keep freed blocks (:func:`~vtwin.devices.keep_freed_memory`).
    """
    if steps < 1:
        raise ValueError(f"steps = {steps}: must be ≥ 1")
    keep_freed_memory()  # large activations reused, not page-faulted in afresh
    if isinstance(env, type) or not hasattr(env, "step"):
        env = env()  # a factory (an env class counts as one)
    agent = make_agent(algo, env, seed=seed, device=device, params=params)
    run = None if out_dir is None else RunFolder(out_dir)
    if run is not None:
        run.clean_partial()  # what a killed run left half-written
        if not resume:
            run.clear()
    rows = _LOOPS[env_kind(env)].train_loop(
        env, agent, steps, seed, run, _episode_reporter(progress, on_episode)
    )
    return agent, pd.DataFrame(rows)


def _episode_reporter(
    progress: Callable[[int, int], None] | None,
    on_episode: Callable[[Mapping[str, float]], None] | None,
) -> Progress:
    """The loops' three-argument callback from the public two callbacks (None: silent)."""
    if progress is None and on_episode is None:
        return None

    def report(done: int, total: int, row: Mapping[str, float]) -> None:
        if progress is not None:
            progress(done, total)
        if on_episode is not None:
            on_episode(row)

    return report


def evaluate_policy(
    policy: Policy, env: Any, seed: int, episodes: int = 1, deterministic: bool = True
) -> dict[str, float]:
    """Run ``policy`` without learning for ``episodes`` episodes of every copy of ``env``.

    Episode ``k`` resets copy ``b`` with seed ``seed + k·B + b``. Single-agent envs:
    ``episodes``, ``return_mean``/``return_std`` (per-copy return), ``reward_per_slot`` and
    the env's metrics over all slots; multi-agent envs: ``episodes``, ``agent_steps``,
    ``reward_per_step``, ``return`` and the env's metrics
    (:func:`vtwin.training.metrics.combine_episodes`).
    """
    if episodes < 1:
        raise ValueError(f"episodes = {episodes}: must be ≥ 1")
    return _LOOPS[env_kind(env)].evaluate(policy, env, seed, episodes, deterministic)


def _paper_kind(config: VTwinConfig) -> EnvKind:
    if config.paper not in _PAPER_ENVS:
        raise ValueError(
            f"training on paper {config.paper} envs is not available yet; "
            f"papers with a batched env: {', '.join(_PAPER_ENVS)}"
        )
    return _PAPER_ENVS[config.paper]


def make_env(config: VTwinConfig, batch_envs: int) -> Any:
    """The batched env of a config's paper: ``BatchedPreMigration`` (A),
    ``BatchedMigrationRouting`` (B), ``BatchedCrossRealityPrivacy`` (C) or
    ``BatchedTwinUpdate`` (D) with ``batch_envs`` copies."""
    _paper_kind(config)
    if config.paper == "A":
        from vtwin.envs.premigration import BatchedPreMigration

        return BatchedPreMigration(config, batch_envs)
    if config.paper == "C":
        from vtwin.envs.privacy import BatchedCrossRealityPrivacy

        return BatchedCrossRealityPrivacy(config, batch_envs)
    if config.paper == "D":
        from vtwin.envs.twin_update import BatchedTwinUpdate

        return BatchedTwinUpdate(config, batch_envs)
    from vtwin.envs.routing import BatchedMigrationRouting

    return BatchedMigrationRouting(config, batch_envs)


def check_settings(config: VTwinConfig, settings: TrainSettings) -> None:
    """Refuse, before anything runs, a paper without a batched env or an algorithm that
    does not exist or does not serve the paper's env kind (the error lists the valid ones),
    a device this machine lacks, or a step budget below one."""
    from vtwin.devices import pick_device

    algorithm(settings.algo, _paper_kind(config))
    pick_device(settings.device)
    if (
        isinstance(settings.steps, bool)
        or not isinstance(settings.steps, int)
        or settings.steps < 1
    ):
        raise ValueError(f"steps = {settings.steps!r}: must be an integer ≥ 1")
    if settings.batch_envs < 1:
        raise ValueError(f"batch_envs = {settings.batch_envs!r}: must be an integer ≥ 1")
    check_batch_memory(config, settings.batch_envs)


MEMORY_HEADROOM = 16
"""How many times its env arrays one copy is taken to need while training (observations
kept for rollouts and replay, step temporaries): :func:`check_batch_memory`'s factor. The
peak resident memory per copy measured with 5 000-20 000 copies was 3-12 times the arrays
(paper A's PPO the most)."""
_CHECK_ABOVE = 64  # fewer copies are never refused (every preset's copy is well below 1 MB)


def copy_bytes(config: VTwinConfig) -> int:
    """Bytes of numpy arrays one more env copy holds after a reset: the difference between
    the env of ``config`` built with 3 copies and with 1, halved (both cheap to build)."""
    sizes = []
    for copies in (1, 3):
        env = make_env(config, copies)
        first = env.reset(0)
        sizes.append(_array_bytes(env, set()) + _array_bytes(first, set()))
    return max(0, (sizes[1] - sizes[0]) // 2)


def _array_bytes(obj: Any, seen: set[int], depth: int = 0) -> int:
    """Bytes owned by the numpy arrays reachable from ``obj`` through containers and vtwin
    objects (each counted once; views count nothing)."""
    if id(obj) in seen or depth > 8:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes) if obj.base is None else 0
    if isinstance(obj, dict):
        return sum(_array_bytes(v, seen, depth + 1) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_array_bytes(v, seen, depth + 1) for v in obj)
    if not (type(obj).__module__ or "").startswith("vtwin"):
        return 0
    slots = getattr(type(obj), "__slots__", ())
    members = [getattr(obj, n, None) for n in slots] if slots else []
    members += list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    return sum(_array_bytes(v, seen, depth + 1) for v in members)


def check_batch_memory(config: VTwinConfig, batch_envs: int, available: int | None = None) -> None:
    """Refuse, before allocating, more env copies than memory holds: ``batch_envs`` ×
    :func:`copy_bytes` × :data:`MEMORY_HEADROOM` against ``available`` bytes (default
    :func:`available_memory_bytes`). Up to 64 copies are not checked."""
    if batch_envs <= _CHECK_ABOVE:
        return
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    per_copy = max(1, copy_bytes(config)) * MEMORY_HEADROOM
    if batch_envs * per_copy > available:
        gib = 2**30
        raise ValueError(
            f"batch_envs = {batch_envs}: {batch_envs} copies of {config.name} need about "
            f"{batch_envs * per_copy / gib:.3g} GiB ({per_copy / 1024:.0f} KiB each), more than "
            f"the {available / gib:.3g} GiB available; at most {available // per_copy} fit"
        )


def train(
    config: VTwinConfig,
    settings: TrainSettings,
    out_dir: Path | str,
    *,
    resume: bool = True,
    progress: Callable[[int, int], None] | None = None,
    on_episode: Callable[[Mapping[str, float]], None] | None = None,
) -> dict[str, float]:
    """Train until ``settings.steps`` agent transitions (slots × copies × vehicles) are done.

    Resumes from ``out_dir/checkpoint.pt`` when present: the same config and settings are
    required, except a larger ``steps``, which continues the run; ``resume=False`` discards
    a run stored there. A folder without a checkpoint (an earlier attempt that failed before
    its first episode) is taken over. Training runs whole episodes, so ``steps`` rounds up
    to the next episode's end.
    Returns the summary (also written to ``summary.json``): ``episodes``, ``steps``,
    ``final_return`` and ``final_<metric>`` for each of the env's episode metrics, means
    over the last fifth of the episodes.
    """
    check_settings(config, settings)  # before anything is written
    env = make_env(config, settings.batch_envs)
    # the agent too, so that bad algorithm parameters fail before anything is written
    agent = make_agent(
        settings.algo, env, seed=settings.seed, device=settings.device, params=settings.algo_params
    )
    run = RunFolder(out_dir)
    run.clean_partial()  # what a killed run left half-written
    record = {"config": yaml.safe_load(config_to_yaml(config)), "train": asdict(settings)}
    cfg_path = run.file(CONFIG_FILE)
    if not resume:
        run.clear()
    elif cfg_path.exists() and run.has_checkpoint():
        _check_continuation(run, _read_record(cfg_path), record)
        run.load()  # a damaged checkpoint is refused before the record is rewritten
    # without a checkpoint nothing was trained here (say, an earlier attempt failed), so a
    # corrected command takes the folder over
    write_atomic(cfg_path, lambda p: p.write_text(yaml.safe_dump(record, sort_keys=False)))
    rows = _LOOPS[env_kind(env)].train_loop(
        env, agent, settings.steps, settings.seed, run, _episode_reporter(progress, on_episode)
    )
    history = pd.DataFrame(rows)
    tail = history.iloc[-max(1, len(history) // 5) :]
    summary = {"episodes": float(len(history)), "steps": float(history["steps"].iloc[-1])}
    for col in ("return", *(metric_spec(env) or {})):
        summary[f"final_{col}"] = float(np.mean(tail[col].to_numpy()))
    run.write_summary(summary)
    return summary


def _read_record(path: Path) -> dict[str, Any]:
    """A run folder's ``config.yaml``: the config and the train settings; ValueError naming
    the file when it is missing, unreadable or not such a record."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file; is {path.parent} a folder written by vtwin train?")
    try:
        record = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a readable run record ({first})") from None
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    train = record.get("train") if isinstance(record, dict) else None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("config"), dict)
        or not isinstance(train, dict)
        or set(train) != fields
    ):
        raise ValueError(
            f"{path}: not a vtwin run record (expected 'config' and 'train' with "
            f"{', '.join(sorted(fields))})"
        )
    return record


def _check_continuation(run: RunFolder, stored: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Refuse to continue a trained run with other settings, naming what changed; a larger
    ``steps`` continues it from its checkpoint."""
    train = wanted["train"]
    changed = [f"train.{k}" for k in train if stored["train"].get(k) != train[k]]
    if stored["config"] != wanted["config"]:
        changed.insert(0, "config")
    if changed == ["train.steps"] or not changed:
        return
    raise ValueError(
        f"{run.path} holds a trained run with other settings ({', '.join(changed)} differ); "
        "use another --out, or --fresh to discard that run"
    )


def load_run(run_dir: Path | str) -> tuple[VTwinConfig, TrainSettings]:
    """The config and settings a run folder was trained with (ValueError naming the file
    when ``config.yaml`` is missing or broken)."""
    path = Path(run_dir) / CONFIG_FILE
    record = _read_record(path)
    config = validate_config(record["config"], source=str(path))
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
    return evaluate_policy(agent, env, seed, episodes, deterministic)
