"""Diffusion SAC: learns a contextual bandit, respects masks, Polyak targets, determinism, I/O."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.common import AgentSizes
from vtwin.agents.diffusion import Diffusion
from vtwin.agents.dsac import DSACAgent, DSACConfig

N_CTX, N_ENVS = 4, 16
EYE = np.eye(N_CTX, dtype=np.float32)
SIZES = AgentSizes(N_CTX, N_CTX)


def _linear(net: nn.Module, index: int) -> nn.Linear:
    """The ``index``-th layer of a Sequential, typed as the Linear it is."""
    assert isinstance(net, nn.Sequential)
    layer = net[index]
    assert isinstance(layer, nn.Linear)
    return layer


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny nets: one intra-op thread is faster and immune to CPU contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _config(**kw: object) -> DSACConfig:
    base: dict[str, object] = {
        "lr_actor": 3e-3,
        "lr_critic": 3e-3,
        "batch_size": 64,
        "denoising_steps": 4,
        "hidden": (64, 64),
        "learning_starts": 64,
        "tau": 0.05,
    }
    base.update(kw)
    return DSACConfig(**base)  # type: ignore[arg-type]


def _train(
    seed: int, steps: int, config: DSACConfig | None = None
) -> tuple[DSACAgent, list[float]]:
    """Contextual bandit: obs = one-hot context c, reward 1 iff action == c, 1-step episodes.

    Every env step the agent acts on N_ENVS contexts with its own stochastic policy, the
    transitions go into a replay buffer, and ``learn`` does ``updates_per_step`` updates.
    """
    rng = np.random.default_rng(seed)
    agent = DSACAgent(SIZES, config or _config(), device="cpu", seed=seed)
    buf = ReplayBuffer(10_000, N_CTX)
    rewards = []
    for _ in range(steps):
        ctx = rng.integers(0, N_CTX, N_ENVS)
        obs = EYE[ctx]
        act = agent.act(obs)
        rew = (act == ctx).astype(np.float32)
        rewards.append(float(rew.mean()))
        buf.add(Transition(obs, act, rew, obs, np.ones(N_ENVS, dtype=bool)))
        agent.learn(buf)
    return agent, rewards


def _batch(actions: torch.Tensor, rewards: float, terminated: float) -> dict[str, torch.Tensor]:
    """A replay batch of the N_CTX one-hot contexts, each its own next observation."""
    return {
        "obs": torch.as_tensor(EYE),
        "actions": actions,
        "rewards": torch.full((N_CTX,), rewards),
        "next_obs": torch.as_tensor(EYE),
        "terminated": torch.full((N_CTX,), terminated),
    }


def _greedy_accuracy(agent: DSACAgent) -> float:
    return float(np.mean(agent.act(EYE, deterministic=True) == np.arange(N_CTX)))


def test_dsac_learns_a_contextual_bandit() -> None:
    agent = DSACAgent(SIZES, _config(), device="cpu", seed=0)
    # Random (untrained) stochastic policy: about 1/4 correct.
    ctx = np.random.default_rng(1).integers(0, N_CTX, 4000)
    assert abs(np.mean(agent.act(EYE[ctx]) == ctx) - 0.25) < 0.05

    agent, rewards = _train(0, 1000)
    assert np.mean(rewards[:5]) < 0.45
    assert _greedy_accuracy(agent) > 0.9
    # Stochastic acting has concentrated too; it plateaus near 0.9 because the chain's own
    # noise (x_N and the per-step z) still randomises x_0, on top of α's entropy bonus.
    assert np.mean(agent.act(EYE[ctx]) == ctx) > 0.8
    # The soft value Σ π min Q approaches the reward of the right action (1).
    _, _, value = agent.act_with_info(EYE, deterministic=True)
    assert np.all(value > 0.7)


def test_masked_actions_get_zero_probability_and_are_never_sampled() -> None:
    agent = DSACAgent(SIZES, _config(), device="cpu", seed=3)
    rng = np.random.default_rng(3)
    n = 4000
    obs = rng.normal(size=(n, N_CTX)).astype(np.float32)
    mask = rng.random((n, N_CTX)) < 0.5
    mask[np.arange(n), rng.integers(0, N_CTX, n)] = True  # at least one legal action per row
    probs = agent.probs(obs, mask)
    assert np.all(probs[~mask] == 0.0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    for _ in range(5):
        act, logp, _ = agent.act_with_info(obs, mask)
        assert mask[np.arange(n), act].all()
        assert np.all(np.isfinite(logp)) and np.all(logp <= 0)
    # Rows with a single legal action always take it, with log-probability 0.
    only = np.zeros((n, N_CTX), dtype=bool)
    only[:, 2] = True
    act, logp, _ = agent.act_with_info(obs, only)
    assert (act == 2).all()
    np.testing.assert_allclose(logp, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="at least one action"):
        agent.act(obs[:1], np.zeros((1, N_CTX), dtype=bool))


def test_next_masks_enter_the_target() -> None:
    """A masked next action's (huge) Q' must not leak into y; unmasked, it must."""
    cfg = _config(gamma=1.0, alpha=1e-8, lr_critic=0.0, lr_actor=0.0, max_grad_norm=None)
    agent = DSACAgent(SIZES, cfg, device="cpu", seed=0)
    with torch.no_grad():
        for q in (agent.q1_target, agent.q2_target):
            _linear(q, -1).weight.zero_()
            _linear(q, -1).bias.copy_(torch.tensor([100.0, 0.0, 0.0, 0.0]))
        for q in (agent.q1, agent.q2):
            _linear(q, -1).weight.zero_()
            _linear(q, -1).bias.zero_()
    batch = _batch(torch.zeros(N_CTX, dtype=torch.long), rewards=0.0, terminated=0.0)
    masks = torch.ones(N_CTX, N_CTX, dtype=torch.bool)
    masks[:, 0] = False
    # critic_loss = 2 · mean(y²) since online Q = 0: y = 0 with action 0 masked out.
    masked = agent.update({**batch, "next_masks": masks})
    assert masked["critic_loss"] == pytest.approx(0.0, abs=1e-6)
    unmasked = agent.update({**batch, "next_masks": torch.ones_like(masks)})
    assert unmasked["critic_loss"] > 1.0


def test_deterministic_act_is_repeatable() -> None:
    agent = DSACAgent(SIZES, _config(), device="cpu", seed=4)
    obs = np.random.default_rng(4).normal(size=(64, N_CTX)).astype(np.float32)
    first = agent.act_with_info(obs, deterministic=True)
    for _ in range(3):
        again = agent.act_with_info(obs, deterministic=True)
        for a, b in zip(first, again, strict=True):
            np.testing.assert_array_equal(a, b)
    # …while the stochastic policy draws differ across calls.
    assert not np.array_equal(agent.act(obs), agent.act(obs))


def test_eval_chains_take_the_argmax_of_the_averaged_policy() -> None:
    """``eval_chains`` = K: deterministic acting is the argmax of π averaged over K noisy chains."""
    k = 6
    obs = np.random.default_rng(5).normal(size=(200, N_CTX)).astype(np.float32)
    mask = np.ones((200, N_CTX), dtype=bool)
    mask[:100, 1] = False
    marginal = DSACAgent(SIZES, _config(eval_chains=k), device="cpu", seed=5)
    by_hand = DSACAgent(SIZES, _config(), device="cpu", seed=5)  # same weights and generator
    act, logp, _ = marginal.act_with_info(obs, mask, deterministic=True)
    mean_probs = sum(by_hand.probs(obs, mask) for _ in range(k)) / k
    np.testing.assert_array_equal(act, mean_probs.argmax(-1))
    np.testing.assert_allclose(np.exp(logp), mean_probs.max(-1), rtol=1e-5)
    assert mask[np.arange(200), act].all()
    # It is still a function of the seed: a fresh agent with the same seed repeats it.
    again = DSACAgent(SIZES, _config(eval_chains=k), device="cpu", seed=5)
    np.testing.assert_array_equal(again.act(obs, mask, deterministic=True), act)
    # … and differs from the mean-only chain's argmax on some rows of an untrained agent.
    assert not np.array_equal(by_hand.act(obs, mask, deterministic=True), act)
    trained, _ = _train(0, 1000, _config(eval_chains=8))
    assert _greedy_accuracy(trained) > 0.9
    # the saturation diagnostic is a share, reported with every update
    assert 0.0 <= trained.actor.saturation() <= 1.0
    with pytest.raises(ValueError, match="eval_chains = -1"):
        DSACAgent(SIZES, _config(eval_chains=-1), device="cpu", seed=0)


def test_soft_update_moves_targets_by_tau() -> None:
    cfg = _config(tau=0.1)
    agent = DSACAgent(SIZES, cfg, device="cpu", seed=5)
    with torch.no_grad():  # make online and target differ so the step is visible
        for param in [*agent.actor.parameters(), *agent.q1.parameters(), *agent.q2.parameters()]:
            param.add_(1.0)
    pairs = [
        (_linear(agent.actor.eps, 0).weight, _linear(agent.actor_target.eps, 0).weight),
        (_linear(agent.q1, 0).bias, _linear(agent.q1_target, 0).bias),
        (_linear(agent.q2, -1).weight, _linear(agent.q2_target, -1).weight),
    ]
    before = [(p.detach().clone(), tp.detach().clone()) for p, tp in pairs]
    agent.soft_update()
    for (p, tp), (p0, tp0) in zip(pairs, before, strict=True):
        torch.testing.assert_close(p, p0)  # online untouched
        torch.testing.assert_close(tp, 0.9 * tp0 + 0.1 * p0)
    # update() ends with the same Polyak step, using the freshly updated online weights.
    buf = ReplayBuffer(8, N_CTX)
    buf.add(Transition(EYE, np.arange(N_CTX), np.ones(N_CTX), EYE, np.ones(N_CTX, dtype=bool)))
    tp0 = _linear(agent.q1_target, 0).weight.detach().clone()
    agent.update(buf.sample(16, np.random.default_rng(0), agent.device))
    expected = 0.9 * tp0 + 0.1 * _linear(agent.q1, 0).weight.detach()
    torch.testing.assert_close(_linear(agent.q1_target, 0).weight, expected)


def test_training_is_deterministic_per_seed() -> None:
    a, ra = _train(7, 40)
    b, rb = _train(7, 40)
    c, _ = _train(8, 40)
    assert ra == rb
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(_linear(a.q1, 0).weight, _linear(c.q1, 0).weight)


def test_checkpoint_round_trip_gives_identical_actions() -> None:
    agent, _ = _train(9, 20)
    ckpt = agent.checkpoint()
    obs = EYE[np.random.default_rng(9).integers(0, N_CTX, 256)]
    expected = [agent.act_with_info(obs) for _ in range(3)]
    expected.append(agent.act_with_info(obs, deterministic=True))
    fresh = DSACAgent(SIZES, _config(), device="cpu", seed=123)
    fresh.restore(ckpt)
    agent.restore(ckpt)  # rewinds the generator of the agent that already acted
    for model in (fresh, agent):
        for i, exp in enumerate(expected):
            got = model.act_with_info(obs, deterministic=i == len(expected) - 1)
            for a, b in zip(exp, got, strict=True):
                np.testing.assert_array_equal(a, b)
    assert fresh.alpha == agent.alpha


def test_checkpoint_is_a_snapshot() -> None:
    agent, _ = _train(10, 20)
    ckpt = agent.checkpoint()
    w = ckpt["model"]["q1.0.weight"].clone()
    buf = ReplayBuffer(8, N_CTX)
    buf.add(Transition(EYE, np.arange(N_CTX), np.ones(N_CTX), EYE, np.ones(N_CTX, dtype=bool)))
    agent.update(buf.sample(16, np.random.default_rng(0), agent.device))
    assert not torch.equal(_linear(agent.q1, 0).weight, w)
    assert torch.equal(ckpt["model"]["q1.0.weight"], w)


def test_auto_alpha_changes_alpha() -> None:
    fixed, _ = _train(11, 30)
    assert fixed.alpha == pytest.approx(0.05)
    assert not fixed.log_alpha.requires_grad

    cfg = _config(auto_alpha=True, lr_alpha=1e-2)
    agent = DSACAgent(SIZES, cfg, device="cpu", seed=11)
    assert agent.target_entropy == pytest.approx(0.6 * np.log(N_CTX))
    buf = ReplayBuffer(64, N_CTX)
    buf.add(Transition(EYE, np.arange(N_CTX), np.ones(N_CTX), EYE, np.ones(N_CTX, dtype=bool)))
    info = agent.update(buf.sample(64, np.random.default_rng(0), agent.device))
    # Adam's first step moves log α by lr against sign(H − H_target).
    step = np.log(agent.alpha) - np.log(0.05)
    expected = -1e-2 * np.sign(info["entropy"] - agent.target_entropy)
    assert step == pytest.approx(expected, rel=1e-3)
    assert info["alpha"] == agent.alpha

    trained, _ = _train(11, 30, cfg)
    assert trained.alpha != pytest.approx(0.05, rel=1e-2)
    restored = DSACAgent(SIZES, cfg, device="cpu", seed=0)
    restored.restore(trained.checkpoint())
    assert restored.alpha == trained.alpha


def test_clipped_chain_keeps_x0_bounded_and_equals_eq8_when_loose() -> None:
    """Eq. (8) and the posterior mean of the predicted x_0 are one formula; a bound c keeps
    x_0 in [−c, c], where the unbounded chain amplifies its input noise (∏ 1/√α_t ≈ 12)."""
    torch.manual_seed(12)
    free = Diffusion(5, 30, n_steps=10, hidden=(32, 32))
    loose = Diffusion(5, 30, n_steps=10, hidden=(32, 32), x0_clip=1e9)
    tight = Diffusion(5, 30, n_steps=10, hidden=(32, 32), x0_clip=2.0)
    loose.load_state_dict(free.state_dict())
    tight.load_state_dict(free.state_dict())
    s = torch.randn(256, 5)
    for det in (True, False):
        g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        torch.testing.assert_close(
            free.sample(s, deterministic=det, generator=g1),
            loose.sample(s, deterministic=det, generator=g2),
            rtol=1e-4,
            atol=1e-4,
        )
    noisy = free.sample(s, generator=torch.Generator().manual_seed(1))
    assert noisy.abs().mean() > 5.0  # the softmax of such an x_0 is nearly one-hot
    for det in (True, False):
        assert tight.sample(s, deterministic=det).abs().max() <= 2.0
    # gradients still reach the denoiser through the clipped chain
    torch.softmax(tight.sample(s), dim=-1)[:, 0].sum().backward()
    first = tight.eps[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    with pytest.raises(ValueError, match="x0_clip"):
        Diffusion(5, 3, x0_clip=0.0)


def test_saturation_counts_saturated_tanh_eps() -> None:
    """``Diffusion.saturation`` is the share of |tanh ε| > 0.99 over the last chain's steps."""
    torch.manual_seed(13)
    chain = Diffusion(5, 30, n_steps=4, hidden=(16, 16), x0_clip=3.0)
    assert chain.saturation() == 0.0  # no chain run yet
    last = _linear(chain.eps, -1)
    s = torch.randn(64, 5)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(0.5)  # tanh(0.5) = 0.46: nothing saturated
        chain.sample(s)
        assert chain.saturation() == 0.0
        last.bias[:15] = 10.0  # half the entries: tanh(10) ≈ 1
        chain.sample(s, deterministic=True)
        assert chain.saturation() == pytest.approx(0.5)
    agent = DSACAgent(SIZES, _config(), device="cpu", seed=0)
    batch = _batch(torch.zeros(N_CTX, dtype=torch.long), rewards=0.0, terminated=1.0)
    assert 0.0 <= agent.update(batch)["eps_saturation"] <= 1.0


def test_eps_reg_adds_the_pre_tanh_penalty_to_the_actor_loss() -> None:
    """``eps_reg`` adds eps_reg · mean ε_θ² of the actor's chain to the actor loss, nothing else."""
    batch = _batch(torch.arange(N_CTX), rewards=1.0, terminated=1.0)
    plain = DSACAgent(SIZES, _config(eps_reg=0.0), device="cpu", seed=6)
    reg = DSACAgent(SIZES, _config(eps_reg=0.5), device="cpu", seed=6)
    a, b = plain.update(batch), reg.update(batch)
    assert b["critic_loss"] == a["critic_loss"]
    penalty = float(reg.actor.eps_square())
    assert not reg.actor.eps_square().requires_grad  # the graph is released after the step
    copy.deepcopy(reg)  # … so the agent can still be copied
    assert penalty > 0.0
    assert b["actor_loss"] - a["actor_loss"] == pytest.approx(0.5 * penalty, rel=1e-5)
    # over updates, the penalised denoiser's ε_θ stays smaller than the free one's
    for _ in range(30):
        plain.update(batch)
        reg.update(batch)
    assert float(reg.actor.eps_square().detach()) < 0.5 * float(plain.actor.eps_square().detach())
    with pytest.raises(ValueError, match=r"eps_reg = -0\.1"):
        DSACAgent(SIZES, _config(eps_reg=-0.1), device="cpu", seed=0)


def test_linear_lr_decay_follows_stored_transitions_and_survives_a_checkpoint() -> None:
    cfg = _config(lr_actor=1e-3, lr_critic=2e-3, learning_starts=1, lr_anneal_steps=4 * N_CTX)
    agent = DSACAgent(SIZES, cfg, device="cpu", seed=4)
    buf = agent.make_buffer()
    step = Transition(EYE, np.arange(N_CTX), np.ones(N_CTX), EYE, np.ones(N_CTX, dtype=bool))
    scales = []
    for _ in range(2):
        assert agent.store(buf, step) == N_CTX
        scales.append(agent.learn(buf)["lr_scale"])
    assert scales == [0.75, 0.5]  # 1 − stored / lr_anneal_steps, stored before the update
    assert agent.actor_optimizer.param_groups[0]["lr"] == pytest.approx(0.5e-3)
    assert agent.critic_optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    restored = DSACAgent(SIZES, cfg, device="cpu", seed=7)
    restored.restore(agent.checkpoint())
    assert restored.stored_steps == 2 * N_CTX
    for _ in range(3):
        restored.store(buf, step)
        scales.append(restored.learn(buf)["lr_scale"])
    assert scales[2:] == [0.25, 0.0, 0.0]
    # at rate 0 the actor and critics stay where they are (their targets still move)
    nets = [*restored.actor.parameters(), *restored.q1.parameters(), *restored.q2.parameters()]
    before = [p.detach().clone() for p in nets]
    restored.learn(buf)
    for p0, p1 in zip(before, nets, strict=True):
        torch.testing.assert_close(p0, p1, rtol=0, atol=0)
    constant = DSACAgent(SIZES, _config(learning_starts=1), device="cpu", seed=4)
    constant.store(buf, step)
    assert "lr_scale" not in constant.learn(buf)
    with pytest.raises(ValueError, match="lr_anneal_steps = -1"):
        DSACAgent(SIZES, _config(lr_anneal_steps=-1), device="cpu")


def test_skip_sample_draws_exactly_the_noise_of_a_chain() -> None:
    chain = Diffusion(N_CTX, N_CTX, n_steps=5, hidden=(16,))
    ran, skipped = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    with torch.no_grad():
        chain.sample(torch.as_tensor(EYE), generator=ran)
    chain.skip_sample(N_CTX, "cpu", skipped)
    assert torch.equal(ran.get_state(), skipped.get_state())


def test_gamma_0_skips_the_target_chain_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With γ = 0 the target is r: the agent skips the target actor's chain, and training
    on the same non-terminal batches leaves weights bit-identical to the full target."""
    cfg = _config(gamma=0.0)
    fast = DSACAgent(SIZES, cfg, device="cpu", seed=5)
    full = DSACAgent(SIZES, cfg, device="cpu", seed=5)
    monkeypatch.setattr(full, "_critic_target", full._soft_critic_target)
    chains = {"fast": 0, "full": 0}
    for name, agent in (("fast", fast), ("full", full)):
        sample = agent.actor_target.sample

        def counted(*args: object, _name: str = name, _s: object = sample, **kw: object) -> object:
            chains[_name] += 1
            return _s(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(agent.actor_target, "sample", counted)
    rng = np.random.default_rng(0)
    for _ in range(6):
        batch = {
            "obs": torch.as_tensor(EYE[rng.integers(0, N_CTX, 32)]),
            "actions": torch.as_tensor(rng.integers(0, N_CTX, 32)),
            "rewards": torch.as_tensor(rng.normal(size=32), dtype=torch.float32),
            "next_obs": torch.as_tensor(EYE[rng.integers(0, N_CTX, 32)]),
            "terminated": torch.zeros(32),
        }
        fast.update(batch)
        full.update(batch)
    assert chains == {"fast": 0, "full": 6}
    for (name, a), b in zip(fast.state_dict().items(), full.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
