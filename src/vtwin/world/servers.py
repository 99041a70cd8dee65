"""Edge servers as one struct-of-arrays over the kinds RSU, UAV and SAT (SPEC §0).

Arrays are indexed by server id ``m``; RSUs come first, then UAVs, then the satellite, so
``EdgeServers.of_kind(ServerKind.UAV)`` is a contiguous slice. All values are SI: metres,
cycles per second, bits, hertz, watts. Positions are local metres (x east, y north); UAVs
also have an altitude. Mutable state (positions of moving UAVs, loads) is held by envs in
their own arrays; this object describes the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import FloatArray
from vtwin.physics.geo import euclidean_m, slant_distance_m


class ServerKind(IntEnum):
    """Kind of an edge server; stored as int8 in :attr:`EdgeServers.kind`."""

    RSU = 0
    UAV = 1
    SAT = 2


@dataclass(frozen=True, eq=False)
class EdgeServers:
    """Struct-of-arrays description of every edge server in a scenario.

    Attributes (each of length ``n``):
        kind: int8 :class:`ServerKind` codes.
        xy_m: [n, 2] ground position in local metres (satellite: scenario centre).
        altitude_m: height above ground (RSU antenna, UAV flight level, satellite orbit).
        compute_hz: processing frequency in cycles per second.
        capacity_bits: maximum load/cache L_max in bits.
        coverage_m: coverage radius in metres on the ground; ``inf`` for the satellite.
        bandwidth_hz: access-link bandwidth.
        tx_power_w: transmit power.
        uplink_bps / downlink_bps: fixed link rates (satellite); ``nan`` where Shannon applies.
    """

    kind: NDArray[np.int8]
    xy_m: FloatArray
    altitude_m: FloatArray
    compute_hz: FloatArray
    capacity_bits: FloatArray
    coverage_m: FloatArray
    bandwidth_hz: FloatArray
    tx_power_w: FloatArray
    uplink_bps: FloatArray
    downlink_bps: FloatArray

    def __post_init__(self) -> None:
        n = self.kind.shape[0]
        for name in (
            "altitude_m",
            "compute_hz",
            "capacity_bits",
            "coverage_m",
            "bandwidth_hz",
            "tx_power_w",
            "uplink_bps",
            "downlink_bps",
        ):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValueError(f"EdgeServers.{name} has shape {arr.shape}, expected ({n},)")
        if self.xy_m.shape != (n, 2):
            raise ValueError(f"EdgeServers.xy_m has shape {self.xy_m.shape}, expected ({n}, 2)")
        if n and np.any(np.diff(self.kind) < 0):
            raise ValueError("EdgeServers must be ordered RSUs, then UAVs, then satellites")
        for arr in vars(self).values():
            arr.setflags(write=False)

    @property
    def n(self) -> int:
        """Number of servers of all kinds."""
        return int(self.kind.shape[0])

    def of_kind(self, kind: ServerKind) -> NDArray[np.intp]:
        """Indices of the servers of one kind (contiguous, increasing)."""
        return np.flatnonzero(self.kind == kind)

    def count(self, kind: ServerKind) -> int:
        """Number of servers of one kind."""
        return int(np.count_nonzero(self.kind == kind))

    def ground_distance_m(self, points_xy: ArrayLike) -> FloatArray:
        """Ground distance in metres from points [p, 2] to every server: shape [p, n]."""
        pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        return euclidean_m(pts[:, None, :], self.xy_m[None, :, :])

    def link_distance_m(self, points_xy: ArrayLike) -> FloatArray:
        """3-D distance √(d² + h²) from ground points to every server (paper B eq. (2))."""
        return slant_distance_m(self.ground_distance_m(points_xy), self.altitude_m[None, :])

    def in_coverage(self, points_xy: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point [p] lies within each server's ground coverage radius: [p, n]."""
        return self.ground_distance_m(points_xy) <= self.coverage_m[None, :]

    def with_positions(self, xy_m: ArrayLike) -> EdgeServers:
        """A copy with new ground positions (e.g. UAVs after a flight step)."""
        xy = np.array(xy_m, dtype=np.float64)
        if xy.shape != self.xy_m.shape:
            raise ValueError(f"xy_m has shape {xy.shape}, expected {self.xy_m.shape}")
        return replace(self, xy_m=xy)

    def subset(self, keep: ArrayLike) -> EdgeServers:
        """The servers selected by a boolean mask or index array, order preserved."""
        idx = np.asarray(keep)
        if idx.dtype == np.bool_:
            idx = np.flatnonzero(idx)
        idx = np.sort(idx.astype(np.intp))
        return EdgeServers(**{k: np.array(v[idx]) for k, v in vars(self).items()})

    @classmethod
    def concat(cls, parts: list[EdgeServers]) -> EdgeServers:
        """Join server groups (given in RSU, UAV, SAT order) into one struct-of-arrays."""
        if not parts:
            raise ValueError("EdgeServers.concat needs at least one group")
        fields = vars(parts[0]).keys()
        return cls(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})

    @classmethod
    def build(
        cls,
        kind: ServerKind,
        xy_m: ArrayLike,
        *,
        altitude_m: float | ArrayLike,
        compute_hz: float | ArrayLike,
        capacity_bits: float | ArrayLike,
        coverage_m: float | ArrayLike,
        bandwidth_hz: float | ArrayLike,
        tx_power_w: float | ArrayLike,
        uplink_bps: float | ArrayLike = np.nan,
        downlink_bps: float | ArrayLike = np.nan,
    ) -> EdgeServers:
        """Servers of one kind at the given positions, scalars broadcast to every server."""
        xy = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
        n = xy.shape[0]

        def full(value: float | ArrayLike) -> FloatArray:
            return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()

        return cls(
            kind=np.full(n, int(kind), dtype=np.int8),
            xy_m=xy.copy(),
            altitude_m=full(altitude_m),
            compute_hz=full(compute_hz),
            capacity_bits=full(capacity_bits),
            coverage_m=full(coverage_m),
            bandwidth_hz=full(bandwidth_hz),
            tx_power_w=full(tx_power_w),
            uplink_bps=full(uplink_bps),
            downlink_bps=full(downlink_bps),
        )
