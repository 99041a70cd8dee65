"""Location privacy: planar-Laplace (Geo-I) noise and cross-reality location entropy (paper C).

Two families of formulas live here.

* **Planar Laplace** (paper C eq. (1), the Geo-I mechanism): a perturbation (r, θ) around the
  true position with density ε²/(2π)·r·e^{−εr} in polar coordinates. The radius alone has the
  Gamma(2, 1/ε) density ε² r e^{−εr}, CDF 1 − (1 + εr)e^{−εr} and mean 2/ε; sampling inverts
  that CDF with the k = −1 branch of the Lambert W function.
* **Cross-reality location entropy** (paper C eqs. (3)–(5), SPEC §C): an adversary who sees the
  perturbed position and which server hosts the AV's agent computes a Bayesian posterior over a
  K×K grid of candidate true positions; the entropy of that posterior (bits) is the privacy
  level and its maximum is the attacker's confidence.

Positions are generic planar coordinates: any unit works as long as the caller uses the same
one for positions, radii, σ and d_T.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import lambertw

from vtwin.physics._checks import FloatArray, _as_float, _check_ge, _check_gt, _ret

# --------------------------------------------------------------------------------------------
# Planar Laplace (Geo-indistinguishability).
# --------------------------------------------------------------------------------------------


def planar_laplace_pdf(r: ArrayLike, epsilon: ArrayLike) -> FloatArray:
    """Joint polar density ε²/(2π)·r·e^{−εr} of a planar-Laplace perturbation (paper C eq. (1)).

    This is the density of the pair (r, θ): integrating it over θ ∈ [0, 2π) and r ∈ [0, ∞)
    gives 1. It does not depend on θ, so θ is not an argument. The radius marginal is
    :func:`planar_laplace_radius_pdf`; the density per unit area in Cartesian coordinates would
    be ε²/(2π)·e^{−εr} (this value divided by r). Negative radii lie outside the support and
    get density 0.
    """
    eps = _check_gt("epsilon", epsilon)
    rr = _as_float(r)
    inside = rr >= 0.0
    rr_safe = np.where(inside, rr, 0.0)
    return _ret(np.where(inside, eps * eps / (2.0 * np.pi) * rr_safe * np.exp(-eps * rr_safe), 0.0))


def planar_laplace_radius_pdf(r: ArrayLike, epsilon: ArrayLike) -> FloatArray:
    """Marginal density ε²·r·e^{−εr} of the planar-Laplace radius (paper C eq. (1) over θ)."""
    return _ret(2.0 * np.pi * planar_laplace_pdf(r, epsilon))


def planar_laplace_radius_cdf(r: ArrayLike, epsilon: ArrayLike) -> FloatArray:
    """CDF 1 − (1 + εr)·e^{−εr} of the planar-Laplace radius (0 for r < 0)."""
    eps = _check_gt("epsilon", epsilon)
    rr = np.maximum(_as_float(r), 0.0)
    return _ret(-np.expm1(-eps * rr) - eps * rr * np.exp(-eps * rr))


def planar_laplace_radius_icdf(p: ArrayLike, epsilon: ArrayLike) -> FloatArray:
    """Inverse radius CDF r = −(W_{−1}((p − 1)/e) + 1)/ε for p ∈ [0, 1) (Geo-I sampling)."""
    eps = _check_gt("epsilon", epsilon)
    pp = _as_float(p)
    bad = ~((pp >= 0.0) & (pp < 1.0))
    if np.any(bad):
        raise ValueError(f"p must be in [0, 1), got {float(pp[bad].flat[0])!r}")
    # At p = 0 the argument is the branch point −1/e (W_{−1} = −1, r = 0), where scipy returns
    # NaN; nudge it one ulp inside the domain. Rounding can then leave a radius of −1e-16/ε,
    # so clamp at 0 too.
    branch = np.nextafter(-np.exp(-1.0), 0.0)
    w = lambertw(np.maximum((pp - 1.0) / np.e, branch), k=-1).real
    return _ret(np.maximum(-(w + 1.0) / eps, 0.0))


def sample_planar_laplace(
    epsilon: float, size: int | tuple[int, ...], rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Draw planar-Laplace perturbations; returns (r, θ) with θ uniform in [0, 2π) (paper C)."""
    eps = float(_check_gt("epsilon", epsilon))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=size)
    p = rng.random(size=size)
    r = np.asarray(planar_laplace_radius_icdf(p, eps), dtype=np.float64)
    return r, np.asarray(theta, dtype=np.float64)


def perturb_location(xy: ArrayLike, r: ArrayLike, theta_rad: ArrayLike) -> FloatArray:
    """Perturbed position l + r(cos θ, sin θ); ``xy`` is [..., 2] (paper C eq. (2))."""
    p = _as_float(xy)
    rr = _check_ge("r", r)
    th = _as_float(theta_rad)
    offset = np.stack([rr * np.cos(th), rr * np.sin(th)], axis=-1)
    return p + offset


# --------------------------------------------------------------------------------------------
# Entropy.
# --------------------------------------------------------------------------------------------


def entropy_bits(p: ArrayLike, axis: int = -1) -> FloatArray:
    """Shannon entropy −Σ p log2 p in bits of a non-negative weight vector (paper C eq. (5)).

    ``p`` is normalised along ``axis`` first, so unnormalised weights are fine; 0·log 0 = 0.
    Raises ValueError on a negative entry or on a slice whose weights are all zero.
    """
    w = _check_ge("p", p)
    total = np.sum(w, axis=axis, keepdims=True)
    if np.any(~(total > 0.0)):
        raise ValueError("p must have a positive sum along axis, got an all-zero slice")
    q = w / total
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0.0, -q * np.log2(np.where(q > 0.0, q, 1.0)), 0.0)
    return _ret(np.sum(terms, axis=axis))


# --------------------------------------------------------------------------------------------
# Cross-reality location entropy (paper C eqs. (3)–(5)).
# --------------------------------------------------------------------------------------------


def expanded_candidates(
    center_xy: ArrayLike, r_max: float, grid: int = 11, span: float = 3.0
) -> FloatArray:
    """K×K grid of candidate true positions around ``center_xy`` spanning ±span·r_max (SPEC §C).

    ``center_xy`` is [..., 2]; the result is [..., K², 2], row-major (y outer, x inner).
    The candidate set P of paper C eqs. (3)–(5) ("expanded locations", Fig. 6).
    """
    c = _as_float(center_xy)
    if c.shape[-1:] != (2,):
        raise ValueError(f"center_xy must have a last axis of length 2, got shape {c.shape}")
    r = float(_check_gt("r_max", r_max))
    s = float(_check_gt("span", span))
    if int(grid) != grid or grid < 1:
        raise ValueError(f"grid must be an integer >= 1, got {grid!r}")
    k = int(grid)
    offsets_1d = np.linspace(-s * r, s * r, k) if k > 1 else np.zeros(1)
    gx, gy = np.meshgrid(offsets_1d, offsets_1d, indexing="xy")
    offsets = np.stack([gx.ravel(), gy.ravel()], axis=-1)  # [K², 2]
    return c[..., None, :] + offsets


def kde_prior(candidates: ArrayLike, history_xy: ArrayLike | None, bandwidth: float) -> FloatArray:
    """Adversary prior over candidates: Gaussian kernel density of past points (SPEC §C).

    ``candidates`` is [P, 2], ``history_xy`` is [N, 2] (the AV's positions the adversary has
    seen). Returns weights over the P candidates that sum to 1; uniform when there is no
    history or when every candidate is too far from it for the kernel to register.
    """
    cand = _as_float(candidates)
    h = float(_check_gt("bandwidth", bandwidth))
    n_cand = cand.shape[-2]
    uniform = np.full(cand.shape[:-1], 1.0 / n_cand)
    if history_xy is None:
        return uniform
    hist = _as_float(history_xy).reshape(-1, 2)
    if hist.shape[0] == 0:
        return uniform
    d2 = np.sum((cand[..., :, None, :] - hist[None, :, :]) ** 2, axis=-1)  # [..., P, N]
    # log-sum-exp over the history points for numerical safety far from the trace
    logk = -d2 / (2.0 * h * h)
    m = np.max(logk, axis=-1, keepdims=True)
    log_density = m[..., 0] + np.log(np.sum(np.exp(logk - m), axis=-1))
    log_density -= np.max(log_density, axis=-1, keepdims=True)
    w = np.exp(log_density)
    return np.asarray(w / np.sum(w, axis=-1, keepdims=True), dtype=np.float64)


def cross_reality_posterior(
    candidates: ArrayLike,
    perturbed_xy: ArrayLike,
    prior: ArrayLike | None,
    server_xy: ArrayLike,
    chosen_server: ArrayLike,
    sigma: float,
    d_t: float,
) -> FloatArray:
    """Adversary's posterior over candidate true positions (paper C eq. (4), SPEC §C).

    Bayes over the candidate set with two conditionally independent observations:

    * the perturbed position: isotropic 2-D Gaussian pdf N(perturbed; p, σ²I);
    * the agent server: softmax over servers of −d(p, server)/d_T, read at ``chosen_server``
      (the adversary expects agents on servers near the true position).

    Shapes: ``candidates`` [..., P, 2]; ``perturbed_xy`` [..., 2]; ``prior`` [..., P] (any
    non-negative weights; None means uniform); ``server_xy`` [S, 2] or [..., S, 2];
    ``chosen_server`` int or integer array [...] of server indices. Returns [..., P] summing to
    1 along the last axis. Works in log space, so far-away observations do not underflow.
    Its :func:`entropy_bits` is the cross-reality location entropy, ≤ log2 |P| (paper C eq. (5)).
    """
    cand = _as_float(candidates)
    pert = _as_float(perturbed_xy)
    servers = _as_float(server_xy)
    s = float(_check_gt("sigma", sigma))
    dt = float(_check_gt("d_t", d_t))
    if cand.ndim < 2 or cand.shape[-1] != 2:
        raise ValueError(f"candidates must have shape [..., P, 2], got {cand.shape}")
    if servers.ndim < 2 or servers.shape[-1] != 2:
        raise ValueError(f"server_xy must have shape [..., S, 2], got {servers.shape}")
    n_servers = servers.shape[-2]
    idx = np.asarray(chosen_server)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"chosen_server must be an integer index, got dtype {idx.dtype}")
    bad = (idx < 0) | (idx >= n_servers)
    if np.any(bad):
        raise ValueError(
            f"chosen_server must be in [0, {n_servers - 1}], got {int(idx[bad].flat[0])}"
        )

    # log Pr(perturbed | p): isotropic Gaussian (the 1/(2πσ²) factor is common to every p).
    d2_pert = np.sum((cand - pert[..., None, :]) ** 2, axis=-1)  # [..., P]
    log_lik_pert = -d2_pert / (2.0 * s * s) - np.log(2.0 * np.pi * s * s)

    # log Pr(agent on chosen server | p): log-softmax over servers of −distance/d_T.
    dist = np.sqrt(np.sum((cand[..., :, None, :] - servers[..., None, :, :]) ** 2, axis=-1))
    logits = -dist / dt  # [..., P, S]
    m = np.max(logits, axis=-1, keepdims=True)
    log_softmax = logits - (m + np.log(np.sum(np.exp(logits - m), axis=-1, keepdims=True)))
    batch = np.broadcast_shapes(log_softmax.shape[:-2], idx.shape)
    log_softmax = np.broadcast_to(log_softmax, (*batch, *log_softmax.shape[-2:]))
    gather = np.broadcast_to(idx[..., None, None], (*log_softmax.shape[:-1], 1))
    log_lik_server = np.take_along_axis(log_softmax, gather, axis=-1)[..., 0]  # [..., P]

    log_post = log_lik_pert + log_lik_server
    if prior is not None:
        pr = _check_ge("prior", prior)
        if np.any(~(np.sum(pr, axis=-1) > 0.0)):
            raise ValueError("prior must have a positive sum over candidates, got all zeros")
        with np.errstate(divide="ignore"):
            log_post = log_post + np.log(pr)
    log_post = log_post - np.max(log_post, axis=-1, keepdims=True)
    post = np.exp(log_post)
    return np.asarray(post / np.sum(post, axis=-1, keepdims=True), dtype=np.float64)


def attacker_confidence(posterior: ArrayLike) -> FloatArray:
    """Attacker confidence: the largest posterior probability over candidates (SPEC §C)."""
    post = _check_ge("posterior", posterior)
    return _ret(np.max(post, axis=-1))


def attacker_error(candidates: ArrayLike, posterior: ArrayLike, true_xy: ArrayLike) -> FloatArray:
    """Distance from the attacker's MAP candidate to the true position (SPEC §C)."""
    cand = _as_float(candidates)
    post = _check_ge("posterior", posterior)
    best = np.argmax(post, axis=-1)
    batch = np.broadcast_shapes(cand.shape[:-2], best.shape)
    cand = np.broadcast_to(cand, (*batch, *cand.shape[-2:]))
    gather = np.broadcast_to(best[..., None, None], (*batch, 1, 2))
    map_xy = np.take_along_axis(cand, gather, axis=-2)[..., 0, :]
    diff = map_xy - _as_float(true_xy)
    return _ret(np.sqrt(np.sum(diff * diff, axis=-1)))


__all__ = [
    "attacker_confidence",
    "attacker_error",
    "cross_reality_posterior",
    "entropy_bits",
    "expanded_candidates",
    "kde_prior",
    "perturb_location",
    "planar_laplace_pdf",
    "planar_laplace_radius_cdf",
    "planar_laplace_radius_icdf",
    "planar_laplace_radius_pdf",
    "sample_planar_laplace",
]
