"""Paper C's Bayesian adversary: posteriors, entropy bounds, hand cases, metric behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtwin.physics.privacy import cross_reality_posterior, entropy_bits, kde_prior
from vtwin.world.adversary import BayesianAdversary


def _adversary(servers: np.ndarray, **kw: object) -> BayesianAdversary:
    base: dict[str, object] = {
        "r_max_m": 100.0,
        "grid": 11,
        "span": 3.0,
        "sigma_m": 100.0,
        "d_t_m": 500.0,
        "bandwidth_m": 100.0,
        "history_slots": 10,
    }
    base.update(kw)
    return BayesianAdversary(servers, **base)  # type: ignore[arg-type]


def _random_case(seed: int, B: int = 3, M: int = 4, S: int = 7):
    rng = np.random.default_rng(seed)
    servers = rng.uniform(0, 3000, (S, 2))
    true = rng.uniform(500, 2500, (B, M, 2))
    pert = true + rng.uniform(-100, 100, (B, M, 2))
    server = rng.integers(0, S, (B, M))
    return servers, true, pert, server


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_posterior_is_a_distribution_and_entropy_is_bounded(seed: int) -> None:
    servers, true, pert, server = _random_case(seed)
    adv = _adversary(servers)
    adv.reset(3, 4)
    for _ in range(3):  # with and without history
        view = adv.observe(true, pert, server)
        np.testing.assert_allclose(view.posterior.sum(-1), 1.0, atol=1e-12)
        for ent in (view.entropy_bits, view.geo_i_entropy_bits, view.migration_entropy_bits):
            assert np.all(ent >= 0.0) and np.all(ent <= math.log2(121) + 1e-12)
        assert np.all((view.confidence > 0) & (view.confidence <= 1))
        adv.remember(true)
        true = true + 30.0
        pert = pert + 30.0


def test_two_by_two_candidates_by_hand() -> None:
    # grid 2, span 1, r_max 1: candidates (±1, ±1) around the report (0, 0), all at the same
    # distance from it, so only the server term separates them. Two servers at (±2, 0); the
    # agent sits on the right one; uniform prior (no history).
    servers = np.array([[2.0, 0.0], [-2.0, 0.0]])
    adv = _adversary(servers, r_max_m=1.0, grid=2, span=1.0, sigma_m=1.0, d_t_m=1.0)
    adv.reset(1, 1)
    view = adv.observe(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), np.zeros((1, 1), dtype=int))
    near, far = math.exp(-math.sqrt(2.0)), math.exp(-math.sqrt(10.0))
    # softmax of the right server seen from a right candidate is near/(near + far); from a
    # left one far/(near + far): the common factor cancels in Bayes
    p_right, p_left = near / (2 * (near + far)), far / (2 * (near + far))
    cand = view.candidates[0, 0]
    expected = np.where(cand[:, 0] > 0, p_right, p_left)
    np.testing.assert_allclose(view.posterior[0, 0], expected, rtol=1e-12)
    h = -2 * p_right * math.log2(p_right) - 2 * p_left * math.log2(p_left)
    assert view.entropy_bits[0, 0] == pytest.approx(h, rel=1e-12)
    assert view.confidence[0, 0] == pytest.approx(p_right)
    # the MAP candidate is a right one (the first of the two ties, y = −1): √2 from (0, 0)
    assert view.error_m[0, 0] == pytest.approx(math.sqrt(2.0))
    # Geo-I's entropy sees four equal candidates: 2 bits
    assert view.geo_i_entropy_bits[0, 0] == pytest.approx(2.0)


def test_matches_the_physics_posterior_with_a_kernel_prior() -> None:
    servers, true, pert, server = _random_case(7, B=2, M=3)
    adv = _adversary(servers, dead_reckoning=False, history_slots=4)
    adv.reset(2, 3)
    history = [true + k * np.array([40.0, -25.0]) for k in range(-4, 0)]
    for h in history:
        adv.remember(h)
    view = adv.observe(true, pert, server)
    hist = np.stack(history, axis=2)  # [B, M, 4, 2]
    for b in range(2):
        for m in range(3):
            cand = view.candidates[b, m]
            prior = kde_prior(cand, hist[b, m], bandwidth=100.0)
            ref = cross_reality_posterior(
                cand, pert[b, m], prior, servers, server[b, m], sigma=100.0, d_t=500.0
            )
            np.testing.assert_allclose(view.posterior[b, m], ref, atol=1e-12)
            assert view.entropy_bits[b, m] == pytest.approx(float(entropy_bits(ref)), abs=1e-9)


def test_history_is_a_ring_of_the_last_points() -> None:
    servers = np.array([[0.0, 0.0], [5000.0, 0.0]])
    adv = _adversary(servers, dead_reckoning=False, history_slots=2)
    adv.reset(1, 1)
    far = np.array([[[10_000.0, 10_000.0]]])
    adv.remember(far)
    for _ in range(2):  # two newer points push the far one out
        adv.remember(np.zeros((1, 1, 2)))
    cand = adv.candidates(np.zeros((1, 1, 2)))
    logp = adv.log_prior(cand)
    assert int(np.argmax(logp[0, 0])) == 60  # the grid centre, where both kept points are


def test_dead_reckoning_moves_the_prior_to_the_predicted_position() -> None:
    servers = np.array([[0.0, 0.0], [5000.0, 0.0]])
    adv = _adversary(servers, history_slots=5, bandwidth_m=30.0)
    adv.reset(1, 1)
    velocity = np.array([60.0, 0.0])  # metres per slot, eastward
    for k in range(5):
        adv.remember(np.array([[[1000.0, 1000.0]]]) + k * velocity)
    now = np.array([[[1000.0, 1000.0]]]) + 5 * velocity  # where the AV is this slot
    cand = adv.candidates(now)
    peak = cand[0, 0, int(np.argmax(adv.log_prior(cand)[0, 0]))]
    np.testing.assert_allclose(peak, now[0, 0], atol=1e-9)
    adv.dead_reckoning = False  # without it the density peaks behind the AV
    behind = cand[0, 0, int(np.argmax(adv.log_prior(cand)[0, 0]))]
    assert behind[0] < now[0, 0, 0] - 50.0


def test_entropy_grows_with_the_radius_at_a_fixed_angle() -> None:
    # The mechanism-aware adversary (σ = the radius the AV used, the envs' default) is less
    # sure where the AV is the farther it may have moved its report. (With SPEC's fixed
    # σ = r_max the Gaussian terms make the entropy almost independent of the radius:
    # docs/reproductions/paper-c.md.)
    servers = np.array([[0.0, 0.0], [400.0, 300.0], [-300.0, 200.0]])
    adv = _adversary(servers, d_t_m=200.0)
    adv.reset(1, 1)
    for k in range(3):
        adv.remember(np.array([[[-120.0 + 40.0 * k, 0.0]]]))
    true = np.zeros((1, 1, 2))
    ent = []
    for r in (10.0, 30.0, 60.0, 100.0):
        pert = true + r * np.array([math.cos(1.0), math.sin(1.0)])
        view = adv.observe(true, pert, np.zeros((1, 1), dtype=int), sigma_m=np.array([[r]]))
        ent.append(float(view.entropy_bits[0, 0]))
    assert ent == sorted(ent) and ent[0] < 1.0 < ent[-1]


def test_lattice_normaliser_is_close_to_the_exact_one() -> None:
    rng = np.random.default_rng(3)
    servers = rng.uniform(0, 5000, (80, 2))
    adv = _adversary(servers, d_t_m=1000.0)
    pts = rng.uniform(-200, 5200, (5000, 2))
    exact = adv.log_partition(pts)
    adv.use_lattice([-500.0, -500.0], [5500.0, 5500.0], 100.0)
    approx = adv._lattice_log_z(pts)
    assert approx is not None
    assert np.abs(approx - exact).max() < 0.05
    # a point outside the lattice falls back to the exact value
    assert adv._lattice_log_z(np.array([[9000.0, 0.0]])) is None


def test_bad_parameters_are_errors() -> None:
    servers = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"d_t_m = 0\.0"):
        _adversary(servers, d_t_m=0.0)
    with pytest.raises(ValueError, match="grid = 0"):
        _adversary(servers, grid=0)
    with pytest.raises(ValueError, match="history_slots = -1"):
        _adversary(servers, history_slots=-1)
    adv = _adversary(servers)
    adv.reset(1, 1)
    with pytest.raises(ValueError, match="sigma_m must be > 0"):
        adv.observe(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), np.zeros((1, 1), dtype=int), [[0.0]])
