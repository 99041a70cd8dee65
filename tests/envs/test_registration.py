"""``import vtwin`` registers every env id without importing gymnasium or the envs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vtwin.envs import PARALLEL_ENVS, make_parallel

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


def test_import_vtwin_is_light() -> None:
    heavy = ("gymnasium", "pettingzoo", "torch", "numpy", "pydantic", "vtwin.envs.premigration")
    loaded = _run(f"import sys, vtwin; print([m for m in {heavy!r} if m in sys.modules])")
    assert loaded == "[]"


def test_gym_make_works_after_plain_import_vtwin() -> None:
    code = (
        "import vtwin, gymnasium as gym; "
        "env = gym.make('vtwin/PreMigration-v1', preset='paper-a-tiny'); "
        "obs, _ = env.reset(seed=0); print(obs.shape)"
    )
    assert _run(code) == "(25,)"  # 4M + 5 with M = 5 servers


def test_ids_registered_when_gymnasium_was_imported_first() -> None:
    code = (
        "import gymnasium.envs.registration as r, vtwin; "
        "print(r.registry['vtwin/PreMigration-v1'].entry_point)"
    )
    assert _run(code) == "vtwin.envs.premigration:PreMigrationEnv"


def test_make_parallel_knows_the_routing_id() -> None:
    assert "vtwin/MigrationRouting-v0" in PARALLEL_ENVS
    env = make_parallel("vtwin/MigrationRouting-v0", preset="paper-b-tiny")
    assert len(env.possible_agents) == env.batched.V
    with pytest.raises(ValueError, match=r"a Gymnasium id: use gymnasium.make"):
        make_parallel("vtwin/PreMigration-v1")
