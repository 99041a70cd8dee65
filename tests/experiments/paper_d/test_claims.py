"""Paper D claims on hand-built summary tables: agrees, disagrees, and n/a when the methods
(or sweep values) a claim needs were not run."""

from __future__ import annotations

import pandas as pd
import pytest

from vtwin.experiments.paper_d.claims import (
    claim_all_learners_rise,
    claim_beat_random,
    claim_compute_best,
    claim_highest_fidelity,
    claim_highest_reward,
    claim_lowest_delay,
    claim_lr_best,
    claim_not_below_rule,
    claim_scale_sensors,
    claim_scale_uavs,
    claim_sensors_best,
    claim_su_hatd3_rises,
    claim_uavs_best,
    claim_uavs_toward_sensors,
    parse_scale,
)


def _table(rows: dict[str, dict[str, float]], seeds: int = 2) -> pd.DataFrame:
    """One row per (method, seed) with the given metrics (seed 1 shifted by ±1: means hold)."""
    out = []
    for method, metrics in rows.items():
        for seed in range(seeds):
            shift = 1.0 if seed % 2 else -1.0
            out.append(
                {"method": method, "seed": seed, **{k: v + shift for k, v in metrics.items()}}
            )
    return pd.DataFrame(out)


def _swept(values: dict[tuple[str, object], float], metric: str = "utility") -> pd.DataFrame:
    return pd.DataFrame(
        [{"method": m, "sweep_value": v, "seed": 0, metric: x} for (m, v), x in values.items()]
    )


LEARNERS = {
    "su_hatd3": {"reward": 700.0, "utility": 710.0, "fidelity_sum": 730.0, "delay_s": 12.0},
    "haddpg": {"reward": 620.0, "utility": 630.0, "fidelity_sum": 650.0, "delay_s": 12.5},
    "matd3": {"reward": 610.0, "utility": 620.0, "fidelity_sum": 640.0, "delay_s": 13.0},
    "maddpg": {"reward": 500.0, "utility": 510.0, "fidelity_sum": 530.0, "delay_s": 14.0},
    "rule": {"reward": 580.0, "utility": 580.0, "fidelity_sum": 592.0, "delay_s": 12.6},
    "greedy_steps": {"reward": 765.0, "utility": 765.0, "fidelity_sum": 778.0, "delay_s": 12.6},
    "random": {"reward": 500.0, "utility": 500.0, "fidelity_sum": 573.0, "delay_s": 12.7},
}


def test_fig3a_reward_ranking_prints_the_gains_beside_the_papers() -> None:
    table = _table(LEARNERS)
    text, agrees = claim_highest_reward(table)
    assert agrees is True
    assert text.startswith("su_hatd3 700.0 > haddpg 620.0 > matd3 610.0 > maddpg 500.0")
    assert "vs maddpg +40.0 % (paper +39 %)" in text and "(paper +12.56 %)" in text
    assert "greedy_steps" not in text  # a reference, not one of the paper's methods
    worse = _table({**LEARNERS, "matd3": {**LEARNERS["matd3"], "reward": 720.0}})
    assert claim_highest_reward(worse)[1] is False
    assert claim_highest_reward(_table({"su_hatd3": LEARNERS["su_hatd3"]}))[1] is None
    assert claim_highest_reward(table[table["method"] != "su_hatd3"])[1] is None


def test_learners_against_the_references() -> None:
    table = _table(LEARNERS)
    text, agrees = claim_beat_random(table)
    assert agrees is True and text.startswith("random 500.0; su_hatd3 +210.0")
    low = _table({**LEARNERS, "maddpg": {**LEARNERS["maddpg"], "utility": 490.0}})
    assert claim_beat_random(low)[1] is False
    assert claim_beat_random(table[table["method"] != "random"])[1] is None
    text, agrees = claim_not_below_rule(table)
    assert agrees is True and "rule 580.0" in text and "greedy_steps 765.0" in text
    below = _table({**LEARNERS, "su_hatd3": {**LEARNERS["su_hatd3"], "utility": 570.0}})
    assert claim_not_below_rule(below)[1] is False
    assert claim_not_below_rule(table[table["method"] != "rule"])[1] is None


def test_fig5_fidelity_and_delay() -> None:
    table = _table(LEARNERS)
    text, agrees = claim_highest_fidelity(table)
    assert agrees is True and text.startswith("su_hatd3 730.00")
    text, agrees = claim_lowest_delay(table)
    assert agrees is True and text.startswith("su_hatd3 12.00 s")
    slow = _table({**LEARNERS, "su_hatd3": {**LEARNERS["su_hatd3"], "delay_s": 13.5}})
    assert claim_lowest_delay(slow)[1] is False
    assert claim_highest_fidelity(slow)[1] is True  # fidelity is judged on its own
    only = _table({"su_hatd3": LEARNERS["su_hatd3"], "rule": LEARNERS["rule"]})
    assert claim_highest_fidelity(only)[1] is None  # the references do not count
    assert claim_lowest_delay(only)[1] is None


def test_fig6_uavs_move_toward_their_sensors() -> None:
    rows = {
        "su_hatd3": {"upload_m_first": 400.0, "upload_m_last": 250.0},
        "rule": {"upload_m_first": 300.0, "upload_m_last": 120.0},
    }
    text, agrees = claim_uavs_toward_sensors(_table(rows))
    assert agrees is True and text == "su_hatd3 upload distance 400 → 250 m (rule 300 → 120 m)"
    near = {m: {**v, "near_m_first": 200.0, "near_m_last": 150.0} for m, v in rows.items()}
    assert "to its nearest sensors 200 → 150 m" in claim_uavs_toward_sensors(_table(near))[0]
    away = {"su_hatd3": {"upload_m_first": 250.0, "upload_m_last": 400.0}}
    assert claim_uavs_toward_sensors(_table(away))[1] is False
    assert claim_uavs_toward_sensors(_table({"rule": rows["rule"]}))[1] is None
    nothing = {"su_hatd3": {"upload_m_first": float("nan"), "upload_m_last": 1.0}}
    assert claim_uavs_toward_sensors(_table(nothing))[1] is None  # never offloaded
    assert claim_uavs_toward_sensors(_table(LEARNERS))[1] is None  # not measured


def test_fig3b_learning_rate() -> None:
    rewards = {0.05: 300.0, 0.005: 650.0, 0.0005: 600.0}
    table = _swept({("su_hatd3", lr): r for lr, r in rewards.items()}, "reward")
    text, agrees = claim_lr_best(table)
    assert agrees is True and text == "lr 0.05: 300.0, lr 0.005: 650.0, lr 0.0005: 600.0"
    table.loc[table["sweep_value"] == 0.0005, "reward"] = 700.0
    assert claim_lr_best(table)[1] is False
    assert claim_lr_best(table[table["sweep_value"] != 0.005])[1] is None
    assert claim_lr_best(table[table["sweep_value"] == 0.005])[1] is None


def test_fig3c_scales() -> None:
    assert parse_scale("50x10") == (50, 10)
    with pytest.raises(ValueError, match="sensors x UAVs"):
        parse_scale("50-10")
    rewards = {"20x5": 400.0, "50x5": 450.0, "20x10": 800.0, "50x10": 900.0}
    table = _swept({("su_hatd3", s): r for s, r in rewards.items()}, "reward")
    text, agrees = claim_scale_sensors(table)
    assert (
        agrees is True and text == "5 UAVs: 20: 400.0 → 50: 450.0; 10 UAVs: 20: 800.0 → 50: 900.0"
    )
    text, agrees = claim_scale_uavs(table)
    assert agrees is True and text.startswith("20 sensors: 5: 400.0 → 10: 800.0")
    table.loc[table["sweep_value"] == "50x10", "reward"] = 780.0
    assert claim_scale_sensors(table)[1] is False  # 50 sensors below 20 at 10 UAVs
    assert claim_scale_uavs(table)[1] is True
    diagonal = table[table["sweep_value"].isin(["20x5", "50x10"])]
    assert claim_scale_sensors(diagonal)[1] is None and claim_scale_uavs(diagonal)[1] is None


def test_fig4_utility_rises_and_su_hatd3_leads_at_the_largest_value() -> None:
    utility = {
        ("su_hatd3", 3): 500.0, ("su_hatd3", 10): 900.0,
        ("haddpg", 3): 480.0, ("haddpg", 10): 800.0,
        ("matd3", 3): 450.0, ("matd3", 10): 600.0,
        ("maddpg", 3): 400.0, ("maddpg", 10): 360.0,
        ("rule", 10): 1000.0,
    }  # fmt: skip
    table = _swept(utility)
    text, agrees = claim_su_hatd3_rises(table)
    assert agrees is True and text == "su_hatd3 500.0 → 900.0"
    text, agrees = claim_all_learners_rise(table)
    assert agrees is False and "maddpg 400.0 → 360.0" in text  # MADDPG falls
    text, agrees = claim_uavs_best(table)
    assert agrees is True and text.startswith("at 10: su_hatd3 900.0 > haddpg 800.0")
    assert "vs haddpg +12.5 % (paper +12.5 %)" in text and "rule" not in text
    text, agrees = claim_compute_best(table)
    assert agrees is True and "vs maddpg +150.0 % (paper +150 %)" in text
    text, agrees = claim_sensors_best(table)
    assert agrees is True and "paper" not in text
    table.loc[(table["method"] == "haddpg") & (table["sweep_value"] == 10), "utility"] = 950.0
    assert claim_uavs_best(table)[1] is False
    one_value = table[table["sweep_value"] == 10]
    assert claim_su_hatd3_rises(one_value)[1] is None
    assert claim_uavs_best(table[table["method"] != "su_hatd3"])[1] is None
    assert claim_uavs_best(one_value[one_value["method"].isin(["su_hatd3", "rule"])])[1] is None
