"""PPO: learns a contextual bandit, never samples masked actions, deterministic per seed."""

from __future__ import annotations

import numpy as np
import torch

from vtwin.agents.buffers import RolloutBuffer
from vtwin.agents.common import AgentSizes
from vtwin.agents.ppo import PPOAgent, PPOConfig

N_CTX, N_ENVS, N_STEPS = 4, 16, 8


def _train(seed: int, iters: int, masked: bool = False) -> tuple[PPOAgent, list[float]]:
    """Contextual bandit: obs = one-hot context c, reward 1 for action c, episodes of 1 step."""
    rng = np.random.default_rng(seed)
    agent = PPOAgent(
        AgentSizes(N_CTX, N_CTX), PPOConfig(lr=3e-3, minibatch_size=64, epochs=4), seed=seed
    )
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
            rew = (act == ctx).astype(np.float64)
            total += rew.mean()
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
