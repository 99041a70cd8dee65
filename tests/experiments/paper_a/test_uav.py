"""Paper A experiments: the planner run function, Fig. 5 drawing and the claim checks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from vtwin.experiments import get_experiment
from vtwin.experiments.paper_a.uav import (
    PLANNERS,
    claim_energy,
    claim_fluctuation,
    claim_workload,
    draw_route,
    run_planner,
)
from vtwin.experiments.spec import RunSpec


def _spec(method: str, seed: int = 0, slots: int = 300, batch: int = 1) -> RunSpec:
    return RunSpec(
        experiment="paper-a-uav",
        method=method,
        seed=seed,
        budget={"slots": slots, "batch": batch},
        preset="paper-a",
        mode="quick",
    )


def test_experiment_is_registered_with_all_planners() -> None:
    exp = get_experiment("paper-a-uav")
    assert exp.methods == PLANNERS
    assert {f.name for f in exp.figures} >= {
        "fig5_durp_route",
        "fig6_rsu_workload",
        "fig7_uav_energy",
    }
    assert exp.seeds >= 3


def test_run_planner_is_deterministic_and_reports_metrics() -> None:
    a = run_planner(_spec("durp", slots=120, batch=2))
    b = run_planner(_spec("durp", slots=120, batch=2))
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    for key in ("rsu_load_pct", "rsu_load_fluct_pct", "uav_energy_kj", "latency_s"):
        assert key in a.summary
    assert 0 <= a.summary["rsu_load_pct"] <= 100
    # two UAVs flying or hovering for 120 one-second slots: between cruise and hover power
    assert 120 * 0.12 < a.summary["uav_energy_kj"] <= 120 * 0.1685 + 1e-9
    assert list(a.metrics["step"]) == list(range(0, 120, 10))
    c = run_planner(_spec("durp", seed=1, slots=120, batch=2))
    assert c.summary != a.summary


def test_hover_spends_hover_power() -> None:
    r = run_planner(_spec("hover", slots=50))
    assert r.summary["uav_energy_kj"] == pytest.approx(50 * 0.16849, rel=1e-3)


def test_fig5_draws_four_consecutive_planning_steps() -> None:
    spec = _spec("durp")
    result = run_planner(spec)
    events = result.artifacts["route_events"]
    assert len(events) == 4
    assert [e["step"] for e in events] == sorted(e["step"] for e in events)
    for e in events:
        assert e["path"][0] == e["node"]
    fig, ax = plt.subplots()
    data = draw_route([(spec, result)], ax)
    plt.close(fig)
    assert list(data["panel"]) == [1, 2, 3, 4]
    assert all(isinstance(p, str) and p for p in data["path"])


def _table(load: dict[str, float], energy: dict[str, float]) -> pd.DataFrame:
    rows = []
    for seed in range(3):
        for m in load:
            rows.append(
                {
                    "method": m,
                    "seed": seed,
                    "rsu_load_pct": load[m],
                    "rsu_load_fluct_pct": load[m] / 2,
                    "uav_energy_kj": energy[m],
                }
            )
    return pd.DataFrame(rows)


def test_claim_checks_compute_reductions_and_verdicts() -> None:
    table = _table(
        {"durp": 5.0, "greedy": 10.0, "random_walk": 6.0, "patrol": 8.0, "hover": 20.0},
        {"durp": 100.0, "greedy": 90.0, "random_walk": 120.0, "patrol": 110.0, "hover": 150.0},
    )
    text, ok = claim_workload(table)
    assert ok and "+50.0 % vs greedy" in text and "+75.0 % vs hover" in text
    text, ok = claim_energy(table)
    assert not ok and "-11.1 % vs greedy" in text
    _, ok = claim_fluctuation(table)
    assert ok
