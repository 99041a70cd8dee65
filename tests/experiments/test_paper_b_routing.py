"""Paper B Figs. 6–11 experiments: registration, run functions, claims and Figs. 10–11."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from vtwin.experiments import expand, expand_name, get_experiment
from vtwin.experiments.paper_b_routing import (
    VARIANTS,
    claim_forecast_better,
    claim_headline,
    claim_loss_below_10,
    claim_lowest_latency,
    claim_mask_gain,
    claim_no_uav,
    claim_prediction_gain,
    claim_variance_falls,
    draw_fig10,
    draw_fig11,
    run_replay,
    run_routing,
)
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


def _table(rows: list[tuple[str, float | None, dict[str, float]]]) -> pd.DataFrame:
    out = []
    for method, sweep, metrics in rows:
        row = {"method": method, "seed": 0, **metrics}
        if sweep is not None:
            row["sweep_value"] = sweep
        out.append(row)
    return pd.DataFrame(out)


def test_claims() -> None:
    t = _table(
        [
            ("dm_mappo", None, {"reward_per_step": -0.5}),
            ("dm_mappo_last", None, {"reward_per_step": -1.0}),
        ]
    )
    text, agrees = claim_prediction_gain(t)
    assert agrees is True and "+50.0 %" in text
    assert claim_forecast_better(t)[1] is None  # runs without the metric
    t = _table(
        [
            ("dm_mappo", None, {"background_error_pct": 9.5}),
            ("dm_mappo_last", None, {"background_error_pct": 9.0}),
        ]
    )
    text, agrees = claim_forecast_better(t)
    assert agrees is False and "forecaster 9.50 %, last value 9.00 %" in text
    t = _table(
        [
            ("dm_mappo", 40.0, {"latency_s": 1.0, "packet_loss_pct": 2.0}),
            ("greedy", 40.0, {"latency_s": 2.0, "packet_loss_pct": 1.0}),
            ("dm_mappo", 120.0, {"latency_s": 3.0, "packet_loss_pct": 12.0}),
            ("greedy", 120.0, {"latency_s": 2.5, "packet_loss_pct": 9.0}),
        ]
    )
    text, agrees = claim_lowest_latency(t)
    assert agrees is False and "120: best greedy" in text
    assert claim_loss_below_10(t)[1] is True
    t = _table(
        [
            ("dm_mappo", 1.0, {"workload_variance": 200.0}),
            ("greedy", 1.0, {"workload_variance": 100.0}),
            ("dm_mappo", 3.0, {"workload_variance": 150.0}),
            ("greedy", 3.0, {"workload_variance": 110.0}),
        ]
    )
    text, agrees = claim_variance_falls(t)
    assert agrees is False and "dm_mappo 200 → 150 MB² (-25.0 %)" in text and "+10.0 %" in text
    assert claim_variance_falls(t[t["sweep_value"] == 1.0])[1] is None
    base = {"reward_per_step": -1.0, "latency_s": 10.0, "packet_loss_pct": 5.0}
    worse = {"reward_per_step": -2.0, "latency_s": 12.0, "packet_loss_pct": 9.0}
    t = _table([("dm_mappo", None, base), ("dm_mappo_no_uav", None, worse)])
    text, agrees = claim_no_uav(t)
    assert agrees is True and text.startswith("reward -100.0 %")
    t = _table([("dm_mappo", None, base), ("mappo", None, worse)])
    assert claim_mask_gain(t)[1] is True
    text, agrees = claim_headline(t)
    assert agrees is True and "vs mappo: latency -16.7 %" in text


def test_trained_forecasters_are_cached_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process (here: a cleared in-memory cache) loads the forecaster from disk and
    predicts exactly what the trained one did; VTWIN_CACHE_DIR=off stores nothing."""
    import numpy as np

    from vtwin.config import load_config
    from vtwin.experiments import paper_b_routing as pb

    monkeypatch.setenv("VTWIN_CACHE_DIR", str(tmp_path))
    args = (load_config("paper-b-tiny").model_dump_json(), 0, 0.25, 1, 500)
    pb._forecaster.cache_clear()
    trained, err = pb._forecaster(*args)
    assert len(list((tmp_path / "forecasters").glob("*/error.json"))) == 1
    pb._forecaster.cache_clear()
    calls: list[int] = []
    monkeypatch.setattr(pb, "_train_forecaster", lambda *a: calls.append(1))
    loaded, err2 = pb._forecaster(*args)
    assert calls == [] and err2 == err
    history = np.random.default_rng(0).random((4, trained.window, 8)).astype(np.float32) * 50
    np.testing.assert_array_equal(trained.predict_next(history), loaded.predict_next(history))
    # a sweep over the migration size reuses it: the background is the same
    swept = load_config("paper-b-tiny", ["routing.migration_mb=120"]).model_dump_json()
    assert pb._forecaster(swept, *args[1:])[1] == err and calls == []
    monkeypatch.setenv("VTWIN_CACHE_DIR", "off")
    assert pb.forecaster_cache_dir() is None
    pb._forecaster.cache_clear()
