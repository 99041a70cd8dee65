"""H-PPO and the shared hybrid parts: joint log-probs against hand-built distributions, the
bounded action map, ratios of 1 before the first step, GAE in the rollout, checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Normal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_fakes import assert_same_acts, fill_rollout, spy_ratios

import vtwin.agents.hppo as hppo_module
from vtwin.agents.buffers import compute_gae
from vtwin.agents.hppo import HPPOAgent, HPPOConfig
from vtwin.agents.hybrid import (
    HybridDistribution,
    HybridRollout,
    HybridSizes,
    to_env_action,
)

M, S, F, B, T = 3, 4, 5, 6, 7
R_MAX = 0.001
SIZES = HybridSizes(obs_dim=M * F, n_actions=S, n_agents=M, r_max_deg=R_MAX)
SMALL = HPPOConfig(hidden=(16, 16), epochs=2, minibatch_size=16, lr=1e-3)


def _fill(agent: HPPOAgent, seed: int = 0) -> HybridRollout:
    """A rollout of T slots × B copies from random observations; reward = −radius."""
    rng = np.random.default_rng(seed)
    return fill_rollout(
        agent,
        T,
        lambda t: rng.uniform(0, 1, (B, M * F)).astype(np.float32),
        lambda action, step: -action["radius_deg"].mean(axis=1) / R_MAX,
        M,
    )


def test_joint_log_prob_is_the_sum_of_hand_built_categoricals_and_normals() -> None:
    g = torch.Generator().manual_seed(0)
    n = 5
    logits = torch.randn(n, M, S, generator=g)
    mean = torch.randn(n, M, 2, generator=g)
    log_std = torch.randn(M, 2, generator=g) * 0.5
    dist = HybridDistribution(logits, mean, log_std)
    server, u = dist.sample(g)
    assert server.shape == (n, M) and u.shape == (n, M, 2)
    expected = torch.zeros(n)
    ent_d = torch.zeros(n, M)
    ent_c = torch.zeros(n, M)
    for i in range(n):
        for m in range(M):
            cat = Categorical(logits=logits[i, m])
            expected[i] += cat.log_prob(server[i, m])
            ent_d[i, m] = cat.entropy()
            for k in range(2):
                normal = Normal(mean[i, m, k], log_std[m, k].exp())
                expected[i] += normal.log_prob(u[i, m, k])
                ent_c[i, m] += normal.entropy()
    torch.testing.assert_close(dist.log_prob(server, u), expected)
    logp_d, logp_c = dist.log_prob_parts(server, u)
    torch.testing.assert_close(logp_d + logp_c, expected)
    got_d, got_c = dist.entropy()
    torch.testing.assert_close(got_d, ent_d)
    torch.testing.assert_close(got_c, ent_c)
    # the mode: argmax servers and the means
    mode_server, mode_u = dist.mode()
    assert torch.equal(mode_server, logits.argmax(-1)) and torch.equal(mode_u, mean)


def test_agent_step_log_probs_match_its_networks() -> None:
    agent = HPPOAgent(SIZES, SMALL, device="cpu", seed=1)
    obs = np.random.default_rng(0).uniform(0, 1, (B, M * F)).astype(np.float32)
    _, step = agent.act(obs)
    o = torch.as_tensor(obs)
    with torch.no_grad():
        logits = agent.discrete_actor(o).reshape(B, M, S)
        mean = 0.5 + agent.continuous_actor(o).reshape(B, M, 2)
        std = agent.log_std.exp()
    u = torch.as_tensor(step.u)
    for b in range(B):
        lp_d = sum(
            float(Categorical(logits=logits[b, m]).log_prob(torch.tensor(step.server[b, m])))
            for m in range(M)
        )
        lp_c = float(Normal(mean[b], std).log_prob(u[b]).sum())
        assert step.logp_discrete[b] == pytest.approx(lp_d, abs=1e-5)
        assert step.logp_continuous[b] == pytest.approx(lp_c, abs=1e-5)
        assert step.logp[b] == pytest.approx(lp_d + lp_c, abs=1e-5)


def test_action_map_never_leaves_the_env_bounds() -> None:
    u = np.array(
        [[[-3.0, -1e-18], [0.25, 0.25], [1.7, 1.0 - 1e-17]], [[0.0, -0.75], [1.0, 5.5], [0.5, 1.0]]]
    )
    server = np.array([[0, 1, 3], [2, 3, 0]])
    a = to_env_action(server, u, R_MAX)
    np.testing.assert_allclose(a["radius_deg"], R_MAX * np.array([[0, 0.25, 1], [0, 1, 0.5]]))
    assert np.all((a["angle_rad"] >= 0) & (a["angle_rad"] < 2 * np.pi))
    np.testing.assert_allclose(
        a["angle_rad"], 2 * np.pi * np.array([[0, 0.25, 0], [0.25, 0.5, 0]]), atol=1e-12
    )
    assert a["server"].dtype == np.int64 and np.array_equal(a["server"], server)
    # wide Gaussians: every sample maps inside the bounds
    wide = np.random.default_rng(0).normal(0.5, 10.0, (1000, M, 2))
    a = to_env_action(np.zeros((1000, M), dtype=np.int64), wide, R_MAX)
    assert np.all((a["radius_deg"] >= 0) & (a["radius_deg"] <= R_MAX))
    assert np.all((a["angle_rad"] >= 0) & (a["angle_rad"] < 2 * np.pi))


@pytest.mark.parametrize("joint_ratio", [False, True])
def test_ratios_are_exactly_one_at_the_first_minibatch(
    joint_ratio: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_ratios(monkeypatch, hppo_module)
    config = HPPOConfig(hidden=(16, 16), epochs=2, minibatch_size=16, joint_ratio=joint_ratio)
    agent = HPPOAgent(SIZES, config, device="cpu", seed=3)
    metrics = agent.update(_fill(agent))
    first = seen[: 1 if joint_ratio else 2]  # per head without the joint ratio
    for ratio in first:
        assert ratio.shape == (16,)
        assert torch.equal(ratio, torch.ones_like(ratio))
    assert not all(torch.equal(r, torch.ones_like(r)) for r in seen)  # later ones moved
    assert metrics["approx_kl"] >= 0 and np.isfinite(metrics["value_loss"])


def test_rollout_gae_rewards_and_minibatches() -> None:
    agent = HPPOAgent(SIZES, SMALL, device="cpu", seed=0)
    rollout = _fill(agent)
    adv, ret = compute_gae(
        rollout.rewards,
        rollout.values,
        rollout.terminated,
        rollout.truncated,
        np.zeros(B),
        rollout.final_values,
        gamma=0.95,
        lam=0.95,
    )
    np.testing.assert_array_equal(rollout.advantages, adv)
    np.testing.assert_array_equal(rollout.returns, ret)
    batches = list(rollout.minibatches(10, np.random.default_rng(0), torch.device("cpu")))
    assert sum(len(b["server"]) for b in batches) == T * B
    assert batches[0]["u"].shape == (10, M, 2) and batches[0]["obs"].shape == (10, M * F)
    # every stored joint step comes back exactly once
    got = torch.cat([b["logp_discrete"] for b in batches]).sort().values.numpy()
    np.testing.assert_array_equal(got, np.sort(rollout.logp_discrete.reshape(-1)))
    with pytest.raises(RuntimeError, match="rollout is full"):
        rollout.add(*_one_step(agent))


def _one_step(agent: HPPOAgent) -> tuple[Any, ...]:
    obs = np.zeros((B, M * F), dtype=np.float32)
    _, step = agent.act(obs)
    return obs, step, np.zeros(B), np.zeros(B, bool), np.zeros(B, bool)


def test_config_defaults_follow_paper_c() -> None:
    cfg = HPPOConfig()
    assert (cfg.gamma, cfg.gae_lambda, cfg.lr, cfg.minibatch_size, cfg.vf_coef) == (
        0.95,
        0.95,
        1e-4,
        256,
        0.25,
    )


def test_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="r_max_deg = 0"):
        HybridSizes(obs_dim=M * F, n_actions=S, n_agents=M, r_max_deg=0.0)
    with pytest.raises(ValueError, match="not a multiple of n_agents"):
        HybridSizes(obs_dim=M * F + 1, n_actions=S, n_agents=M)


def test_same_seed_same_update_and_checkpoint_round_trip() -> None:
    def trained(seed: int) -> HPPOAgent:
        agent = HPPOAgent(SIZES, SMALL, device="cpu", seed=seed)
        for i in range(2):
            agent.update(_fill(agent, seed=i))
        return agent

    a, b, c = trained(4), trained(4), trained(5)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.log_std, c.log_std)

    ckpt = a.checkpoint()
    restored = HPPOAgent(SIZES, SMALL, device="cpu", seed=99)
    restored.restore(ckpt)
    obs = np.random.default_rng(7).uniform(0, 1, (B, M * F)).astype(np.float32)
    assert_same_acts(a, restored, obs)
    # learning goes on alike from the restored state
    a.update(_fill(a, seed=9))
    restored.update(_fill(restored, seed=9))
    assert torch.equal(a.log_std, restored.log_std)
