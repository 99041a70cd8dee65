"""Same seed, same result: every registered algorithm on every env kind it serves, trained
twice from one seed on the CPU, ends with identical weights (every tensor of
``agent.checkpoint()``, compared exactly) and identical metrics histories; another seed
gives other ones. Training must not read global random state either: the second run
scrambles Python's, numpy's and torch's global generators after every episode. And a real
learner-backed experiment stores the same files with ``--workers 1`` and ``--workers 2``."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from vtwin.config import load_config
from vtwin.training import make_agent, train_agent
from vtwin.training.registry import ALGORITHMS, EnvKind
from vtwin.training.runs import make_env

WORLDS: dict[EnvKind, tuple[str, list[str]]] = {
    "single_agent": ("paper-a-tiny", ["horizon_slots=10"]),
    "multi_agent": ("paper-b-tiny", ["horizon_slots=10"]),
    "hybrid": (
        "paper-c-synth",
        ["horizon_slots=10", "servers.rsu.count=8", "geography.width_m=3000"],
    ),
    "heterogeneous": ("paper-d-tiny", ["horizon_slots=10"]),
}
"""A tiny world of each env kind: 10-slot episodes of 2 copies."""

STEPS: dict[EnvKind, int] = {
    "single_agent": 200,  # 10 episodes of 2 copies × 1 vehicle × 10 slots
    "multi_agent": 240,  # 4-5 episodes of 2 copies × 3 vehicles (the active ones count)
    "hybrid": 200,  # 10 episodes of 2 copies × 10 slots
    "heterogeneous": 200,
}

_ON = {"hidden": [16, 16], "epochs": 2, "minibatch_size": 16, "rollout_slots": 4}
_OFF = {"hidden": [16, 16], "batch_size": 16, "learning_starts": 40, "buffer_size": 2000}
_DIFFUSION_PPO = {**_ON, "denoising_steps": 2, "denoiser_hidden": [16, 16], "t_dim": 4}
_TD3 = {
    **_OFF,
    "actor_hidden": [16, 16],
    "critic_embed": 8,
    "noise_decay_steps": 200,
}
PARAMS: dict[str, dict[str, Any]] = {
    "ppo": _ON,
    "dsac": {**_OFF, "denoising_steps": 3},
    "dm_mappo": _ON,
    "mappo": _ON,
    "masac": _OFF,
    "hppo": _ON,
    "hdppo": _DIFFUSION_PPO,
    "ghppo": _DIFFUSION_PPO,
    "ppo_relaxed": _ON,
    "hgdm": {**_OFF, "denoising_steps": 2},
    **dict.fromkeys(("su_hatd3", "haddpg", "matd3", "maddpg"), _TD3),
}
"""Tiny networks that learn from the first rollout (on-policy: every 4 slots) or from the
40th transition (off-policy), so a short run makes many gradient updates."""

PAIRS = [(name, kind) for name, algo in ALGORITHMS.items() for kind in sorted(algo.env_kinds)]


def test_every_env_kind_and_learner_is_covered() -> None:
    assert set(WORLDS) == set(typing.get_args(EnvKind)) == set(STEPS)
    learners = {n for n, _ in PAIRS if make_agent(n, _env(_kind(n))).kind != "none"}
    assert learners == set(PARAMS)
    assert len(PAIRS) >= 20


def _kind(name: str) -> EnvKind:
    return sorted(ALGORITHMS[name].env_kinds)[0]


def _env(kind: EnvKind) -> Any:
    preset, overrides = WORLDS[kind]
    return make_env(load_config(preset, overrides), 2)


def _scramble(_row: Mapping[str, float]) -> None:
    """Put the global generators in states nobody can predict (after every episode)."""
    entropy = int.from_bytes(os.urandom(8), "little")
    random.seed(entropy)
    np.random.seed(entropy % 2**32)  # noqa: NPY002 - the global state must not matter
    torch.manual_seed(entropy)
    torch.rand(3)


def _train(name: str, kind: EnvKind, seed: int, scramble: bool = False) -> tuple[Any, Any]:
    """(checkpoint, history without wall-clock time) of a fresh agent on a fresh env."""
    agent, history = train_agent(
        _env(kind),
        name,
        STEPS[kind],
        seed=seed,
        params=PARAMS.get(name),
        device="cpu",
        on_episode=_scramble if scramble else None,
    )
    return agent.checkpoint(), history.drop(columns=["wall_s"])


def _leaves(tree: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a checkpoint with its path (dicts by sorted key, sequences in order)."""
    if isinstance(tree, Mapping):
        for key in sorted(tree, key=str):
            yield from _leaves(tree[key], f"{path}/{key}")
    elif isinstance(tree, list | tuple):
        for i, item in enumerate(tree):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, tree


def _same(a: Any, b: Any) -> bool:
    """Exactly equal leaves: tensors and arrays bit for bit (dtype and shape too)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a, b)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b, equal_nan=True)) and np.asarray(a).dtype == b.dtype
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)


def _differences(a: Any, b: Any) -> list[str]:
    la, lb = dict(_leaves(a)), dict(_leaves(b))
    if set(la) != set(lb):
        return [f"keys differ: {sorted(set(la) ^ set(lb))[:5]}"]
    return [p for p in la if not _same(la[p], lb[p])]


def _weights(ckpt: dict[str, Any]) -> list[tuple[str, torch.Tensor]]:
    return [(p, v) for p, v in _leaves(ckpt.get("model", {})) if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize(("name", "kind"), PAIRS, ids=[f"{n}-{k}" for n, k in PAIRS])
def test_same_seed_same_weights_and_metrics(name: str, kind: EnvKind) -> None:
    first, history = _train(name, kind, seed=3)
    again, history_again = _train(name, kind, seed=3, scramble=True)
    assert not _differences(first, again), _differences(first, again)[:5]
    pd.testing.assert_frame_equal(history, history_again, check_exact=True)
    other, history_other = _train(name, kind, seed=4)
    assert not history.equals(history_other), "another seed gave the same metrics"
    if name not in PARAMS:  # a rule or random baseline: no weights
        return
    untrained = make_agent(name, _env(kind), seed=3, device="cpu", params=PARAMS[name])
    before = dict(_weights(untrained.checkpoint()))
    trained = _weights(first)
    assert trained, "a learner without weights"
    assert any(not torch.equal(before[p], w) for p, w in trained), "no gradient update happened"
    other_weights = dict(_weights(other))
    assert any(not torch.equal(other_weights[p], w) for p, w in trained), "seed ignored"


# -- --workers 1 and --workers 2 give the same stored files

TINY_BUDGET = {
    "steps": 120,  # 6 episodes of 2 copies × 10 slots; learning from transition 40
    "slots": 10,
    "batch": 2,
    "eval_batch": 2,
    "eval_episodes": 1,
    "learning_starts": 40,
    "batch_size": 16,
}
WALL_CLOCK = frozenset({"train_minutes", "transitions_per_s", "wall_s"})
"""Summary entries that measure time, not results: the only ones allowed to differ."""


def _stored(folder: Path) -> dict[str, bytes]:
    """Every stored run's summary (without wall-clock entries), metrics and artifacts."""
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.name in ("metrics.csv", "artifacts.json"):
            files[rel] = path.read_bytes()
        elif path.name == "summary.json":
            summary = json.loads(path.read_text())
            kept = {k: v for k, v in summary.items() if k not in WALL_CLOCK}
            files[rel] = json.dumps(kept, indent=1).encode()
    return files


def test_one_and_two_workers_store_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """paper-d-learners (SU-HATD3 and the rule; two seeds) on a tiny budget, inline
    and in a pool of two spawned processes: identical summaries, metrics and artifacts."""
    from vtwin.experiments import registry
    from vtwin.experiments.runner import reproduce

    name = "paper-d-learners"
    exp = registry.get_experiment(name)
    tiny = dataclasses.replace(exp, budgets={"quick": TINY_BUDGET, "full": TINY_BUDGET})
    monkeypatch.setitem(registry._REGISTRY, name, tiny)  # specs carry the budget to workers
    methods = ["su_hatd3", "rule"]
    reports = {
        workers: reproduce(
            name,
            quick=True,
            seeds=2,
            methods=methods,
            out=tmp_path / f"w{workers}",
            workers=workers,
            progress=False,
        )
        for workers in (1, 2)
    }
    assert all(r.ok for r in reports.values())
    one, two = (_stored(tmp_path / f"w{w}" / name) for w in (1, 2))
    summaries = [f for f in one if f.endswith("summary.json")]
    assert len(summaries) == 2 * len(methods)
    timed = tmp_path / "w1" / name / next(f for f in summaries if "su_hatd3" in f)
    assert WALL_CLOCK & set(json.loads(timed.read_text())), "learners record their time"
    assert one.keys() == two.keys()
    assert [f for f in one if one[f] != two[f]] == []


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_building_a_learner_leaves_the_global_generator_alone(name: str) -> None:
    """Weights come from the agent's seed alone; the caller's torch stream goes on as if no
    agent had been built (before, building one re-seeded torch for the whole process)."""
    env = _env(_kind(name))
    torch.manual_seed(11)
    expected = torch.rand(4)
    torch.manual_seed(11)
    first = make_agent(name, env, seed=5, device="cpu", params=PARAMS[name])
    assert torch.equal(torch.rand(4), expected)
    torch.manual_seed(99)
    second = make_agent(name, env, seed=5, device="cpu", params=PARAMS[name])
    assert not _differences(_weights(first.checkpoint()), _weights(second.checkpoint()))
