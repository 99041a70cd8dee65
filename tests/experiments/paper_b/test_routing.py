"""Paper B Figs. 6–11 experiments: registration, run functions and Figs. 10–11."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from vtwin.experiments import expand, expand_name, get_experiment
from vtwin.experiments.paper_b.figures import draw_fig10, draw_fig11
from vtwin.experiments.paper_b.routing import VARIANTS, run_replay, run_routing
from vtwin.experiments.spec import RunSpec

TINY = {
    "steps": 1500,
    "batch": 2,
    "eval_batch": 2,
    "eval_episodes": 1,
    "forecast_days": 0.25,
    "forecast_epochs": 1,
    "forecast_windows": 1000,
}


def _spec(method: str, seed: int = 0) -> RunSpec:
    return RunSpec(
        experiment="paper-b-mask",
        method=method,
        seed=seed,
        budget=TINY,
        preset="paper-b-tiny",
        mode="quick",
    )


def test_experiments_and_the_paper_b_group_are_registered() -> None:
    members = expand_name("paper-b")
    assert members[0] == "paper-b-table2" and "paper-b-replay" in members
    for name in members[1:]:
        exp = get_experiment(name)
        assert set(exp.methods) <= set(VARIANTS)
        assert exp.seeds >= 1
    size = get_experiment("paper-b-size")
    assert size.sweep is not None and size.sweep.values == (40.0, 60.0, 80.0, 100.0, 120.0)
    assert {s.sweep_value for s in expand(size, quick=True)} == {40.0, 80.0, 120.0}
    mask = get_experiment("paper-b-mask")
    assert {"dm_mappo", "mappo", "masac", "masac_nomask"} <= set(mask.methods)


def test_greedy_feasible_keeps_to_the_mask() -> None:
    """Our reference rule: the paper's greedy without its unmasked ε pick."""
    summary = run_routing(_spec("greedy_feasible")).summary
    assert summary["infeasible_pct"] == 0.0
    assert "greedy_feasible" in get_experiment("paper-b-data").methods


@pytest.mark.parametrize("method", ["dm_mappo_last", "greedy_nomask"])
def test_run_routing_is_deterministic(method: str) -> None:
    a, b = run_routing(_spec(method)), run_routing(_spec(method))
    a.summary.pop("train_minutes")
    b.summary.pop("train_minutes")
    assert a.summary == b.summary
    expected = {"reward_per_step", "latency_s", "packet_loss_pct", "workload_variance"}
    assert expected <= set(a.summary)
    assert a.summary["background_error_pct"] > 0.0
    if method == "greedy_nomask":
        assert "forecast_error_pct" in a.summary  # predicted loads by default
    with pytest.raises(ValueError, match="expected one of"):
        run_routing(_spec("ppo"))


def test_replay_records_hosts_and_draws_figs_10_and_11() -> None:
    spec = _spec("dm_mappo_last")
    result = run_replay(spec)
    replay = result.artifacts["replay"]
    assert len(replay["hosts"]) == len(replay["tracks"]) == 3  # three vehicles in the preset
    assert set(replay["hosts"][0]) <= {"rsu", "uav", "sat", "none"}
    for draw in (draw_fig10, draw_fig11):
        fig, ax = plt.subplots()
        data = draw([(spec, result)], ax)
        plt.close(fig)
        assert {"vehicle", "host"} <= set(data.columns) and len(data) > 0


def test_a_sweep_over_the_migration_size_shares_one_forecaster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forecaster's training data depend on the background only, so runs over another
    migration size load the one trained for the first (from disk, in another process)."""
    from vtwin.config import load_config
    from vtwin.experiments.paper_b import routing

    monkeypatch.setenv("VTWIN_CACHE_DIR", str(tmp_path))
    args = (load_config("paper-b-tiny").model_dump_json(), 0, 0.25, 1, 500)
    routing._forecaster.cache_clear()
    _, err = routing._forecaster(*args)
    assert len(list((tmp_path / "forecasters").glob("*/error.json"))) == 1
    routing._forecaster.cache_clear()
    calls: list[int] = []
    monkeypatch.setattr(routing, "_train_forecaster", lambda *a: calls.append(1))
    swept = load_config("paper-b-tiny", ["routing.migration_mb=120"]).model_dump_json()
    assert routing._forecaster(swept, *args[1:])[1] == err and calls == []
    routing._forecaster.cache_clear()
