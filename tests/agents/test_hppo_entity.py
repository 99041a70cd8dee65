"""The entity discrete actor (``discrete_actor = "entity"``) of H-PPO (one logit per (AV,
server) from the env's entity layout) and of HDPPO / GHPPO (the discrete chain's ε-network
shared by the (AV, server) pairs): option checks, and a checkpoint round trip."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_fakes import assert_same_acts

from vtwin.agents.diffusion import Diffusion
from vtwin.agents.ghppo import GHPPOAgent, GHPPOConfig
from vtwin.agents.hdppo import HDPPOAgent, HDPPOConfig
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
CHAIN = {"hidden": (16, 16), "denoiser_hidden": (16, 16), "epochs": 2, "minibatch_size": 8}
AGENTS = {
    "hppo": (HPPOAgent, ENTITY),
    "hdppo": (HDPPOAgent, HDPPOConfig(**CHAIN, discrete_actor="entity")),
    "ghppo": (GHPPOAgent, GHPPOConfig(**CHAIN, discrete_actor="entity")),
}


def _env(B: int = 4) -> BatchedCrossRealityPrivacy:
    return BatchedCrossRealityPrivacy(load_config("paper-c-synth", SERVERS), B)


def _train(agent: torch.nn.Module, env: BatchedCrossRealityPrivacy, seed: int) -> None:
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


@pytest.mark.parametrize("name", list(AGENTS))
def test_entity_option_needs_a_matching_layout(name: str) -> None:
    cls, config = AGENTS[name]
    paper = BatchedCrossRealityPrivacy(load_config("paper-c-synth", SERVERS[:-1]), 2)
    option = f"{type(config).__name__}.discrete_actor = 'entity' needs"
    with pytest.raises(ValueError, match=option):
        cls(hybrid_sizes(paper), config, device="cpu", seed=0)
    wrong = EntityLayout(tuple((i,) for i in range(4)), ())  # 4 entities, not M·S = 6
    with pytest.raises(ValueError, match="entity_layout has 4 entities"):
        HybridSizes(obs_dim=6, n_actions=3, n_agents=2, entity_layout=wrong)
    with pytest.raises(ValueError, match="'mlp', 'entity'"):
        cls(hybrid_sizes(_env()), type(config)(discrete_actor="set"), device="cpu", seed=0)


def test_entity_chain_is_one_shared_denoiser_over_each_av_and_server() -> None:
    env = _env()
    agent = HDPPOAgent(hybrid_sizes(env), AGENTS["hdppo"][1], device="cpu", seed=0)
    chain = agent.discrete_actor
    assert isinstance(chain, Diffusion) and isinstance(chain.eps, EntityScorer)
    obs, _ = env.reset(2)
    row = torch.as_tensor(obs.reshape(env.B, -1), dtype=torch.float32)
    layout = env.entity_layout
    assert layout is not None
    x_t = torch.randn(env.B, env.M * env.S)
    t = torch.full((env.B,), 2, dtype=torch.long)
    eps = chain.predict_eps(x_t, t, row)
    embed = chain.t_embed(t)
    for m, s in ((0, 0), (env.M - 1, env.SAT), (1, 2)):
        a = m * env.S + s
        x = torch.cat([row[:, list(layout.entity_columns[a])], x_t[:, a : a + 1], embed], -1)
        torch.testing.assert_close(chain.eps.net(x)[:, 0], eps[:, a])
    # an untrained chain starts near uniform server logits, as the MLP one does
    logits = agent.distribution(row).discrete.logits.detach()
    assert float((logits - logits.mean(-1, keepdim=True)).abs().max()) < 0.1
    for name in ("hdppo", "ghppo"):
        built = make_agent(name, env, seed=0, device="cpu", params={"discrete_actor": "entity"})
        assert isinstance(built.discrete_actor.eps, EntityScorer)


@pytest.mark.parametrize("name", list(AGENTS))
def test_entity_head_checkpoint_round_trip(name: str) -> None:
    cls, config = AGENTS[name]

    def trained(seed: int) -> torch.nn.Module:
        env = _env()
        agent = cls(hybrid_sizes(env), config, device="cpu", seed=seed)
        _train(agent, env, seed)
        return agent

    a, b = trained(3), trained(3)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    env = _env()
    restored = cls(hybrid_sizes(env), config, device="cpu", seed=99)
    restored.restore(a.checkpoint())
    obs, _ = env.reset(8)
    row = obs.reshape(env.B, -1)
    assert_same_acts(a, restored, row)
    _train(a, _env(), 5)
    _train(restored, _env(), 5)
    for (name, pa), pb in zip(a.state_dict().items(), restored.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
