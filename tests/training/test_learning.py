"""Each learning agent beats the random policy on the tiny paper A preset (fixed seeds).

Budgets are chosen to finish in well under a minute each on one CPU core. The margin is
checked on evaluation copies no training episode used, with the agents sampling from their
policies as during training (the paper A experiments evaluate the same way). PPO is held to
a share of the random→greedy latency gap instead (issue 15's protocol, argmax actions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vtwin.config import load_config
from vtwin.training import TrainSettings, evaluate, train

EVAL = {"episodes": 2, "seed": 777_000, "deterministic": False}
CASES: dict[str, tuple[int, dict[str, Any]]] = {
    "dsac": (
        25_000,
        {
            "lr_actor": 1e-3,
            "lr_critic": 1e-3,
            "gamma": 0.9,
            "hidden": [64, 64],
            "denoising_steps": 5,
            "batch_size": 256,
            "learning_starts": 1600,
            "alpha": 0.01,
        },
    ),
}


@pytest.fixture(scope="module")
def random_latency(tmp_path_factory: pytest.TempPathFactory) -> float:
    run = tmp_path_factory.mktemp("random")
    train(load_config("paper-a-tiny"), TrainSettings("random", steps=1600, batch_envs=16), run)
    return evaluate(run, **EVAL)["latency_s"]


@pytest.mark.parametrize("algo", sorted(CASES))
def test_agent_beats_random_on_the_tiny_preset(
    algo: str, tmp_path: Path, random_latency: float
) -> None:
    steps, params = CASES[algo]
    settings = TrainSettings(
        algo, steps=steps, seed=0, batch_envs=16, device="cpu", algo_params=params
    )
    train(load_config("paper-a-tiny"), settings, tmp_path)
    latency = evaluate(tmp_path, **EVAL)["latency_s"]
    # a clear margin: at least 15 % lower latency than uniform random choices
    assert latency < 0.85 * random_latency, (algo, latency, random_latency)


PPO_TINY_STEPS = 30_000
PPO_TINY_SHARE = 0.70
"""Measured by this protocol with ``PPO_PARAMS`` at 30k transitions (≈ 20 s on one core):
92 %, 83 %, 83 % of the gap for training seeds 0, 1, 2 (argmax); the defaults reach 65 % at
60k. 0.70 leaves a margin of 13 points below the worst seed."""


def _tiny_protocol_latency(policy: Any) -> float:
    """Issue-15 protocol on ``paper-a-tiny``: 8 copies reset with seeds 900000…900007, one
    episode (100 slots); the mean ``info["latency_s"]`` over every slot and copy."""
    import numpy as np

    from vtwin.envs.premigration import BatchedPreMigration

    env = BatchedPreMigration(load_config("paper-a-tiny"), 8)
    obs, _ = env.reset([900_000 + b for b in range(8)])
    latency = []
    for _ in range(env.horizon):
        obs, _, _, truncated, info = env.step(policy(env, obs))
        latency.append(float(np.mean(info["latency_s"])))
        if truncated.all():
            break
    return float(np.mean(latency))


def test_ppo_closes_a_share_of_the_random_to_greedy_gap_on_the_tiny_preset() -> None:
    """Paper A's PPO (the paper A experiments' settings, ``PPO_PARAMS``) trained on 8 copies
    for ``PPO_TINY_STEPS`` transitions closes at least ``PPO_TINY_SHARE`` of the latency gap
    between uniform random actions and the one-slot greedy rule, acting by argmax on
    evaluation seeds no training episode used."""
    import numpy as np
    import torch

    from vtwin.envs.premigration import BatchedPreMigration
    from vtwin.experiments.paper_a.rl import PPO_PARAMS
    from vtwin.training import train_agent

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    random = _tiny_protocol_latency(lambda env, _: rng.integers(0, env.n_actions, (env.B, env.V)))
    greedy = _tiny_protocol_latency(lambda env, _: env.greedy_actions())
    cfg = load_config("paper-a-tiny")
    agent, _ = train_agent(
        BatchedPreMigration(cfg, 8), "ppo", PPO_TINY_STEPS, 0, PPO_PARAMS, device="cpu"
    )
    learned = _tiny_protocol_latency(
        lambda env, obs: agent.act(obs.reshape(env.B * env.V, -1), deterministic=True).reshape(
            env.B, env.V
        )
    )
    share = (random - learned) / (random - greedy)
    assert share >= PPO_TINY_SHARE, (share, learned, random, greedy)


def test_dm_mappo_beats_random_on_the_tiny_routing_preset() -> None:
    """Paper B: DM-MAPPO (60k agent-steps, ~15 s) loses far fewer packets than random, never
    executes a masked action and earns more reward than greedy (evaluation seeds unused in
    training)."""
    from vtwin.envs.routing import BatchedMigrationRouting
    from vtwin.training import evaluate_policy, make_agent, train_agent

    cfg = load_config("paper-b-tiny")
    agent, _ = train_agent(
        lambda: BatchedMigrationRouting(cfg, 8),
        "dm_mappo",
        60_000,
        seed=0,
        params={"lr_actor": 1e-3, "lr_critic": 1e-3},
    )
    learned = evaluate_policy(agent, BatchedMigrationRouting(cfg, 8), 999_000, 2)
    env = BatchedMigrationRouting(cfg, 8)
    rand = evaluate_policy(make_agent("random", env, seed=0), env, 999_000, 2)
    greedy = evaluate_policy(make_agent("greedy", env, seed=0), env, 999_000, 2)
    assert learned["reward_per_step"] > greedy["reward_per_step"] > rand["reward_per_step"]
    assert learned["infeasible_share"] == 0.0
    assert learned["packet_loss"] < 0.25 * rand["packet_loss"]
    assert learned["latency_s"] < 1.1 * rand["latency_s"]


DM_MAPPO_TINY_STEPS = 60_000
DM_MAPPO_TINY_SHARE = 1.4
"""Measured with the paper B experiments' settings (``ALGO_PARAMS['dm_mappo']``, learning
rates decaying over the run) at 60k agent-steps (≈ 17 s on one core), argmax on 8 copies × 2
episodes: 1.58, 2.06 and 1.88 of the random→greedy reward gap for training seeds 0, 1, 2
(greedy keeps 10 % random choices, so a learner can pass it). 1.4 leaves a margin of 0.18
below the worst seed."""


def test_dm_mappo_closes_more_than_the_random_to_greedy_reward_gap_on_the_tiny_preset() -> None:
    """Paper B's DM-MAPPO with the settings of the paper B experiments (γ = 0.5, lr 1e-3
    decaying linearly to 0 over the run) earns at least ``DM_MAPPO_TINY_SHARE`` of the
    reward gap between random and greedy routing on ``paper-b-tiny``, acting by argmax on
    evaluation seeds no training episode used."""
    import torch

    from vtwin.envs.routing import BatchedMigrationRouting
    from vtwin.experiments.paper_b.routing import ALGO_PARAMS, LR_DECAY
    from vtwin.training import evaluate_policy, make_agent, train_agent

    torch.set_num_threads(1)
    cfg = load_config("paper-b-tiny")
    env = BatchedMigrationRouting(cfg, 8)
    rand = evaluate_policy(make_agent("random", env, seed=0), env, 999_000, 2)["reward_per_step"]
    greedy = evaluate_policy(make_agent("greedy", env, seed=0), env, 999_000, 2)["reward_per_step"]
    assert "dm_mappo" in LR_DECAY
    params = {**ALGO_PARAMS["dm_mappo"], "lr_anneal_steps": DM_MAPPO_TINY_STEPS}
    agent, _ = train_agent(
        lambda: BatchedMigrationRouting(cfg, 8),
        "dm_mappo",
        DM_MAPPO_TINY_STEPS,
        seed=0,
        params=params,
        device="cpu",
    )
    learned = evaluate_policy(agent, BatchedMigrationRouting(cfg, 8), 999_000, 2)
    share = (learned["reward_per_step"] - rand) / (greedy - rand)
    assert share >= DM_MAPPO_TINY_SHARE, (share, learned["reward_per_step"], rand, greedy)
    assert learned["infeasible_share"] == 0.0
