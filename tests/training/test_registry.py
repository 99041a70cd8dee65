"""The algorithm registry: every algorithm is an Agent, checkpoints round-trip, names checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agents"))
from fake_routing import FakeRouting

from vtwin.agents.protocol import Agent, OffPolicyAgent, OnPolicyAgent
from vtwin.config import load_config
from vtwin.envs.premigration import BatchedPreMigration
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.training import ALGORITHMS, algorithm_names, env_kind, make_agent

SMALL: dict[str, dict[str, Any]] = {
    "ppo": {"hidden": [8, 8]},
    "dsac": {"hidden": [8, 8], "denoising_steps": 2, "buffer_size": 100},
    "dm_mappo": {"hidden": [8, 8], "critic_hidden": [8, 8]},
    "mappo": {"hidden": [8, 8], "critic_hidden": [8, 8]},
    "masac": {"hidden": [8, 8], "buffer_size": 100},
    "hppo": {"hidden": [8, 8]},
    "hdppo": {"hidden": [8, 8], "denoiser_hidden": [8, 8], "denoising_steps": 2},
    "ghppo": {"hidden": [8, 8], "denoiser_hidden": [8, 8], "denoising_steps": 2},
    "ppo_relaxed": {"hidden": [8, 8]},
    "hgdm": {"hidden": [8, 8], "denoising_steps": 2, "buffer_size": 100},
    **{
        a: {"hidden": [8, 8], "buffer_size": 100} for a in ("su_hatd3", "haddpg", "matd3", "maddpg")
    },
}


def _actions(out: Any) -> dict[str, Any]:
    """An agent's actions as named arrays: a hybrid learner returns (env action dict, step)."""
    if isinstance(out, tuple):
        return dict(out[0])
    if isinstance(out, dict):  # a heterogeneous env's action dict
        return dict(out)
    return {"action": out}


def _assert_same(a: Any, b: Any) -> None:
    got, want = _actions(a), _actions(b)
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def _env_and_obs(kind: str) -> tuple[Any, Any]:
    if kind == "heterogeneous":
        from vtwin.envs.twin_update import BatchedTwinUpdate

        tiny = ["horizon_slots=5", "sensors.count=4", "servers.uav.count=2"]
        denv = BatchedTwinUpdate(load_config("paper-d", tiny), 2)
        return denv, denv.reset(7)[0]
    if kind == "hybrid":
        tiny = ["horizon_slots=5", "servers.rsu.count=6", "geography.width_m=3000"]
        henv = BatchedCrossRealityPrivacy(load_config("paper-c-synth", tiny), 2)
        hobs, _ = henv.reset(7)
        return henv, hobs.reshape(henv.B, -1)
    if kind == "multi_agent":
        env = FakeRouting(B=2, V=3)
        obs, _ = env.reset(7)
        return env, obs
    env = BatchedPreMigration(load_config("paper-a-tiny"), 2)
    obs, _ = env.reset(7)
    return env, obs.reshape(env.B * env.V, -1)


CASES = [(name, kind) for name, algo in ALGORITHMS.items() for kind in sorted(algo.env_kinds)]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_algorithm_is_an_agent_whose_checkpoint_acts_identically(
    name: str, kind: str
) -> None:
    env, obs = _env_and_obs(kind)
    assert env_kind(env) == kind
    agent = make_agent(name, env, seed=1, device="cpu", params=SMALL.get(name))
    assert isinstance(agent, Agent)
    assert agent.kind in ("on_policy", "off_policy", "none")
    if agent.kind == "on_policy" and kind == "hybrid":  # vtwin.training.hybrid.HybridLearner
        assert callable(agent.value) and callable(getattr(agent, "update", None))
    elif agent.kind == "on_policy":
        assert isinstance(agent, OnPolicyAgent)
    if agent.kind == "off_policy":
        assert isinstance(agent, OffPolicyAgent)
    agent.act(obs)  # move the random state away from the seed's
    ckpt = agent.checkpoint()
    first = [agent.act(obs) for _ in range(3)]
    twin = make_agent(name, env, seed=99, device="cpu", params=SMALL.get(name))
    twin.restore(ckpt)
    for want in first:
        _assert_same(twin.act(obs), want)
    _assert_same(twin.act(obs, deterministic=True), agent.act(obs, deterministic=True))


def test_random_serves_three_kinds_and_the_names_are_listed() -> None:
    assert set(ALGORITHMS["random"].env_kinds) == {"single_agent", "multi_agent", "heterogeneous"}
    assert algorithm_names("heterogeneous") == (
        "random",
        "su_hatd3",
        "haddpg",
        "matd3",
        "maddpg",
        "rule",
        "greedy_steps",
    )
    assert algorithm_names("single_agent") == ("ppo", "dsac", "random")
    assert algorithm_names("multi_agent") == ("dm_mappo", "mappo", "masac", "greedy", "random")
    env, _ = _env_and_obs("multi_agent")
    with pytest.raises(ValueError, match="unknown algo 'qmix'; valid: dm_mappo, mappo, masac"):
        make_agent("qmix", env)
    with pytest.raises(ValueError, match="'ppo' does not serve multi-agent envs; valid: dm_mappo"):
        make_agent("ppo", env)
