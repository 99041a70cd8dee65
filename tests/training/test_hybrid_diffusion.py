"""Paper C's diffusion learners in the hybrid training loop: HDPPO and GHPPO actions are always
accepted by the env, training repeats per seed, and a tiny learning test per learner against
the random → max-radius-rule gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vtwin.agents.ghppo import GHPPOAgent, GHPPOConfig
from vtwin.agents.hdppo import HDPPOAgent, HDPPOConfig
from vtwin.config import load_config
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.envs.privacy_policies import make_privacy_policy, run_episode
from vtwin.training.hybrid import evaluate_hybrid, hybrid_sizes, train_hybrid

TINY = [
    "horizon_slots=20",
    "servers.rsu.count=8",
    "geography.width_m=3000",
    "geography.height_m=3000",
]
SMALL = {"hidden": (16, 16), "denoiser_hidden": (16, 16), "epochs": 2, "minibatch_size": 32}
LEARNERS = {
    "hdppo": (HDPPOAgent, HDPPOConfig),
    "ghppo": (GHPPOAgent, GHPPOConfig),
}


def _env(B: int = 2, horizon: int = 10) -> BatchedCrossRealityPrivacy:
    overrides = [*TINY[1:], f"horizon_slots={horizon}"]
    return BatchedCrossRealityPrivacy(load_config("paper-c-synth", overrides), B)


@pytest.mark.parametrize("name", ["hdppo", "ghppo"])
def test_actions_are_always_accepted_by_the_env(name: str) -> None:
    # a very wide Gaussian: many samples fall outside [0, 1] before the map
    cls, config = LEARNERS[name]
    env = _env(B=4, horizon=20)
    agent = cls(hybrid_sizes(env), config(**SMALL, init_log_std=1.5), device="cpu", seed=0)
    obs, _ = env.reset(5)
    clipped = 0
    for _ in range(env.horizon):
        action, step = agent.act(obs.reshape(env.B, -1))
        r, theta = action["radius_deg"], action["angle_rad"]
        assert np.all((r >= 0) & (r <= env.r_max_deg))
        assert np.all((theta >= 0) & (theta < 2 * np.pi))
        assert np.all((action["server"] >= 0) & (action["server"] < env.S))
        clipped += int(((step.u[..., 0] < 0) | (step.u[..., 0] > 1)).sum())
        obs, _, _, truncated, info = env.step(action)  # raises on an out-of-range action
        np.testing.assert_array_equal(info["radius_deg"], r)  # nothing was cut by the env
    assert truncated.all() and clipped > 0


@pytest.mark.parametrize("name", ["hdppo", "ghppo"])
def test_training_repeats_per_seed(name: str) -> None:
    cls, config = LEARNERS[name]

    def run(seed: int) -> tuple[pd.DataFrame, HDPPOAgent]:
        env = _env()
        cfg = config(**SMALL, rollout_slots=8, anneal_steps=40)
        agent = cls(hybrid_sizes(env), cfg, device="cpu", seed=seed)
        return train_hybrid(env, agent, 60, seed), agent

    (h1, a1), (h2, a2), (h3, _) = run(1), run(1), run(2)
    assert list(h1["steps"]) == [20, 40, 60]
    for col in ("reward", "latency_s", "policy_loss", "aux_loss", "ent_coef", "aux_coef"):
        assert col in h1 and np.isfinite(h1[col]).all()
    assert h1["ent_coef"].iloc[-1] < h1["ent_coef"].iloc[0]  # annealed over 40 transitions
    drop = ["wall_s"]
    pd.testing.assert_frame_equal(h1.drop(columns=drop), h2.drop(columns=drop))
    for pa, pb in zip(a1.state_dict().values(), a2.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    assert a1.transitions_seen == 60
    assert not h1.drop(columns=drop).equals(h3.drop(columns=drop))


def _gap_share(name: str, seed: int, steps: int) -> tuple[float, dict[str, float]]:
    """Train learner ``name`` with its defaults on TINY (B = 8) and return the share of the
    random → max-radius gap its deterministic evaluation closes, and the raw numbers."""
    cls, _ = LEARNERS[name]
    env = BatchedCrossRealityPrivacy(load_config("paper-c-synth", TINY), 8)
    agent = cls(hybrid_sizes(env), device="cpu", seed=seed)
    train_hybrid(env, agent, steps, seed)
    trained = evaluate_hybrid(env, agent, 10_000 + seed)["reward"]
    bar = {
        name: float(
            run_episode(env, make_privacy_policy(name, seed=seed), 10_000 + seed)["utility"].mean()
        )
        for name in ("random", "max_radius")
    }
    share = (trained - bar["random"]) / (bar["max_radius"] - bar["random"])
    return share, {"trained": trained, **bar}


def test_hdppo_learns_most_of_the_random_to_max_radius_gap() -> None:
    """paper-c-synth, 20-slot episodes, 8 RSUs, 3 km map, B = 8; 4000 joint steps (25
    episodes) with paper C's defaults (U = 5, c_ent 0.1 → 0.01 and c_aux 0.01 → 0 over 20k
    transitions). Deterministic evaluation (seed 10 000 + seed), seeds 0 / 1 / 2: HDPPO
    4.331 / 4.298 / 4.291, random 2.250 / 2.284 / 2.359, max-radius rule 4.409 / 4.379 /
    4.382: shares of the gap 0.964 / 0.961 / 0.955 (H-PPO at 4000 steps: 4.310 / 4.202 /
    4.259, shares 0.954 / 0.915 / 0.939). The threshold sits at 60 % of the smallest share.
    What is left of the gap is the agent server (latency 18.2 s against the rule's 13.8 s on
    seed 0): the radius is learned (entropy 4.72 bits, the rule's 4.74)."""
    share, numbers = _gap_share("hdppo", 0, 4000)
    assert share > 0.57, numbers


def test_ghppo_learns_most_of_the_random_to_max_radius_gap() -> None:
    """As the HDPPO test with GHPPO's defaults (MLP continuous head, no auxiliary loss);
    seeds 0 / 1 / 2: GHPPO 4.196 / 4.201 / 4.187, shares of the gap 0.901 / 0.915 / 0.904.
    The threshold sits at 60 % of the smallest share."""
    share, numbers = _gap_share("ghppo", 0, 4000)
    assert share > 0.54, numbers
