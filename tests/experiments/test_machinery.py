"""Experiment machinery: expansion, atomic store, kill-and-resume, executors, figures, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import toy_experiments as toy
from typer import Typer
from typer.testing import CliRunner

from vtwin.experiments import (
    RunStore,
    UnknownExperimentError,
    UnknownMethodError,
    expand,
    get_experiment,
    make_executor,
    reproduce,
    resolve_methods,
)
from vtwin.experiments.cli import register_cli

HERE = Path(__file__).resolve().parent


def test_expand_is_methods_by_sweep_by_seeds_with_unique_stable_ids() -> None:
    specs = expand(toy.TOY, quick=True)
    assert len(specs) == 2 * 2 * 2
    ids = [s.run_id for s in specs]
    assert len(set(ids)) == len(ids)
    assert ids == [s.run_id for s in expand(toy.TOY, quick=True)]
    assert "quick__method=good__count=1__seed=0" in ids
    assert all(s.budget == {"steps": 4} for s in specs)
    assert any("vehicles.count=2" in s.overrides for s in specs)
    full = expand(toy.TOY, quick=False, seeds=1, methods=["bad"])
    assert [s.method for s in full] == ["bad", "bad"] and all(s.seed == 0 for s in full)
    assert all(s.run_id.startswith("full__") for s in full)


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownExperimentError, match=r"'toyy'.*Did you mean 'toy'\?"):
        get_experiment("toyy")
    with pytest.raises(UnknownMethodError, match=r"'ugly'.*Valid methods: good, bad"):
        resolve_methods(toy.TOY, ["good", "ugly"])


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    app = Typer()
    register_cli(app)
    runner = CliRunner()
    result = runner.invoke(app, ["reproduce", "nope", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown experiment 'nope'" in result.output and "toy" in result.output
    result = runner.invoke(
        app, ["reproduce", "toy", "--quick", "--methods", "good,ugly", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "Valid methods: good, bad" in result.output
    result = runner.invoke(app, ["experiments", "list"])
    assert result.exit_code == 0 and "toy-flat" in result.output


def test_store_save_is_atomic_and_loads_back(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    spec = expand(toy.TOY_FLAT, quick=True)[0]
    result = toy.run_toy(spec)
    folder = store.save(spec, result)
    assert store.is_complete(spec)
    assert {p.name for p in folder.iterdir()} >= {
        "config.yaml",
        "metrics.csv",
        "summary.json",
        "artifacts.json",
    }
    again = store.load(spec)
    assert again.summary == result.summary
    pd.testing.assert_frame_equal(again.metrics, result.metrics, check_dtype=False)

    bad = toy.run_toy(expand(toy.TOY_FLAT, quick=True)[1])
    bad.artifacts = {"x": object()}  # not JSON-serialisable: the save must fail cleanly
    spec2 = expand(toy.TOY_FLAT, quick=True)[1]
    with pytest.raises(Exception):  # noqa: B017
        store.save(spec2, bad)
    assert not store.is_complete(spec2)
    assert not store.run_dir(spec2).exists()
    leftovers = [p for p in store.experiment_dir("toy-flat").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_changed_budget_is_not_mistaken_for_done(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    spec = expand(toy.TOY_FLAT, quick=True)[0]
    store.save(spec, toy.run_toy(spec))
    changed = type(spec)(**{**spec.__dict__, "budget": {"steps": 99}})
    assert not store.is_complete(changed)


def test_clean_partial_removes_dead_tmp_folders(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    exp_dir = store.experiment_dir("toy-flat")
    exp_dir.mkdir(parents=True, exist_ok=True)
    dead = exp_dir / ".tmp-quick__method=good__seed=0-999999999"
    dead.mkdir()
    (dead / "metrics.csv").write_text("half")
    store.clean_partial("toy-flat")
    assert not dead.exists()


def _run_cli(out: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, toy.LOG_ENV: str(log), "PYTHONPATH": str(HERE)}
    cmd = [sys.executable, str(HERE / "toy_experiments.py"), "reproduce", "toy-slow"]
    cmd += ["--quick", "--out", str(out), "--workers", "1"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_sweep_resumes_without_redoing_finished_runs(tmp_path: Path) -> None:
    out, log = tmp_path / "runs", tmp_path / "log.txt"
    proc = _run_cli(out, log)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until at least 3 of the 8 runs are finished
        if log.exists() and len(log.read_text().split()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    exp_dir = out / "toy-slow"
    done_first = log.read_text().split()
    assert 3 <= len(done_first) < 8, "the kill should land in the middle of the sweep"
    complete = sorted(p.name for p in exp_dir.iterdir() if (p / "summary.json").exists())
    # every run folder is complete: nothing half written is left under its final name
    for folder in exp_dir.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            assert (folder / "summary.json").exists(), folder
            json.loads((folder / "summary.json").read_text())
    assert len(complete) >= len(done_first) - 1  # the last logged run may not be saved yet

    proc = _run_cli(out, log)
    assert proc.wait(timeout=120) == 0
    ran = log.read_text().split()
    assert len(set(ran)) == 8
    repeated = {rid for rid in ran if ran.count(rid) > 1}
    # only a run that was logged but not yet saved at the kill may run twice
    assert repeated <= set(done_first) - set(complete)
    assert len(repeated) <= 1
    assert (exp_dir / "REPORT.md").exists()
    assert not [p for p in exp_dir.iterdir() if p.name.startswith(".tmp-")]


def test_two_workers_give_the_same_results_as_one(tmp_path: Path) -> None:
    one = reproduce("toy-flat", quick=True, out=tmp_path / "a", workers=1, progress=False)
    two = reproduce("toy-flat", quick=True, out=tmp_path / "b", workers=2, progress=False)
    text = (tmp_path / "a" / "toy-flat" / "REPORT.md").read_text()
    assert "## Notes\n\nToy note: costs are made up." in text
    pd.testing.assert_frame_equal(
        one.summary_table().sort_values(["method", "seed"]).reset_index(drop=True),
        two.summary_table().sort_values(["method", "seed"]).reset_index(drop=True),
    )
    assert make_executor("local", 3).__class__.__name__ == "LocalExecutor"
    with pytest.raises(Exception, match="ray"):
        make_executor("ray", 2)


def test_figures_csv_and_report(tmp_path: Path) -> None:
    rep = reproduce("toy", quick=True, out=tmp_path, workers=1, progress=False)
    assert rep.ok
    fig_dir = tmp_path / "toy" / "figures"
    for name in ("cost_bar", "cost_line", "reward_curve", "routes"):
        assert (fig_dir / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (fig_dir / f"{name}.csv").exists()
    bar = pd.read_csv(fig_dir / "cost_bar.csv")
    assert {"method", "mean", "std", "n"} <= set(bar.columns)
    assert (bar["n"] == 2).all()  # two seeds per group
    good = bar[bar["method"] == "good"]["mean"]
    assert (good < 2.5).all()
    report = (tmp_path / "toy" / "REPORT.md").read_text()
    assert "| claim | paper | ours | agrees |" in report
    assert "good is cheaper than bad" in report and "30% cheaper" in report
    assert "error: KeyError" in report  # a failing claim is shown, not fatal

    # a second invocation reuses every stored run
    again = reproduce("toy", quick=True, out=tmp_path, workers=1, progress=False)
    assert len(again.reused) == 8


def test_failed_runs_are_reported_and_others_continue(tmp_path: Path) -> None:
    rep = reproduce("toy-fail", quick=True, out=tmp_path, workers=1, progress=False)
    assert not rep.ok
    assert [f.spec.run_id for f in rep.failed] == ["quick__method=broken__seed=1"]
    assert len(rep.runs) == 3
    assert "quick__method=broken__seed=1" in (tmp_path / "toy-fail" / "REPORT.md").read_text()
