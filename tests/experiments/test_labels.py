"""Methods appear under the papers' labels in legends, reports and the console; data keeps ids."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import toy_report
from typer import Typer
from typer.testing import CliRunner

from vtwin.experiments import RunResult, RunSpec, expand, get_experiment, list_experiments
from vtwin.experiments.cli import register_cli
from vtwin.experiments.labels import METHOD_LABELS, method_label, relabel_text
from vtwin.experiments.plots import _DRAWERS, _new_figure

PAPERS = ("A", "B", "C", "D")


def _mentions(text: str, method_id: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(method_id)}(?![\w-])", text) is not None


def test_every_paper_method_has_a_label_and_labels_are_distinct() -> None:
    experiments = [e for e in list_experiments() if e.paper in PAPERS]
    assert {e.paper for e in experiments} == set(PAPERS)
    for exp in experiments:
        missing = [m for m in exp.methods if m not in METHOD_LABELS]
        assert not missing, f"{exp.name}: methods without a label: {missing}"
        labels = [method_label(m) for m in exp.methods]
        assert len(set(labels)) == len(labels), f"{exp.name}: two methods share a label"
    expected = {
        "lstm_transformer": "LSTM-Transformer",
        "cnn_lstm": "CNN-LSTM",
        "dm_mappo": "DM-MAPPO",
        "su_hatd3": "SU-HATD3",
        "haddpg": "HADDPG",
        "ppo_relaxed": "PPO-relaxed",
        "geo_i": "Geo-I",
        "h_ppo": "H-PPO",
        "lhdppo": "LHDPPO",
    }
    assert {k: method_label(k) for k in expected} == expected
    assert method_label("not_a_method") == "not_a_method"


def test_relabel_text_replaces_whole_ids_only() -> None:
    assert relabel_text("geo_i -3.118, max_radius -2.5, nearest -4") == (
        "Geo-I -3.118, Max-radius -2.5, Nearest (no privacy) -4"
    )
    assert relabel_text("h_ppo_eq19 1, h_ppo 2") == "H-PPO (eq. 19 state) 1, H-PPO 2"
    assert relabel_text("dm_mappo_last vs dm_mappo") == "DM-MAPPO (last value) vs DM-MAPPO"
    assert relabel_text("PPO-relaxed and PPO stay") == "PPO-relaxed and PPO stay"
    assert relabel_text("vs random+UAV; random 3.1") == "vs Random+UAV; Random 3.1"
    # English words that are also ids stay words when a word follows them
    text = "su_hatd3 upload distance 40 → 12 m; to its nearest sensors 9 → 3 m (rule 50 → 48 m)"
    assert relabel_text(text) == (
        "SU-HATD3 upload distance 40 → 12 m; to its nearest sensors 9 → 3 m (Rule 50 → 48 m)"
    )
    assert relabel_text("the rule's value") == "the rule's value"


def _toy_runs() -> list[tuple[RunSpec, RunResult]]:
    exp = get_experiment("toy-labels")
    return [(s, toy_report.run_labelled(s)) for s in expand(exp, quick=True)]


@pytest.mark.parametrize("kind", ["bar", "line", "curve"])
def test_legends_and_ticks_show_labels(kind: str) -> None:
    exp = get_experiment("toy-labels")
    figure = next(f for f in exp.figures if f.kind == kind)
    _fig, ax = _new_figure()
    data = _DRAWERS[kind](ax, figure, exp, _toy_runs())
    shown = [t.get_text() for t in ax.get_xticklabels()]
    legend = ax.get_legend()
    if legend is not None:
        shown += [t.get_text() for t in legend.get_texts()]
    text = " | ".join(shown)
    for method in exp.methods:
        assert method_label(method) in text, (kind, method, text)
        assert not _mentions(text, method), (kind, method, text)
    assert set(data["method"]) == set(exp.methods)  # the plotted data (CSV) keeps the ids


def test_paper_b_fig5_legend_uses_labels() -> None:
    from vtwin.experiments.paper_b.forecast import draw_fig5_synthetic

    runs = []
    for method in ("lstm_transformer", "cnn_lstm", "last_value"):
        spec = RunSpec("paper-b-table2", method, 0, sweep_value="synthetic")
        art = {"hours": [0.0, 1.0], "actual": [1.0, 2.0], "predicted": [1.1, 1.9]}
        art |= {"series": "s0", "start_s": 0.0, "unit": "veh", "dataset": "synthetic"}
        runs.append((spec, RunResult(pd.DataFrame({"step": [0]}), {}, {"fig5": art})))
    _fig, ax = _new_figure()
    data = draw_fig5_synthetic(runs, ax)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["actual", "LSTM-Transformer", "CNN-LSTM", "Last value"]
    assert {"lstm_transformer", "cnn_lstm", "last_value"} <= set(data.columns)


def test_markdown_report_and_console_show_labels(tmp_path: Path) -> None:
    app = Typer()
    register_cli(app)
    args = ["reproduce", "toy-labels", "--quick", "--no-progress", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})  # no wrapped cells
    assert result.exit_code == 0, result.output
    claims_table = result.stdout.split("claims", 1)[1].split("runs:", 1)[0]
    assert "DM-MAPPO" in claims_table and "SU-HATD3" in claims_table
    assert "REPORT.html" in result.stdout and "index.html" in result.stdout
    report = (tmp_path / "toy-labels" / "REPORT.md").read_text(encoding="utf-8")
    tables = "\n".join(line for line in report.splitlines() if line.startswith("|"))
    methods_line = next(line for line in report.splitlines() if line.startswith("- methods:"))
    for method in toy_report.METHODS:
        assert method_label(method) in tables
        assert not _mentions(tables + methods_line, method), method
        assert not _mentions(claims_table, method), method
    stored = pd.read_csv(tmp_path / "toy-labels" / "figures" / "cost_bar.csv")
    assert set(stored["method"]) == set(toy_report.METHODS)
