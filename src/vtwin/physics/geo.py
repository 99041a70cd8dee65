"""Geography: great-circle distances, slant ranges and a local metric projection.

All functions broadcast over numpy arrays. Angles are degrees at the API (that is how every
dataset stores them) and radians inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_000.0
"""Mean Earth radius used by every great-circle formula in vtwin (metres)."""

FloatArray = NDArray[np.float64]


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
