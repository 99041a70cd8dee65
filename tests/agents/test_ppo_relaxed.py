"""PPO-relaxed: log-probs against hand-built Gaussians, the relaxed server map at its edges,
bounded env actions, one ratio of 1 before the first step, checkpoints, config errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_fakes import assert_same_acts, fill_rollout, spy_ratios

import vtwin.agents.hppo as hppo_module
from vtwin.agents.hybrid import HybridRollout, HybridSizes, to_env_action
from vtwin.agents.ppo_relaxed import (
    RELAXED_DIM,
    PPORelaxedAgent,
    PPORelaxedConfig,
    RelaxedDistribution,
)

M, S, F, B, T = 3, 5, 4, 6, 7
R_MAX = 0.001
SIZES = HybridSizes(obs_dim=M * F, n_actions=S, n_agents=M, r_max_deg=R_MAX)
SMALL = PPORelaxedConfig(hidden=(16, 16), epochs=2, minibatch_size=16, lr=1e-3)


def _obs(seed: int, n: int = B) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, M * F)).astype(np.float32)


def _fill(agent: PPORelaxedAgent, seed: int = 0) -> HybridRollout:
    """T slots × B copies of random observations; reward = −radius − server index."""
    return fill_rollout(
        agent,
        T,
        lambda t: _obs(seed * 100 + t),
        lambda action, step: -(action["radius_deg"] / R_MAX + action["server"]).mean(axis=1),
        M,
    )


def test_server_map_rounds_the_relaxed_index_and_clips_at_the_edges() -> None:
    u_e = torch.tensor([-3.0, -0.01, 0.0, 0.124, 0.126, 0.5, 0.874, 0.876, 1.0, 1.2, 40.0])
    u = torch.zeros(1, len(u_e), 3)
    u[0, :, 2] = u_e
    dist = RelaxedDistribution(torch.zeros(1, len(u_e), 3), torch.zeros(3), S)
    # S − 1 = 4: u_e · 4 rounded, then clipped to [0, 4]
    assert dist.server_of(u)[0].tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]
    # two servers: the midpoint splits them
    two = RelaxedDistribution(torch.zeros(1, 3, 3), torch.zeros(3), 2)
    assert two.server_of(torch.tensor([[[0, 0, 0.49], [0, 0, 0.51], [0, 0, -1.0]]]))[
        0
    ].tolist() == [
        0,
        1,
        0,
    ]


def test_step_log_probs_match_hand_built_gaussians_and_the_server_is_read_off_u() -> None:
    agent = PPORelaxedAgent(SIZES, SMALL, device="cpu", seed=1)
    obs = _obs(0)
    action, step = agent.act(obs)
    assert step.u.shape == (B, M, RELAXED_DIM) and step.server.shape == (B, M)
    with torch.no_grad():
        mean = 0.5 + agent.actor(torch.as_tensor(obs)).reshape(B, M, 3)
        std = agent.log_std.exp()
    u = torch.as_tensor(step.u)
    for b in range(B):
        expected = sum(
            float(Normal(mean[b, m, k], std[m, k]).log_prob(u[b, m, k]))
            for m in range(M)
            for k in range(3)
        )
        assert step.logp_continuous[b] == pytest.approx(expected, abs=1e-4)
    np.testing.assert_array_equal(step.logp_discrete, 0.0)
    np.testing.assert_array_equal(step.logp, step.logp_continuous)
    servers = np.clip(np.round(step.u[..., 2].astype(np.float64) * (S - 1)), 0, S - 1)
    np.testing.assert_array_equal(step.server, servers.astype(np.int64))
    np.testing.assert_array_equal(action["server"], step.server)
    expected_action = to_env_action(step.server, step.u, R_MAX)
    for k in action:
        np.testing.assert_array_equal(action[k], expected_action[k])
    # deterministic: the means and the servers they round to
    _, det = agent.act(obs, deterministic=True)
    torch.testing.assert_close(torch.as_tensor(det.u), mean)


def test_actions_stay_within_the_env_bounds_with_a_very_wide_gaussian() -> None:
    agent = PPORelaxedAgent(SIZES, PPORelaxedConfig(init_log_std=2.0), device="cpu", seed=2)
    action, step = agent.act(_obs(3, n=500))
    assert np.all((action["radius_deg"] >= 0) & (action["radius_deg"] <= R_MAX))
    assert np.all((action["angle_rad"] >= 0) & (action["angle_rad"] < 2 * np.pi))
    assert np.all((action["server"] >= 0) & (action["server"] < S))
    assert set(np.unique(action["server"])) == set(range(S))  # every server reachable
    assert ((step.u[..., 2] < 0) | (step.u[..., 2] > 1)).any()  # tails were clipped


def test_the_one_ratio_is_exactly_one_at_the_first_minibatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = spy_ratios(monkeypatch, hppo_module)
    agent = PPORelaxedAgent(SIZES, SMALL, device="cpu", seed=3)
    metrics = agent.update(_fill(agent))
    assert len(seen) == SMALL.epochs * int(np.ceil(T * B / SMALL.minibatch_size))  # one per batch
    assert torch.equal(seen[0], torch.ones_like(seen[0]))
    assert not all(torch.equal(r, torch.ones_like(r)) for r in seen)
    assert metrics["entropy_continuous"] > 0 and np.isfinite(metrics["value_loss"])


def test_same_seed_same_update_and_checkpoint_round_trip() -> None:
    def trained(seed: int) -> PPORelaxedAgent:
        agent = PPORelaxedAgent(SIZES, SMALL, device="cpu", seed=seed)
        for i in range(2):
            agent.update(_fill(agent, seed=i))
        return agent

    a, b, c = trained(4), trained(4), trained(5)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.log_std, c.log_std)
    restored = PPORelaxedAgent(SIZES, SMALL, device="cpu", seed=99)
    restored.restore(a.checkpoint())
    obs = _obs(7)
    assert_same_acts(a, restored, obs, ("logp",))
    a.update(_fill(a, seed=9))
    restored.update(_fill(restored, seed=9))
    assert torch.equal(a.log_std, restored.log_std)


def test_config_defaults_follow_paper_c() -> None:
    cfg = PPORelaxedConfig()
    assert (cfg.gamma, cfg.gae_lambda, cfg.lr, cfg.minibatch_size, cfg.vf_coef) == (
        0.95,
        0.95,
        1e-4,
        256,
        0.25,
    )
    assert cfg.joint_ratio and cfg.ent_coef == 0.0 and cfg.clip == 0.2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("joint_ratio", False, r"PPORelaxedConfig\.joint_ratio = False: must be True"),
        ("ent_coef", 0.01, r"PPORelaxedConfig\.ent_coef = 0\.01: must be 0"),
        ("gamma", 1.5, r"PPORelaxedConfig\.gamma = 1\.5: must be a number in \[0, 1\]"),
        ("lr", 0.0, r"PPORelaxedConfig\.lr = 0\.0: must be a finite number > 0"),
        ("epochs", 0, r"PPORelaxedConfig\.epochs = 0: must be an integer ≥ 1"),
        (
            "server_order",
            "nearest",
            r"PPORelaxedConfig\.server_order = 'nearest': must be 'index' or 'distance'",
        ),
        (
            "init_log_std",
            float("nan"),
            r"PPORelaxedConfig\.init_log_std = nan: must be a finite number",
        ),
    ],
)
def test_bad_config_values_name_field_value_and_what_is_allowed(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as err:
        PPORelaxedAgent(SIZES, PPORelaxedConfig(**{field: value}), device="cpu")
    assert "\n" not in str(err.value)


def test_refuses_plain_agent_sizes() -> None:
    from vtwin.agents.common import AgentSizes

    with pytest.raises(TypeError, match="HybridSizes"):
        PPORelaxedAgent(AgentSizes(obs_dim=4, n_actions=3), device="cpu")


def test_rollout_refuses_fewer_than_two_continuous_columns() -> None:
    with pytest.raises(ValueError, match="cont_dim = 1"):
        HybridRollout(T, B, M * F, M, cont_dim=1)


# ------------------------------------------------------------------ server_order = "distance"
KEYS = tuple(tuple(m * F + (s % F) for s in range(S)) for m in range(M))  # S columns per AV


def test_an_order_maps_each_rank_to_its_server() -> None:
    ranks = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, -2.0])
    order = torch.tensor([3, 0, 4, 1, 2]).expand(1, len(ranks), S)  # rank 0 is server 3, …
    dist = RelaxedDistribution(torch.zeros(1, len(ranks), 3), torch.zeros(3), S, order)
    u = torch.zeros(1, len(ranks), 3)
    u[0, :, 2] = ranks
    assert dist.server_of(u)[0].tolist() == [3, 0, 4, 1, 2, 3]


def test_distance_order_ranks_each_avs_servers_nearest_first() -> None:
    obs = torch.as_tensor(_obs(3))
    cfg = PPORelaxedConfig(hidden=(8,), server_order="distance")
    agent = PPORelaxedAgent(
        HybridSizes(M * F, S, M, r_max_deg=R_MAX, server_keys=KEYS), cfg, device="cpu"
    )
    dist = agent.distribution(obs)
    assert isinstance(dist, RelaxedDistribution) and dist.order is not None
    keys = obs[:, torch.tensor(KEYS)]  # [B, M, S]
    ranked = keys.gather(-1, dist.order)
    assert bool((ranked[..., 1:] >= ranked[..., :-1]).all())  # nearest first
    nearest = dist.server_of(torch.zeros(B, M, 3))  # u_e = 0: rank 0
    torch.testing.assert_close(
        keys.gather(-1, nearest.unsqueeze(-1)).squeeze(-1), keys.min(-1).values
    )
    with pytest.raises(ValueError, match=r"server_order = 'distance' needs per-server distances"):
        PPORelaxedAgent(SIZES, cfg, device="cpu")
