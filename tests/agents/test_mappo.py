"""MAPPO / DM-MAPPO: the dynamic mask, per-vehicle GAE, active weighting, determinism, learning."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_routing import FakeRouting

from vtwin.agents.mappo import MAPPOAgent, MAPPOConfig, MultiAgentRollout
from vtwin.training import agent_sizes, evaluate_policy, make_agent, train_agent

SMALL = {"hidden": (16, 16), "critic_hidden": (32, 32), "rollout_slots": 8}


def _agent(env: FakeRouting, seed: int = 0, **kw: Any) -> MAPPOAgent:
    cfg = MAPPOConfig(**{**SMALL, **kw})
    return MAPPOAgent(agent_sizes(env), cfg, device="cpu", seed=seed)


def _collect(
    agent: MAPPOAgent, env: FakeRouting, seed: int
) -> tuple[MultiAgentRollout, np.ndarray]:
    """One rollout of ``rollout_slots`` slots from a fresh episode (returns computed) and
    the values V(s, v) after its last slot."""
    rollout = agent.make_rollout(env.B)
    obs, _ = env.reset(seed)
    while not rollout.full:
        act, logp, val = agent.act_with_info(obs)
        nxt, rew, term, trunc, _ = env.step(act)
        final = agent.value(nxt) if trunc.any() else None
        rollout.add(obs, act, logp, val, rew, nxt["active"], term, trunc, final)
        obs = nxt
    last = agent.value(obs)
    rollout.compute_returns(last, agent.config.gamma, agent.config.gae_lambda)
    return rollout, last


def _random_obs(rng: np.random.Generator, B: int, V: int, env: FakeRouting) -> dict[str, Any]:
    mask = rng.random((B, V, env.M)) < 0.3
    mask[..., -1] |= rng.random((B, V)) < 0.5  # the satellite is usually, not always, allowed
    mask[~mask.any(-1), rng.integers(0, env.M)] = True  # at least one allowed server per row
    return {
        "observation": rng.normal(size=(B, V, env.obs_dim)).astype(np.float32),
        "action_mask": mask,
        "state": rng.normal(size=(B, env.state_dim)).astype(np.float32),
        "active": np.ones((B, V), dtype=bool),
    }


@pytest.mark.parametrize("share_actor", [True, False])
def test_dm_mappo_never_samples_or_argmaxes_a_masked_action(share_actor: bool) -> None:
    env = FakeRouting(B=64, V=3)
    agent = _agent(env, share_actor=share_actor)
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs = _random_obs(rng, env.B, env.V, env)
        mask = obs["action_mask"]
        for deterministic in (False, True):
            act = agent.act(obs, deterministic=deterministic)
            assert np.take_along_axis(mask, act[..., None], -1).all()
        probs = agent.probs(obs)
        assert (probs[~mask] == 0).all()
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


def test_mappo_without_mask_does_pick_masked_actions() -> None:
    env = FakeRouting(B=64, V=3)
    agent = _agent(env, use_mask=False)
    obs = _random_obs(np.random.default_rng(0), env.B, env.V, env)
    act = agent.act(obs)
    assert not np.take_along_axis(obs["action_mask"], act[..., None], -1).all()


def test_update_recomputes_log_probs_under_the_stored_mask() -> None:
    env = FakeRouting()
    agent = _agent(env, epochs=1, minibatch_size=10_000)  # one minibatch: ratio is exactly 1
    rollout, _ = _collect(agent, env, seed=3)
    data = rollout.flat_active()
    assert not data["masks"].all()  # some servers were masked in this rollout
    batch = {k: torch.as_tensor(v) for k, v in data.items()}
    logp, _, _ = agent.evaluate_actions(batch)
    torch.testing.assert_close(logp.double(), batch["logp"], rtol=0, atol=1e-5)
    unmasked = {**batch, "masks": torch.ones_like(batch["masks"])}
    assert (agent.evaluate_actions(unmasked)[0].double() - batch["logp"]).abs().max() > 1e-3
    stats = agent.update(rollout)
    assert stats["first_ratio_dev"] < 1e-5


def test_per_vehicle_gae_ends_at_arrival_and_bootstraps_truncation() -> None:
    B, V, M = 1, 2, 3
    roll = MultiAgentRollout(3, B, V, obs_dim=1, state_dim=1, n_actions=M)
    obs = {
        "observation": np.zeros((B, V, 1), np.float32),
        "state": np.zeros((B, 1), np.float32),
        "action_mask": np.ones((B, V, M), bool),
        "active": np.array([[True, True]]),
    }
    acts, logp, no = np.zeros((B, V), np.int64), np.zeros((B, V)), np.zeros(B, bool)
    values = np.array([[0.5, 0.5]])
    # slot 0: vehicle 1 arrives; slot 1: vehicle 1 inactive; slot 2: time limit, vehicle 0 on
    roll.add(obs, acts, logp, values, np.array([[1.0, 1.0]]), np.array([[True, False]]), no, no)
    obs1 = {**obs, "active": np.array([[True, False]])}
    roll.add(obs1, acts, logp, values, np.array([[1.0, 7.0]]), np.array([[True, False]]), no, no)
    roll.add(
        obs1,
        acts,
        logp,
        values,
        np.array([[1.0, 0.0]]),
        np.array([[True, False]]),
        no,
        np.ones(B, bool),
        final_values=np.array([[2.0, 9.0]]),
    )
    np.testing.assert_array_equal(
        roll.terminated[:, 0], [[False, True], [False, True], [False, True]]
    )
    np.testing.assert_array_equal(
        roll.truncated[:, 0], [[False, False], [False, False], [True, False]]
    )
    assert roll.rewards[1, 0, 1] == 0.0  # an inactive vehicle's reward is dropped
    g, lam = 0.9, 0.5
    roll.compute_returns(np.array([[99.0, 99.0]]), g, lam)  # last value unused: all ended
    d2 = 1.0 + g * 2.0 - 0.5  # truncated: bootstrap from the final value
    d1 = 1.0 + g * 0.5 - 0.5
    d0 = 1.0 + g * 0.5 - 0.5
    a2, a1 = d2, d1 + g * lam * d2
    np.testing.assert_allclose(roll.advantages[:, 0, 0], [d0 + g * lam * a1, a1, a2])
    assert roll.advantages[0, 0, 1] == pytest.approx(1.0 - 0.5)  # arrival: no bootstrap
    with pytest.raises(ValueError, match="final_values"):
        roll.reset()
        roll.add(obs, acts, logp, values, np.ones((B, V)), obs["active"], no, np.ones(B, bool))


def test_inactive_steps_do_not_change_the_update() -> None:
    env = FakeRouting()
    a = _agent(env, seed=1, minibatch_size=64, epochs=2)
    rollout, _ = _collect(a, env, seed=5)
    inactive = ~rollout.active
    assert inactive.any() and rollout.active.any()
    # garbage in every inactive agent-step: must be ignored entirely
    garbled, last = _collect(_agent(env, seed=1, minibatch_size=64, epochs=2), env, seed=5)
    rng = np.random.default_rng(0)
    garbled.obs[inactive] = rng.normal(size=garbled.obs[inactive].shape) * 100
    garbled.actions[inactive] = rng.integers(0, env.M, size=inactive.sum())
    garbled.logp[inactive] = -50.0
    garbled.values[inactive] = 1e3
    garbled.rewards[inactive] = 1e3
    garbled.masks[inactive] = rng.random(garbled.masks[inactive].shape) < 0.5
    garbled.compute_returns(last, a.config.gamma, a.config.gae_lambda)
    np.testing.assert_allclose(garbled.advantages[~inactive], rollout.advantages[~inactive])
    b = _agent(env, seed=1, minibatch_size=64, epochs=2)
    b.load_state_dict(a.state_dict())
    a.update(rollout)
    b.update(garbled)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


def _params_after_updates(seed: int, share_actor: bool = True) -> list[torch.Tensor]:
    env = FakeRouting()
    agent = _agent(env, seed=seed, share_actor=share_actor, minibatch_size=128, epochs=2)
    for k in range(3):
        agent.update(_collect(agent, env, seed=10 + k)[0])
    return [p.detach().clone() for p in agent.parameters()]


@pytest.mark.parametrize("share_actor", [True, False])
def test_same_seed_same_parameters_other_seed_other(share_actor: bool) -> None:
    a = _params_after_updates(0, share_actor)
    b = _params_after_updates(0, share_actor)
    c = _params_after_updates(1, share_actor)
    for pa, pb in zip(a, b, strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a, c, strict=True))


def test_checkpoint_restore_round_trip() -> None:
    env = FakeRouting()
    agent = _agent(env, seed=2)
    agent.update(_collect(agent, env, seed=1)[0])
    ckpt = agent.checkpoint()
    fresh = _agent(env, seed=99)
    fresh.restore(ckpt)
    obs, _ = env.reset(7)
    np.testing.assert_array_equal(fresh.act(obs), agent.act(obs))  # same generator state
    np.testing.assert_array_equal(fresh.value(obs), agent.value(obs))  # same value statistics
    # the checkpoint is a copy: more training does not change it
    agent.update(_collect(agent, env, seed=2)[0])
    fresh2 = _agent(env, seed=5)
    fresh2.restore(ckpt)
    for p1, p2 in zip(fresh.parameters(), fresh2.parameters(), strict=True):
        torch.testing.assert_close(p1, p2, rtol=0, atol=0)


def test_dm_mappo_learns_beyond_the_mask_and_mappo_learns_to_avoid_masked_servers() -> None:
    env = FakeRouting()
    random = evaluate_policy(make_agent("random", env), env, seed=999, episodes=4)
    untrained = make_agent("dm_mappo", env, seed=0, device="cpu")
    masked_uniform = evaluate_policy(untrained, env, 999, episodes=4, deterministic=False)
    params = {"rollout_slots": 16, "lr_actor": 1e-3}
    dm, hist = train_agent(FakeRouting(), "dm_mappo", 6000, seed=0, params=params, device="cpu")
    dm_eval = evaluate_policy(dm, env, seed=999, episodes=4)
    assert (hist["infeasible_share"] == 0).all()  # the mask: never an infeasible server
    assert dm_eval["reward_per_step"] > random["reward_per_step"] + 2.0
    # and beyond the mask it learned to prefer near servers
    assert dm_eval["reward_per_step"] > masked_uniform["reward_per_step"] + 0.08
    plain, _ = train_agent(FakeRouting(), "mappo", 6000, seed=0, params=params, device="cpu")
    plain_eval = evaluate_policy(plain, env, seed=999, episodes=4)
    assert plain_eval["infeasible_share"] < 0.5 * random["infeasible_share"]
    assert plain_eval["reward_per_step"] > random["reward_per_step"] + 1.0


def test_greedy_without_a_satellite_falls_back_to_the_nearest_server() -> None:
    from vtwin.agents.marl_heuristics import GreedyRouting

    obs = {
        "observation": np.array([[[3.0, 1.0, 2.0, 0.0]]], dtype=np.float32),
        "action_mask": np.array([[[False, False, False]]]),
        "active": np.array([[True]]),
    }
    assert GreedyRouting(1, 3, epsilon=0.0, has_satellite=False).greedy(obs)[0, 0] == 1
    assert GreedyRouting(1, 3, epsilon=0.0).greedy(obs)[0, 0] == 2  # the satellite
    obs["action_mask"] = np.array([[[True, False, True]]])
    assert GreedyRouting(1, 3, epsilon=0.0, has_satellite=False).greedy(obs)[0, 0] == 2


def test_linear_lr_decay_reaches_zero_at_the_budget_and_survives_a_checkpoint() -> None:
    env = FakeRouting()  # B = 8, V = 3: one rollout of 8 slots is 192 agent-steps
    agent = _agent(env, seed=3, lr_anneal_steps=4 * 192, lr_actor=1e-3, lr_critic=2e-3)
    scales = []
    for k in range(2):
        scales.append(agent.update(_collect(agent, env, seed=20 + k)[0])["lr_scale"])
    assert scales == [1.0, 0.75]  # the first update runs at the full rate
    assert agent.actor_optimizer.param_groups[0]["lr"] == pytest.approx(0.75e-3)
    assert agent.critic_optimizer.param_groups[0]["lr"] == pytest.approx(1.5e-3)
    restored = _agent(env, seed=9, lr_anneal_steps=4 * 192, lr_actor=1e-3, lr_critic=2e-3)
    restored.restore(agent.checkpoint())
    assert restored.trained_steps == agent.trained_steps == 2 * 192
    for k in range(3):
        rollout = _collect(restored, env, seed=30 + k)[0]
        scales.append(restored.update(rollout)["lr_scale"])
    assert scales[2:] == [0.5, 0.25, 0.0]
    # at rate 0 an update leaves the networks as they were
    before = [p.detach().clone() for p in restored.parameters()]
    restored.update(_collect(restored, env, seed=40)[0])
    for p0, p1 in zip(before, restored.parameters(), strict=True):
        torch.testing.assert_close(p0, p1, rtol=0, atol=0)
    constant = _agent(env, seed=3)
    assert constant.update(_collect(constant, env, seed=20)[0])["lr_scale"] == 1.0
    assert constant.update(_collect(constant, env, seed=21)[0])["lr_scale"] == 1.0
