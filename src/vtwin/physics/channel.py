"""Wireless channel: free-space path gain, Shannon rate, power-unit conversions (SPEC §0).

Covers the channel model shared by the four papers:

* papers A, B, C: ``h = A (c / (4π f d))^ξ`` (ξ = 2 in A and B, 2.8 in C) — :func:`path_gain`;
* paper D eq. (7): ``g = β0 / (H² + d²)`` — :func:`inverse_square_gain`;
* every paper: ``R = B log2(1 + p h / σ²)`` — :func:`shannon_rate_bps`;
* paper C gives the noise as a density N0 (dBm/Hz) — :func:`noise_power_w`.

Distances are clamped to at least 1 m (SPEC §0) so a receiver sitting on top of a transmitter
gets a large but finite gain.

"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from vtwin.physics._checks import FloatArray, _as_float, _check_ge, _check_gt, _ret

CARRIER_SPEED_MPS = 3.0e8
"""Propagation speed of the carrier, c, as the papers round it (m/s)."""

MIN_DISTANCE_M = 1.0
"""Distances below this are clamped to it before entering a path-gain formula (SPEC §0)."""


# --------------------------------------------------------------------------------------------
# Power units.
# --------------------------------------------------------------------------------------------


def dbm_to_w(dbm: ArrayLike) -> FloatArray:
    """Convert a power in dBm to watts: 10^((dBm − 30) / 10)."""
    return _ret(10.0 ** ((_as_float(dbm) - 30.0) / 10.0))


def w_to_dbm(w: ArrayLike) -> FloatArray:
    """Convert a power in watts to dBm: 10 log10(W) + 30 (0 W gives −inf)."""
    arr = _check_ge("w", w)
    with np.errstate(divide="ignore"):
        return _ret(10.0 * np.log10(arr) + 30.0)


def db_to_linear(db: ArrayLike) -> FloatArray:
    """Convert a ratio in dB to a linear factor: 10^(dB / 10)."""
    return _ret(10.0 ** (_as_float(db) / 10.0))


def linear_to_db(ratio: ArrayLike) -> FloatArray:
    """Convert a linear power ratio to dB: 10 log10(ratio) (0 gives −inf)."""
    arr = _check_ge("ratio", ratio)
    with np.errstate(divide="ignore"):
        return _ret(10.0 * np.log10(arr))


def noise_power_w(density_dbm_per_hz: ArrayLike, bandwidth_hz: ArrayLike) -> FloatArray:
    """Thermal noise power N0·B in watts from a density in dBm/Hz (paper C, noise in eq. (8))."""
    b = _check_ge("bandwidth_hz", bandwidth_hz)
    return _ret(dbm_to_w(density_dbm_per_hz) * b)


# --------------------------------------------------------------------------------------------
# Gains and rates.
# --------------------------------------------------------------------------------------------


def path_gain(
    distance_m: ArrayLike,
    carrier_hz: ArrayLike,
    antenna_gain: ArrayLike = 1.0,
    exponent: ArrayLike = 2.0,
) -> FloatArray:
    """Free-space style gain A·(c / (4π f d))^ξ (paper B eq. (3), paper C Sec. 4.2.1, paper A).

    ``distance_m`` is clamped to ≥ 1 m; ``exponent`` is ξ (2 for papers A and B, 2.8 for C).
    """
    d = _check_ge("distance_m", distance_m)
    f = _check_gt("carrier_hz", carrier_hz)
    a = _check_ge("antenna_gain", antenna_gain)
    xi = _check_gt("exponent", exponent)
    d = np.maximum(d, MIN_DISTANCE_M)
    return _ret(a * (CARRIER_SPEED_MPS / (4.0 * np.pi * f * d)) ** xi)


def inverse_square_gain(
    beta0: ArrayLike, ground_distance_m: ArrayLike, altitude_m: ArrayLike = 0.0
) -> FloatArray:
    """Air-to-ground gain β0 / (H² + d²) with β0 the linear gain at 1 m (paper D eq. (7)).

    The squared slant range H² + d² is clamped to ≥ 1 m² (SPEC §0 distance clamp).
    """
    b0 = _check_ge("beta0", beta0)
    d = _check_ge("ground_distance_m", ground_distance_m)
    h = _check_ge("altitude_m", altitude_m)
    slant_sq = np.maximum(h * h + d * d, MIN_DISTANCE_M**2)
    return _ret(b0 / slant_sq)


def shannon_rate_bps(
    bandwidth_hz: ArrayLike, tx_power_w: ArrayLike, gain: ArrayLike, noise_w: ArrayLike
) -> FloatArray:
    """Achievable rate B log2(1 + p g / σ²) in bit/s (paper B eqs. (4)–(5), C (8), D (8))."""
    b = _check_ge("bandwidth_hz", bandwidth_hz)
    p = _check_ge("tx_power_w", tx_power_w)
    g = _check_ge("gain", gain)
    n = _check_gt("noise_w", noise_w)
    return _ret(b * np.log2(1.0 + p * g / n))


__all__ = [
    "CARRIER_SPEED_MPS",
    "MIN_DISTANCE_M",
    "db_to_linear",
    "dbm_to_w",
    "inverse_square_gain",
    "linear_to_db",
    "noise_power_w",
    "path_gain",
    "shannon_rate_bps",
    "w_to_dbm",
]
