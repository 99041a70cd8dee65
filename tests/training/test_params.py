"""Algorithm parameters (``-p name=value``): types and ranges checked by name, one message."""

from __future__ import annotations

import math
from typing import Any

import pytest
from typer.testing import CliRunner

from vtwin.agents.hatd3 import HATD3Config
from vtwin.agents.mappo import MAPPOConfig
from vtwin.agents.masac import MASACConfig
from vtwin.agents.ppo import PPOConfig
from vtwin.cli import app
from vtwin.training.registry import config_from_params


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (PPOConfig, {"lr": "abc"}, "PPOConfig.lr = 'abc': Input should be a valid number"),
        (PPOConfig, {"rollout_slots": 0}, "PPOConfig.rollout_slots = 0: must be an integer ≥ 1"),
        (PPOConfig, {"epochs": 2.5}, "PPOConfig.epochs = 2.5: Input should be a valid integer"),
        (PPOConfig, {"lr": -1e-3}, "PPOConfig.lr = -0.001: must be > 0"),
        (PPOConfig, {"lr": math.nan}, "PPOConfig.lr = nan: must be a finite number"),
        (PPOConfig, {"ent_coef": math.inf}, "PPOConfig.ent_coef = inf: must be a finite"),
        (PPOConfig, {"gamma": 1.5}, "PPOConfig.gamma = 1.5: must be in [0, 1]"),
        (PPOConfig, {"hidden": [64, 0]}, "PPOConfig.hidden = (64, 0): layer sizes must be ≥ 1"),
        (PPOConfig, {"minibatch_size": -4}, "PPOConfig.minibatch_size = -4: must be an integer"),
        (MAPPOConfig, {"clip": 0.0}, "MAPPOConfig.clip = 0.0: must be > 0"),
        (MASACConfig, {"tau": 0.0}, "MASACConfig.tau = 0.0: must be in (0, 1]"),
        (MASACConfig, {"batch_size": 0}, "MASACConfig.batch_size = 0: must be an integer ≥ 1"),
        (HATD3Config, {"sensor_action": "x"}, "HATD3Config.sensor_action = 'x': Input should be"),
        (HATD3Config, {"explore_noise": -0.1}, "HATD3Config.explore_noise = -0.1: must be ≥ 0"),
    ],
)
def test_bad_parameter_is_one_message_naming_it(cls: Any, params: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        config_from_params(cls, params)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_good_parameters_are_converted() -> None:
    cfg = config_from_params(PPOConfig, {"lr": 1, "hidden": [32, 32]})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.hidden == (32, 32)
    sac = config_from_params(MASACConfig, {"learning_starts": 0, "lr_anneal_steps": 0})
    assert sac.learning_starts == 0  # counts that may be zero are listed by name
    assert config_from_params(PPOConfig, {"value_clip": None}).value_clip is None


def test_cli_turns_bad_parameters_and_stray_errors_into_one_line(tmp_path: Any) -> None:
    runner = CliRunner()
    base = ["train", "--env", "paper-a-tiny", "--algo", "ppo", "--steps", "50"]
    for param, shown in (("lr=abc", "PPOConfig.lr = 'abc'"), ("rollout_slots=0", "≥ 1")):
        result = runner.invoke(app, [*base, "-p", param, "--out", str(tmp_path / "r")])
        assert result.exit_code == 2, result.output
        assert shown in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_debug_flag_lets_the_traceback_through(monkeypatch: pytest.MonkeyPatch) -> None:
    import vtwin.config

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("internal failure\nsecond line")

    monkeypatch.setattr(vtwin.config, "list_presets", boom)
    monkeypatch.setattr("vtwin.cli.list_presets", boom)
    runner = CliRunner()
    result = runner.invoke(app, ["config", "list"])
    assert result.exit_code == 2
    assert "error: RuntimeError: internal failure (run with `vtwin --debug" in result.stderr
    assert "second line" not in result.stderr
    result = runner.invoke(app, ["--debug", "config", "list"])
    assert isinstance(result.exception, RuntimeError)
    monkeypatch.setenv("VTWIN_DEBUG", "1")
    result = runner.invoke(app, ["config", "list"])
    assert isinstance(result.exception, RuntimeError)
