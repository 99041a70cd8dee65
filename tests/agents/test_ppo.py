"""PPO: learns a contextual bandit, never samples masked actions, deterministic per seed."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vtwin.agents.buffers import RolloutBuffer
from vtwin.agents.common import AgentSizes
from vtwin.agents.nets import mlp
from vtwin.agents.ppo import PPOAgent, PPOConfig

N_CTX, N_ENVS, N_STEPS = 4, 16, 8


def _train(
    seed: int,
    iters: int,
    masked: bool = False,
    config: PPOConfig | None = None,
    scale: float = 1.0,
    offset: float = 0.0,
) -> tuple[PPOAgent, list[float]]:
    """Contextual bandit: obs = one-hot context c, reward 1 for action c, episodes of 1 step
    (the agent is paid ``offset + scale · reward``; the curve is of the unscaled reward)."""
    rng = np.random.default_rng(seed)
    config = config or PPOConfig(lr=3e-3, minibatch_size=64, epochs=4)
    agent = PPOAgent(AgentSizes(N_CTX, N_CTX), config, seed=seed)
    buf = RolloutBuffer(N_STEPS, N_ENVS, N_CTX, n_actions=N_CTX if masked else None)
    curve = []
    for _ in range(iters):
        buf.reset()
        total = 0.0
        for _ in range(N_STEPS):
            ctx = rng.integers(0, N_CTX, N_ENVS)
            obs = np.eye(N_CTX, dtype=np.float32)[ctx]
            mask = np.ones((N_ENVS, N_CTX), dtype=bool)
            if masked:
                mask[:, 0] = False  # action 0 is never allowed
            act, logp, val = agent.act_with_info(obs, mask if masked else None)
            if masked:
                assert (act != 0).all()
            hit = (act == ctx).astype(np.float64)
            total += hit.mean()
            rew = offset + scale * hit
            done = np.ones(N_ENVS, dtype=bool)
            buf.add(
                obs,
                act,
                logp,
                rew,
                val,
                done,
                np.zeros(N_ENVS, dtype=bool),
                masks=mask if masked else None,
            )
        buf.compute_returns(np.zeros(N_ENVS), agent.config.gamma, agent.config.gae_lambda)
        agent.update(buf)
        curve.append(total / N_STEPS)
    return agent, curve


def test_ppo_learns_a_contextual_bandit() -> None:
    agent, curve = _train(0, 40)
    assert np.mean(curve[:3]) < 0.45  # starts near random (0.25)
    assert np.mean(curve[-5:]) > 0.9
    greedy = agent.act(np.eye(N_CTX, dtype=np.float32), deterministic=True)
    np.testing.assert_array_equal(greedy, np.arange(N_CTX))


def test_ppo_with_mask_never_takes_masked_actions_and_still_learns_the_rest() -> None:
    agent, curve = _train(1, 40, masked=True)
    # best achievable: context 0 can never be answered (masked), so 3/4
    assert np.mean(curve[-5:]) > 0.65
    probs_ok = agent.act(np.eye(N_CTX, dtype=np.float32)[1:], deterministic=True)
    np.testing.assert_array_equal(probs_ok, np.arange(1, N_CTX))


def test_training_is_deterministic_per_seed_and_checkpoint_round_trips() -> None:
    a, ca = _train(5, 6)
    b, cb = _train(5, 6)
    assert ca == cb
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    obs = np.random.default_rng(0).random((10, N_CTX)).astype(np.float32)
    ckpt = a.checkpoint()
    fresh = PPOAgent(AgentSizes(N_CTX, N_CTX), a.config, seed=99)
    fresh.restore(ckpt)
    np.testing.assert_array_equal(fresh.act(obs), a.act(obs))


def test_value_normalisation_learns_rewards_far_from_unit_scale() -> None:
    """Rewards of −500 ± 100 (like returns of −100-latency episodes at γ = 0.99): with
    normalised value targets the clipped critic reaches them and the policy still learns."""
    cfg = PPOConfig(lr=3e-3, minibatch_size=64, epochs=4, normalize_values=True)
    agent, curve = _train(0, 40, config=cfg, scale=100.0, offset=-500.0)
    assert np.mean(curve[-5:]) > 0.9
    v = agent.value(np.eye(N_CTX, dtype=np.float32))
    # the policy almost always answers right by now, so V ≈ −400 (far beyond 40 × 0.2 clips)
    assert np.all(np.abs(v + 400.0) < 40.0), v
    fresh = PPOAgent(AgentSizes(N_CTX, N_CTX), cfg, seed=99)
    fresh.restore(agent.checkpoint())
    np.testing.assert_array_equal(fresh.value(np.eye(N_CTX, dtype=np.float32)), v)


def test_orthogonal_init_gives_a_near_uniform_policy_and_is_seeded() -> None:
    cfg = PPOConfig(orthogonal_init=True)
    a = PPOAgent(AgentSizes(8, 90), cfg, seed=3)
    b = PPOAgent(AgentSizes(8, 90), cfg, seed=3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    obs = torch.rand(32, 8)
    with torch.no_grad():
        probs = torch.softmax(a.actor(obs), dim=-1)
    assert float((probs - 1 / 90).abs().max()) < 1e-3  # policy head gain 0.01


def test_mlp_orthogonal_init_sets_gains_and_zero_biases_and_default_is_unchanged() -> None:
    torch.manual_seed(0)
    net = mlp(5, 3, (16, 16), nn.Tanh, orthogonal=(2.0**0.5, 0.01))
    layers = [m for m in net if isinstance(m, nn.Linear)]
    for layer, gain in zip(layers, (2.0**0.5, 2.0**0.5, 0.01), strict=True):
        w = layer.weight.detach()
        small = min(w.shape)
        gram = w @ w.T if w.shape[0] == small else w.T @ w
        torch.testing.assert_close(gram, gain**2 * torch.eye(small), atol=1e-5, rtol=1e-5)
        assert not layer.bias.any()
    torch.manual_seed(0)
    default = mlp(5, 3, (16, 16), nn.Tanh)
    torch.manual_seed(0)
    again = mlp(5, 3, (16, 16), nn.Tanh, orthogonal=None)
    for pa, pb in zip(default.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


def test_observation_normalisation_learns_and_round_trips() -> None:
    """With ``normalize_obs`` the running statistics follow the rollouts' observations (one-hot
    contexts: mean 1/4 per feature) and a restored agent acts the same."""
    cfg = PPOConfig(lr=3e-3, minibatch_size=64, epochs=4, normalize_obs=True)
    agent, curve = _train(2, 40, config=cfg)
    assert np.mean(curve[-5:]) > 0.9
    np.testing.assert_allclose(agent.obs_norm.mean, 1 / N_CTX, atol=0.05)
    obs = np.eye(N_CTX, dtype=np.float32)
    fresh = PPOAgent(AgentSizes(N_CTX, N_CTX), cfg, seed=99)
    fresh.restore(agent.checkpoint())
    np.testing.assert_array_equal(fresh.obs_norm.var, agent.obs_norm.var)
    np.testing.assert_array_equal(fresh.value(obs), agent.value(obs))
    np.testing.assert_array_equal(fresh.act(obs, deterministic=True), np.arange(N_CTX))


def test_a_checkpoint_without_value_statistics_restores_with_identical_outputs() -> None:
    """Run folders saved before value normalisation became the default load unchanged."""
    old = PPOAgent(AgentSizes(N_CTX, N_CTX), PPOConfig(normalize_values=False), seed=4)
    new = PPOAgent(AgentSizes(N_CTX, N_CTX), PPOConfig(), seed=9)
    new.restore(old.checkpoint())
    obs = np.eye(N_CTX, dtype=np.float32)
    np.testing.assert_allclose(new.value(obs), old.value(obs), rtol=1e-7)
    np.testing.assert_array_equal(
        new.act(obs, deterministic=True), old.act(obs, deterministic=True)
    )
