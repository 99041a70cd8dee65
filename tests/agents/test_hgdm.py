"""HGDM: the latent → action map at its edges, log-probs against torch's tanh-transformed
Gaussian, bounded env actions, the SAC step climbing Q, determinism, checkpoints, config
errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_fakes import assert_same_acts

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.hgdm import (
    BlockChain,
    EntityLatentCritic,
    HGDMAgent,
    HGDMConfig,
    latent_to_env_action,
)
from vtwin.agents.hybrid import HybridSizes
from vtwin.layout import EntityLayout

M, S, F, B = 3, 4, 5, 6
R_MAX = 0.001
D = M * (2 + S)
SIZES = HybridSizes(obs_dim=M * F, n_actions=S, n_agents=M, r_max_deg=R_MAX)
SMALL = HGDMConfig(hidden=(32, 32), batch_size=32, learning_starts=32, init_log_std=-1.0)


def _obs(seed: int, n: int = B) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, M * F)).astype(np.float32)


def _buffer(agent: HGDMAgent, seed: int = 0, slots: int = 20) -> ReplayBuffer:
    """Transitions of the agent's own latents on random observations; reward = mean x_r."""
    buffer = agent.make_buffer()
    for t in range(slots):
        obs, nxt = _obs(seed * 1000 + t), _obs(seed * 1000 + t + 1)
        _, step = agent.act(obs)
        latent = step.u.reshape(B, -1)
        reward = step.u[..., 0].mean(axis=1)
        agent.store(buffer, Transition(obs, latent, reward, nxt, np.zeros(B, bool)))
    return buffer


def test_latent_map_at_the_edges() -> None:
    x = np.zeros((1, 7, 2 + S))
    x[0, :, 0] = [-1.0, -1.5, 0.0, 1.0, 1.2, -0.5, 0.5]
    x[0, :, 1] = [-1.0, 1.0, 0.0, -0.5, 0.5, 1.0 - 1e-17, -1.0 + 1e-12]
    x[0, :, 2:] = np.array(
        [
            [1, 0, 0, 0],
            [0, 0, 0, 1],
            [0.5, 0.5, 0, 0],  # a tie goes to the lowest index
            [-1, -1, -1, -1],
            [-0.2, 0.9, 0.9, 0.1],
            [0, 0, 0.3, 0],
            [-1, -0.99, -1, -1],
        ]
    )
    a = latent_to_env_action(x, R_MAX)
    np.testing.assert_allclose(
        a["radius_deg"][0], R_MAX * np.array([0, 0, 0.5, 1, 1, 0.25, 0.75]), atol=1e-18
    )
    np.testing.assert_allclose(
        a["angle_rad"][0], [0, 0, np.pi, np.pi / 2, 3 * np.pi / 2, 0, 1e-12 * np.pi], atol=1e-9
    )
    assert np.all((a["angle_rad"] >= 0) & (a["angle_rad"] < 2 * np.pi))
    assert a["server"][0].tolist() == [0, 3, 0, 0, 1, 2, 1]
    assert a["server"].dtype == np.int64
    # x_θ just below 1: π(x + 1) is 2π in float64, which wraps to 0 rather than leaving [0, 2π)
    edge = latent_to_env_action(np.array([[[0.0, np.nextafter(1.0, 0.0), 0, 1, 0, 0]]]), R_MAX)
    assert 0 <= edge["angle_rad"][0, 0] < 2 * np.pi


def test_step_log_probs_match_torch_tanh_gaussian() -> None:
    agent = HGDMAgent(SIZES, SMALL, device="cpu", seed=1)
    obs = _obs(0)
    state = agent._gen.get_state()
    action, step = agent.act(obs)
    # replay the chain's draws: the chain first, then the Gaussian around it
    gen = torch.Generator().set_state(state)
    with torch.no_grad():
        mu = agent.actor.chain.sample(torch.as_tensor(obs), generator=gen)
        std = agent.actor.std()
    x = torch.as_tensor(step.u.reshape(B, D), dtype=torch.float32)
    reference = TransformedDistribution(Normal(mu, std), [TanhTransform(cache_size=1)])
    expected = reference.log_prob(x.clamp(-1 + 1e-6, 1 - 1e-6)).sum(-1)
    np.testing.assert_allclose(
        step.logp_continuous, expected.double().numpy(), rtol=1e-3, atol=1e-2
    )
    np.testing.assert_array_equal(step.logp_discrete, 0.0)
    assert step.u.shape == (B, M, 2 + S) and np.all(np.abs(step.u) <= 1.0)
    np.testing.assert_array_equal(step.server, np.argmax(step.u[..., 2:], axis=-1))
    expected_action = latent_to_env_action(step.u, R_MAX)
    for k in action:
        np.testing.assert_array_equal(action[k], expected_action[k])
    # deterministic: tanh of the mean-only chain, the same every call
    _, d1 = agent.act(obs, deterministic=True)
    _, d2 = agent.act(obs, deterministic=True)
    np.testing.assert_array_equal(d1.u, d2.u)
    with torch.no_grad():
        mean_chain = agent.actor.chain.sample(torch.as_tensor(obs), deterministic=True)
    np.testing.assert_allclose(d1.u.reshape(B, D), torch.tanh(mean_chain).numpy(), rtol=1e-6)


def test_actions_stay_within_the_env_bounds_with_wide_noise() -> None:
    agent = HGDMAgent(SIZES, HGDMConfig(hidden=(16,), init_log_std=1.0), device="cpu", seed=2)
    action, step = agent.act(_obs(3, n=400))
    assert np.all((action["radius_deg"] >= 0) & (action["radius_deg"] <= R_MAX))
    assert np.all((action["angle_rad"] >= 0) & (action["angle_rad"] < 2 * np.pi))
    assert set(np.unique(action["server"])) == set(range(S))
    assert np.isfinite(step.logp_continuous).all() and np.isfinite(step.value).all()


def test_learn_waits_for_learning_starts_then_climbs_q() -> None:
    """A one-step bandit: reward = mean x_r over AVs (γ = 0). The SAC step, through the
    squash, the Gaussian and every denoising step, must raise the deterministic x_r."""
    config = HGDMConfig(
        hidden=(32, 32), batch_size=64, learning_starts=64, gamma=0.0, lr_actor=3e-3, lr_critic=3e-3
    )
    agent = HGDMAgent(SIZES, config, device="cpu", seed=0)
    buffer = agent.make_buffer()
    rng = np.random.default_rng(0)
    obs = _obs(5, n=64)
    before = agent.act(obs, deterministic=True)[1].u[..., 0].mean()
    metrics: dict[str, float] = {}
    for t in range(60):
        o = _obs(t)
        _, step = agent.act(o)
        agent.store(
            buffer,
            Transition(o, step.u.reshape(B, -1), step.u[..., 0].mean(1), o, np.zeros(B, bool)),
        )
        metrics = agent.learn(buffer, rng)
        if len(buffer) < 64:
            assert metrics == {}
    after = agent.act(obs, deterministic=True)[1].u[..., 0].mean()
    # measured: 0.064 → 0.982 (already 0.982 after 40 slots)
    assert before < 0.5 and after > 0.9, (before, after)
    for key in ("critic_loss", "actor_loss", "alpha", "entropy", "q_mean", "std"):
        assert np.isfinite(metrics[key])
    assert agent.stored_steps == 60 * B and agent.target_entropy == -1.0  # per latent column


def test_same_seed_same_update_and_checkpoint_round_trip() -> None:
    def trained(seed: int) -> tuple[HGDMAgent, ReplayBuffer]:
        agent = HGDMAgent(SIZES, SMALL, device="cpu", seed=seed)
        buffer = _buffer(agent)
        for _ in range(3):
            agent.learn(buffer)
        return agent, buffer

    (a, buf_a), (b, _), (c, _) = trained(4), trained(4), trained(5)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.actor.log_std, c.actor.log_std)

    restored = HGDMAgent(SIZES, SMALL, device="cpu", seed=99)
    restored.restore(a.checkpoint())
    obs = _obs(7)
    assert_same_acts(a, restored, obs, ("u", "value"))
    assert restored.alpha == a.alpha and restored.stored_steps == a.stored_steps
    rng_a, rng_r = np.random.default_rng(1), np.random.default_rng(1)
    a.learn(buf_a, rng_a)
    restored.learn(buf_a, rng_r)
    for (name, pa), pb in zip(a.state_dict().items(), restored.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_config_defaults_follow_paper_c() -> None:
    cfg = HGDMConfig()
    assert (cfg.lr_actor, cfg.lr_critic, cfg.batch_size, cfg.gamma, cfg.denoising_steps) == (
        1e-4,
        1e-4,
        256,
        0.95,
        5,
    )
    agent = HGDMAgent(SIZES, HGDMConfig(hidden=(8,)), device="cpu")
    assert agent.kind == "off_policy" and agent.make_buffer().actions.shape[1:] == (D,)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("denoising_steps", 0, r"HGDMConfig\.denoising_steps = 0: must be an integer ≥ 1"),
        ("gamma", -0.1, r"HGDMConfig\.gamma = -0\.1: must be a number in \[0, 1\]"),
        ("lr_actor", 0.0, r"HGDMConfig\.lr_actor = 0\.0: must be a finite number > 0"),
        ("batch_size", 0, r"HGDMConfig\.batch_size = 0: must be an integer ≥ 1"),
        ("x0_clip", -1.0, r"HGDMConfig\.x0_clip = -1\.0: must be a finite number > 0"),
        ("init_log_std", 3.0, r"HGDMConfig\.init_log_std = 3\.0: must be a number in \[-5, 1\]"),
        ("schedule", "fast", r"HGDMConfig\.schedule = 'fast': must be linear, cosine, vp"),
        ("alpha", 0.0, r"HGDMConfig\.alpha = 0\.0: must be a finite number > 0"),
        ("tau", 0.0, r"tau = 0\.0: must be in \(0, 1\]"),
    ],
)
def test_bad_config_values_name_field_value_and_what_is_allowed(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as err:
        HGDMAgent(SIZES, HGDMConfig(**{field: value}), device="cpu")
    assert "\n" not in str(err.value)


def test_refuses_plain_agent_sizes() -> None:
    from vtwin.agents.common import AgentSizes

    with pytest.raises(TypeError, match="HybridSizes"):
        HGDMAgent(AgentSizes(obs_dim=4, n_actions=3), device="cpu")


# ------------------------------------------------------------------ network = "entity" (ours)
OWN, PER = 2, 3  # per AV: 2 own columns, then 3 feature blocks of S server columns
FA = OWN + PER * S
LAYOUT = EntityLayout(
    tuple(
        tuple(m * FA + c for c in range(OWN)) + tuple(m * FA + OWN + k * S + e for k in range(PER))
        for m in range(M)
        for e in range(S)
    ),
    (),
)
ENTITY_SIZES = HybridSizes(
    obs_dim=M * FA, n_actions=S, n_agents=M, r_max_deg=R_MAX, entity_layout=LAYOUT
)
ENTITY = HGDMConfig(
    hidden=(16, 16),
    batch_size=32,
    learning_starts=32,
    network="entity",
    entity_hidden=(8,),
)


def _entity_obs(seed: int, n: int = B) -> torch.Tensor:
    return torch.as_tensor(
        np.random.default_rng(seed).uniform(0, 1, (n, M * FA)), dtype=torch.float32
    )


def _permute_servers(obs: torch.Tensor, perm: np.ndarray) -> torch.Tensor:
    """The same observation with the servers listed in ``perm``'s order."""
    rows = obs.reshape(obs.shape[0], M, FA).clone()
    blocks = rows[:, :, OWN:].reshape(obs.shape[0], M, PER, S)[..., perm]
    rows[:, :, OWN:] = blocks.reshape(obs.shape[0], M, PER * S)
    return rows.reshape(obs.shape[0], -1)


def test_entity_chain_scores_servers_with_one_shared_denoiser() -> None:
    """Listing the servers in another order lists their scores in that order: the score
    block is one denoiser shared by the (AV, server) pairs."""
    torch.manual_seed(0)
    chain = BlockChain(M * FA, LAYOUT, M, S, ENTITY)
    obs, perm = _entity_obs(1), np.array([2, 0, 3, 1])
    with torch.no_grad():
        x = chain.sample(obs, deterministic=True).reshape(B, M, 2 + S)
        y = chain.sample(_permute_servers(obs, perm), deterministic=True).reshape(B, M, 2 + S)
    assert x.shape == (B, M, 2 + S)
    torch.testing.assert_close(y[..., 2:], x[..., 2:][..., perm], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(x[..., 2:], x[..., 2:][..., perm])  # the scores do differ


def test_entity_critic_reads_the_chosen_server() -> None:
    torch.manual_seed(0)
    critic = EntityLatentCritic(LAYOUT, M, S, (16,), 0.1)
    obs, perm = _entity_obs(2), np.array([3, 1, 0, 2])
    latent = torch.rand(B, M, 2 + S) * 2 - 1
    with torch.no_grad():
        q = critic(obs, latent.reshape(B, -1))
        # the same choice with the servers listed in another order: the same Q
        permuted = torch.cat([latent[..., :2], latent[..., 2:][..., perm]], -1)
        torch.testing.assert_close(
            critic(_permute_servers(obs, perm), permuted.reshape(B, -1)), q, rtol=1e-5, atol=1e-6
        )
        # AV 0 picks server 0 clearly: its other scores hardly matter, its choice does
        sharp = latent.clone()
        sharp[:, 0, 2:] = torch.tensor([0.9, -0.5, -0.6, -0.7])
        other = sharp.clone()
        other[:, 0, 3:] = torch.tensor([-0.8, -0.4, -0.9])
        moved = sharp.clone()
        moved[:, 0, 2:] = torch.tensor([-0.5, 0.9, -0.6, -0.7])
        q_sharp, q_other, q_moved = (critic(obs, v.reshape(B, -1)) for v in (sharp, other, moved))
    assert (q_sharp - q_other).abs().max() < 1e-3
    assert (q_sharp - q_moved).abs().max() > 1e-3


def test_entity_network_trains_repeatably_and_round_trips() -> None:
    def trained(seed: int) -> tuple[HGDMAgent, ReplayBuffer]:
        agent = HGDMAgent(ENTITY_SIZES, ENTITY, device="cpu", seed=seed)
        buffer = agent.make_buffer()
        for t in range(12):
            obs, nxt = _entity_obs(seed * 100 + t).numpy(), _entity_obs(seed * 100 + t + 1).numpy()
            _, step = agent.act(obs)
            reward = step.u[..., 0].mean(axis=1)
            agent.store(
                buffer, Transition(obs, step.u.reshape(B, -1), reward, nxt, np.zeros(B, bool))
            )
        for _ in range(3):
            agent.learn(buffer)
        return agent, buffer

    (a, _), (b, _), (c, _) = trained(3), trained(3), trained(4)
    assert isinstance(a.q1, EntityLatentCritic) and isinstance(a.actor.chain, BlockChain)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.actor.log_std, c.actor.log_std)
    restored = HGDMAgent(ENTITY_SIZES, ENTITY, device="cpu", seed=99)
    restored.restore(a.checkpoint())
    assert_same_acts(a, restored, _entity_obs(9).numpy(), ("u", "value"))


def test_entity_network_needs_a_layout_and_checks_its_fields() -> None:
    with pytest.raises(ValueError, match=r"HGDMConfig\.network = 'entity' needs an env"):
        HGDMAgent(SIZES, HGDMConfig(network="entity"), device="cpu")
    with pytest.raises(ValueError, match=r"HGDMConfig\.network = 'graph'; allowed"):
        HGDMAgent(ENTITY_SIZES, HGDMConfig(network="graph"), device="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"HGDMConfig\.critic_temperature = 0\.0: must be"):
        HGDMAgent(ENTITY_SIZES, HGDMConfig(network="entity", critic_temperature=0.0), device="cpu")
