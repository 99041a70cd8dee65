"""Paper A Figs. 3-4 experiments: the run function, registration and the claim checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vtwin.experiments import expand, expand_name, get_experiment
from vtwin.experiments.paper_a.rl import (
    claim_dsac_beats_ppo_curve,
    claim_dsac_vs_baselines,
    claim_gpu_latency,
    claim_gpu_uav_trend,
    claim_uav_gain,
    run_agent,
)
from vtwin.experiments.spec import RunSpec

TINY_BUDGET = {
    "train_slots": 10,
    "batch": 2,
    "steps": 60,
    "denoising_steps": 2,
    "eval_slots": 15,
    "eval_batch": 2,
}


def _spec(method: str, seed: int = 0) -> RunSpec:
    return RunSpec(
        experiment="paper-a-rl",
        method=method,
        seed=seed,
        budget=TINY_BUDGET,
        preset="paper-a-tiny",
        mode="quick",
    )


def test_experiments_and_the_paper_a_group_are_registered() -> None:
    rl = get_experiment("paper-a-rl")
    assert set(rl.methods) == {"dsac_uav", "dsac", "ppo_uav", "ppo", "random_uav"}
    assert rl.seeds >= 3
    gpu = get_experiment("paper-a-gpu")
    assert gpu.sweep is not None and gpu.sweep.key == "servers.rsu.compute_ghz"
    assert gpu.sweep.values == (40.0, 50.0, 60.0, 70.0, 80.0)
    assert {s.sweep_value for s in expand(gpu, quick=True)} == {40.0, 60.0, 80.0}
    assert {s.sweep_value for s in expand(gpu, quick=False)} == set(gpu.sweep.values)
    assert expand_name("paper-a") == ("paper-a-rl", "paper-a-gpu", "paper-a-uav")


@pytest.mark.parametrize("method", ["ppo_uav", "dsac", "random"])
def test_run_agent_is_deterministic_and_reports_metrics(method: str) -> None:
    a = run_agent(_spec(method))
    b = run_agent(_spec(method))
    a.summary.pop("train_minutes")
    b.summary.pop("train_minutes")
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    assert list(a.metrics.columns) == ["step", "reward_per_slot", "latency_s"]
    assert list(a.metrics["step"]) == [20, 40, 60]  # one row per 2-copy, 10-slot episode
    assert a.summary["latency_s"] > 0 and a.summary["reward_per_slot"] < 0


def test_without_uav_suffix_the_uavs_are_removed() -> None:
    with_uav = run_agent(_spec("random_uav"))
    without = run_agent(_spec("random"))
    assert with_uav.summary["latency_s"] != without.summary["latency_s"]
    with pytest.raises(ValueError, match="expected dsac\\|ppo\\|random"):
        run_agent(_spec("sac_uav"))


def _table(rewards: dict[str, float], metric: str = "reward_per_slot") -> pd.DataFrame:
    rows = [{"method": m, "seed": s, metric: v} for m, v in rewards.items() for s in (0, 1)]
    return pd.DataFrame(rows)


def test_fig3_claims() -> None:
    table = _table({"dsac_uav": -0.81, "ppo_uav": -1.0, "random_uav": -1.25, "dsac": -0.85})
    text, agrees = claim_dsac_vs_baselines(table)
    assert agrees and "+19.0 % vs PPO+UAV" in text and "+35.2 % vs random+UAV" in text
    text, agrees = claim_uav_gain(table)
    assert agrees and text == "dsac: +4.7 %"
    worse = _table({"dsac_uav": -1.1, "ppo_uav": -1.0, "random_uav": -1.25})
    assert claim_dsac_vs_baselines(worse)[1] is False
    assert claim_dsac_vs_baselines(_table({"dsac_uav": -1.0}))[1] is None
    curve = _table({"dsac_uav": -0.9, "ppo_uav": -1.0}, metric="train_reward")
    assert claim_dsac_beats_ppo_curve(curve)[1] is True


def test_fig4_claims() -> None:
    rows = []
    for ghz, lat in ((40.0, (1.0, 1.4, 1.2)), (80.0, (0.5, 0.6, 0.7))):
        for method, value in zip(("dsac_uav", "dsac", "ppo_uav"), lat, strict=True):
            rows.append({"method": method, "seed": 0, "sweep_value": ghz, "latency_s": value})
    table = pd.DataFrame(rows)
    text, agrees = claim_gpu_latency(table)
    assert agrees and "40 GHz: best dsac_uav" in text
    text, agrees = claim_gpu_uav_trend(table)
    assert agrees and "40 GHz +400 ms" in text and "80 GHz +100 ms" in text
    # the greedy reference is ours, not one of the paper's methods: it does not enter the claim
    ref = pd.DataFrame(
        [{"method": "greedy_uav", "seed": 0, "sweep_value": g, "latency_s": 0.1} for g in (40, 80)]
    )
    assert claim_gpu_latency(pd.concat([table, ref]))[1] is True


def test_greedy_reference_runs_the_env_rule_on_the_evaluation_copies() -> None:
    from vtwin.config import load_config
    from vtwin.training import make_env

    greedy = run_agent(_spec("greedy_uav"))
    assert greedy.summary == run_agent(_spec("greedy_uav")).summary  # deterministic
    assert greedy.summary["train_minutes"] == 0.0
    env = make_env(load_config("paper-a-tiny", ["horizon_slots=15"]), 2)
    env.reset(seed=[900_000, 900_001])
    latency = []
    for _ in range(15):
        *_, info = env.step(env.greedy_actions())
        latency.append(info["latency_s"])
    assert greedy.summary["latency_s"] == pytest.approx(float(np.mean(latency)))
    assert greedy.summary["latency_s"] < run_agent(_spec("random_uav")).summary["latency_s"]
