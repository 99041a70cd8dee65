"""``vtwin forecast train|evaluate`` end to end on small files, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from traffic_files import write_traffic_csv
from vtwin.cli import app

runner = CliRunner()


def _long_csv(path: Path) -> Path:
    return write_traffic_csv(path, seed=3)


def test_train_then_evaluate(tmp_path: Path) -> None:
    data = _long_csv(tmp_path / "loads.csv")
    out = tmp_path / "run"
    args = ["forecast", "train", str(data), "--model", "gru", "--epochs", "12", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "error rate" in result.output
    assert (out / "model.pt").is_file() and (out / "forecaster.json").is_file()
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert metrics["r2"] > 0.5
    again = runner.invoke(app, ["forecast", "evaluate", str(out)])
    assert again.exit_code == 0, again.output
    assert f"{metrics['rmse']:.4g}" in again.output
    other = runner.invoke(app, ["forecast", "evaluate", str(out), "synthetic", "--part", "all"])
    assert other.exit_code == 0, other.output


def test_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,sensor,flow\n0,a,1\n300,a,abc\n")
    result = runner.invoke(app, ["forecast", "train", str(bad)])
    assert result.exit_code == 2
    assert "line 3" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["forecast", "train", "synthetic", "--model", "arima"])
    assert result.exit_code == 2 and "allowed: lstm_transformer" in result.output
    result = runner.invoke(app, ["forecast", "train", "sample:nowhere"])
    assert result.exit_code == 2 and "sample:pems-detector" in result.output
    result = runner.invoke(app, ["forecast", "evaluate", str(tmp_path)])
    assert result.exit_code == 2 and "forecaster.json" in result.output
