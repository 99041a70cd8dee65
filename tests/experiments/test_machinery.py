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
    make_executor,
    reproduce,
)
from vtwin.experiments.cli import register_cli

HERE = Path(__file__).resolve().parent


def test_cli_errors_are_one_line_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Typer()
    register_cli(app)
    runner = CliRunner()
    result = runner.invoke(app, ["reproduce", "toyy", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown experiment 'toyy'")
    assert "Did you mean 'toy'?" in result.stderr and "toy-flat" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(
        app, ["reproduce", "toy", "--quick", "--methods", "good,ugly", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "Valid methods: good, bad" in result.stderr
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    result = runner.invoke(app, ["reproduce", "toy", "--backend", "ray", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "pip install 'vtwin[ray]'" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["reproduce", "toy", "--address", "auto", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "only the ray backend joins a cluster" in result.stderr
    assert not (tmp_path / "toy").exists()  # nothing ran


def test_cli_list_and_reproduce(tmp_path: Path) -> None:
    app = Typer()
    register_cli(app)
    runner = CliRunner()
    result = runner.invoke(app, ["experiments", "list"])
    assert result.exit_code == 0
    assert "toy-flat" in result.output and "Vehicles" in result.output
    args = ["reproduce", "toy-flat", "--quick", "--seeds", "2", "--no-progress"]
    result = runner.invoke(app, [*args, "--methods", "bad", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 runs: 2 run now, 0 reused, 0 failed" in result.stdout
    assert "toy-flat: runs, figures and report in" in " ".join(result.stderr.split())
    assert sorted(p.name for p in (tmp_path / "toy-flat").glob("quick__*")) == [
        "quick__method=bad__seed=0",
        "quick__method=bad__seed=1",
    ]
    result = runner.invoke(app, ["reproduce", "toy-fail", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "1 run(s) failed" in result.stderr


def _run_cli(out: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, toy.LOG_ENV: str(log), "PYTHONPATH": str(HERE)}
    cmd = [sys.executable, str(HERE / "toy_experiments.py"), "reproduce", "toy-slow"]
    cmd += ["--quick", "--out", str(out), "--workers", "1"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _children(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_pool_workers_die_with_a_killed_sweep(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    cmd = [sys.executable, str(HERE / "toy_experiments.py"), "reproduce", "toy-hang"]
    cmd += ["--quick", "--out", str(tmp_path), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        workers: set[int] = set()
        while time.time() < deadline and len(workers) < 2:  # both workers started their run
            workers = {p for p in _children(proc.pid) if "spawn_main" in _cmdline(p)}
            time.sleep(0.1)
        assert len(workers) >= 2, "the pool did not start"
        time.sleep(1.0)  # the runs are under way (each sleeps a minute)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    orphans = [p for p in workers if _alive(p)]
    for p in orphans:
        os.kill(p, signal.SIGKILL)
    assert not orphans, "pool workers outlived the killed sweep"


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


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
    assert "sweep_value" not in one.summary_table().columns  # toy-flat has no sweep
    assert len(one.runs) == 6 and len(two.runs) == 6
    text = (tmp_path / "a" / "toy-flat" / "REPORT.md").read_text()
    assert "## Notes\n\nToy note: costs are made up." in text
    pd.testing.assert_frame_equal(
        one.summary_table().sort_values(["method", "seed"]).reset_index(drop=True),
        two.summary_table().sort_values(["method", "seed"]).reset_index(drop=True),
    )
    assert make_executor("local", 3).__class__.__name__ == "LocalExecutor"


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
    rep = reproduce("toy-fail", quick=True, out=tmp_path, workers=2, progress=False)
    assert not rep.ok
    assert [f.spec.run_id for f in rep.failed] == ["quick__method=broken__seed=1"]
    assert "RuntimeError: toy failure" in rep.failed[0].error
    assert len(rep.runs) == 3
    exp_dir = tmp_path / "toy-fail"
    report = (exp_dir / "REPORT.md").read_text()
    assert "## Failed runs" in report and "`quick__method=broken__seed=1`" in report
    assert "toy failure" in (exp_dir / "failed" / "quick__method=broken__seed=1.log").read_text()
    assert (exp_dir / "figures" / "cost_bar.png").exists()  # drawn from the runs that worked

    again = reproduce("toy-fail", quick=True, out=tmp_path, workers=1, progress=False)
    assert len(again.reused) == 3 and again.new == 0  # only the failed run was retried
    assert [f.spec.run_id for f in again.failed] == ["quick__method=broken__seed=1"]


def test_a_group_name_reproduces_each_member(tmp_path: Path) -> None:
    from vtwin.experiments import expand_name, list_groups, register_group, registry

    register_group("toy-pair", ("toy-flat", "toy"))
    try:
        assert expand_name("toy-pair") == ("toy-flat", "toy")
        assert expand_name("toy") == ("toy",)
        assert list_groups()["toy-pair"] == ("toy-flat", "toy")
        app = Typer()
        register_cli(app)
        runner = CliRunner()
        listing = runner.invoke(app, ["experiments", "list"])
        assert "toy-pair" in listing.output
        args = ["reproduce", "toy-pair", "--quick", "--seeds", "1", "--no-progress"]
        result = runner.invoke(app, [*args, "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "toy-flat" / "REPORT.md").exists()
        assert (tmp_path / "toy" / "REPORT.md").exists()
        result = runner.invoke(app, [*args, "--methods", "good", "--out", str(tmp_path)])
        assert result.exit_code == 2 and "--methods applies to one experiment" in result.stderr
        result = runner.invoke(app, ["reproduce", "toy-pai", "--out", str(tmp_path)])
        assert result.exit_code == 2 and "Did you mean 'toy-pair'?" in result.stderr
    finally:
        registry._GROUPS.pop("toy-pair", None)


def test_overrides_reach_every_run_and_the_report_and_never_replace_other_runs(
    tmp_path: Path,
) -> None:
    import yaml

    rep = reproduce("toy-flat", quick=True, out=tmp_path, progress=False, overrides=["slot_s=2"])
    assert rep.ok and rep.overrides == ("slot_s=2",)
    exp_dir = tmp_path / "toy-flat"
    stored = yaml.safe_load((exp_dir / rep.runs[0][0].run_id / "config.yaml").read_text())
    assert stored["overrides"] == ["slot_s=2"]
    text = (exp_dir / "REPORT.md").read_text()
    assert "- overrides: `slot_s=2`" in text and "--set slot_s=2" in text
    before = {p.name: p.stat().st_mtime_ns for p in exp_dir.glob("quick__*")}
    with pytest.raises(ValueError, match=r"holds a run with overrides \[slot_s=2\], not \[none\]"):
        reproduce("toy-flat", quick=True, out=tmp_path, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in exp_dir.glob("quick__*")} == before
    again = reproduce("toy-flat", quick=True, out=tmp_path, progress=False, overrides=["slot_s=2"])
    assert len(again.reused) == len(again.runs) == 6  # the same variant resumes

    app = Typer()
    register_cli(app)
    result = CliRunner().invoke(
        app, ["reproduce", "toy-flat", "--quick", "--set", "slot_s=x", "--out", str(tmp_path / "b")]
    )
    assert result.exit_code == 2 and "slot_s = 'x'" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "b").exists()
    result = CliRunner().invoke(
        app,
        [
            "reproduce",
            "toy-flat",
            "--quick",
            "--no-progress",
            "-s",
            "slot_s=2",
            "--out",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "--set slot_s=2" in (tmp_path / "c" / "toy-flat" / "REPORT.md").read_text()


def test_a_run_whose_twin_is_stored_is_copied_not_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from vtwin.experiments.store import RunStore

    log = tmp_path / "log.txt"
    monkeypatch.setenv(toy.LOG_ENV, str(log))
    out = tmp_path / "out"
    # without toy-flat's runs every run is computed
    alone = reproduce("toy-twin", quick=True, out=tmp_path / "alone", progress=False)
    assert alone.ok and not alone.reused and len(log.read_text().split()) == 8
    log.unlink()
    flat = reproduce("toy-flat", quick=True, seeds=2, out=out, progress=False)
    log.unlink()
    twin = reproduce("toy-twin", quick=True, out=out, progress=False)
    assert twin.ok
    copied = set(twin.reused)
    assert copied == {
        "quick__method=good__count=1__seed=0",
        "quick__method=bad__count=1__seed=0",
        "quick__method=good__count=1__seed=1",
        "quick__method=bad__count=1__seed=1",
    }
    assert sorted(log.read_text().split()) == sorted(
        s.run_id for s, _ in twin.runs if s.run_id not in copied
    )
    store = RunStore(out)
    by_id = {s.run_id: (s, r) for s, r in twin.runs}
    for spec, result in flat.runs:
        twin_id = spec.run_id.replace("__seed", "__count=1__seed")
        twin_spec, twin_result = by_id[twin_id]
        assert twin_result.summary == result.summary
        stored = yaml.safe_load((store.run_dir(twin_spec) / "config.yaml").read_text())
        assert stored["copied_from"] == f"toy-flat/{spec.run_id}"
        assert stored["fingerprint"] == twin_spec.fingerprint()  # its own, so reruns reuse it
    # and the results equal computing them (the "alone" folder)
    for spec, result in alone.runs:
        assert by_id[spec.run_id][1].summary == result.summary
    log.unlink()
    again = reproduce("toy-twin", quick=True, out=out, progress=False)
    assert len(again.reused) == 8 and not log.exists()


def test_reuse_copies_complete_runs_of_another_folder_and_computes_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from vtwin.experiments.store import RunStore

    log = tmp_path / "log.txt"
    monkeypatch.setenv(toy.LOG_ENV, str(log))
    shipped = tmp_path / "results"
    first = reproduce("toy-flat", quick=True, seeds=1, out=shipped, progress=False)
    assert first.ok
    log.unlink()
    out = tmp_path / "out"
    both = reproduce("toy-flat", quick=True, seeds=2, out=out, progress=False, reuse=[shipped])
    assert both.ok
    copied = {s.run_id for s, _ in first.runs}
    assert set(both.reused) == copied
    assert sorted(log.read_text().split()) == sorted(
        s.run_id for s, _ in both.runs if s.run_id not in copied
    )
    by_id = {s.run_id: r for s, r in both.runs}
    store = RunStore(out)
    for spec, result in first.runs:
        assert by_id[spec.run_id].summary == result.summary
        stored = yaml.safe_load((store.run_dir(spec) / "config.yaml").read_text())
        assert stored["copied_from"] == str(RunStore(shipped).run_dir(spec))
        assert stored["fingerprint"] == spec.fingerprint()
    # a run stored with another budget is not reused: it is computed
    log.unlink()
    other = reproduce(
        "toy-flat", quick=False, seeds=1, out=tmp_path / "o2", progress=False, reuse=[shipped]
    )
    assert not other.reused and len(log.read_text().split()) == len(other.runs)
    # the source folder is untouched, and a missing one is a one-line error
    assert sorted(p.name for p in (shipped / "toy-flat").iterdir() if p.name in copied) == sorted(
        copied
    )
    with pytest.raises(ValueError, match=r"--reuse .*nowhere: no such folder"):
        reproduce("toy-flat", quick=True, out=out, progress=False, reuse=[tmp_path / "nowhere"])
    app = Typer()
    register_cli(app)
    result = CliRunner().invoke(
        app,
        ["reproduce", "toy-flat", "--quick", "--out", str(out), "--reuse", str(tmp_path / "no")],
    )
    assert result.exit_code == 2
    assert "error: --reuse" in result.output and "no such folder" in result.output
