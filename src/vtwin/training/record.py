"""Record one episode of one env copy as an :class:`vtwin.episode.EpisodeRecord`.

The recorder is the same for all four papers: it builds the config's batched env with one
copy, resets it with the episode seed and lets a policy act (deterministically by default)
until the episode ends. Before every step it asks the env for the slot's state
(``episode_state(0)``: where vehicles, sensors and UAVs are), after it for the outcome
(``episode_outcome(0, reward, info)``: hosts, perturbed positions, latency, reward, named
terms); ``episode_static(0)`` gives the fixed part. A copy reset with seed ``s`` is the same
episode as copy ``b`` of a batch whose ``b``-th seed is ``s``, so a recorded episode is the
one :func:`vtwin.training.evaluate` plays for that seed.

:func:`record_run` plays the trained agent of a ``vtwin train`` folder and saves
``episode.json`` there (atomically); :func:`ensure_record` reuses that file when it was
made from the same checkpoint, seed and acting mode.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vtwin.agents.protocol import Policy
from vtwin.config import VTwinConfig
from vtwin.episode import EpisodeRecord, RecordError, compact_frame, compact_static
from vtwin.training.checkpoint import CHECKPOINT_FILE, CONFIG_FILE, RunFolder
from vtwin.training.registry import env_kind, make_agent
from vtwin.training.runs import load_run, make_env

__all__ = [
    "DEFAULT_EPISODE_SEED",
    "EPISODE_FILE",
    "ensure_record",
    "record_episode",
    "record_policy",
    "record_run",
]

EPISODE_FILE = "episode.json"
DEFAULT_EPISODE_SEED = 123_456
"""The seed `vtwin evaluate` starts from: an episode the agent never trained on."""


def _act(kind: str, policy: Policy, env: Any, obs: Any, deterministic: bool) -> Any:
    """The env's action for ``obs`` from ``policy``, by the env kind's convention."""
    if kind == "single_agent":
        act = policy.act(obs.reshape(env.B * env.V, -1), deterministic=deterministic)
        return np.asarray(act).reshape(env.B, env.V)
    if kind == "hybrid":
        action, _step = policy.act(obs.reshape(env.B, -1), deterministic=deterministic)
        return action
    return policy.act(obs, deterministic=deterministic)  # multi-agent, heterogeneous


def record_episode(
    env: Any,
    policy: Policy,
    seed: int,
    *,
    deterministic: bool = True,
    meta: dict[str, Any] | None = None,
) -> EpisodeRecord:
    """Play one episode of copy 0 of the batched ``env`` (reset with ``seed``) with
    ``policy`` and record it; ``meta`` is merged into the record's meta part."""
    kind = env_kind(env)
    obs, _ = env.reset([seed] * env.B)
    static = env.episode_static(0)
    frames: list[dict[str, Any]] = []
    for _ in range(env.horizon + 1):
        state = env.episode_state(0)
        action = _act(kind, policy, env, obs, deterministic)
        obs, reward, terminated, truncated, info = env.step(action)
        frames.append(compact_frame({**state, **env.episode_outcome(0, reward, info)}))
        if bool(np.asarray(terminated)[0]) or bool(np.asarray(truncated)[0]):
            break
    static = compact_static({**static, "terms": list(frames[0]["terms"])})
    from vtwin import __version__

    record = EpisodeRecord(
        meta={
            "paper": env.config.paper,
            "preset": env.config.name,
            "episode_seed": int(seed),
            "deterministic": bool(deterministic),
            "slots": len(frames),
            "vtwin_version": __version__,
            **(meta or {}),
        },
        static=static,
        frames=frames,
    )
    record.validate(f"episode of {env.config.name}")
    return record


def record_policy(
    config: VTwinConfig,
    algo: str,
    seed: int = DEFAULT_EPISODE_SEED,
    *,
    agent_seed: int = 0,
    params: dict[str, Any] | None = None,
    deterministic: bool = True,
) -> EpisodeRecord:
    """Record an untrained agent of the registry (a rule, greedy or random policy, or a
    learner at its initial weights) on one copy of ``config``'s env."""
    env = make_env(config, 1)
    agent = make_agent(algo, env, seed=agent_seed, device="cpu", params=params)
    return record_episode(env, agent, seed, deterministic=deterministic, meta={"algo": algo})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise ValueError(f"run folder {run_dir} does not exist (a folder written by vtwin train)")
    for name in (CONFIG_FILE, CHECKPOINT_FILE):
        if not (run_dir / name).is_file():
            raise ValueError(
                f"{run_dir} has no {name}: not a folder written by vtwin train "
                "(it needs config.yaml and checkpoint.pt)"
            )


def record_run(
    run_dir: Path | str,
    seed: int = DEFAULT_EPISODE_SEED,
    *,
    deterministic: bool = True,
    save: bool = True,
) -> EpisodeRecord:
    """Record the trained agent of a ``vtwin train`` folder on one episode (seed ``seed``)
    and, with ``save``, write it to ``run_dir/episode.json``."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    try:
        config, settings = load_run(run_dir)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{run_dir / CONFIG_FILE}: not a config written by vtwin train ({_first_line(exc)})"
        ) from None
    env = make_env(config, 1)
    agent = make_agent(
        settings.algo, env, seed=settings.seed, device="cpu", params=settings.algo_params
    )
    try:
        agent.restore(RunFolder(run_dir).agent_state())
    except OSError:
        raise
    except Exception as exc:  # torch/pickle failures of any kind: one line naming the file
        raise ValueError(
            f"{run_dir / CHECKPOINT_FILE}: cannot restore the {settings.algo} agent "
            f"({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    record = record_episode(
        env,
        agent,
        seed,
        deterministic=deterministic,
        meta={
            "algo": settings.algo,
            "train_seed": settings.seed,
            "train_steps": settings.steps,
            "run_dir": str(run_dir),
            "checkpoint_sha256": _sha256(run_dir / CHECKPOINT_FILE),
        },
    )
    if save:
        record.save(run_dir / EPISODE_FILE)
    return record


def ensure_record(
    run_dir: Path | str, seed: int = DEFAULT_EPISODE_SEED, *, deterministic: bool = True
) -> tuple[EpisodeRecord, bool]:
    """The episode record of ``run_dir`` for ``seed``: ``episode.json`` when it was recorded
    from the current checkpoint with that seed and acting mode, else a fresh recording
    (saved). Returns the record and whether it was recorded now."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    path = run_dir / EPISODE_FILE
    if path.is_file():
        try:
            old = EpisodeRecord.load(path)
        except RecordError:
            old = None  # an old or damaged file: record again
        if (
            old is not None
            and old.meta.get("episode_seed") == seed
            and old.meta.get("deterministic") == deterministic
            and old.meta.get("checkpoint_sha256") == _sha256(run_dir / CHECKPOINT_FILE)
        ):
            return old, False
    return record_run(run_dir, seed, deterministic=deterministic), True
