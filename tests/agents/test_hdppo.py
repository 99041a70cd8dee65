"""HDPPO (two diffusion actors) and GHPPO (diffusion discrete actor + MLP continuous head):
log-probabilities against hand-built distributions of the chains' outputs, ratios of 1 before
the first step, the auxiliary loss of eq. (33), the annealed coefficients, bounds, config
checks, determinism per seed and checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Normal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_fakes import assert_same_acts, fill_rollout, spy_ratios

import vtwin.agents.hdppo as hdppo_module
from vtwin.agents.diffusion import Diffusion
from vtwin.agents.ghppo import GHPPOAgent, GHPPOConfig
from vtwin.agents.hdppo import HDPPOAgent, HDPPOConfig
from vtwin.agents.hybrid import HybridRollout, HybridSizes

M, S, F, B, T = 3, 4, 5, 6, 7
R_MAX = 0.001
SIZES = HybridSizes(obs_dim=M * F, n_actions=S, n_agents=M, r_max_deg=R_MAX)
SMALL = {"hidden": (16, 16), "denoiser_hidden": (16, 16), "epochs": 2, "minibatch_size": 16}
AGENTS = {
    "hdppo": (HDPPOAgent, HDPPOConfig(**SMALL, lr=1e-3)),
    "ghppo": (GHPPOAgent, GHPPOConfig(**SMALL, lr=1e-3)),
}


def _agent(name: str, seed: int = 0, **changes: object) -> HDPPOAgent:
    cls, config = AGENTS[name]
    if changes:
        config = type(config)(**{**config.__dict__, **changes})
    return cls(SIZES, config, device="cpu", seed=seed)


def _obs(seed: int, n: int = B) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, M * F)).astype(np.float32)


def _fill(agent: HDPPOAgent, seed: int = 0) -> HybridRollout:
    """A rollout of T slots × B copies from random observations; reward = −radius + a bonus
    for server 0 (so advantages have both signs)."""
    rng = np.random.default_rng(seed)
    return fill_rollout(
        agent,
        T,
        lambda t: rng.uniform(0, 1, (B, M * F)).astype(np.float32),
        lambda action, step: (
            -action["radius_deg"].mean(axis=1) / R_MAX + (step.server == 0).mean(axis=1)
        ),
        M,
    )


def test_config_defaults_follow_paper_c() -> None:
    cfg = HDPPOConfig()
    assert (cfg.gamma, cfg.gae_lambda, cfg.lr, cfg.minibatch_size, cfg.vf_coef) == (
        0.95,
        0.95,
        1e-4,
        256,
        0.25,
    )
    assert (cfg.ent_coef, cfg.aux_coef, cfg.denoising_steps) == (0.1, 0.01, 5)
    assert cfg.joint_ratio and cfg.continuous_actor == "diffusion"
    g = GHPPOConfig()
    assert g.continuous_actor == "mlp" and g.aux_coef == 0.0 and g.ent_coef == 0.1


@pytest.mark.parametrize("name", ["hdppo", "ghppo"])
def test_untrained_chains_start_uniform_and_mid_range(name: str) -> None:
    agent = _agent(name)
    assert isinstance(agent.discrete_actor, Diffusion)
    assert isinstance(agent.continuous_actor, Diffusion) == (name == "hdppo")
    with torch.no_grad():
        logits, mean = agent.chain_outputs(torch.as_tensor(_obs(0)))
    assert logits.shape == (B, M, S) and mean.shape == (B, M, 2)
    assert logits.abs().max() < 0.05  # ≈ uniform over the servers
    assert (mean - 0.5).abs().max() < 0.05  # r ≈ r_max/2, θ ≈ π


@pytest.mark.parametrize("name", ["hdppo", "ghppo"])
def test_step_log_probs_equal_hand_built_distributions_of_the_chain_outputs(name: str) -> None:
    agent = _agent(name, seed=1)
    agent.update(_fill(agent))  # move away from the near-uniform start
    obs = _obs(3)
    _, step = agent.act(obs)
    o = torch.as_tensor(obs)
    with torch.no_grad():  # the chains by hand: mean-only from x_U = 0
        logits = agent.discrete_actor.sample(o, deterministic=True).reshape(B, M, S)
        if name == "hdppo":
            x0 = agent.continuous_actor.sample(o, deterministic=True)
        else:
            x0 = agent.continuous_actor(o)
        mean = 0.5 + x0.reshape(B, M, 2)
        std = agent.log_std.exp()
    assert logits.abs().max() <= agent.config.discrete_x0_clip
    if name == "hdppo":
        assert (mean - 0.5).abs().max() <= agent.config.continuous_x0_clip
    u = torch.as_tensor(step.u)
    for b in range(B):
        lp_d = sum(
            float(Categorical(logits=logits[b, m]).log_prob(torch.tensor(step.server[b, m])))
            for m in range(M)
        )  # eq. (28)
        lp_c = sum(
            float(Normal(mean[b, m, k], std[m, k]).log_prob(u[b, m, k]))
            for m in range(M)
            for k in range(2)
        )  # eq. (27)
        assert step.logp_discrete[b] == pytest.approx(lp_d, abs=1e-5)
        assert step.logp_continuous[b] == pytest.approx(lp_c, abs=1e-5)
        assert step.logp[b] == pytest.approx(lp_d + lp_c, abs=1e-5)  # eq. (26)
    # deterministic acting: argmax server, the means
    _, mode = agent.act(obs, deterministic=True)
    np.testing.assert_array_equal(mode.server, logits.argmax(-1).numpy())
    np.testing.assert_allclose(mode.u, mean.numpy(), atol=1e-6)


@pytest.mark.parametrize("name", ["hdppo", "ghppo"])
def test_actions_stay_in_the_env_bounds(name: str) -> None:
    agent = _agent(name, init_log_std=1.5)  # wide: most u fall outside [0, 1]
    outside = 0
    for seed in range(5):
        action, step = agent.act(_obs(seed, 64))
        assert np.all((action["radius_deg"] >= 0) & (action["radius_deg"] <= R_MAX))
        assert np.all((action["angle_rad"] >= 0) & (action["angle_rad"] < 2 * np.pi))
        assert np.all((action["server"] >= 0) & (action["server"] < S))
        outside += int(((step.u[..., 0] < 0) | (step.u[..., 0] > 1)).sum())
    assert outside > 0


def test_predicted_x0_at_the_last_step_is_the_reverse_mean() -> None:
    # at step 0 the posterior mean is the predicted x_0 itself (coef1 = 1, coef2 = 0)
    chain = _agent("hdppo").discrete_actor
    x = torch.randn(B, M * S, generator=torch.Generator().manual_seed(0))
    t = torch.zeros(B, dtype=torch.long)
    s = torch.as_tensor(_obs(1))
    with torch.no_grad():
        torch.testing.assert_close(chain.predict_x0(x, t, s), chain.p_mean(x, t, s))


@pytest.mark.parametrize("joint_ratio", [True, False])
def test_ratios_are_exactly_one_at_the_first_minibatch(
    joint_ratio: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the mean-only chains recompute the stored log-probabilities exactly
    seen = spy_ratios(monkeypatch, hdppo_module)
    agent = _agent("hdppo", seed=3, joint_ratio=joint_ratio)
    metrics = agent.update(_fill(agent))
    for ratio in seen[: 1 if joint_ratio else 2]:
        assert ratio.shape == (16,)
        torch.testing.assert_close(ratio, torch.ones_like(ratio), rtol=0, atol=1e-5)
    assert not all(torch.allclose(r, torch.ones_like(r), atol=1e-5) for r in seen)
    assert metrics["approx_kl"] >= 0 and np.isfinite(metrics["value_loss"])
    assert metrics["aux_loss"] > 0 and metrics["eps_saturation"] >= 0


def test_aux_loss_is_l1_reconstruction_on_positive_advantage_rows_only() -> None:
    agent = _agent("hdppo", seed=2)
    chain = agent.discrete_actor
    n = 12
    obs = torch.as_tensor(_obs(4, n))
    server = torch.as_tensor(np.random.default_rng(5).integers(0, S, (n, M)))
    adv = torch.tensor([1.0, -2.0, 0.0, 0.5, -0.1, 3.0, -1.0, 0.2, -0.3, 0.0, 2.0, -4.0])
    positive = adv > 0

    def loss_and_grads(srv: torch.Tensor, a: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
        chain.zero_grad()
        loss = agent.aux_loss(obs, srv, a, torch.Generator().manual_seed(7))
        loss.backward()
        return float(loss.detach()), [
            p.grad.clone() for p in chain.parameters() if p.grad is not None
        ]

    # by hand, with the same draws: one-hot x_0^d, x_u = √ᾱ x_0 + √(1−ᾱ) ε, x̂_0, L1
    g = torch.Generator().manual_seed(7)
    t = torch.randint(0, chain.n_steps, (n,), generator=g)
    noise = torch.randn(n, M * S, generator=g)
    x0 = torch.zeros(n, M, S).scatter_(-1, server[..., None], 1.0).reshape(n, M * S)
    with torch.no_grad():
        x0_hat = chain.predict_x0(chain.q_sample(x0, t, noise), t, obs)
    expected = float(((x0_hat - x0).abs().mean(-1) * positive).sum() / n)
    loss, grads = loss_and_grads(server, adv)
    assert loss == pytest.approx(expected, rel=1e-5) and loss > 0
    # other servers on the rows with advantage ≤ 0: same loss, same gradients
    other = server.clone()
    other[~positive] = (other[~positive] + 1) % S
    loss2, grads2 = loss_and_grads(other, adv)
    assert loss2 == loss
    for a, b in zip(grads, grads2, strict=True):
        assert torch.equal(a, b)
    # ... but on a positive row they count
    moved = server.clone()
    moved[0] = (moved[0] + 1) % S
    assert loss_and_grads(moved, adv)[0] != loss
    # no positive advantage: exactly zero, no gradient
    zero, zero_grads = loss_and_grads(server, -adv.abs())
    assert zero == 0.0 and all(torch.count_nonzero(gr) == 0 for gr in zero_grads)


def test_coefficients_anneal_linearly_over_the_agents_transitions() -> None:
    steps = 100  # a rollout holds T·B = 42 joint steps
    agent = _agent(
        "hdppo",
        ent_coef=0.1,
        ent_coef_final=0.02,
        aux_coef=0.01,
        aux_coef_final=0.0,
        anneal_steps=steps,
    )
    for k in range(4):
        seen = k * T * B
        frac = min(1.0, seen / steps)
        assert agent.transitions_seen == seen
        ent, aux = agent.coefficients()
        assert ent == pytest.approx(0.1 + (0.02 - 0.1) * frac)
        assert aux == pytest.approx(0.01 * (1 - frac))
        metrics = agent.update(_fill(agent, seed=k))
        assert (metrics["ent_coef"], metrics["aux_coef"]) == (ent, aux)
    assert agent.coefficients() == pytest.approx((0.02, 0.0))
    assert metrics["aux_loss"] == 0.0  # c_aux = 0: not computed
    constant = _agent("hdppo", anneal_steps=0)
    constant.update(_fill(constant))
    assert constant.coefficients() == (constant.config.ent_coef, constant.config.aux_coef)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("gamma", 1.5, r"must be in \[0, 1\]"),
        ("lr", 0.0, "must be a finite number > 0"),
        ("ent_coef", -0.1, "must be a finite number ≥ 0"),
        ("aux_coef_final", float("nan"), "must be a finite number ≥ 0"),
        ("anneal_steps", -1, "must be an integer ≥ 0"),
        ("denoising_steps", 0, "must be an integer ≥ 1"),
        ("minibatch_size", 0, "must be an integer ≥ 1"),
        ("discrete_x0_clip", -3.0, r"must be a finite number > 0 \(or None\)"),
        ("continuous_x0_clip", 0.0, "must be a finite number > 0"),
        ("continuous_actor", "gaussian", "allowed: 'diffusion', 'mlp'"),
        ("x0_squash", "sigmoid", "allowed: 'tanh', 'clip'"),
        ("t_dim", 7, "must be an even integer ≥ 2"),
        ("value_clip", 0.0, r"must be > 0 \(or None\)"),
    ],
)
def test_bad_config_values_are_refused_with_one_line(
    field: str, value: object, allowed: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field} = .*[:;] .*{allowed}") as err:
        HDPPOConfig(**{field: value})
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=f"^{field} = "):
        GHPPOConfig(**{field: value})


def test_agents_need_hybrid_sizes() -> None:
    from vtwin.agents.common import AgentSizes

    with pytest.raises(TypeError, match="GHPPOAgent needs HybridSizes"):
        GHPPOAgent(AgentSizes(obs_dim=4, n_actions=3), device="cpu")


@pytest.mark.parametrize("name", ["hdppo", "ghppo"])
def test_same_seed_same_actions_and_update_and_checkpoint_round_trip(name: str) -> None:
    a, b, c = _agent(name, seed=4), _agent(name, seed=4), _agent(name, seed=5)
    obs = _obs(7)
    (act_a, step_a), (act_b, step_b) = a.act(obs), b.act(obs)
    for k in act_a:
        np.testing.assert_array_equal(act_a[k], act_b[k])
    np.testing.assert_array_equal(step_a.logp, step_b.logp)
    for agent in (a, b, c):
        agent.update(_fill(agent, seed=1))
    for (key, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), key
    assert not torch.equal(a.log_std, c.log_std)

    ckpt = a.checkpoint()
    restored = _agent(name, seed=99)
    restored.restore(ckpt)
    assert restored.transitions_seen == a.transitions_seen == T * B
    assert_same_acts(a, restored, obs)
    # the next update goes alike from the restored state (minibatch order, aux noise, coefs)
    ma, mr = a.update(_fill(a, seed=9)), restored.update(_fill(restored, seed=9))
    assert ma == mr
    for (key, pa), pr in zip(a.state_dict().items(), restored.state_dict().values(), strict=True):
        assert torch.equal(pa, pr), key
