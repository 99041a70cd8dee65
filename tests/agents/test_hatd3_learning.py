"""Paper D's learners learn (issue 19): on the ``paper-d-tiny`` preset, with fixed seeds and
``TINY_PARAMS``, SU-HATD3 reaches the rule reference's utility in about a minute on one CPU
core and each of the paper's baselines beats random play. Utilities are per-slot means of a
deterministic episode of 8 copies the training never saw (the experiments' seeds 900 000…).
"""

from __future__ import annotations

from typing import Any

import pytest

from vtwin.config import load_config
from vtwin.envs.twin_update import BatchedTwinUpdate, sensor_choice
from vtwin.experiments.paper_d.learners import TINY_PARAMS
from vtwin.training import evaluate_policy, make_agent, train_agent

EVAL_SEED = 900_000


def _utility(agent: Any) -> float:
    env = BatchedTwinUpdate(load_config("paper-d-tiny"), 8)
    return float(evaluate_policy(agent, env, EVAL_SEED, episodes=1)["utility"])


def _trained(algo: str, steps: int, seed: int = 0) -> Any:
    config = load_config("paper-d-tiny")
    agent, history = train_agent(
        lambda: BatchedTwinUpdate(config, 4),
        algo,
        steps,
        seed=seed,
        params=dict(TINY_PARAMS),
        device="cpu",
    )
    assert int(history["steps"].iloc[-1]) >= steps
    return agent


def _reference(name: str) -> float:
    env = BatchedTwinUpdate(load_config("paper-d-tiny"), 8)
    return _utility(make_agent(name, env, seed=0, params={}))


def test_su_hatd3_reaches_the_rule_reference_on_the_tiny_preset() -> None:
    agent = _trained("su_hatd3", 8_000)
    rule, random = _reference("rule"), _reference("random")
    assert rule > random + 10.0  # the bar is above chance
    assert _utility(agent) >= rule
    # every sensor offloads, and both UAVs get tasks
    env = BatchedTwinUpdate(load_config("paper-d-tiny"), 8)
    obs, _ = env.reset(EVAL_SEED)
    choice = sensor_choice(agent.act(obs, deterministic=True)["sensor"], env.U)
    assert (choice >= 0).mean() >= 0.9
    assert set(choice.ravel().tolist()) >= {0, 1}


@pytest.mark.parametrize("algo", ["haddpg", "matd3", "maddpg"])
def test_each_baseline_learner_beats_random_on_the_tiny_preset(algo: str) -> None:
    assert _utility(_trained(algo, 4_000)) > _reference("random") + 5.0
