"""Paper C experiments without learners: the policy runs, the metric probes, figures, claims."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from vtwin.experiments import get_experiment
from vtwin.experiments.paper_c.privacy import (
    ANGLES_DEG,
    INTENSITIES,
    RADII,
    claim_angle_matters,
    claim_credibility,
    claim_geo_i_utility,
    claim_radius_dominates,
    draw_credibility,
    draw_map,
    draw_surface,
    run_metrics,
    run_policy,
)
from vtwin.experiments.registry import expand_name
from vtwin.experiments.spec import RunSpec

SYNTH = ("servers.rsu.count=10", "geography.width_m=3000", "geography.height_m=3000")


def _spec(experiment: str, method: str, seed: int = 0, slots: int = 20) -> RunSpec:
    return RunSpec(
        experiment=experiment,
        method=method,
        seed=seed,
        budget={"slots": slots, "batch": 2, "probe_every": 5},
        preset="paper-c-synth",
        overrides=SYNTH,
        mode="quick",
    )


def test_experiments_are_registered_in_the_paper_c_group() -> None:
    assert expand_name("paper-c")[:2] == ("paper-c-policies", "paper-c-privacy-metrics")
    policies = get_experiment("paper-c-policies")
    assert policies.methods == ("geo_i", "max_radius", "random", "nearest") and policies.seeds >= 3
    assert {f.name for f in policies.figures} >= {"fig5a_utility", "fig5b_entropy", "fig8_map"}
    metrics = get_experiment("paper-c-privacy-metrics")
    assert {f.name for f in metrics.figures} == {"fig6_entropy_surface", "fig7_credibility"}


def test_policy_runs_are_deterministic_and_draw_the_map() -> None:
    a = run_policy(_spec("paper-c-policies", "geo_i"))
    b = run_policy(_spec("paper-c-policies", "geo_i"))
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    assert set(a.summary) >= {"utility", "entropy_bits", "latency_s", "qos_loss", "confidence"}
    nearest = run_policy(_spec("paper-c-policies", "nearest"))
    assert nearest.summary["confidence"] > 0.99 and nearest.summary["qos_loss"] == 0.0
    fig, ax = plt.subplots()
    drawn = draw_map([(_spec("paper-c-policies", "geo_i"), a)], ax)
    plt.close(fig)
    assert len(drawn) == len(a.artifacts["true"]) > 0
    table = pd.DataFrame(
        [
            {"method": "geo_i", "seed": 0, **a.summary},
            {"method": "nearest", "seed": 0, **nearest.summary},
        ]
    )
    text, agrees = claim_geo_i_utility(table)
    assert "geo_i" in text and agrees == (a.summary["utility"] > nearest.summary["utility"])


def test_metric_probes_fill_the_surface_and_the_intensity_curves() -> None:
    spec = _spec("paper-c-privacy-metrics", "geo_i")
    res = run_metrics(spec)
    surface = np.asarray(res.artifacts["surface"])
    assert surface.shape == (len(RADII), len(ANGLES_DEG))
    assert np.all(surface >= 0) and np.all(surface <= np.log2(121) + 1e-9)
    # σ follows the radius: no radius, no doubt
    assert surface[0].max() < 0.1 and surface[-1].min() > 2.0
    assert len(res.metrics) == len(INTENSITIES)
    conf = res.metrics["attacker_confidence"].to_numpy()
    assert conf[0] > 0.99 and conf[-1] < conf[0]
    assert res.summary["probes"] == 4
    runs = [(spec, res)]
    for draw in (draw_surface, draw_credibility):
        fig, ax = plt.subplots()
        assert len(draw(runs, ax)) > 0
        plt.close(fig)
    table = pd.DataFrame([{"method": "geo_i", "seed": 0, **res.summary}])
    for claim in (claim_radius_dominates, claim_angle_matters, claim_credibility):
        text, agrees = claim(table)
        assert text and agrees in (True, False)
    with pytest.raises(ValueError, match="no slot was probed"):
        run_metrics(
            RunSpec(
                experiment="paper-c-privacy-metrics",
                method="geo_i",
                seed=0,
                budget={"slots": 3, "batch": 1, "probe_every": 5},
                preset="paper-c-synth",
                overrides=SYNTH,
                mode="quick",
            )
        )
