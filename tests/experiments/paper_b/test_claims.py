"""Paper B Figs. 6–9: the claim checks on hand-made summary tables."""

from __future__ import annotations

import pandas as pd

from vtwin.experiments.paper_b.claims import (
    claim_forecast_better,
    claim_headline,
    claim_loss_below_10,
    claim_lowest_latency,
    claim_mask_gain,
    claim_no_uav,
    claim_prediction_gain,
    claim_variance_falls,
)


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


def test_our_reference_methods_do_not_count_in_the_papers_fig7_claims() -> None:
    rows = [
        ("dm_mappo", 1.0, {"latency_s": 1.0, "workload_variance": 200.0}),
        ("greedy", 1.0, {"latency_s": 2.0, "workload_variance": 100.0}),
        ("greedy_feasible", 1.0, {"latency_s": 0.5, "workload_variance": 100.0}),
        ("dm_mappo", 3.0, {"latency_s": 1.5, "workload_variance": 150.0}),
        ("greedy", 3.0, {"latency_s": 2.5, "workload_variance": 90.0}),
        ("greedy_feasible", 3.0, {"latency_s": 0.5, "workload_variance": 300.0}),
    ]
    assert claim_lowest_latency(_table(rows))[1] is True
    text, agrees = claim_variance_falls(_table(rows))
    assert agrees is True and "greedy_feasible" not in text
