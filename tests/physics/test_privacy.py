"""Tests for vtwin.physics.privacy: planar Laplace, entropy, cross-reality location entropy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from vtwin.physics.privacy import (
    attacker_confidence,
    attacker_error,
    cross_reality_posterior,
    entropy_bits,
    expanded_candidates,
    kde_prior,
    perturb_location,
    planar_laplace_pdf,
    planar_laplace_radius_cdf,
    planar_laplace_radius_icdf,
    planar_laplace_radius_pdf,
    sample_planar_laplace,
)

# --------------------------------------------------------------------------------------------
# Planar Laplace
# --------------------------------------------------------------------------------------------


def test_planar_laplace_pdf_hand_values() -> None:
    # ε = 1, r = 1: ε²/(2π)·r·e^{−εr} = e^{−1}/(2π) = 0.36787944/6.28318531 = 0.05854983
    assert planar_laplace_pdf(1.0, 1.0) == pytest.approx(0.05854983, rel=1e-7)
    # ε = 2, r = 0.5: 4/(2π)·0.5·e^{−1} = e^{−1}/π = 0.11709966
    assert planar_laplace_pdf(0.5, 2.0) == pytest.approx(0.11709966, rel=1e-7)
    assert planar_laplace_pdf(0.0, 3.0) == 0.0
    # outside the support
    assert planar_laplace_pdf(-1.0, 1.0) == 0.0
    # radius marginal: ε² r e^{−εr} at ε = 1, r = 1 → e^{−1}
    assert planar_laplace_radius_pdf(1.0, 1.0) == pytest.approx(math.exp(-1.0), rel=1e-12)


@pytest.mark.parametrize("epsilon", [0.01, 0.5, 1.0, 7.0, 100.0])
def test_planar_laplace_pdf_integrates_to_one(epsilon: float) -> None:
    # ∫_0^∞ ∫_0^{2π} pdf dθ dr = 2π ∫_0^∞ pdf dr = 1 (pdf does not depend on θ)
    radial, _ = integrate.quad(lambda r: float(planar_laplace_pdf(r, epsilon)), 0.0, np.inf)
    assert 2.0 * math.pi * radial == pytest.approx(1.0, abs=1e-8)
    marginal, _ = integrate.quad(
        lambda r: float(planar_laplace_radius_pdf(r, epsilon)), 0.0, np.inf
    )
    assert marginal == pytest.approx(1.0, abs=1e-8)


def test_planar_laplace_pdf_mode_at_one_over_epsilon() -> None:
    eps = 4.0
    r = np.linspace(0.0, 2.0, 20_001)
    assert r[int(np.argmax(planar_laplace_pdf(r, eps)))] == pytest.approx(1.0 / eps, abs=1e-4)


def test_radius_cdf_and_inverse() -> None:
    # ε = 1, r = 1: 1 − 2/e = 0.26424112
    assert planar_laplace_radius_cdf(1.0, 1.0) == pytest.approx(0.26424112, rel=1e-7)
    assert planar_laplace_radius_cdf(0.0, 2.0) == 0.0
    assert planar_laplace_radius_cdf(-3.0, 2.0) == 0.0
    p = np.array([0.0, 1e-6, 0.1, 0.5, 0.9, 0.999999])
    for eps in (0.3, 1.0, 25.0):
        r = planar_laplace_radius_icdf(p, eps)
        assert r[0] == pytest.approx(0.0, abs=1e-6 / eps)
        np.testing.assert_allclose(planar_laplace_radius_cdf(r, eps), p, atol=1e-10)
    # the median radius at ε = 1 is 1.67834699 (solves (1 + r)e^{−r} = 1/2)
    assert planar_laplace_radius_icdf(0.5, 1.0) == pytest.approx(1.67834699, rel=1e-7)


def test_radius_icdf_rejects_p_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1\.0"):
        planar_laplace_radius_icdf(1.0, 1.0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got -0\.1"):
        planar_laplace_radius_icdf([0.2, -0.1], 1.0)


@pytest.mark.parametrize("epsilon", [0.5, 2.0, 50.0])
def test_samples_match_the_distribution(epsilon: float) -> None:
    rng = np.random.default_rng(12345)
    r, theta = sample_planar_laplace(epsilon, 100_000, rng)
    assert r.shape == theta.shape == (100_000,)
    assert np.all(r >= 0.0)
    assert np.all((theta >= 0.0) & (theta < 2.0 * math.pi))
    # Gamma(2, 1/ε): mean 2/ε
    assert float(np.mean(r)) == pytest.approx(2.0 / epsilon, rel=0.02)
    assert float(np.mean(theta)) == pytest.approx(math.pi, rel=0.02)
    ks = stats.kstest(r, lambda x: planar_laplace_radius_cdf(x, epsilon))
    assert ks.pvalue > 0.001
    # and the direction is uniform
    ks_theta = stats.kstest(theta, stats.uniform(0.0, 2.0 * math.pi).cdf)
    assert ks_theta.pvalue > 0.001


def test_sampling_is_reproducible() -> None:
    a = sample_planar_laplace(1.0, (3, 4), np.random.default_rng(7))
    b = sample_planar_laplace(1.0, (3, 4), np.random.default_rng(7))
    assert a[0].shape == (3, 4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_epsilon_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match=rf"epsilon must be > 0, got {bad!r}"):
        planar_laplace_pdf(1.0, bad)
    with pytest.raises(ValueError, match=r"epsilon must be > 0"):
        sample_planar_laplace(bad, 10, np.random.default_rng(0))


def test_perturb_location() -> None:
    # eq. (2): (1, 2) + 2·(cos 90°, sin 90°) = (1, 4)
    np.testing.assert_allclose(perturb_location([1.0, 2.0], 2.0, math.pi / 2), [1.0, 4.0])
    out = perturb_location(
        np.zeros((3, 2)), np.array([1.0, 2.0, 0.0]), np.array([0.0, math.pi, 1.0])
    )
    np.testing.assert_allclose(out, [[1.0, 0.0], [-2.0, 0.0], [0.0, 0.0]], atol=1e-12)
    with pytest.raises(ValueError, match=r"r must be >= 0"):
        perturb_location([0.0, 0.0], -1.0, 0.0)


# --------------------------------------------------------------------------------------------
# Entropy
# --------------------------------------------------------------------------------------------


def test_entropy_hand_values() -> None:
    assert entropy_bits([0.5, 0.5]) == pytest.approx(1.0, abs=1e-15)
    assert entropy_bits([1.0, 0.0, 0.0]) == 0.0
    # unnormalised weights are normalised: [1, 1, 1, 1] → uniform over 4 → 2 bits
    assert entropy_bits([1.0, 1.0, 1.0, 1.0]) == pytest.approx(2.0, abs=1e-15)
    # [¼, ¼, ½]: ¼·2 + ¼·2 + ½·1 = 1.5 bits
    assert entropy_bits([0.25, 0.25, 0.5]) == pytest.approx(1.5, abs=1e-15)
    # 0·log 0 = 0: a zero entry changes nothing
    assert entropy_bits([0.25, 0.0, 0.25, 0.5]) == pytest.approx(1.5, abs=1e-15)


def test_entropy_axis() -> None:
    p = np.array([[0.5, 0.5, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(entropy_bits(p), [1.0, 2.0])
    # along axis 0: columns [0.5, 1], [0.5, 1], [0, 1], [0, 1]
    h0 = entropy_bits(p, axis=0)
    assert h0.shape == (4,)
    np.testing.assert_allclose(h0[2:], [0.0, 0.0], atol=1e-15)


def test_entropy_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"p must be >= 0, got -0\.1"):
        entropy_bits([0.5, -0.1, 0.6])
    with pytest.raises(ValueError, match=r"p must have a positive sum"):
        entropy_bits([0.0, 0.0])


@settings(deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=64).filter(
        lambda w: sum(w) > 0.0
    )
)
def test_entropy_bounded_by_log2_n(weights: list[float]) -> None:
    h = float(entropy_bits(weights))
    assert -1e-12 <= h <= math.log2(len(weights)) + 1e-9


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=500), st.floats(min_value=1e-3, max_value=1e3))
def test_entropy_of_uniform_is_log2_n(n: int, w: float) -> None:
    assert entropy_bits(np.full(n, w)) == pytest.approx(math.log2(n), abs=1e-9)


# --------------------------------------------------------------------------------------------
# Cross-reality location entropy
# --------------------------------------------------------------------------------------------


def test_expanded_candidates_grid() -> None:
    c = expanded_candidates([10.0, -5.0], r_max=2.0)
    assert c.shape == (121, 2)
    # ±3·r_max = ±6 around the centre, 11 points → spacing 1.2
    np.testing.assert_allclose(c[0], [4.0, -11.0])
    np.testing.assert_allclose(c[-1], [16.0, 1.0])
    np.testing.assert_allclose(c[60], [10.0, -5.0])  # centre of an odd grid
    np.testing.assert_allclose(c[1] - c[0], [1.2, 0.0])
    np.testing.assert_allclose(c[11] - c[0], [0.0, 1.2])
    # batched centres and a custom grid
    cb = expanded_candidates(np.zeros((4, 2)), r_max=1.0, grid=5, span=2.0)
    assert cb.shape == (4, 25, 2)
    np.testing.assert_allclose(cb[2, 0], [-2.0, -2.0])
    assert expanded_candidates([0.0, 0.0], 1.0, grid=1).shape == (1, 2)


def test_expanded_candidates_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"r_max must be > 0, got 0\.0"):
        expanded_candidates([0.0, 0.0], 0.0)
    with pytest.raises(ValueError, match=r"grid must be an integer >= 1, got 0"):
        expanded_candidates([0.0, 0.0], 1.0, grid=0)
    with pytest.raises(ValueError, match=r"center_xy must have a last axis of length 2"):
        expanded_candidates([0.0, 0.0, 0.0], 1.0)


def test_posterior_two_candidates_by_hand() -> None:
    # candidates p0 = (0, 0), p1 = (1, 0); perturbed at (0, 0); σ = 1; servers at p0 and p1;
    # the agent sits on server 0; d_T = 1; uniform prior.
    #   Gaussian:  p0 → e^0,          p1 → e^{−1/2}
    #   softmax at server 0: p0 → 1/(1 + e^{−1}),  p1 → e^{−1}/(1 + e^{−1})
    #   ratio p1/p0 = e^{−1.5} → post(p0) = 1/(1 + e^{−1.5}) = 0.81757448
    cand = np.array([[0.0, 0.0], [1.0, 0.0]])
    servers = np.array([[0.0, 0.0], [1.0, 0.0]])
    post = cross_reality_posterior(cand, [0.0, 0.0], None, servers, 0, sigma=1.0, d_t=1.0)
    np.testing.assert_allclose(post, [0.81757448, 0.18242552], rtol=1e-7)
    # a prior of [1, 3] (unnormalised) multiplies the ratio by 3
    post_p = cross_reality_posterior(cand, [0.0, 0.0], [1.0, 3.0], servers, 0, 1.0, 1.0)
    ratio = 3.0 * math.exp(-1.5)
    np.testing.assert_allclose(post_p, [1.0 / (1.0 + ratio), ratio / (1.0 + ratio)], rtol=1e-12)
    # entropy of the first posterior: −Σ p log2 p
    h = -(0.81757448 * math.log2(0.81757448) + 0.18242552 * math.log2(0.18242552))
    assert _entropy(cand, [0.0, 0.0], None, servers, 0, 1.0, 1.0) == pytest.approx(h, rel=1e-7)
    assert attacker_confidence(post) == pytest.approx(0.81757448, rel=1e-7)


def _entropy(*args: Any) -> float:
    """Cross-reality location entropy in bits (paper C eq. (5)): entropy of the posterior."""
    return float(entropy_bits(cross_reality_posterior(*args)))


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    perturbed = rng.uniform(-1.0, 1.0, size=2)
    servers = rng.uniform(-10.0, 10.0, size=(6, 2))
    return perturbed, servers, expanded_candidates(perturbed, r_max=1.0)


@settings(deadline=None, max_examples=50)
@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=5),
    st.floats(min_value=0.05, max_value=20.0),
    st.floats(min_value=0.05, max_value=50.0),
)
def test_posterior_is_a_distribution(seed: int, chosen: int, sigma: float, d_t: float) -> None:
    perturbed, servers, cand = _scene(seed)
    prior = np.random.default_rng(seed + 1).uniform(0.0, 1.0, size=cand.shape[0])
    post = cross_reality_posterior(cand, perturbed, prior, servers, chosen, sigma, d_t)
    assert post.shape == (121,)
    assert np.all(post >= 0.0)
    assert float(np.sum(post)) == pytest.approx(1.0, abs=1e-12)
    h = float(entropy_bits(post))
    assert 0.0 <= h <= math.log2(121) + 1e-9
    assert 1.0 / 121 - 1e-12 <= float(attacker_confidence(post)) <= 1.0


def test_uniform_prior_far_server_beats_peaked_prior() -> None:
    perturbed = np.array([0.0, 0.0])
    cand = expanded_candidates(perturbed, r_max=1.0)
    # a server very far away tells the adversary almost nothing about the position
    far_servers = np.array([[1e4, 1e4], [-1e4, 1e4]])
    uniform = _entropy(cand, perturbed, None, far_servers, 0, 1.0, 100.0)
    peaked_prior = np.full(121, 1e-6)
    peaked_prior[60] = 1.0
    peaked = _entropy(cand, perturbed, peaked_prior, far_servers, 0, 1.0, 100.0)
    assert uniform > peaked + 2.0
    # a server next to one corner of the grid pulls the posterior there and lowers entropy
    near_servers = np.array([[-3.0, -3.0], [3.0, 3.0], [3.0, -3.0], [-3.0, 3.0]])
    near = _entropy(cand, perturbed, None, near_servers, 0, 1.0, 0.2)
    assert near < uniform


def test_posterior_entropy_grows_with_sigma() -> None:
    # a vaguer adversary model (larger σ) leaves more uncertainty about the true position
    perturbed = np.array([0.0, 0.0])
    cand = expanded_candidates(perturbed, r_max=1.0)
    servers = np.array([[50.0, 0.0], [-50.0, 0.0]])
    h = [_entropy(cand, perturbed, None, servers, 0, s, 10.0) for s in (0.3, 1.0, 3.0)]
    assert h[0] < h[1] < h[2] <= math.log2(121)


def test_posterior_survives_extreme_distances() -> None:
    # the perturbed point is 10⁴ σ from every candidate: linear-space Bayes would underflow
    cand = expanded_candidates([0.0, 0.0], r_max=1.0)
    post = cross_reality_posterior(cand, [1e4, 0.0], None, [[1e6, 0.0], [0.0, 0.0]], 0, 1.0, 1e-3)
    assert np.all(np.isfinite(post))
    assert float(np.sum(post)) == pytest.approx(1.0)
    # the candidates closest to the observation win: right-most column of the grid
    assert cand[int(np.argmax(post)), 0] == pytest.approx(3.0)


def test_posterior_batched() -> None:
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [-2.0, 1.0]])
    cand = expanded_candidates(centres, r_max=0.5)  # [3, 121, 2]
    servers = np.array([[0.0, 0.0], [5.0, 5.0]])
    chosen = np.array([0, 1, 0])
    post = cross_reality_posterior(cand, centres, None, servers, chosen, 0.5, 2.0)
    assert post.shape == (3, 121)
    np.testing.assert_allclose(post.sum(axis=-1), 1.0)
    for i in range(3):
        single = cross_reality_posterior(
            cand[i], centres[i], None, servers, int(chosen[i]), 0.5, 2.0
        )
        np.testing.assert_allclose(post[i], single, rtol=1e-12)
    # one candidate set, several observations
    post2 = cross_reality_posterior(cand[0], centres, None, servers, chosen, 0.5, 2.0)
    assert post2.shape == (3, 121)


def test_posterior_rejects_bad_input() -> None:
    cand = expanded_candidates([0.0, 0.0], 1.0)
    servers = np.array([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"chosen_server must be in \[0, 1\], got 2"):
        cross_reality_posterior(cand, [0.0, 0.0], None, servers, 2, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"sigma must be > 0, got 0\.0"):
        cross_reality_posterior(cand, [0.0, 0.0], None, servers, 0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"d_t must be > 0, got -1\.0"):
        cross_reality_posterior(cand, [0.0, 0.0], None, servers, 0, 1.0, -1.0)
    with pytest.raises(ValueError, match=r"prior must be >= 0"):
        cross_reality_posterior(cand, [0.0, 0.0], -np.ones(121), servers, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"prior must have a positive sum"):
        cross_reality_posterior(cand, [0.0, 0.0], np.zeros(121), servers, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"chosen_server must be an integer index"):
        cross_reality_posterior(cand, [0.0, 0.0], None, servers, 0.5, 1.0, 1.0)


def test_attacker_error() -> None:
    cand = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    post = np.array([0.2, 0.1, 0.7])
    # MAP = (0, 1); true (3, 5) → √(9 + 16) = 5
    assert attacker_error(cand, post, [3.0, 5.0]) == pytest.approx(5.0)
    assert attacker_confidence(post) == pytest.approx(0.7)
    errs = attacker_error(cand, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), [0.0, 0.0])
    np.testing.assert_allclose(errs, [0.0, 1.0])


def test_kde_prior() -> None:
    cand = expanded_candidates([0.0, 0.0], r_max=1.0)
    np.testing.assert_allclose(kde_prior(cand, None, 1.0), np.full(121, 1 / 121))
    np.testing.assert_allclose(kde_prior(cand, np.empty((0, 2)), 1.0), np.full(121, 1 / 121))
    # history concentrated at the bottom-left corner (−3, −3)
    prior = kde_prior(cand, [[-3.0, -3.0], [-3.0, -2.4]], bandwidth=0.5)
    assert float(np.sum(prior)) == pytest.approx(1.0)
    assert int(np.argmax(prior)) in (0, 11)
    assert prior[0] > 100 * prior[-1]
    # a history far from every candidate does not underflow to a zero prior
    far = kde_prior(cand, [[1e5, 1e5]], bandwidth=0.1)
    assert np.all(np.isfinite(far))
    assert float(np.sum(far)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"bandwidth must be > 0"):
        kde_prior(cand, None, 0.0)
