"""Training loop: metrics per episode, determinism per seed, resume == uninterrupted, CLI."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

from vtwin.cli import app
from vtwin.config import load_config
from vtwin.training import TrainSettings, evaluate, make_agent, train

TINY = ["horizon_slots=10"]
PPO = {"minibatch_size": 10, "epochs": 2, "hidden": [16, 16], "rollout_slots": 4}


def _metrics(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "metrics.csv").drop(columns=["wall_s"])


def test_random_run_writes_one_row_per_episode(tmp_path: Path) -> None:
    cfg = load_config("paper-a", TINY)
    summary = train(cfg, TrainSettings("random", steps=60, batch_envs=2), tmp_path)
    m = pd.read_csv(tmp_path / "metrics.csv")
    assert list(m["episode"]) == [1, 2, 3] and list(m["steps"]) == [20, 40, 60]
    assert (m["latency_s"] > 0).all() and (m["return"] < 0).all()
    assert summary["episodes"] == 3 and (tmp_path / "summary.json").exists()
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "config.yaml").exists()


def test_ppo_training_is_deterministic_per_seed(tmp_path: Path) -> None:
    cfg = load_config("paper-a", TINY)
    s = TrainSettings("ppo", steps=60, seed=3, batch_envs=2, device="cpu", algo_params=PPO)
    train(cfg, s, tmp_path / "a")
    train(cfg, s, tmp_path / "b")
    pd.testing.assert_frame_equal(_metrics(tmp_path / "a"), _metrics(tmp_path / "b"))
    other = TrainSettings("ppo", steps=60, seed=4, batch_envs=2, device="cpu", algo_params=PPO)
    train(cfg, other, tmp_path / "c")
    assert not _metrics(tmp_path / "a").equals(_metrics(tmp_path / "c"))


def test_resumed_run_equals_uninterrupted_run(tmp_path: Path) -> None:
    cfg = load_config("paper-a", TINY)
    full = TrainSettings("ppo", steps=80, seed=1, batch_envs=2, device="cpu", algo_params=PPO)
    train(cfg, full, tmp_path / "straight")
    short = TrainSettings("ppo", steps=40, seed=1, batch_envs=2, device="cpu", algo_params=PPO)
    # an interrupted run: same folder, trained half way, then continued with the full budget
    # (a larger budget continues a stored run)
    train(cfg, short, tmp_path / "resumed")
    train(cfg, full, tmp_path / "resumed")
    pd.testing.assert_frame_equal(_metrics(tmp_path / "straight"), _metrics(tmp_path / "resumed"))
    a = evaluate(tmp_path / "straight", episodes=1)
    b = evaluate(tmp_path / "resumed", episodes=1)
    assert a == b


def test_other_settings_in_a_used_folder_are_refused(tmp_path: Path) -> None:
    cfg = load_config("paper-a", TINY)
    train(cfg, TrainSettings("random", steps=20, batch_envs=2), tmp_path)
    with pytest.raises(ValueError, match=r"holds a trained run with other settings \(train.seed"):
        train(cfg, TrainSettings("random", steps=20, batch_envs=2, seed=9), tmp_path)


def test_unknown_algo_and_parameters() -> None:
    env = SimpleNamespace(obs_dim=4, n_actions=3)  # a single-agent env's sizes
    with pytest.raises(ValueError, match="unknown algo 'sac'; valid: ppo, dsac, random"):
        make_agent("sac", env, seed=0)
    with pytest.raises(ValueError, match=r"unknown PPOConfig parameter\(s\) \['lrr'\]"):
        make_agent("ppo", env, seed=0, params={"lrr": 1e-3})
    with pytest.raises(ValueError, match="'masac' does not serve single-agent envs; valid: ppo"):
        make_agent("masac", env)


def test_cli_train_and_evaluate(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "--env",
            "paper-a",
            "--algo",
            "random",
            "--steps",
            "40",
            "--set",
            "horizon_slots=10",
            "--batch-envs",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "final_return" in result.stdout
    # where the output lands, before training starts; the bar's live episode return
    assert "run folder:" in result.stderr and str(out.name) in result.stderr
    assert "episode 2" in result.stderr and "return -" in result.stderr
    result = runner.invoke(app, ["evaluate", str(out), "--episodes", "1"])
    assert result.exit_code == 0, result.output
    assert "latency_s" in result.stdout
    bad = runner.invoke(app, ["train", "--env", "paper-a", "--algo", "nope", "--steps", "5"])
    assert bad.exit_code == 2 and "unknown algo 'nope'" in bad.stderr
    missing = runner.invoke(app, ["evaluate", str(tmp_path / "none")])
    assert missing.exit_code == 2


def test_dsac_trains_in_the_loop_and_resumes_identically(tmp_path: Path) -> None:
    cfg = load_config("paper-a", TINY)
    params = {
        "denoising_steps": 3,
        "learning_starts": 20,
        "batch_size": 16,
        "hidden": [32, 32],
        "buffer_size": 1000,
    }
    full = TrainSettings("dsac", steps=60, seed=2, batch_envs=2, device="cpu", algo_params=params)
    train(cfg, full, tmp_path / "a")
    m = _metrics(tmp_path / "a")
    assert "critic_loss" in m.columns and m["critic_loss"].notna().iloc[-1]
    half = TrainSettings("dsac", steps=40, seed=2, batch_envs=2, device="cpu", algo_params=params)
    train(cfg, half, tmp_path / "b")
    (tmp_path / "b" / "config.yaml").unlink()
    train(cfg, full, tmp_path / "b")
    pd.testing.assert_frame_equal(m, _metrics(tmp_path / "b"))
