"""``vtwin reward-design``: bad options are one-line errors (exit status 2), nothing runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vtwin.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "paper-a"], "paper A's; the loop needs a paper C preset"),
        (["--preset", "nope"], "nope"),
        (["--set", "privacy.r_max_deg=-1"], "r_max_deg"),
        (["--select", "speed"], "select = 'speed'; allowed: utility"),
        (["--method", "dqn"], "method = 'dqn'; allowed: hdppo, hppo, ghppo"),
        (["--max-weight-ratio", "0.5"], "max_weight_ratio = 0.5"),
        (["--save-as", "../etc/x"], "--save-as '../etc/x'"),
        (["--preference-file", "/nonexistent/pref.txt"], "--preference-file"),
        (["--offline-script", "/nonexistent/script.yaml"], "cannot read the script"),
        (["--backend", "dask"], "unknown backend 'dask'. Valid backends: local, ray"),
        (["--address", "auto"], "--address auto: only the ray backend joins a cluster"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["reward-design", "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output, result.output
    assert "Traceback" not in result.output
    assert not (out / "round_00").exists()


def test_an_unreachable_server_is_an_error_that_says_the_run_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["reward-design", "--out", str(out), "--preset", "paper-c-synth", "--slots", "12",
            "--batch", "2", "--base-url", "http://127.0.0.1:9/v1", "--timeout", "2"]  # fmt: skip
    result = runner.invoke(app, [*args, "--model", "m"], env={"OPENAI_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert "connection error" in result.output and "rerun the same command" in result.output
    assert (out / "settings.json").exists() and not list(out.rglob("reply.json"))


def test_the_ray_backend_without_ray_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    out = tmp_path / "run"
    result = runner.invoke(app, ["reward-design", "--out", str(out), "--backend", "ray"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "pip install 'vtwin[ray]'" in result.output
    assert "Traceback" not in result.output and not (out / "round_00").exists()
