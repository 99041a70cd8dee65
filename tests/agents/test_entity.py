"""Entity layouts and the scorer shared by entities (servers), in PPO and diffusion SAC."""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest
import torch

from vtwin.agents.buffers import ReplayBuffer, RolloutBuffer, Transition
from vtwin.agents.common import AgentSizes
from vtwin.agents.diffusion import Diffusion
from vtwin.agents.dsac import DSACAgent, DSACConfig
from vtwin.agents.nets import EntityScorer, SigmoidTanh
from vtwin.agents.ppo import PPOAgent, PPOConfig
from vtwin.devices import keep_freed_memory
from vtwin.layout import EntityLayout

N_ENT = 5
"""Entities of the toy task; each has one feature (its 'value') and two actions."""

LAYOUT = EntityLayout.from_slices([slice(1, 1 + N_ENT)], [slice(0, 1)], actions_per_entity=2)
"""obs = [shared flag, value of entity 0 … 4]; action 2e + k picks entity e, variant k."""


def _task(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Toy rows: the best action is the entity of largest value, variant = the shared flag."""
    values = rng.random((n, N_ENT))
    flag = rng.integers(0, 2, n)
    obs = np.concatenate([flag[:, None], values], axis=1).astype(np.float32)
    return obs, 2 * values.argmax(axis=1) + flag


def test_layout_from_slices_and_its_errors() -> None:
    lay = EntityLayout.from_slices([slice(2, 5), slice(5, 8)], [slice(0, 2), slice(8, 9)], 4)
    assert lay.entity_columns == ((2, 5), (3, 6), (4, 7))
    assert lay.shared_columns == (0, 1, 8)
    assert (lay.n_entities, lay.n_actions) == (3, 12)
    with pytest.raises(ValueError, match="differ in length"):
        EntityLayout.from_slices([slice(0, 2), slice(2, 5)], [])
    with pytest.raises(ValueError, match="same number of features"):
        EntityLayout(((0, 1), (2,)), ())
    with pytest.raises(ValueError, match="actions_per_entity = 0"):
        EntityLayout(((0,),), (), 0)
    with pytest.raises(ValueError, match="2 entities × 1 actions; the agent has 3"):
        AgentSizes(4, 3, entity_layout=EntityLayout(((0,), (1,)), ()))
    with pytest.raises(ValueError, match=r"columns must lie in \[0, 2\)"):
        AgentSizes(2, 2, entity_layout=EntityLayout(((0,), (5,)), ()))


def test_scorer_is_shared_so_permuting_entities_permutes_scores() -> None:
    torch.manual_seed(0)
    scorer = EntityScorer(LAYOUT, (16, 16))
    obs = torch.as_tensor(_task(np.random.default_rng(0), 7)[0])
    perm = torch.tensor([3, 0, 4, 1, 2])
    permuted = obs.clone()
    permuted[:, 1:] = obs[:, 1:][:, perm]
    out, out_p = scorer(obs).reshape(7, N_ENT, 2), scorer(permuted).reshape(7, N_ENT, 2)
    assert out.shape == (7, N_ENT, 2)
    torch.testing.assert_close(out_p, out[:, perm])
    with pytest.raises(ValueError, match="give extra iff"):
        scorer(obs, extra=torch.zeros(7, 2 * N_ENT))
    with pytest.raises(ValueError, match="extra_per_action = 2"):
        EntityScorer(LAYOUT, (16,), extra_per_action=2)
    # the shared column reaches every entity's scores
    flipped = obs.clone()
    flipped[:, 0] = 1 - flipped[:, 0]
    assert not torch.allclose(scorer(flipped), scorer(obs))


def test_ppo_with_the_shared_scorer_learns_the_toy_task_and_needs_a_layout() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    sizes = AgentSizes(1 + N_ENT, 2 * N_ENT, entity_layout=LAYOUT)
    agent = PPOAgent(sizes, PPOConfig(lr=3e-3, minibatch_size=64, actor="entity"), seed=0)
    buf = RolloutBuffer(16, 32, 1 + N_ENT)
    for _ in range(40):
        buf.reset()
        for _ in range(16):
            obs, best = _task(rng, 32)
            act, logp, val = agent.act_with_info(obs)
            done = np.ones(32, dtype=bool)
            buf.add(obs, act, logp, (act == best).astype(float), val, done, ~done)
        buf.compute_returns(np.zeros(32), agent.config.gamma, agent.config.gae_lambda)
        agent.update(buf)
    obs, best = _task(np.random.default_rng(1), 500)
    assert np.mean(agent.act(obs, deterministic=True) == best) > 0.9  # random: 0.1
    twin = PPOAgent(sizes, PPOConfig(lr=3e-3, minibatch_size=64, actor="entity"), seed=5)
    twin.restore(agent.checkpoint())
    np.testing.assert_array_equal(
        twin.act(obs, deterministic=True), agent.act(obs, deterministic=True)
    )
    with pytest.raises(ValueError, match="needs an env that declares an entity_layout"):
        PPOAgent(AgentSizes(1 + N_ENT, 2 * N_ENT), PPOConfig(actor="entity"))
    with pytest.raises(ValueError, match="allowed: 'mlp', 'entity'"):
        PPOAgent(sizes, PPOConfig(actor="attention"))  # type: ignore[arg-type]


def test_dsac_with_shared_nets_learns_the_toy_task() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    sizes = AgentSizes(1 + N_ENT, 2 * N_ENT, entity_layout=LAYOUT)
    config = DSACConfig(
        lr_actor=3e-3,
        lr_critic=3e-3,
        batch_size=64,
        denoising_steps=4,
        hidden=(32, 32),
        learning_starts=64,
        gamma=0.0,
        alpha=0.02,
        critic="entity",
        denoiser="entity",
    )
    agent = DSACAgent(sizes, config, device="cpu", seed=0)
    assert isinstance(agent.actor, Diffusion) and agent.actor.per_entity
    buf = ReplayBuffer(20_000, 1 + N_ENT)
    for _ in range(600):
        obs, best = _task(rng, 16)
        act = agent.act(obs)
        buf.add(Transition(obs, act, (act == best).astype(np.float32), obs, np.ones(16, bool)))
        agent.learn(buf)
    obs, best = _task(np.random.default_rng(1), 500)
    assert np.mean(agent.act(obs, deterministic=True) == best) > 0.8  # random: 0.1
    with pytest.raises(ValueError, match="= 'entity' needs an env that declares"):
        DSACAgent(AgentSizes(1 + N_ENT, 2 * N_ENT), config)
    mixed = DSACAgent(sizes, DSACConfig(critic="entity"), device="cpu")
    assert isinstance(mixed.q1, EntityScorer) and not mixed.actor.per_entity


@pytest.mark.parametrize("k", [1, 2])
def test_scorer_by_parts_is_one_mlp_over_the_concatenated_inputs(k: int) -> None:
    """The first layer applied block by block (entity and shared columns, the per-action
    ``extra`` by a fused outer product when k = 1, the per-row input) is the MLP over
    ``[entity columns, shared columns, extra_e, row_extra]``."""
    torch.manual_seed(0)
    layout = EntityLayout.from_slices([slice(1, 1 + N_ENT)], [slice(0, 1)], actions_per_entity=k)
    scorer = EntityScorer(layout, (8, 8), extra_per_action=1, extra_dim=3)
    obs = torch.randn(4, 1 + N_ENT)
    extra, row = torch.randn(4, N_ENT * k), torch.randn(4, 3)
    inputs = torch.cat(
        [
            obs[:, 1:, None],
            obs[:, None, :1].expand(4, N_ENT, 1),
            extra.reshape(4, N_ENT, k),
            row[:, None, :].expand(4, N_ENT, 3),
        ],
        dim=-1,
    )
    expected = scorer.net(inputs).reshape(4, N_ENT * k)
    torch.testing.assert_close(scorer(obs, extra, row), expected)
    torch.testing.assert_close(scorer(obs, extra, row, projected=scorer.project(obs)), expected)


def test_sigmoid_tanh_is_tanh_with_its_gradient() -> None:
    x = torch.linspace(-30.0, 30.0, 2001, dtype=torch.float32).requires_grad_()
    y = SigmoidTanh()(x)
    torch.testing.assert_close(y, torch.tanh(x), atol=3e-7, rtol=0)
    (grad,) = torch.autograd.grad((y * torch.arange(2001.0)).sum(), x)
    x2 = x.detach().clone().requires_grad_()
    (expected,) = torch.autograd.grad((torch.tanh(x2) * torch.arange(2001.0)).sum(), x2)
    torch.testing.assert_close(grad, expected, atol=1e-3, rtol=1e-5)
    assert torch.isnan(SigmoidTanh()(torch.tensor([float("nan")]))).all()
    assert SigmoidTanh()(torch.tensor([-1e30, 1e30])).tolist() == [-1.0, 1.0]


def test_keep_freed_memory_is_idempotent() -> None:
    first = keep_freed_memory()
    assert keep_freed_memory() is first
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert first
