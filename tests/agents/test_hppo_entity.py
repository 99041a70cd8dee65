"""H-PPO's entity discrete actor (``discrete_actor = "entity"``): one logit per (AV, server)
from the env's entity layout, option checks, and a checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vtwin.agents.hppo import HPPOAgent, HPPOConfig
from vtwin.agents.hybrid import HybridSizes
from vtwin.agents.nets import EntityScorer
from vtwin.config import load_config
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.layout import EntityLayout
from vtwin.training import make_agent
from vtwin.training.hybrid import hybrid_sizes

SERVERS = [
    "horizon_slots=6",
    "servers.rsu.count=5",
    "geography.width_m=3000",
    "geography.height_m=3000",
    "privacy.observation=servers",
]
ENTITY = HPPOConfig(hidden=(16, 16), epochs=2, minibatch_size=8, lr=1e-3, discrete_actor="entity")


def _env(B: int = 4) -> BatchedCrossRealityPrivacy:
    return BatchedCrossRealityPrivacy(load_config("paper-c-synth", SERVERS), B)


def _train(agent: HPPOAgent, env: BatchedCrossRealityPrivacy, seed: int) -> None:
    from vtwin.training.hybrid import train_hybrid

    train_hybrid(env, agent, 2 * env.horizon * env.B, seed)


def test_entity_logits_are_one_shared_net_over_each_av_and_server() -> None:
    env = _env()
    agent = HPPOAgent(hybrid_sizes(env), ENTITY, device="cpu", seed=0)
    assert isinstance(agent.discrete_actor, EntityScorer)
    obs, _ = env.reset(2)
    row = torch.as_tensor(obs.reshape(env.B, -1), dtype=torch.float32)
    logits = agent.distribution(row).discrete.logits  # [B, M, S], normalised
    layout = env.entity_layout
    assert layout is not None
    net = agent.discrete_actor.net
    for m, s in ((0, 0), (env.M - 1, env.SAT), (1, 2)):
        x = row[:, list(layout.entity_columns[m * env.S + s])]
        raw = agent.discrete_actor(row).reshape(env.B, env.M, env.S)
        torch.testing.assert_close(net(x)[:, 0], raw[:, m, s])
        torch.testing.assert_close(
            logits[:, m], torch.log_softmax(raw[:, m], dim=-1), rtol=1e-5, atol=1e-6
        )
    # the registry hands the layout through
    built = make_agent("hppo", env, seed=0, device="cpu", params={"discrete_actor": "entity"})
    assert isinstance(built.discrete_actor, EntityScorer)


def test_entity_option_needs_a_matching_layout() -> None:
    paper = BatchedCrossRealityPrivacy(load_config("paper-c-synth", SERVERS[:-1]), 2)
    with pytest.raises(ValueError, match="entity_layout"):
        HPPOAgent(hybrid_sizes(paper), ENTITY, device="cpu", seed=0)
    wrong = EntityLayout(tuple((i,) for i in range(4)), ())  # 4 entities, not M·S = 6
    with pytest.raises(ValueError, match="entity_layout has 4 entities"):
        HybridSizes(obs_dim=6, n_actions=3, n_agents=2, entity_layout=wrong)
    with pytest.raises(ValueError, match="'mlp', 'entity'"):
        HPPOAgent(
            hybrid_sizes(_env()),
            HPPOConfig(discrete_actor="set"),
            device="cpu",
            seed=0,  # type: ignore[arg-type]
        )


def test_entity_head_checkpoint_round_trip() -> None:
    def trained(seed: int) -> HPPOAgent:
        env = _env()
        agent = HPPOAgent(hybrid_sizes(env), ENTITY, device="cpu", seed=seed)
        _train(agent, env, seed)
        return agent

    a, b = trained(3), trained(3)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    env = _env()
    restored = HPPOAgent(hybrid_sizes(env), ENTITY, device="cpu", seed=99)
    restored.restore(a.checkpoint())
    obs, _ = env.reset(8)
    row = obs.reshape(env.B, -1)
    for deterministic in (False, True, False):
        (act_a, step_a), (act_r, step_r) = (
            a.act(row, deterministic),
            restored.act(row, deterministic),
        )
        for k in act_a:
            np.testing.assert_array_equal(act_a[k], act_r[k])
        np.testing.assert_array_equal(step_a.logp, step_r.logp)
        np.testing.assert_array_equal(step_a.value, step_r.value)
    _train(a, _env(), 5)
    _train(restored, _env(), 5)
    for (name, pa), pb in zip(a.state_dict().items(), restored.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
