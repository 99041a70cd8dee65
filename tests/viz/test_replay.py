"""The replay page without a browser: `vtwin replay` on a run folder of each paper, the page's
content (inline plotly.js, frames, traces), reuse of episode.json, one-line errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vtwin.cli import app
from vtwin.config import load_config
from vtwin.episode import EpisodeRecord
from vtwin.training import TrainSettings, train
from vtwin.training.record import record_policy

pytest.importorskip("plotly", reason="the replay page needs plotly (pip install 'vtwin[viz]')")

from vtwin.viz.replay import replay_figure

runner = CliRunner()

RUNS = {
    "A": ("paper-a-tiny", "random", ["horizon_slots=40"], 40),
    "B": ("paper-b-tiny", "greedy", [], 120),
    "C": ("paper-c-synth", "hppo", ["horizon_slots=10"], 20),
    "D": ("paper-d-tiny", "rule", [], 20),
}
"""Per paper: preset, algorithm, overrides and a tiny training budget (agent transitions)."""


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One `vtwin train` folder per paper (tiny budgets)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for paper, (preset, algo, overrides, steps) in RUNS.items():
        out[paper] = root / paper
        train(
            load_config(preset, overrides),
            TrainSettings(algo=algo, steps=steps, batch_envs=1, device="cpu"),
            out[paper],
        )
    return out


def _script_sources(html: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc=[\"']([^\"']+)", html)


@pytest.mark.parametrize("paper", sorted(RUNS))
def test_replay_command_writes_a_self_contained_page(
    run_dirs: dict[str, Path], paper: str, tmp_path: Path
) -> None:
    run = run_dirs[paper]
    page = tmp_path / f"{paper}.html"
    result = runner.invoke(app, ["replay", str(run), "--out", str(page)])
    assert result.exit_code == 0, result.output
    assert "episode record (recorded)" in result.output
    assert str(page) in result.output.replace("\n", "")
    html = page.read_text(encoding="utf-8")
    assert _script_sources(html) == []  # nothing fetched: plotly.js is inside the page
    assert "Plotly.newPlot" in html and "vtwin-replay" in html
    size_mb = page.stat().st_size / 1e6
    print(f"replay page of paper {paper}: {size_mb:.2f} MB")
    assert size_mb < 6.0

    record = EpisodeRecord.load(run / "episode.json")
    assert record.meta["algo"] == RUNS[paper][1] and record.meta["episode_seed"] == 123_456
    horizon = load_config(RUNS[paper][0], RUNS[paper][2]).horizon_slots
    assert 1 <= len(record.frames) <= horizon
    # the page holds one animation frame per slot (episodes here are short)
    names = re.findall(r'"name":"(\d+)"', html.replace(": ", ":").replace('", "', '","'))
    assert {str(f["t"]) for f in record.frames} <= set(names)

    again = runner.invoke(app, ["replay", str(run), "--out", str(page)])
    assert again.exit_code == 0 and "episode record (reused)" in again.output
    other = runner.invoke(app, ["replay", str(run), "--out", str(page), "--episode-seed", "7"])
    assert other.exit_code == 0 and "episode record (recorded)" in other.output
    assert EpisodeRecord.load(run / "episode.json").meta["episode_seed"] == 7


def test_evaluate_writes_the_replay_of_its_first_episode(
    run_dirs: dict[str, Path], tmp_path: Path
) -> None:
    page = tmp_path / "eval.html"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(run_dirs["D"]),
            "--episodes",
            "1",
            "--seed",
            "99",
            "--replay-out",
            str(page),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "utility" in result.output and page.is_file()
    assert EpisodeRecord.load(run_dirs["D"] / "episode.json").meta["episode_seed"] == 99


def test_figure_traces_follow_the_paper() -> None:
    def uids(paper: str, preset: str, algo: str, overrides: list[str]) -> set[str]:
        fig = replay_figure(record_policy(load_config(preset, overrides), algo, 3))
        return {t.uid for t in fig.data}

    b = uids("B", "paper-b-tiny", "greedy", [])
    assert {"uavs", "uav-trails", "uav-coverage", "host-links", "sat-servers"} <= b
    assert "reported" not in b
    c = uids("C", "paper-c-synth", "hppo", ["horizon_slots=5"])
    assert {"reported", "perturbation", "serving-links", "rsu-coverage"} <= c
    assert "uavs" not in c
    d = uids("D", "paper-d-tiny", "rule", [])
    assert {"uavs", "uav-trails", "entities"} <= d and "uav-coverage" not in d


def test_long_episodes_are_decimated_but_keep_every_slot_in_the_curves() -> None:
    record = record_policy(load_config("paper-a-tiny"), "random", 1)  # 100 slots
    fig = replay_figure(record, max_frames=30)
    names = [f.name for f in fig.frames]
    assert len(names) <= 31 and names[0] == "0" and names[-1] == "99"
    latency = next(t for t in fig.data if t.uid == "latency")
    assert len(latency.x) == 100
    assert len(fig.layout.sliders[0].steps) == len(names)
    with pytest.raises(ValueError, match="max_frames = 1"):
        replay_figure(record, max_frames=1)


def _one_line_error(result: object, *needles: str) -> None:
    assert getattr(result, "exit_code", None) == 2
    err = getattr(result, "stderr", "")
    assert "Traceback" not in getattr(result, "output", "") + err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for needle in needles:
        assert needle in lines[0].replace("\n", "")


def test_bad_folders_give_one_line_errors(tmp_path: Path) -> None:
    _one_line_error(
        runner.invoke(app, ["replay", str(tmp_path / "missing")]), "does not exist", "missing"
    )
    (tmp_path / "empty").mkdir()
    _one_line_error(runner.invoke(app, ["replay", str(tmp_path / "empty")]), "config.yaml")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("config: [unclosed\n")
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")
    _one_line_error(runner.invoke(app, ["replay", str(broken)]), "config.yaml")


def test_a_damaged_checkpoint_is_named(run_dirs: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "config.yaml").write_text((run_dirs["A"] / "config.yaml").read_text())
    (copy / "checkpoint.pt").write_bytes(b"garbage")
    _one_line_error(runner.invoke(app, ["replay", str(copy)]), "checkpoint.pt")


def test_without_plotly_the_command_says_how_to_install_it(
    run_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("plotly", "plotly.graph_objects"):
        monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    result = runner.invoke(app, ["replay", str(run_dirs["B"]), "--out", str(tmp_path / "x.html")])
    _one_line_error(result, "pip install 'vtwin[viz]'")


def test_episode_json_is_compact(tmp_path: Path) -> None:
    record = record_policy(load_config("paper-c-synth", ["horizon_slots=5"]), "hppo", 2)
    text = record.save(tmp_path / "episode.json").read_text()
    assert ", " not in text and ": " not in text[:200]  # compact separators
    data = json.loads(text)
    xs = [v for f in data["frames"] for key in ("entities", "perturbed") for p in f[key] for v in p]
    assert all(round(v, 1) == v for v in xs)  # positions keep 0.1 m
