"""MASAC: masked policy and target, replay of active steps, Polyak, determinism, learning."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_routing import FakeRouting

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.masac import MASACAgent, MASACConfig
from vtwin.training import agent_sizes, evaluate_policy, make_agent, train_agent

SMALL = {"hidden": (32, 32), "batch_size": 64, "learning_starts": 64}


def _agent(env: FakeRouting, seed: int = 0, **kw: Any) -> MASACAgent:
    cfg = MASACConfig(**{**SMALL, **kw})
    return MASACAgent(agent_sizes(env), cfg, device="cpu", seed=seed)


def _fill(agent: MASACAgent, env: FakeRouting, seed: int, slots: int) -> ReplayBuffer:
    buf = agent.make_buffer()
    obs, _ = env.reset(seed)
    for _ in range(slots):
        act = agent.act(obs)
        nxt, rew, term, _, _ = env.step(act)
        agent.store(buf, Transition(obs, act, rew, nxt, term))
        obs = nxt
        if env.done.all():
            obs, _ = env.reset(seed + 100)
    return buf


@pytest.mark.parametrize("deterministic", [False, True])
def test_masked_masac_never_picks_a_masked_server(deterministic: bool) -> None:
    env = FakeRouting(B=64)
    agent = _agent(env)
    rng = np.random.default_rng(0)
    for k in range(10):
        obs, _ = env.reset(k)
        obs["action_mask"] = rng.random((env.B, env.V, env.M)) < 0.3
        obs["action_mask"][..., -1] = True
        act = agent.act(obs, deterministic=deterministic)
        assert np.take_along_axis(obs["action_mask"], act[..., None], -1).all()
        assert (agent.probs(obs)[~obs["action_mask"]] == 0).all()
    unmasked = _agent(env, use_mask=False)
    assert not np.take_along_axis(obs["action_mask"], unmasked.act(obs)[..., None], -1).all()


def test_store_keeps_active_steps_only_and_marks_arrivals_terminal() -> None:
    env = FakeRouting()
    agent = _agent(env)
    buf = agent.make_buffer()
    obs, _ = env.reset(0)
    n_active, n_arrivals = 0, 0
    for _ in range(env.horizon):
        act = agent.act(obs)
        nxt, rew, term, _, _ = env.step(act)
        n_arrivals += int((obs["active"] & (~nxt["active"] | term[:, None])).sum())
        n_active += agent.store(buf, Transition(obs, act, rew, nxt, term))
        obs = nxt
    assert len(buf) == n_active == int(env.t_end.clip(max=env.horizon).sum())
    assert buf.terminated[: len(buf)].sum() == n_arrivals
    assert (buf.rewards[: len(buf)] < 0).all()  # every stored step is a real (costly) step


def test_critic_target_only_counts_allowed_next_actions() -> None:
    env = FakeRouting()
    agent = _agent(env, alpha=0.3, auto_alpha=False)
    buf = _fill(agent, env, seed=1, slots=12)
    batch = buf.sample(32, np.random.default_rng(0), agent.device)
    # only server 2 allowed at s': y = r + γ (1 − done) min_i Q'_i(s', 2) (log π = 0)
    k = agent.obs_dim + agent.n_agents + agent.state_dim
    batch["next_obs"][:, k:] = 0.0
    batch["next_obs"][:, k + 2] = 1.0
    _, critic_in, _ = agent._unpack(batch["next_obs"].float())
    q = torch.min(agent.q1_target(critic_in), agent.q2_target(critic_in))[:, 2]
    want = batch["rewards"] + agent.config.gamma * (1 - batch["terminated"]) * q
    torch.testing.assert_close(agent.critic_target(batch), want.detach())
    # no mask: the target averages over all M actions instead
    unmasked = _agent(env, alpha=0.3, auto_alpha=False, use_mask=False)
    unmasked.load_state_dict(agent.state_dict())
    assert not torch.allclose(unmasked.critic_target(batch), want)


def test_target_entropy_follows_the_allowed_actions() -> None:
    env = FakeRouting()
    mask = torch.tensor([[True] * env.M, [True, False, False, False, False, True]])
    scale = MASACConfig().target_entropy_scale
    want = torch.tensor([scale * math.log(env.M), scale * math.log(2)])
    torch.testing.assert_close(_agent(env)._target_entropy(mask), want)
    full = torch.full((2,), scale * math.log(env.M))
    torch.testing.assert_close(_agent(env, use_mask=False)._target_entropy(mask), full)


def test_update_moves_targets_by_polyak_and_alpha_learns() -> None:
    env = FakeRouting()
    agent = _agent(env, tau=0.1)
    buf = _fill(agent, env, seed=2, slots=12)
    before = [p.detach().clone() for p in agent.q1_target.parameters()]
    info = agent.learn(buf)
    assert set(info) == {"critic_loss", "actor_loss", "alpha", "entropy", "q_mean"}
    for b, tp, p in zip(before, agent.q1_target.parameters(), agent.q1.parameters(), strict=True):
        torch.testing.assert_close(tp, 0.9 * b + 0.1 * p.detach())
    assert info["alpha"] != pytest.approx(0.2, abs=1e-9)  # auto temperature took a step
    assert _agent(env, learning_starts=10_000).learn(buf) == {}


def _trained(seed: int) -> MASACAgent:
    env = FakeRouting()
    agent = _agent(env, seed=seed)
    buf = _fill(agent, env, seed=3, slots=12)
    for _ in range(5):
        agent.learn(buf)
    return agent


def test_same_seed_same_parameters_and_checkpoint_round_trip() -> None:
    a, b, c = _trained(0), _trained(0), _trained(1)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert any(
        not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )
    ckpt = a.checkpoint()
    fresh = _agent(FakeRouting(), seed=42)
    fresh.restore(ckpt)
    obs, _ = FakeRouting().reset(9)
    np.testing.assert_array_equal(fresh.act(obs), a.act(obs))
    assert fresh.alpha == a.alpha
    for pf, pa in zip(fresh.q2_target.parameters(), a.q2_target.parameters(), strict=True):
        torch.testing.assert_close(pf, pa, rtol=0, atol=0)


def test_masac_improves_over_random() -> None:
    env = FakeRouting()
    random = evaluate_policy(make_agent("random", env), env, seed=999, episodes=4)
    params = {"learning_starts": 500, "hidden": [64, 64]}
    agent, hist = train_agent(FakeRouting(), "masac", 4000, seed=0, params=params, device="cpu")
    trained = evaluate_policy(agent, env, seed=999, episodes=4)
    assert "critic_loss" in hist.columns and (hist["infeasible_share"] == 0).all()
    assert trained["reward_per_step"] > random["reward_per_step"] + 2.0
    assert trained["reward_per_step"] > -0.42  # beyond the masked-uniform policy (≈ −0.48)
    plain, _ = train_agent(
        FakeRouting(), "masac", 4000, seed=0, params={**params, "use_mask": False}, device="cpu"
    )
    assert evaluate_policy(plain, env, 999, episodes=4)["reward_per_step"] > (
        random["reward_per_step"] + 1.0
    )
