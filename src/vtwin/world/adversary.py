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

__all__ = ["LATTICE_MIN_SERVERS", "AdversaryView", "BayesianAdversary", "posterior_entropy_bits"]

LATTICE_MIN_SERVERS = 16
"""From this many servers on, envs tabulate the server softmax's normaliser on a lattice."""

_LATTICES: dict[tuple[bytes, float, bytes, bytes, float], FloatArray] = {}
"""Lattices built in this process (a few), so envs over the same servers share one."""


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
        self._lattice: tuple[FloatArray, float, FloatArray] | None = None
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
        zeros (uniform) while the history is empty. ``cand`` is a grid of :meth:`candidates`.

        The Gaussian kernel factorises over x and y and the grid is a product of K x-values
        and K y-values, so Σ_h k(p_ij − h) = Σ_h kx(x_j − h_x) ky(y_i − h_y) is one batched
        matrix product [K, H] × [H, K] per AV (each factor shifted by its maximum, in log
        space, so far-away points cannot overflow or swamp the sum).
        """
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
        k = self.grid
        xs, ys = cand[:, :, :k, 0], cand[:, :, ::k, 1]  # [B, M, K] each
        scale = 2.0 * self.bandwidth_m**2
        ax = -((xs[..., :, None] - hist[:, :, None, :, 0]) ** 2) / scale  # [B, M, K, n]
        ay = -((ys[..., :, None] - hist[:, :, None, :, 1]) ** 2) / scale
        top_x, top_y = ax.max(axis=2), ay.max(axis=2)  # [B, M, n]
        point_top = top_x + top_y
        shift = point_top.max(axis=-1)  # [B, M]
        weight = np.exp(point_top - shift[..., None])  # [B, M, n], ≤ 1
        gx = np.exp(ax - top_x[:, :, None, :])
        gy = np.exp(ay - top_y[:, :, None, :]) * weight[:, :, None, :]
        total = np.einsum("bmih,bmjh->bmij", gy, gx).reshape(cand.shape[:-1])
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(total) + shift[..., None], dtype=np.float64)

    def log_lik_perturbed(
        self, cand: FloatArray, perturbed_xy: FloatArray, sigma_m: FloatArray | float
    ) -> FloatArray:
        """log N(perturbed; candidate, σ²I) up to a constant [B, M, P] (σ [B, M] or a number)."""
        d2 = np.sum((cand - perturbed_xy[:, :, None, :]) ** 2, axis=-1)
        sigma = np.asarray(sigma_m, dtype=np.float64)
        if sigma.ndim:
            sigma = sigma[..., None]
        return np.asarray(-d2 / (2.0 * sigma**2), dtype=np.float64)

    def log_partition(self, xy: FloatArray) -> FloatArray:
        """log Σ_j exp(−|p − s_j|/d_T) over all servers at points ``xy`` [..., 2], exactly."""
        diff = xy[..., None, :] - self.server_xy
        logits = -np.sqrt(np.sum(diff * diff, axis=-1)) / self.d_t_m  # [..., S]
        top = logits.max(axis=-1, keepdims=True)
        return np.asarray(top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1)))

    def log_lik_server(self, cand: FloatArray, server: IntArray) -> FloatArray:
        """log softmax over servers of −distance/d_T, taken at the chosen server [B, M, P].

        The normaliser over servers is exact unless a lattice was built (:meth:`use_lattice`;
        the envs build one from ``LATTICE_MIN_SERVERS`` servers on).
        """
        diff = cand - self.server_xy[server][:, :, None, :]
        chosen = -np.sqrt(np.sum(diff * diff, axis=-1)) / self.d_t_m
        log_z = self._lattice_log_z(cand) if self._lattice is not None else None
        if log_z is None:
            log_z = self.log_partition(cand)
        return np.asarray(chosen - log_z, dtype=np.float64)

    def use_lattice(self, lo_xy: ArrayLike, hi_xy: ArrayLike, spacing_m: float) -> None:
        """Tabulate the normaliser :meth:`log_partition` on a square lattice covering the box
        [lo, hi] (metres) and interpolate it bilinearly from then on (points outside the box
        are computed exactly). It is smooth on the scale d_T except at the servers, where the
        bilinear error stays near spacing/(2 d_T) nats (measured: 0.037 at 100 m, d_T = 1 km,
        next to a server; 0.02 elsewhere); with hundreds of servers this makes a
        slot several times cheaper. Lattices are cached per process."""
        lo, hi = np.asarray(lo_xy, dtype=np.float64), np.asarray(hi_xy, dtype=np.float64)
        if not (np.all(np.isfinite(lo)) and np.all(hi > lo) and spacing_m > 0.0):
            raise ValueError(f"lattice box {lo}–{hi} with spacing {spacing_m!r}: invalid")
        key = (
            self.server_xy.tobytes(),
            self.d_t_m,
            lo.tobytes(),
            hi.tobytes(),
            float(spacing_m),
        )
        table = _LATTICES.get(key)
        if table is None:
            nx_, ny_ = (np.ceil((hi - lo) / spacing_m).astype(int) + 1).tolist()
            xs = lo[0] + spacing_m * np.arange(nx_)
            ys = lo[1] + spacing_m * np.arange(ny_)
            table = np.empty((ny_, nx_))
            rows = max(1, 2_000_000 // max(1, nx_ * len(self.server_xy)))
            for i in range(0, ny_, rows):  # a band of rows at a time bounds the memory
                gy, gx = np.meshgrid(ys[i : i + rows], xs, indexing="ij")
                table[i : i + rows] = self.log_partition(np.stack([gx, gy], axis=-1))
            if len(_LATTICES) >= 8:
                _LATTICES.pop(next(iter(_LATTICES)))
            _LATTICES[key] = table
        self._lattice = (lo, float(spacing_m), table)

    def _lattice_log_z(self, xy: FloatArray) -> FloatArray | None:
        """Bilinear lattice value at ``xy`` [..., 2]; None when a point lies outside it."""
        assert self._lattice is not None
        lo, h, table = self._lattice
        u = (xy - lo) / h
        ny_, nx_ = table.shape
        if u.min() < 0.0 or u[..., 0].max() > nx_ - 1 or u[..., 1].max() > ny_ - 1:
            return None
        i0 = np.minimum(np.floor(u).astype(np.int64), [nx_ - 2, ny_ - 2])
        f = u - i0
        x0, y0 = i0[..., 0], i0[..., 1]
        fx, fy = f[..., 0], f[..., 1]
        return np.asarray(
            (1 - fy) * ((1 - fx) * table[y0, x0] + fx * table[y0, x0 + 1])
            + fy * ((1 - fx) * table[y0 + 1, x0] + fx * table[y0 + 1, x0 + 1])
        )

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
