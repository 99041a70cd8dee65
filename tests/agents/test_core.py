"""Shared agent parts: GAE by hand, diffusion chain properties, buffers, running statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vtwin.agents.buffers import ReplayBuffer, RolloutBuffer, Transition, compute_gae
from vtwin.agents.common import AgentSizes
from vtwin.agents.diffusion import Diffusion, beta_schedule
from vtwin.agents.nets import SinusoidalEmbedding, mlp
from vtwin.agents.normalize import RunningMeanStd
from vtwin.agents.ppo import PPOAgent, PPOConfig
from vtwin.devices import pick_device


def test_gae_matches_hand_computation_without_truncation() -> None:
    # one env, three steps, episode terminates at the last step
    r = np.array([[1.0], [0.0], [2.0]])
    v = np.array([[0.5], [0.4], [0.3]])
    term = np.array([[False], [False], [True]])
    trunc = np.zeros_like(term)
    g, lam = 0.9, 0.8
    adv, ret = compute_gae(r, v, term, trunc, np.array([9.9]), gamma=g, lam=lam)
    d2 = 2.0 - 0.3  # terminal: no bootstrap (the 9.9 must be ignored)
    d1 = 0.0 + g * 0.3 - 0.4
    d0 = 1.0 + g * 0.4 - 0.5
    a2 = d2
    a1 = d1 + g * lam * a2
    a0 = d0 + g * lam * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2])
    np.testing.assert_allclose(ret[:, 0], [a0 + 0.5, a1 + 0.4, a2 + 0.3])


def test_gae_bootstraps_truncation_and_cuts_the_chain() -> None:
    # step 1 hits the time limit (true final obs has value 0.7); step 2 starts a new episode
    r = np.array([[1.0], [1.0], [1.0]])
    v = np.array([[0.2], [0.3], [0.6]])
    term = np.zeros((3, 1), dtype=bool)
    trunc = np.array([[False], [True], [False]])
    final = np.array([[0.0], [0.7], [0.0]])
    g, lam = 0.5, 0.5
    adv, _ = compute_gae(r, v, term, trunc, np.array([0.1]), final, gamma=g, lam=lam)
    a2 = 1.0 + g * 0.1 - 0.6  # bootstraps from last_value
    a1 = 1.0 + g * 0.7 - 0.3  # bootstraps from the true final obs, nothing carried from a2
    a0 = (1.0 + g * 0.3 - 0.2) + g * lam * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2])


def test_gae_rejects_bad_discounts() -> None:
    z = np.zeros((1, 1))
    with pytest.raises(ValueError, match=r"gamma = 1\.5"):
        compute_gae(z, z, z.astype(bool), z.astype(bool), np.zeros(1), gamma=1.5)


@pytest.mark.parametrize("kind", ["linear", "cosine", "vp"])
def test_beta_schedules_are_valid_variances(kind: str) -> None:
    b = beta_schedule(kind, 50)
    assert b.shape == (50,) and (b > 0).all() and (b < 1).all()
    assert torch.cumprod(1 - b, 0)[-1] < 0.5  # the chain ends mostly in noise


def test_forward_closed_form_matches_iterating_single_steps() -> None:
    torch.manual_seed(0)
    model = Diffusion(3, 4, n_steps=20, schedule="linear", hidden=(16,))
    x0 = torch.randn(20000, 4, dtype=torch.float64)
    # iterate q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I) for t = 1..10
    x = x0.clone()
    for t in range(10):
        beta = model.betas[t].double()
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn_like(x)
    t9 = torch.full((x0.shape[0],), 9)
    closed = model.q_sample(x0.float(), t9, torch.randn(x0.shape)).double()
    # same conditional mean (coefficient √ᾱ) and same spread
    coef = (x * x0).sum() / (x0 * x0).sum()
    assert coef.item() == pytest.approx(model.sqrt_abar[9].item(), rel=0.01)
    assert (x - coef * x0).std().item() == pytest.approx(
        (closed - model.sqrt_abar[9] * x0).std().item(), rel=0.02
    )
    assert model.sqrt_abar[9].item() ** 2 == pytest.approx(
        float(torch.prod(1 - model.betas[:10].double())), rel=1e-5
    )


def test_mean_only_chain_is_deterministic_and_sampling_reproducible() -> None:
    torch.manual_seed(1)
    model = Diffusion(5, 3, n_steps=8, hidden=(32, 32))
    s = torch.randn(6, 5)
    a = model.sample(s, deterministic=True)
    b = model.sample(s, deterministic=True)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    g1 = torch.Generator().manual_seed(42)
    g2 = torch.Generator().manual_seed(42)
    torch.testing.assert_close(model.sample(s, generator=g1), model.sample(s, generator=g2))
    g3 = torch.Generator().manual_seed(43)
    assert not torch.equal(model.sample(s, generator=g3), a)


def test_the_denoiser_applied_by_parts_is_the_mlp_over_the_concatenated_inputs() -> None:
    """ε_θ's first layer runs by input block (the state's share once per chain); it is the
    same function as the MLP over [x_t, step embedding, state], per entity as well."""
    from vtwin.layout import EntityLayout

    torch.manual_seed(3)
    n_ent, feat, shared = 4, 3, 2
    layout = EntityLayout(
        tuple(tuple(range(shared + e * feat, shared + (e + 1) * feat)) for e in range(n_ent)),
        tuple(range(shared)),
    )
    state = torch.randn(5, shared + n_ent * feat)
    x_t, t = torch.randn(5, n_ent), torch.tensor([0, 1, 2, 3, 1])
    plain = Diffusion(state.shape[1], n_ent, n_steps=4, hidden=(8, 8))
    assert isinstance(plain.eps, torch.nn.Sequential)
    whole = plain.eps(torch.cat([x_t, plain.t_embed(t), state], dim=-1))
    torch.testing.assert_close(plain.predict_eps(x_t, t, state), whole)
    torch.testing.assert_close(plain.predict_eps(x_t, t, state, plain.project(state)), whole)
    entity = Diffusion(state.shape[1], n_ent, n_steps=4, hidden=(8,), layout=layout)
    emb = entity.t_embed(t)
    eps = entity.predict_eps(x_t, t, state)
    for e in range(n_ent):
        row = torch.cat([state[:, list(layout.entity_columns[e])], state[:, :shared]], -1)
        whole = entity.eps.net(torch.cat([row, x_t[:, e : e + 1], emb], -1))[:, 0]
        torch.testing.assert_close(eps[:, e], whole)
    # the chain with its once-per-chain projection equals the chain stepped by hand
    for model in (plain, entity):
        x = torch.zeros(5, n_ent)
        for step in reversed(range(model.n_steps)):
            x = model.p_mean(x, torch.full((5,), step), state)
        torch.testing.assert_close(model.sample(state, deterministic=True), x)


def test_gradients_reach_the_first_layer_of_the_denoiser() -> None:
    torch.manual_seed(2)
    model = Diffusion(4, 6, n_steps=5, hidden=(16, 16))
    x0 = model.sample(torch.randn(8, 4))
    torch.softmax(x0, dim=-1)[:, 0].sum().backward()  # eq. (10) softmax over actions
    first = model.eps[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    model.zero_grad()
    model.loss(torch.randn(8, 6), torch.randn(8, 4)).backward()
    assert model.eps[0].weight.grad.abs().sum() > 0


def test_nets_shapes_and_errors() -> None:
    net = mlp(4, 3, (8,))
    assert net(torch.zeros(2, 4)).shape == (2, 3)
    emb = SinusoidalEmbedding(6)
    out = emb(torch.tensor([0, 5, 99]))
    assert out.shape == (3, 6) and not torch.equal(out[0], out[1])
    with pytest.raises(ValueError, match="even"):
        SinusoidalEmbedding(5)
    with pytest.raises(ValueError, match="mlp sizes"):
        mlp(0, 3)
    assert pick_device("cpu").type == "cpu"
    assert pick_device().type in {"cpu", "cuda"}


def test_replay_buffer_wraps_and_samples_reproducibly() -> None:
    buf = ReplayBuffer(5, obs_dim=2, n_actions=3)
    for k in range(3):  # 3 batches of 2 → 6 transitions into capacity 5
        obs = np.full((2, 2), k, dtype=np.float32)
        step = Transition(
            obs,
            np.array([k, k]),
            np.array([k, k], dtype=np.float32),
            obs + 1,
            np.array([False, True]),
        )
        buf.add(step, np.ones((2, 3), dtype=bool))
    assert len(buf) == 5 and buf.pos == 1
    assert buf.obs[0, 0] == 2  # the oldest transition was overwritten
    a = buf.sample(4, np.random.default_rng(0), torch.device("cpu"))
    b = buf.sample(4, np.random.default_rng(0), torch.device("cpu"))
    torch.testing.assert_close(a["obs"], b["obs"])
    assert a["next_masks"].shape == (4, 3)
    with pytest.raises(RuntimeError, match="empty"):
        ReplayBuffer(2, 1).sample(1, np.random.default_rng(0), torch.device("cpu"))


@pytest.mark.parametrize("capacity", [7, 23, 1000])
def test_replay_buffer_gives_every_next_observation_as_if_it_stored_them_all(
    capacity: int,
) -> None:
    """Linked next observations (a row that goes on as the same row of the next add), own
    copies (episode ends, filtered adds of another size, a successor that differs) and the
    pending latest add all read back exactly what was added, through ring wrap-around, and
    through a checkpoint round trip; only unlinked rows touch ``next_obs``."""
    rng = np.random.default_rng(0)
    dim, copies = 3, 4
    buf = ReplayBuffer(capacity, obs_dim=dim, action_dim=1)
    ref_obs = np.zeros((capacity, dim), dtype=np.float32)
    ref_next = np.zeros((capacity, dim), dtype=np.float32)
    pos = size = 0
    state = rng.normal(size=(copies, dim)).astype(np.float32)
    kinds: set[str] = set()
    for t in range(60):
        keep = np.ones(copies, dtype=bool) if t % 7 else rng.random(copies) < 0.6
        if not keep.any():
            keep[0] = True
        nxt = rng.normal(size=(copies, dim)).astype(np.float32)
        obs, next_obs = state[keep], nxt[keep]
        n = len(obs)
        buf.add(Transition(obs, np.zeros((n, 1)), np.zeros(n), next_obs, np.zeros(n, bool)))
        idx = (pos + np.arange(n)) % capacity
        ref_obs[idx], ref_next[idx] = obs, next_obs
        pos, size = (pos + n) % capacity, min(size + n, capacity)
        # most slots go on from the next observation; every 9th starts new episodes
        state = rng.normal(size=(copies, dim)).astype(np.float32) if t % 9 == 8 else nxt
        rows = np.arange(size)
        np.testing.assert_array_equal(buf.obs[rows], ref_obs[rows])
        np.testing.assert_array_equal(buf.next_observations(rows), ref_next[rows])
        kinds |= {"own"} if (buf.succ[:size] == -1).any() else set()
        kinds |= {"linked"} if (buf.succ[:size] >= 0).any() else set()
    assert kinds == {"own", "linked"}
    batch = buf.sample(50, np.random.default_rng(1), torch.device("cpu"))
    copy = ReplayBuffer(capacity, obs_dim=dim, action_dim=1)
    copy.load_state_dict(buf.state_dict())
    again = copy.sample(50, np.random.default_rng(1), torch.device("cpu"))
    for key in batch:
        torch.testing.assert_close(again[key], batch[key], rtol=0, atol=0)
    with pytest.raises(ValueError, match="more than the buffer's capacity 7"):
        ReplayBuffer(7, 1).add(
            Transition(
                np.zeros((8, 1)), np.zeros(8), np.zeros(8), np.zeros((8, 1)), np.zeros(8, bool)
            )
        )


def test_rollout_buffer_minibatches_cover_every_transition_once() -> None:
    buf = RolloutBuffer(4, 3, obs_dim=2, n_actions=5)
    for t in range(4):
        buf.add(
            np.full((3, 2), t),
            np.arange(3),
            np.zeros(3),
            np.ones(3),
            np.zeros(3),
            np.zeros(3, dtype=bool),
            np.zeros(3, dtype=bool),
        )
    assert buf.full
    with pytest.raises(RuntimeError, match="full"):
        buf.add(
            np.zeros((3, 2)),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3, dtype=bool),
            np.zeros(3, dtype=bool),
        )
    buf.compute_returns(np.zeros(3), gamma=0.9, lam=1.0)
    np.testing.assert_allclose(buf.returns[-1], 1.0)
    seen = []
    for batch in buf.minibatches(5, np.random.default_rng(0), torch.device("cpu")):
        assert batch["masks"].shape[1] == 5
        seen += batch["obs"][:, 0].tolist()
    assert sorted(seen) == sorted([float(t) for t in range(4) for _ in range(3)])


def test_running_mean_std_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 2))
    rms = RunningMeanStd((2,), epsilon=1e-12)
    for chunk in np.array_split(data, 7):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, data.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(rms.var, data.var(axis=0), rtol=1e-9)
    z = rms.normalize(data)
    assert abs(z.mean()) < 1e-6 and abs(z.std() - 1) < 1e-3
    copy = RunningMeanStd((2,))
    copy.load_state_dict(rms.state_dict())
    np.testing.assert_array_equal(copy.mean, rms.mean)


def test_a_rollout_cut_short_uses_only_its_filled_rows() -> None:
    buf = RolloutBuffer(5, 2, obs_dim=1)
    for t in range(3):  # an episode ended after 3 of 5 rows
        buf.add(
            np.full((2, 1), t),
            np.zeros(2),
            np.zeros(2),
            np.ones(2),
            np.zeros(2),
            np.zeros(2, dtype=bool),
            np.full(2, t == 2),
            np.full(2, 10.0) if t == 2 else None,
        )
    buf.compute_returns(np.zeros(2), gamma=0.5, lam=1.0)
    # returns backwards from the truncated row: 1 + 0.5·10 = 6, 1 + 0.5·6 = 4, 1 + 0.5·4 = 3
    np.testing.assert_allclose(buf.returns[:3, 0], [3.0, 4.0, 6.0])
    np.testing.assert_allclose(buf.returns[3:], 0.0)
    seen = []
    for batch in buf.minibatches(4, np.random.default_rng(0), torch.device("cpu")):
        seen += batch["obs"][:, 0].tolist()
    assert sorted(seen) == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


def test_agent_sizes_refuse_what_no_learner_can_be_built_for() -> None:
    assert AgentSizes(3, 2) == AgentSizes(3, 2, n_agents=1, state_dim=0)
    for bad, field in (
        (dict(obs_dim=0, n_actions=2), "obs_dim"),
        (dict(obs_dim=3, n_actions=1), "n_actions"),
        (dict(obs_dim=3, n_actions=2, n_agents=0), "n_agents"),
        (dict(obs_dim=3, n_actions=2, state_dim=-1), "state_dim"),
    ):
        with pytest.raises(ValueError, match=field):
            AgentSizes(**bad)


def test_a_learner_built_without_config_uses_its_config_class_defaults() -> None:
    agent = PPOAgent(AgentSizes(3, 4), device="cpu", seed=1)
    assert agent.config == PPOConfig()
    assert (agent.obs_dim, agent.n_actions, agent.n_agents, agent.state_dim) == (3, 4, 1, 0)
    same = PPOAgent(AgentSizes(3, 4), PPOConfig(), device="cpu", seed=1)
    for p, q in zip(agent.parameters(), same.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
