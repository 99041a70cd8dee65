"""The Bayesian location-inference adversary of paper C (eqs. (3)–(5), SPEC §C), batched.

Each slot the adversary sees, for every AV, the perturbed position it reported (reality) and
the server that hosts its AI agent (virtuality). It scores a K×K grid of candidate true
positions ("expanded locations") centred on the perturbed position and spanning ±span·r_max:

* prior: a Gaussian kernel density of the AV's true positions it has seen before (the side
  information of paper C Sec. 3.1); uniform while it has seen none;
* likelihood of the perturbed position: an isotropic Gaussian of std σ around the candidate;
* likelihood of the agent server: the softmax over all servers of −distance/d_T, read at the
  chosen server (an adversary expects agents on servers near the AV);

and takes the posterior by Bayes (eq. (4)). Its entropy in bits is the cross-reality location
entropy (eq. (5)); its largest value is the attacker's confidence and the distance from its
best candidate to the true position the attacker's error. The two single-domain metrics that
paper C's Fig. 7 compares with use the same grid and prior with one observation only: the
perturbed position (Geo-I's entropy) or the agent server (migration-only location entropy).

Positions are local metres. Everything is computed in log space for all copies and AVs at
once ([B, M, P] arrays, P = K² candidates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from vtwin.arrays import FloatArray, IntArray
from vtwin.physics.privacy import expanded_candidates

__all__ = ["AdversaryView", "BayesianAdversary", "posterior_entropy_bits"]


def _log_normalise(logw: FloatArray) -> FloatArray:
    """Probabilities along the last axis from log-weights (max-shifted, so no underflow)."""
    shifted = logw - logw.max(axis=-1, keepdims=True)
    w = np.exp(shifted)
    return np.asarray(w / w.sum(axis=-1, keepdims=True), dtype=np.float64)


def posterior_entropy_bits(posterior: FloatArray) -> FloatArray:
    """−Σ p log2 p along the last axis (0 log 0 = 0) of normalised posteriors (eq. (5))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(posterior > 0.0, -posterior * np.log2(posterior), 0.0)
    return np.asarray(terms.sum(axis=-1), dtype=np.float64)


@dataclass(frozen=True)
class AdversaryView:
    """What the adversary concluded about every AV in one slot (arrays [B, M] unless noted).

    ``posterior`` [B, M, P] and ``candidates`` [B, M, P, 2] (metres) are the cross-reality
    posterior and its grid; ``entropy_bits`` is eq. (5); ``confidence`` the largest posterior
    value; ``error_m`` the distance from the posterior's best candidate to the true position;
    ``geo_i_entropy_bits`` and ``migration_entropy_bits`` the single-domain metrics.
    """

    posterior: FloatArray
    candidates: FloatArray
    entropy_bits: FloatArray
    confidence: FloatArray
    error_m: FloatArray
    geo_i_entropy_bits: FloatArray
    migration_entropy_bits: FloatArray


class BayesianAdversary:
    """Paper C's adversary for ``B`` copies of ``M`` AVs over fixed servers.

    Args:
        server_xy: [S, 2] server positions in metres (the satellite at its nadir point).
        r_max_m: the largest perturbation radius in metres; the grid spans ±``span``·r_max.
        grid: candidates per axis K (paper C: 11).
        span: half-width of the grid in units of r_max (SPEC §C: 3).
        sigma_m: std of the Gaussian likelihood of the perturbed position (SPEC §C: r_max);
            :meth:`observe` can replace it per AV and slot.
        d_t_m: distance scale d_T of the server softmax, metres.
        bandwidth_m: kernel width of the prior's density estimate, metres.
        history_slots: how many past true positions per AV the adversary keeps (0: none,
            so the prior stays uniform).
        dead_reckoning: carry every past point forward to the current slot by the AV's mean
            velocity over the history before the density is taken (ours), so the prior
            predicts where the AV is now instead of where it was.
    """

    def __init__(
        self,
        server_xy: ArrayLike,
        *,
        r_max_m: float,
        grid: int,
        span: float,
        sigma_m: float,
        d_t_m: float,
        bandwidth_m: float,
        history_slots: int,
        dead_reckoning: bool = True,
    ) -> None:
        """Check the parameters; :meth:`reset` sizes the history for a batch."""
        self.server_xy = np.asarray(server_xy, dtype=np.float64).reshape(-1, 2)
        for name, value in (
            ("r_max_m", r_max_m),
            ("span", span),
            ("sigma_m", sigma_m),
            ("d_t_m", d_t_m),
            ("bandwidth_m", bandwidth_m),
        ):
            if not (np.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} = {value!r}: must be a finite number > 0")
        if int(grid) != grid or grid < 1:
            raise ValueError(f"grid = {grid!r}: must be an integer ≥ 1")
        if int(history_slots) != history_slots or history_slots < 0:
            raise ValueError(f"history_slots = {history_slots!r}: must be an integer ≥ 0")
        self.r_max_m, self.grid, self.span = float(r_max_m), int(grid), float(span)
        self.sigma_m, self.d_t_m = float(sigma_m), float(d_t_m)
        self.bandwidth_m, self.history_slots = float(bandwidth_m), int(history_slots)
        self.dead_reckoning = bool(dead_reckoning)
        self._hist = np.zeros((0, 0, max(1, self.history_slots), 2))
        self._seen = 0

    @property
    def n_candidates(self) -> int:
        """P = K² candidates per AV."""
        return self.grid * self.grid

    def reset(self, B: int, M: int) -> None:
        """Forget every AV's history (a new episode of ``B`` copies × ``M`` AVs)."""
        self._hist = np.zeros((B, M, max(1, self.history_slots), 2))
        self._seen = 0

    def remember(self, true_xy: ArrayLike) -> None:
        """Add this slot's true positions [B, M, 2] to the history (after :meth:`observe`)."""
        if self.history_slots == 0:
            return
        self._hist[:, :, self._seen % self.history_slots] = np.asarray(true_xy, dtype=np.float64)
        self._seen += 1

    # ------------------------------------------------------------------ the three log-terms
    def candidates(self, perturbed_xy: FloatArray) -> FloatArray:
        """The grid [B, M, P, 2] around each perturbed position."""
        return expanded_candidates(perturbed_xy, self.r_max_m, self.grid, self.span)

    def log_prior(self, cand: FloatArray) -> FloatArray:
        """log of the (unnormalised) kernel density of the history at each candidate [B, M, P];
        zeros (uniform) while the history is empty."""
        n = min(self._seen, self.history_slots)
        if n == 0:
            return np.zeros(cand.shape[:-1])
        # the stored points from the newest back: age k = 1 … n slots
        newest = (self._seen - 1 - np.arange(n)) % self.history_slots
        hist = self._hist[:, :, newest]  # [B, M, n, 2]
        if self.dead_reckoning and n > 1:
            # carry each point forward by the mean velocity over the history (per slot)
            velocity = (hist[:, :, 0] - hist[:, :, -1]) / (n - 1)
            age = np.arange(1, n + 1, dtype=np.float64)[None, None, :, None]
            hist = hist + age * velocity[:, :, None, :]
        d2 = np.sum((cand[:, :, :, None, :] - hist[:, :, None, :, :]) ** 2, axis=-1)
        logk = -d2 / (2.0 * self.bandwidth_m**2)
        top = logk.max(axis=-1, keepdims=True)
        return np.asarray(top[..., 0] + np.log(np.exp(logk - top).sum(axis=-1)), dtype=np.float64)

    def log_lik_perturbed(
        self, cand: FloatArray, perturbed_xy: FloatArray, sigma_m: FloatArray | float
    ) -> FloatArray:
        """log N(perturbed; candidate, σ²I) up to a constant [B, M, P] (σ [B, M] or a number)."""
        d2 = np.sum((cand - perturbed_xy[:, :, None, :]) ** 2, axis=-1)
        sigma = np.asarray(sigma_m, dtype=np.float64)
        if sigma.ndim:
            sigma = sigma[..., None]
        return np.asarray(-d2 / (2.0 * sigma**2), dtype=np.float64)

    def log_lik_server(self, cand: FloatArray, server: IntArray) -> FloatArray:
        """log softmax over servers of −distance/d_T, taken at the chosen server [B, M, P]."""
        diff = cand[:, :, :, None, :] - self.server_xy[None, None, None, :, :]
        logits = -np.sqrt(np.sum(diff * diff, axis=-1)) / self.d_t_m  # [B, M, P, S]
        top = logits.max(axis=-1, keepdims=True)
        log_z = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
        chosen = np.take_along_axis(logits, server[:, :, None, None], axis=-1)[..., 0]
        chosen = np.broadcast_to(chosen, log_z.shape)
        return np.asarray(chosen - log_z, dtype=np.float64)

    # ------------------------------------------------------------------ one slot
    def observe(
        self,
        true_xy: ArrayLike,
        perturbed_xy: ArrayLike,
        server: ArrayLike,
        sigma_m: ArrayLike | None = None,
    ) -> AdversaryView:
        """The adversary's view of one slot: true and perturbed positions [B, M, 2] (metres),
        agent servers [B, M] (indices into ``server_xy``), and the std of its Gaussian
        likelihood [B, M] when it differs from the constructor's ``sigma_m`` (an adversary
        that knows each AV's perturbation radius). The history is not updated; call
        :meth:`remember` with the true positions afterwards."""
        sigma = self.sigma_m if sigma_m is None else np.asarray(sigma_m, dtype=np.float64)
        if not np.all(np.asarray(sigma) > 0.0):
            raise ValueError("sigma_m must be > 0 for every AV")
        true = np.asarray(true_xy, dtype=np.float64)
        pert = np.asarray(perturbed_xy, dtype=np.float64)
        srv = np.asarray(server, dtype=np.int64)
        cand = self.candidates(pert)
        prior = self.log_prior(cand)
        lik_pert = self.log_lik_perturbed(cand, pert, sigma)
        lik_srv = self.log_lik_server(cand, srv)
        post = _log_normalise(prior + lik_pert + lik_srv)
        best = np.argmax(post, axis=-1)
        map_xy = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
        return AdversaryView(
            posterior=post,
            candidates=cand,
            entropy_bits=posterior_entropy_bits(post),
            confidence=post.max(axis=-1),
            error_m=np.hypot(*(map_xy - true).transpose(2, 0, 1)),
            geo_i_entropy_bits=posterior_entropy_bits(_log_normalise(prior + lik_pert)),
            migration_entropy_bits=posterior_entropy_bits(_log_normalise(prior + lik_srv)),
        )
