"""Kill safety: SIGKILL of `vtwin train` (single- and multi-agent), `vtwin reproduce` and
`vtwin forecast train` at seeded random moments, then the same command again.

After every kill each file under its final name in the output folder parses (config.yaml,
metrics.csv, checkpoint.pt, summary.json, a forecaster folder that ``forecast evaluate``
accepts); the rerun finishes, leaves no temporary file, and its results equal those of an
uninterrupted run (metrics and summaries identical, apart from wall-clock columns; identical
final weights). Each command runs as a real subprocess, so the kill is real.

The fast version kills each command once, after it has saved some work (``forecast train``,
which saves only at its end, at a random moment); the ``slow`` one kills each six times at
random moments, every second one after some work is saved (and MASAC's training too, whose
resume point holds a replay buffer), 30 kills in all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from traffic_files import write_traffic_csv
from vtwin.experiments.store import RunStore
from vtwin.forecast.train import TrainedForecaster
from vtwin.training.checkpoint import RunFolder

ROOT = Path(__file__).resolve().parents[2]
TOYS = ROOT / "tests" / "experiments"
if str(TOYS) not in sys.path:  # the toy experiments (toy-slow) register on import
    sys.path.insert(0, str(TOYS))
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(TOYS)]),
    "OMP_NUM_THREADS": "1",  # the same torch thread count in every run (and a light load)
    "MKL_NUM_THREADS": "1",
    "VTWIN_RUN_THREADS": "1",
}
TEMP_NAME = re.compile(r"\.tmp(-\d+)?$|^\.tmp-")
"""Temporary names the package writes under (``.<name>.tmp-<pid>``, ``.tmp-<run>-<pid>``)."""
WALL_COLUMNS = ("wall_s",)
"""Metrics columns that measure elapsed time, which no two runs share."""


# ------------------------------------------------------------------------------ the commands
@dataclass(frozen=True)
class Command:
    """One CLI command that writes ``out``, and how to check and compare what it wrote."""

    name: str
    argv: Callable[[Path], list[str]]
    check: Callable[[Path], None]
    results: Callable[[Path], dict[str, Any]]


def _train_argv(env: str, algo: str, steps: int) -> Callable[[Path], list[str]]:
    def argv(out: Path) -> list[str]:
        return [
            *("-m", "vtwin.cli", "train", "--env", env, "--algo", algo),
            *("--steps", str(steps), "--batch-envs", "2", "--device", "cpu", "--seed", "3"),
            *("--out", str(out)),
        ]

    return argv


def _check_train(out: Path) -> None:
    """Every file of a training run folder that exists parses."""
    if (out / "config.yaml").exists():
        record = yaml.safe_load((out / "config.yaml").read_text())
        assert isinstance(record, dict) and {"config", "train"} <= set(record)
    if (out / "metrics.csv").exists():
        assert len(pd.read_csv(out / "metrics.csv")) >= 1
    if out.exists():
        RunFolder(out).load()  # None or a whole checkpoint; a damaged one raises
    if (out / "summary.json").exists():
        assert "final_return" in json.loads((out / "summary.json").read_text())


def _train_results(out: Path) -> dict[str, Any]:
    payload = RunFolder(out).load()
    assert payload is not None
    return {
        "config": (out / "config.yaml").read_text(),
        "metrics": pd.read_csv(out / "metrics.csv").drop(columns=list(WALL_COLUMNS)),
        "summary": json.loads((out / "summary.json").read_text()),
        "weights": payload["agent"],
        "history": [
            {k: v for k, v in row.items() if k not in WALL_COLUMNS} for row in payload["history"]
        ],
    }


TOY_RUNS = 8  # toy-slow: 2 methods × 4 sweep values × 1 seed, 0.3 s each


def _reproduce_argv(out: Path) -> list[str]:
    return [
        str(TOYS / "toy_experiments.py"),
        *("reproduce", "toy-slow", "--quick", "--workers", "2", "--no-progress"),
        *("--out", str(out)),
    ]


def _check_reproduce(out: Path) -> None:
    """Every run folder under its final name is complete and loads; figures and the report,
    where written, are whole."""
    exp = out / "toy-slow"
    if not exp.exists():
        return
    store = RunStore(out)
    for folder in exp.iterdir():
        if folder.name.startswith(".") or not folder.is_dir() or folder.name == "figures":
            continue
        assert (folder / "summary.json").is_file(), f"{folder} is under its final name unfinished"
        yaml.safe_load((folder / "config.yaml").read_text())
        spec = _toy_spec(folder.name)
        assert store.is_complete(spec), folder
    for csv in (exp / "figures").glob("*.csv"):
        assert len(pd.read_csv(csv)) >= 1
    for png in (exp / "figures").glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"
    if (exp / "REPORT.md").exists():
        assert (exp / "REPORT.md").read_text().startswith("#")


def _toy_spec(run_id: str) -> Any:
    import toy_experiments  # noqa: F401  (registers toy-slow)

    from vtwin.experiments import expand, get_experiment

    (spec,) = [s for s in expand(get_experiment("toy-slow"), quick=True) if s.run_id == run_id]
    return spec


def _reproduce_results(out: Path) -> dict[str, Any]:
    exp = out / "toy-slow"
    runs = sorted(p for p in exp.iterdir() if p.is_dir() and p.name.startswith("quick__"))
    assert len(runs) == TOY_RUNS
    found: dict[str, Any] = {}
    for run in runs:
        config = yaml.safe_load((run / "config.yaml").read_text())
        config.pop("saved_at")
        found[run.name] = {
            "config": config,
            **{name: (run / name).read_text() for name in ("metrics.csv", "summary.json")},
            "artifacts": (run / "artifacts.json").read_text(),
        }
    found["figure"] = (exp / "figures" / "cost_line.csv").read_text()
    assert (exp / "REPORT.md").is_file() and (exp / "REPORT.html").is_file()
    return found


def _forecast_argv(data: Path) -> Callable[[Path], list[str]]:
    def argv(out: Path) -> list[str]:
        return [
            *("-m", "vtwin.cli", "forecast", "train", str(data), "--model", "gru"),
            *("--epochs", "6", "--window", "4", "--device", "cpu", "--seed", "2"),
            *("--out", str(out)),
        ]

    return argv


def _check_forecast(out: Path) -> None:
    """A forecaster folder is either whole (loads, with its data and test metrics) or
    refused by ``forecast evaluate``."""
    if not out.exists():
        return
    if (out / "forecaster.json").exists():
        TrainedForecaster.load(out)
        json.loads((out / "data.json").read_text())
        json.loads((out / "test_metrics.json").read_text())
    else:
        with pytest.raises(FileNotFoundError, match=r"forecaster\.json"):
            TrainedForecaster.load(out)


def _forecast_results(out: Path) -> dict[str, Any]:
    return {
        name: (out / name).read_text()
        for name in ("forecaster.json", "data.json", "test_metrics.json")
    } | {"weights": torch.load(out / "model.pt", weights_only=True)}


def _traffic_csv(path: Path) -> Path:
    """A small long-format traffic file: 2 sensors × 3 days of 5-minute flows."""
    return write_traffic_csv(path, seed=5)


def _command(name: str, tmp: Path) -> Command:
    if name == "train-a":
        return Command(name, _train_argv("paper-a-tiny", "ppo", 600), _check_train, _train_results)
    if name == "train-b":
        return Command(
            name, _train_argv("paper-b-tiny", "dm_mappo", 936), _check_train, _train_results
        )
    if name == "train-masac":  # off-policy: the replay buffer is part of the resume point
        return Command(
            name, _train_argv("paper-b-tiny", "masac", 936), _check_train, _train_results
        )
    if name == "reproduce":
        return Command(name, _reproduce_argv, _check_reproduce, _reproduce_results)
    data = tmp / "kill-safety-loads.csv"  # one path for the reference and every trial
    if not data.exists():
        _traffic_csv(data)
    return Command(name, _forecast_argv(data), _check_forecast, _forecast_results)


# ------------------------------------------------------------------------------ the trials
def _start(cmd: Command, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *cmd.argv(out)],
        env=ENV,
        cwd=out.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(cmd: Command, out: Path, timeout: float = 300) -> float:
    """Run the command to its end; returns its wall time (s)."""
    began = time.perf_counter()
    proc = _start(cmd, out)
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return time.perf_counter() - began


@dataclass
class Trials:
    """What the kills of one command did."""

    killed: int = 0
    ran_out: int = 0  # attempts that finished before their kill moment
    cycles: int = 0  # killed-and-resumed runs compared with the uninterrupted one
    left_temps: int = 0  # kills that left a temporary file behind (for the rerun to remove)
    after_saves: int = 0  # kills after the command had saved some work (not just config)
    delays: list[float] = field(default_factory=list)


def _saved_work(out: Path) -> bool:
    """Whether the command has saved some of its work (a file besides its config)."""
    return out.exists() and any(
        p.is_file() and not TEMP_NAME.search(p.name) and p.name != "config.yaml"
        for p in out.rglob("*")
    )


def _attempt(
    cmd: Command, out: Path, delay: float, trials: Trials, *, after_save: bool = False
) -> bool:
    """Start the command and SIGKILL it after ``delay`` seconds (``after_save``: counted
    from the moment it first saved some work) unless it finishes first; returns whether it
    was killed, after checking the folder."""
    proc = _start(cmd, out)
    if after_save:
        while proc.poll() is None and not _saved_work(out):
            time.sleep(0.02)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.returncode == -signal.SIGKILL:  # not finished in between
            trials.killed += 1
            trials.delays.append(round(delay, 2))
            trials.left_temps += bool(_temp_files(out.parent))
            trials.after_saves += _saved_work(out)
        else:
            trials.ran_out += 1
    else:
        assert proc.returncode == 0, proc.stderr.read().decode(errors="replace")[-2000:]
        trials.ran_out += 1
    assert proc.stderr is not None
    proc.stderr.close()
    cmd.check(out)
    return proc.returncode == -signal.SIGKILL


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if TEMP_NAME.search(p.name)]


def _assert_same(got: Any, want: Any, where: str = "") -> None:
    """Equal nested results: tensors and arrays bit for bit, frames cell for cell."""
    if isinstance(want, torch.Tensor):
        assert torch.equal(got, want), where
    elif isinstance(want, np.ndarray):
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    elif isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            _assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert got == want or (got != got and want != want), f"{where}: {got!r} != {want!r}"


REFERENCE: dict[str, tuple[dict[str, Any], float]] = {}
"""Results and wall time of each command's uninterrupted run (shared by the tests)."""


def _reference(cmd: Command, tmp_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], float]:
    if cmd.name not in REFERENCE:
        out = tmp_factory.mktemp(f"ref-{cmd.name}") / "out"
        wall = _finish(cmd, out)
        cmd.check(out)
        assert not _temp_files(out.parent)
        REFERENCE[cmd.name] = (cmd.results(out), wall)
    return REFERENCE[cmd.name]


def _kill_trial(
    name: str,
    kills: int,
    seed: int,
    tmp_path: Path,
    tmp_factory: pytest.TempPathFactory,
    *,
    after_save_every: int = 0,
) -> Trials:
    """SIGKILL ``name`` at ``kills`` seeded random moments, rerunning it after each; whenever
    an attempt outlives its moment (the run is done), finish it, compare it with an
    uninterrupted run, and go on in a fresh folder."""
    cmd = _command(name, tmp_factory.getbasetemp())
    want, wall = _reference(cmd, tmp_factory)
    rng = np.random.default_rng(seed)
    trials = Trials()
    while trials.killed < kills:
        out = tmp_path / f"out{trials.cycles}"
        # moments spread over an uninterrupted run's time: during start-up, mid-episode,
        # while saving; each attempt resumes where the last one's files stop
        while trials.killed < kills:
            # every ``after_save_every``-th kill waits until some work is saved
            after = after_save_every > 0 and trials.killed % after_save_every == 0
            delay = rng.uniform(0.0, 0.3) * wall if after else rng.uniform(0.1, 0.7) * wall
            if not _attempt(cmd, out, delay, trials, after_save=after):
                break
        _finish(cmd, out)
        cmd.check(out)
        assert not _temp_files(tmp_path), _temp_files(tmp_path)
        _assert_same(cmd.results(out), want, name)
        trials.cycles += 1
    print(
        f"{name}: {trials.killed} kills at {trials.delays} s ({trials.after_saves} after "
        f"some work was saved, {trials.left_temps} left a temporary file), "
        f"{trials.ran_out} ran out, "
        f"{trials.cycles} resumed runs equal to the uninterrupted one ({wall:.1f} s)"
    )
    return trials


COMMANDS = ("train-a", "train-b", "reproduce", "forecast")


@pytest.mark.parametrize("name", COMMANDS)
def test_a_killed_command_resumes_to_the_uninterrupted_result(
    name: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # training and reproduce: once some work is saved, so the rerun has to resume from it
    # (forecast train saves only at its end: killed anywhere, it starts over)
    trials = _kill_trial(
        name,
        1,
        seed=COMMANDS.index(name),
        tmp_path=tmp_path,
        tmp_factory=tmp_path_factory,
        after_save_every=0 if name == "forecast" else 1,
    )
    assert trials.killed == 1 and trials.cycles >= 1
    assert trials.after_saves == (name != "forecast")


@pytest.mark.slow
@pytest.mark.parametrize("name", (*COMMANDS, "train-masac"))
def test_six_kills_per_command(
    name: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    trials = _kill_trial(
        name,
        6,
        seed=100 + len(name),
        tmp_path=tmp_path,
        tmp_factory=tmp_path_factory,
        after_save_every=0 if name == "forecast" else 2,
    )
    assert trials.killed == 6 and trials.cycles >= 1
