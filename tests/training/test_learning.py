"""Each learning agent beats the random policy on the tiny paper A preset (fixed seeds).

Budgets are chosen to finish in well under a minute each on one CPU core. The margin is
checked on evaluation copies no training episode used, with the agents sampling from their
policies as during training (the paper A experiments evaluate the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vtwin.config import load_config
from vtwin.training import TrainSettings, evaluate, train

EVAL = {"episodes": 2, "seed": 777_000, "deterministic": False}
CASES: dict[str, tuple[int, dict[str, Any]]] = {
    "ppo": (
        100_000,
        {"lr": 1e-3, "gamma": 0.9, "gae_lambda": 0.9, "hidden": [64, 64], "rollout_slots": 32},
    ),
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
