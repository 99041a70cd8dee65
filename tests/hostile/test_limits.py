"""Limits: env copies beyond memory and pool workers beyond the cores are refused up front,
with one line naming the value and what fits."""

from __future__ import annotations

import pytest

from vtwin.config import load_config
from vtwin.experiments.executor import LocalExecutor, max_local_workers, usable_cpus
from vtwin.training import TrainSettings
from vtwin.training.runs import MEMORY_HEADROOM, check_batch_memory, copy_bytes, make_env


def test_copy_bytes_counts_what_one_more_copy_allocates() -> None:
    cfg = load_config("paper-d-tiny")
    per_copy = copy_bytes(cfg)
    assert per_copy > 0
    env = make_env(cfg, 1)
    env.reset(0)
    # the env's per-copy state holds at least its first observation's arrays
    obs = env.reset(0)[0]
    first = sum(v.nbytes for v in obs.values()) if isinstance(obs, dict) else obs.nbytes
    assert per_copy >= first


def test_copies_are_refused_when_memory_cannot_hold_them() -> None:
    cfg = load_config("paper-a-tiny")
    per_copy = copy_bytes(cfg) * MEMORY_HEADROOM
    fits = 1000 * per_copy
    check_batch_memory(cfg, 1000, available=fits)  # exactly fits
    with pytest.raises(ValueError, match=r"batch_envs = 1001: .* at most 1000 fit"):
        check_batch_memory(cfg, 1001, available=fits)
    check_batch_memory(cfg, 64, available=0)  # small batches are never refused
    from vtwin.training.runs import check_settings

    with pytest.raises(ValueError, match="batch_envs = 1000000000"):
        check_settings(cfg, TrainSettings("random", steps=10, batch_envs=10**9))


def test_local_workers_are_bounded_by_the_cores() -> None:
    assert max_local_workers() == 4 * usable_cpus()
    assert LocalExecutor(max_local_workers()).workers == max_local_workers()
    with pytest.raises(ValueError, match=rf"workers = {max_local_workers() + 1}: at most"):
        LocalExecutor(max_local_workers() + 1)
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="must be an int ≥ 1"):
            LocalExecutor(bad)  # type: ignore[arg-type]
