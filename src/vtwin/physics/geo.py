"""Geography: great-circle distances, slant ranges and a local metric projection.

All functions broadcast over numpy arrays. Angles are degrees at the API (that is how every
dataset stores them) and radians inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import FloatArray

EARTH_RADIUS_M = 6_371_000.0
"""Mean Earth radius used by every great-circle formula in vtwin (metres)."""


def haversine_m(
    lat1_deg: ArrayLike, lon1_deg: ArrayLike, lat2_deg: ArrayLike, lon2_deg: ArrayLike
) -> FloatArray:
    """Great-circle distance in metres, standard haversine (SPEC §0; paper B eq. (1) corrected)."""
    # paper B eq. (1) (and paper C eq. (6)) swap the sin² terms and drop the halves;
    # we use the standard form a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2), d = 2R asin(√a).
    phi1 = np.radians(np.asarray(lat1_deg, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2_deg, dtype=np.float64))
    dphi = phi2 - phi1
    dlam = np.radians(
        np.asarray(lon2_deg, dtype=np.float64) - np.asarray(lon1_deg, dtype=np.float64)
    )
    a = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlam / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def slant_distance_m(ground_m: ArrayLike, altitude_m: ArrayLike) -> FloatArray:
    """Distance from a ground point to an elevated node, √(d² + h²) (paper B eq. (2))."""
    g = np.asarray(ground_m, dtype=np.float64)
    h = np.asarray(altitude_m, dtype=np.float64)
    return np.sqrt(g * g + h * h)


def euclidean_m(xy_a: ArrayLike, xy_b: ArrayLike) -> FloatArray:
    """Planar distance in metres between points given as [..., 2] arrays of (x, y)."""
    d = np.asarray(xy_a, dtype=np.float64) - np.asarray(xy_b, dtype=np.float64)
    return np.sqrt(np.sum(d * d, axis=-1))


@dataclass(frozen=True)
class LocalProjection:
    """Local equirectangular projection around an origin: (lat, lon) degrees ↔ (x east, y north) m.

    Accurate to well under 0.1 % over a city (tens of km); used so synthetic scenarios work in
    metres while real-data scenarios keep their latitude/longitude (SPEC §0, geography).
    """

    origin_lat_deg: float
    origin_lon_deg: float

    @property
    def _metres_per_deg_lat(self) -> float:
        return float(np.radians(1.0) * EARTH_RADIUS_M)

    @property
    def _metres_per_deg_lon(self) -> float:
        return self._metres_per_deg_lat * float(np.cos(np.radians(self.origin_lat_deg)))

    def to_xy(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
        """Project degrees to local metres; returns an array of shape [..., 2] (x, y)."""
        lat = np.asarray(lat_deg, dtype=np.float64)
        lon = np.asarray(lon_deg, dtype=np.float64)
        x = (lon - self.origin_lon_deg) * self._metres_per_deg_lon
        y = (lat - self.origin_lat_deg) * self._metres_per_deg_lat
        return np.stack([x, y], axis=-1)

    def to_latlon(self, xy: ArrayLike) -> FloatArray:
        """Inverse of :meth:`to_xy`; returns [..., 2] of (lat, lon) degrees."""
        p = np.asarray(xy, dtype=np.float64)
        lat = self.origin_lat_deg + p[..., 1] / self._metres_per_deg_lat
        lon = self.origin_lon_deg + p[..., 0] / self._metres_per_deg_lon
        return np.stack([lat, lon], axis=-1)


# --------------------------------------------------------------------------- sphere offsets
# Fast great-circle distances for envs that need [B, V, M] of them every slot: points on the
# Earth's sphere are kept as 3-D offsets (m) from an area centre, distances come from chords.

CHORD_EXACT_M = 64_000.0
"""Chords up to this length (metres) are taken as their arc (see :func:`arc_from_squared_chord`)."""

_TAYLOR_MAX_RAD = 0.02
"""Largest |Δφ|, |Δλ| (radians) from the centre for which :class:`SphereOffsets` uses Taylor."""

Float32Array = NDArray[np.float32]


def unit_vectors(latlon_deg: ArrayLike) -> FloatArray:
    """Points on the unit sphere ``[..., 3]`` of (lat, lon) degrees ``[..., 2]``."""
    ll = np.asarray(latlon_deg, dtype=np.float64)
    phi = np.radians(ll[..., 0])
    lam = np.radians(ll[..., 1])
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)


def chord_to_arc_m(chord_m: ArrayLike) -> FloatArray:
    """Great-circle distance (m) of a chord ``c`` (m) on the Earth's sphere, 2R asin(c / 2R).

    The standard haversine (paper B eq. (1) as corrected in SPEC §0) through the chord:
    hav(η) = sin²(η/2) = (c / 2R)².
    """
    c = np.asarray(chord_m, dtype=np.float64)
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(c / (2.0 * EARTH_RADIUS_M), 1.0))


def squared_chords(points: Float32Array, cols: tuple[Float32Array, ...], out: Float32Array) -> None:
    """``out = |p − q|²`` (m²) in float32: ``points`` ``[..., 3]`` offsets, ``cols`` the x, y, z
    of the other points (each broadcasting to ``out`` against ``points[..., k:k+1]``)."""
    np.subtract(points[..., 0:1], cols[0], out=out)
    out *= out
    tmp = points[..., 1:2] - cols[1]
    tmp *= tmp
    out += tmp
    np.subtract(points[..., 2:3], cols[2], out=tmp)
    tmp *= tmp
    out += tmp


def arc_from_squared_chord(q: Float32Array) -> Float32Array:
    """Great-circle distance in metres from squared chords ``q = |P − Q|²`` (m²), in place.

    P, Q are points on the sphere of radius R. This is the standard haversine (paper B
    eq. (1) as corrected in SPEC §0): d = 2R asin(c / 2R) = c (1 + c²/24R² + …) with
    c = |P − Q|. Up to :data:`CHORD_EXACT_M` (64 km) d = c is used (relative error
    < 5·10⁻⁶, under 2 mm at 12 km); beyond, :func:`chord_to_arc_m`.
    """
    far = None
    if q.size and q.max() > CHORD_EXACT_M**2:
        far = np.flatnonzero(q > CHORD_EXACT_M**2)
        exact = chord_to_arc_m(np.sqrt(q.ravel()[far].astype(np.float64)))
    np.sqrt(q, out=q)
    if far is not None:
        q.ravel()[far] = exact
    return q


class SphereOffsets:
    """Points (lat, lon) on the Earth's sphere (radius R) as 3-D offsets in metres from a centre.

    ``|offsets(a) − offsets(b)|`` is the chord between a and b, whose arc is the haversine
    distance (paper B eq. (1), SPEC §0): see :func:`arc_from_squared_chord`.
    """

    def __init__(self, centre_latlon_deg: ArrayLike) -> None:
        """Fix the centre, (lat, lon) degrees ``[2]``."""
        centre = np.array(centre_latlon_deg, dtype=np.float64)
        if centre.shape != (2,) or not np.all(np.isfinite(centre)):
            raise ValueError(
                f"centre_latlon_deg = {centre_latlon_deg!r}: must be one finite (lat, lon) pair"
            )
        self.centre_latlon_deg = centre
        self.centre_unit = unit_vectors(centre)
        phi0, lam0 = np.radians(centre)
        self._trig = (np.cos(phi0), np.sin(phi0), np.cos(lam0), np.sin(lam0))

    def offsets(self, latlon_deg: ArrayLike) -> FloatArray:
        """Points (lat, lon) ``[..., 2]`` on the sphere less the centre, metres ``[..., 3]``.

        Near the centre (|Δφ|, |Δλ| ≤ 0.02 rad) cos and sin of the offsets come from their
        Taylor series to 8th order (exact in float64) and angle addition, which is 3× cheaper
        than numpy's trigonometry; farther points use np.cos / np.sin.
        """
        ll = np.asarray(latlon_deg, dtype=np.float64)
        a = np.radians(ll[..., 0] - self.centre_latlon_deg[0])
        b = np.radians(ll[..., 1] - self.centre_latlon_deg[1])
        if a.size and max(np.abs(a).max(), np.abs(b).max()) > _TAYLOR_MAX_RAD:
            return (unit_vectors(ll) - self.centre_unit) * EARTH_RADIUS_M
        cphi0, sphi0, clam0, slam0 = self._trig
        ca, sa = taylor_cos_sin(a)
        cb, sb = taylor_cos_sin(b)
        cphi = cphi0 * ca - sphi0 * sa
        out = np.empty((*a.shape, 3))
        out[..., 0] = cphi * (clam0 * cb - slam0 * sb) - self.centre_unit[0]
        out[..., 1] = cphi * (slam0 * cb + clam0 * sb) - self.centre_unit[1]
        out[..., 2] = sphi0 * ca + cphi0 * sa - self.centre_unit[2]
        out *= EARTH_RADIUS_M
        return out


def taylor_cos_sin(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """cos x and sin x from their Taylor series to 8th order; exact in float64 for |x| ≤ 0.02."""
    x2 = x * x
    c = 1.0 - x2 * (0.5 - x2 * (1.0 / 24.0 - x2 * (1.0 / 720.0 - x2 / 40320.0)))
    s = x * (1.0 - x2 * (1.0 / 6.0 - x2 * (1.0 / 120.0 - x2 / 5040.0)))
    return c, s
