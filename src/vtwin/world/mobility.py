"""Trajectory sources: where every vehicle (or sensor) is at each time slot.

Every source implements the :class:`Mobility` protocol: ``positions(t)`` gives an ``[n, 2]``
array of local metres (x east, y north) at slot ``t`` (time ``t * slot_s`` seconds after the
source's start), ``trajectory(n_slots)`` stacks slots ``0 .. n_slots-1``, and ``active(t)``
says which vehicles have data / are driving at that slot (SPEC §0, mobility sources).

Sources here:

* :class:`ManhattanGridMobility` — synthetic driving on a rectangular street grid.
* :class:`TraceReplayMobility` — real GPS traces resampled to the slot length by linear
  interpolation.
* :class:`StaticMobility` — fixed positions (roadside sensors).

Randomness: grid mobility draws its initial state from the ``Generator`` it is given and then
derives one private child ``Generator`` from it (one integer draw) for the turns it takes
while positions are generated lazily. The trajectory therefore depends only on the state of
the caller's generator at construction time, not on what else later draws from it, nor on
the order in which slots are queried.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from numbers import Integral, Real
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import BoolArray, FloatArray
from vtwin.data.traces import Trace
from vtwin.physics.geo import LocalProjection

__all__ = [
    "ManhattanGridMobility",
    "Mobility",
    "StaticMobility",
    "TraceReplayMobility",
]

# Headings on the street grid, counter-clockwise: +x (east), +y (north), -x (west), -y (south).
# Turning left adds 1 (mod 4), turning right adds 3, a U-turn adds 2.
_HEADINGS = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int64)

_TRACE_TIME_TOL_S = 1e-6
"""Slack (seconds) when deciding whether a slot time lies inside a trace's time span."""

_TRACE_CHUNK_SLOTS = 256

_TURN_CHUNK = 64
"""Turn uniforms drawn per vehicle at a time (a vehicle's k-th turn always uses its k-th)."""
"""Trace replay interpolates and caches this many slots at a time."""


@runtime_checkable
class Mobility(Protocol):
    """Common interface of trajectory sources; positions are local metres, time in slots."""

    slot_s: float

    @property
    def n(self) -> int:
        """Number of vehicles (or sensors) in this source."""
        ...

    def positions(self, t: int) -> FloatArray:
        """Positions ``[n, 2]`` in metres at slot ``t >= 0``."""
        ...

    def trajectory(self, n_slots: int) -> FloatArray:
        """Positions ``[n_slots, n, 2]`` in metres for slots ``0 .. n_slots-1``."""
        ...

    def active(self, t: int) -> BoolArray:
        """Mask ``[n]``: True where the vehicle has data / is driving at slot ``t``."""
        ...


# --------------------------------------------------------------------------- validation helpers


def _slot_index(t: int, name: str = "t") -> int:
    """Return ``t`` as a Python int after checking it is an integer >= 0."""
    if isinstance(t, bool) or not isinstance(t, Integral) or t < 0:
        raise ValueError(f"{name} must be an integer slot index >= 0, got {t!r}")
    return int(t)


def _positive_float(value: float, name: str) -> float:
    """Return ``value`` as float after checking it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _count(value: int, name: str, minimum: int) -> int:
    """Return ``value`` as int after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _xy_pair(value: Sequence[float], name: str) -> tuple[float, float]:
    """Return a finite (x, y) pair in metres."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be two finite numbers (x, y) in metres, got {value!r}")
    return float(arr[0]), float(arr[1])


# --------------------------------------------------------------------------- Manhattan grid


class ManhattanGridMobility:
    """Vehicles driving a rectangular street grid at constant speed (metres, slots of slot_s s).

    Streets run along ``x = origin_x + i * block_m`` (i = 0..n_blocks_x) and
    ``y = origin_y + j * block_m`` (j = 0..n_blocks_y). Each vehicle starts at a uniformly
    random point of a uniformly random street segment, heading along it in a random
    direction, and keeps a fixed speed (``speed_mps`` or a uniform draw from a
    ``(low, high)`` range). At every intersection it goes straight / left / right with
    ``turn_probs``; moves that would leave the grid are dropped and the rest renormalised
    (if all allowed moves have probability 0 the allowed ones are taken uniformly; a U-turn
    happens only when no other move exists). A vehicle covers ``speed * slot_s`` metres of
    street per slot and may cross several intersections within one slot.
    """

    def __init__(
        self,
        n_vehicles: int,
        *,
        block_m: float,
        n_blocks_x: int,
        n_blocks_y: int,
        speed_mps: float | tuple[float, float],
        slot_s: float,
        rng: np.random.Generator | Sequence[np.random.Generator],
        origin_xy: tuple[float, float] = (0.0, 0.0),
        turn_probs: tuple[float, float, float] = (0.5, 0.25, 0.25),
        turn_generators: Callable[[list[int]], list[np.random.Generator]] | None = None,
    ) -> None:
        """Draw speeds and start positions from ``rng``; later turns use child generators.

        ``rng`` may be a sequence of generators: vehicles are then split into equal
        contiguous groups, group ``g`` drawing everything from ``rng[g]`` only. A batched
        environment uses this so that copy ``b`` depends on its own seed alone.
        Each group's child generator is ``np.random.default_rng(seed)`` of a seed its stream
        draws; ``turn_generators(seeds)`` may build them instead, giving the same streams
        (batched envs pass :meth:`vtwin.seeding.GeneratorPool.from_ints`, which is faster).
        """
        self._n = _count(n_vehicles, "n_vehicles", 0)
        self.block_m = _positive_float(block_m, "block_m")
        self.n_blocks_x = _count(n_blocks_x, "n_blocks_x", 1)
        self.n_blocks_y = _count(n_blocks_y, "n_blocks_y", 1)
        self.slot_s = _positive_float(slot_s, "slot_s")
        self.origin_xy = _xy_pair(origin_xy, "origin_xy")

        probs = np.asarray(turn_probs, dtype=np.float64)
        if (
            probs.shape != (3,)
            or not np.all(np.isfinite(probs))
            or np.any(probs < 0)
            or not math.isclose(float(probs.sum()), 1.0, abs_tol=1e-9)
        ):
            raise ValueError(
                "turn_probs must be three non-negative numbers (straight, left, right) summing "
                f"to 1, got {turn_probs!r}"
            )
        self.turn_probs: tuple[float, float, float] = (
            float(probs[0]),
            float(probs[1]),
            float(probs[2]),
        )
        self._probs = probs

        streams = [rng] if isinstance(rng, np.random.Generator) else list(rng)
        if not streams or not all(isinstance(g, np.random.Generator) for g in streams):
            raise TypeError(
                "rng must be a numpy.random.Generator or a non-empty sequence of them, "
                f"got {type(rng).__name__}"
            )
        if self._n % len(streams):
            raise ValueError(
                f"n_vehicles = {self._n} must be a multiple of the number of rng streams "
                f"({len(streams)}): each stream drives the same number of vehicles"
            )
        self._per_stream = self._n // len(streams)
        speed_range = self._speed_range(speed_mps)
        parts = [self._draw_stream(g, speed_range) for g in streams]
        self._speeds = np.concatenate([p[0] for p in parts]).astype(np.float64)
        node, heading, along = self._initial_state(
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
            np.concatenate([p[3] for p in parts]),
        )
        self._build_tables()
        # state: the intersection a vehicle left (flat cell index x * (n_blocks_y + 1) + y),
        # its heading, and the metres driven since that intersection
        self._cell = node[:, 0] * (self.n_blocks_y + 1) + node[:, 1]
        self._heading = heading
        self._along = along
        self._step_m = self._speeds * self.slot_s  # street metres covered per slot
        self._moving = self._step_m > 0
        # a vehicle can pass two intersections in one slot only if it covers a whole block
        self._multi_cross = self._n > 0 and float(self._step_m.max()) >= self.block_m
        turn_seeds = [p[4] for p in parts]
        self._turn_rngs = (
            turn_generators(turn_seeds)
            if turn_generators is not None
            else [np.random.default_rng(s) for s in turn_seeds]
        )
        # turn uniforms, one column per vehicle: vehicle v's k-th intersection uses
        # tape[k, v]; rows 0 .. _filled-1 are drawn, the rest is spare capacity.
        # _tape_at[v] = k * n + v is the flat position of vehicle v's next uniform.
        self._tape = np.empty((0, self._n), dtype=np.float64)
        self._filled = 0
        self._tape_at = np.arange(self._n, dtype=np.int64)

        self._buf = np.empty((64, self._n, 2), dtype=np.float64)
        self._write_xy(self._buf[0])
        self._len = 1

    # -- public API ---------------------------------------------------------------------------

    @property
    def n(self) -> int:
        """Number of vehicles."""
        return self._n

    @property
    def speeds_mps(self) -> FloatArray:
        """Per-vehicle speed in m/s (a copy)."""
        return self._speeds.copy()

    @property
    def bounds_xy(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Grid area as ((x_min, y_min), (x_max, y_max)) in metres."""
        x0, y0 = self.origin_xy
        return (x0, y0), (x0 + self.n_blocks_x * self.block_m, y0 + self.n_blocks_y * self.block_m)

    def positions(self, t: int) -> FloatArray:
        """Positions ``[n, 2]`` in metres at slot ``t`` (generated on first request, cached)."""
        t = _slot_index(t)
        self._extend(t + 1)
        return self._buf[t].copy()

    def trajectory(self, n_slots: int) -> FloatArray:
        """Positions ``[n_slots, n, 2]`` in metres for slots ``0 .. n_slots-1``."""
        n_slots = _count(n_slots, "n_slots", 0)
        self._extend(n_slots)
        return self._buf[:n_slots].copy()

    def active(self, t: int) -> BoolArray:
        """Always True: synthetic vehicles drive for the whole episode."""
        _slot_index(t)
        return np.ones(self._n, dtype=np.bool_)

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _speed_range(speed_mps: float | tuple[float, float]) -> tuple[float, float] | float:
        """Validate ``speed_mps``: a fixed speed or a (low, high) range in m/s."""
        if isinstance(speed_mps, tuple | list):
            if len(speed_mps) != 2:
                raise ValueError(
                    f"speed_mps must be a number >= 0 or a (low, high) pair, got {speed_mps!r}"
                )
            low, high = (float(speed_mps[0]), float(speed_mps[1]))
            if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or high < low:
                raise ValueError(
                    f"speed_mps range must satisfy 0 <= low <= high (m/s), got {speed_mps!r}"
                )
            return (low, high)
        if (
            isinstance(speed_mps, bool)
            or not isinstance(speed_mps, Real)
            or not math.isfinite(speed_mps)
            or speed_mps < 0
        ):
            raise ValueError(f"speed_mps must be a finite number >= 0 m/s, got {speed_mps!r}")
        return float(speed_mps)

    def _draw_stream(
        self, rng: np.random.Generator, speed: tuple[float, float] | float
    ) -> tuple[FloatArray, NDArray[np.int64], FloatArray, FloatArray, int]:
        """One stream's draws, in this order: speeds, start segments, direction and offset
        uniforms (see :meth:`_initial_state`), then the seed of its child turn generator."""
        k = self._per_stream
        if isinstance(speed, tuple):
            speeds = rng.uniform(speed[0], speed[1], size=k)
        else:
            speeds = np.full(k, speed)
        nbx, nby = self.n_blocks_x, self.n_blocks_y
        seg = rng.integers(0, nbx * (nby + 1) + (nbx + 1) * nby, size=k)
        # one call fills direction then offset uniforms, the same values as two calls of k
        direction_u, offset_u = rng.random((2, k))
        return speeds, seg, direction_u, offset_u, int(rng.integers(0, 2**63 - 1))

    def _turn_uniforms(self, idx: NDArray[np.int64]) -> FloatArray:
        """Next turn uniform of each vehicle in ``idx`` from its own tape (extended in chunks)."""
        at = self._tape_at[idx]
        if idx.size and int(at.max()) >= self._filled * self._n:
            self._grow_tape()
        # flat positions in the row-major [capacity, n] tape; the next use is one row down
        u = self._tape.reshape(-1).take(at)
        self._tape_at[idx] = at + self._n
        return u

    def _grow_tape(self) -> None:
        """Draw the next ``_TURN_CHUNK`` turn uniforms of every vehicle, stream by stream.

        Stream ``g`` draws a ``[per_stream, _TURN_CHUNK]`` block in one call, row ``i`` going
        to its ``i``-th vehicle, exactly as one ``g.random((k, _TURN_CHUNK))`` would.
        """
        k = self._per_stream
        chunk = np.empty((len(self._turn_rngs), k, _TURN_CHUNK), dtype=np.float64)
        for g, block in zip(self._turn_rngs, chunk, strict=True):
            g.random(out=block)
        rows = self._filled + _TURN_CHUNK
        if rows > self._tape.shape[0]:  # double the capacity, keeping the drawn rows
            grown = np.empty((max(rows, 2 * self._tape.shape[0]), self._n), dtype=np.float64)
            grown[: self._filled] = self._tape[: self._filled]
            self._tape = grown
        self._tape[self._filled : rows] = chunk.reshape(self._n, _TURN_CHUNK).T
        self._filled = rows

    def _initial_state(
        self, seg: NDArray[np.int64], direction_u: FloatArray, offset_u: FloatArray
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], FloatArray]:
        """Start (node, heading, distance along) from a uniformly drawn segment index, a
        direction uniform and an offset uniform per vehicle (segments equally likely)."""
        nbx, nby = self.n_blocks_x, self.n_blocks_y
        n_horizontal = nbx * (nby + 1)
        count = seg.size
        forward = direction_u < 0.5
        offset = offset_u * self.block_m

        node = np.zeros((count, 2), dtype=np.int64)
        heading = np.zeros(count, dtype=np.int64)
        horiz = seg < n_horizontal
        # horizontal segment j joins (j % nbx, j // nbx) to the node one step east
        jh = seg[horiz]
        node[horiz, 0] = jh % nbx + np.where(forward[horiz], 0, 1)
        node[horiz, 1] = jh // nbx
        heading[horiz] = np.where(forward[horiz], 0, 2)
        # vertical segment j joins (j // nby, j % nby) to the node one step north
        jv = seg[~horiz] - n_horizontal
        node[~horiz, 0] = jv // nby
        node[~horiz, 1] = jv % nby + np.where(forward[~horiz], 0, 1)
        heading[~horiz] = np.where(forward[~horiz], 1, 3)
        return node, heading, offset

    def _build_tables(self) -> None:
        """Precompute everything that depends only on where a vehicle is and where it heads.

        * ``_cell_xy[c]``: metres of intersection ``c`` (``origin + block_m * node``);
        * ``_cell_step[h]``: flat-index change when moving one block along heading ``h``;
        * ``_cell_row[c]``: 4 x the border class of ``c`` (on the west / east / neither
          border, times on the south / north / neither border: 9 classes);
        * per decision row ``4 * class + arriving heading``: ``_row_total`` and
          ``_row_cum[j]`` (total and running sums of the move weights, straight / left /
          right) and ``_row_pick[4 * row + j]``, the new heading when ``j`` running sums are
          <= the scaled uniform (``j = 3``: rounding left ``u == total``, take the last move
          with positive weight; a dead end always gives the U-turn).

        The row values come from the same array expressions as a per-vehicle evaluation, so
        they are bit for bit what that evaluation gives.
        """
        nbx, nby = self.n_blocks_x, self.n_blocks_y
        xs = np.arange(nbx + 1)
        ys = np.arange(nby + 1)
        node = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
        origin = np.asarray(self.origin_xy, dtype=np.float64)
        self._cell_xy: FloatArray = origin + self.block_m * node.astype(np.float64)
        self._cell_step = _HEADINGS[:, 0] * (nby + 1) + _HEADINGS[:, 1]
        self._heading_xy = _HEADINGS.astype(np.float64)

        # border class per axis: 0 at the low border, 2 at the high one, 1 inside
        cls_x = np.where(xs == 0, 0, np.where(xs == nbx, 2, 1))
        cls_y = np.where(ys == 0, 0, np.where(ys == nby, 2, 1))
        self._cell_row = (4 * (3 * cls_x[:, None] + cls_y[None, :])).reshape(-1)
        # one representative node per class (class 1 of a one-block axis is never used)
        rep = np.array([0, min(1, nbx), nbx]), np.array([0, min(1, nby), nby])
        cls = np.arange(9)
        rep_node = np.stack([rep[0][cls // 3], rep[1][cls % 3]], axis=1)
        row_node = np.repeat(rep_node, 4, axis=0)  # row = 4 * class + heading
        arriving = np.tile(np.arange(4), 9)

        # candidate moves: straight, left, right (same expressions as per vehicle)
        cand = np.stack([arriving, (arriving + 1) % 4, (arriving + 3) % 4], axis=1)
        feas = self._feasible(row_node[:, None, :], cand)
        weights = self._probs[None, :] * feas
        total = weights.sum(axis=1)
        no_mass = total <= 0
        weights[no_mass] = feas[no_mass].astype(np.float64)
        total = weights.sum(axis=1)
        cum = np.cumsum(weights, axis=1)
        last_positive = 2 - np.argmax(weights[:, ::-1] > 0, axis=1)
        pick = np.concatenate([cand, cand[np.arange(cand.shape[0]), last_positive, None]], axis=1)
        dead_end = total <= 0  # nothing but a U-turn is possible
        pick[dead_end] = ((arriving[dead_end] + 2) % 4)[:, None]
        self._row_total: FloatArray = total
        self._row_cum: list[FloatArray] = [np.ascontiguousarray(cum[:, j]) for j in range(3)]
        self._row_pick = pick.reshape(-1)

    def _write_xy(self, out: FloatArray) -> None:
        """Write positions ``[n, 2]`` (metres) from the (cell, heading, along) state to ``out``.

        Equals ``(origin + block_m * node) + along * heading_vector`` element by element:
        the intersection's metres come from the table, the offset is added to them last.
        """
        # offset along the street: distance driven times the heading's unit vector
        np.multiply(self._along[:, None], self._heading_xy.take(self._heading, axis=0), out=out)
        # plus the metres of the intersection the vehicle left
        np.add(self._cell_xy.take(self._cell, axis=0), out, out=out)

    def _feasible(self, node: NDArray[np.int64], heading: NDArray[np.int64]) -> BoolArray:
        """True where leaving ``node`` along ``heading`` stays on the grid (broadcasts)."""
        step = _HEADINGS[heading]
        nxt_x = node[..., 0] + step[..., 0]
        nxt_y = node[..., 1] + step[..., 1]
        return (nxt_x >= 0) & (nxt_x <= self.n_blocks_x) & (nxt_y >= 0) & (nxt_y <= self.n_blocks_y)

    def _choose_headings(self, idx: NDArray[np.int64]) -> None:
        """Move vehicles ``idx`` onto the intersection ahead and pick their new heading there.

        The move weights are renormalised over the moves that stay on the grid (see the
        class docstring); the vehicle's next turn uniform ``u`` scaled by their total picks
        the first move whose running sum exceeds it. The running sums never decrease, so
        that move's position is the number of running sums ``<= u``.
        """
        arriving = self._heading[idx]
        # step onto the intersection ahead; its border class and the arriving heading give
        # the decision row
        cell = self._cell[idx] + self._cell_step.take(arriving)
        row = self._cell_row.take(cell) + arriving
        # scaled uniform, then how many running sums it reaches (3: rounding gave u == total)
        u = self._turn_uniforms(idx) * self._row_total.take(row)
        cum = self._row_cum
        below = (cum[0].take(row) <= u).astype(np.int64)
        below += cum[1].take(row) <= u
        below += cum[2].take(row) <= u
        below += 4 * row
        self._cell[idx] = cell
        self._heading[idx] = self._row_pick.take(below)

    def _advance_one_slot(self) -> None:
        """Move every vehicle ``speed * slot_s`` metres along the streets."""
        step = self._step_m
        to_go = self.block_m - self._along  # metres to the intersection ahead
        crossing = self._moving & (step >= to_go)
        idx = np.flatnonzero(crossing)
        if not idx.size:
            self._along += step
            return
        # metres left after reaching the intersection ahead (all of the step otherwise)
        remaining = np.where(crossing, step - to_go, step)
        self._along[idx] = 0.0
        self._choose_headings(idx)
        # to_go >= 0, so what is left is <= step: with every step < block_m nobody can reach
        # a second intersection and the loop below would find no one
        while self._multi_cross:
            # only vehicles that just crossed can cross again; they now have a whole block
            # (block_m - 0.0 == block_m) to the next intersection
            left = remaining[idx]
            idx = idx[(left > 0) & (left >= self.block_m)]
            if not idx.size:
                break
            remaining[idx] -= self.block_m
            self._choose_headings(idx)
        self._along += remaining  # remaining < distance to the next intersection here

    def _extend(self, n_slots: int) -> None:
        """Simulate until at least ``n_slots`` slots are cached."""
        if n_slots <= self._len:
            return
        if n_slots > self._buf.shape[0]:
            cap = max(n_slots, 2 * self._buf.shape[0])
            grown = np.empty((cap, self._n, 2), dtype=np.float64)
            grown[: self._len] = self._buf[: self._len]
            self._buf = grown
        while self._len < n_slots:
            self._advance_one_slot()
            self._write_xy(self._buf[self._len])
            self._len += 1


# --------------------------------------------------------------------------- trace replay


def _clean_trace(trace: Trace) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate a trace; return it sorted by time, keeping the last of duplicate times."""
    vid = trace.vehicle_id
    t, lat, lon = trace.time_s, trace.lat_deg, trace.lon_deg
    if t.size == 0:
        raise ValueError(f"trace {vid!r}: needs at least 1 point, got 0")
    for name, arr in (("time_s", t), ("lat_deg", lat), ("lon_deg", lon)):
        bad = ~np.isfinite(arr)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"trace {vid!r}: {name}[{i}] must be finite, got {arr[i]!r}")
    bad_lat = (lat < -90.0) | (lat > 90.0)
    if np.any(bad_lat):
        i = int(np.flatnonzero(bad_lat)[0])
        raise ValueError(f"trace {vid!r}: lat_deg[{i}] must be in [-90, 90], got {lat[i]!r}")
    bad_lon = (lon < -180.0) | (lon > 180.0)
    if np.any(bad_lon):
        i = int(np.flatnonzero(bad_lon)[0])
        raise ValueError(f"trace {vid!r}: lon_deg[{i}] must be in [-180, 180], got {lon[i]!r}")

    order = np.argsort(t, kind="stable")  # stable: equal times keep their input order
    t, lat, lon = t[order], lat[order], lon[order]
    keep = np.ones(t.size, dtype=np.bool_)
    keep[:-1] = t[1:] != t[:-1]  # of several equal times keep the last given
    return t[keep], lat[keep], lon[keep]


class TraceReplayMobility:
    """Replay of GPS traces resampled to slots of ``slot_s`` seconds by linear interpolation.

    Slot ``k`` is time ``start_time_s + k * slot_s`` (seconds, same clock as the traces;
    ``start_time_s`` defaults to the earliest point over all traces). Latitude and longitude
    are interpolated linearly in time (which equals linear interpolation in local metres,
    the projection being affine); before a trace's first point or after its last one the
    vehicle stays at that point and is inactive. Longitudes are not unwrapped across ±180°.
    Slots are interpolated in chunks of 256 and cached, so per-slot access is cheap.
    """

    def __init__(
        self,
        traces: Iterable[Trace],
        *,
        projection: LocalProjection,
        slot_s: float,
        start_time_s: float | None = None,
    ) -> None:
        """Validate, sort and de-duplicate the traces; nothing is interpolated yet."""
        self.slot_s = _positive_float(slot_s, "slot_s")
        if not isinstance(projection, LocalProjection):
            raise TypeError(
                f"projection must be a LocalProjection, got {type(projection).__name__}"
            )
        self.projection = projection
        trace_list = list(traces)
        ids: list[str] = []
        cleaned: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        for tr in trace_list:
            if not isinstance(tr, Trace):
                raise TypeError(f"traces must contain Trace objects, got {type(tr).__name__}")
            if tr.vehicle_id in ids:
                raise ValueError(f"trace {tr.vehicle_id!r}: vehicle_id appears more than once")
            ids.append(tr.vehicle_id)
            cleaned.append(_clean_trace(tr))
        self.vehicle_ids: tuple[str, ...] = tuple(ids)

        if start_time_s is None:
            if not cleaned:
                raise ValueError("start_time_s must be given when traces is empty")
            start = float(min(c[0][0] for c in cleaned))
        else:
            if not math.isfinite(start_time_s):
                raise ValueError(f"start_time_s must be finite seconds, got {start_time_s!r}")
            start = float(start_time_s)
        self.start_time_s = start

        # times relative to the start keep full precision for epoch-second timestamps
        self._t = [c[0] - start for c in cleaned]
        self._lat = [c[1] for c in cleaned]
        self._lon = [c[2] for c in cleaned]
        self._first = np.array([t[0] for t in self._t], dtype=np.float64)
        self._last = np.array([t[-1] for t in self._t], dtype=np.float64)
        if cleaned and self._last.max() >= -_TRACE_TIME_TOL_S:
            self.horizon_slots = (
                math.floor((float(self._last.max()) + _TRACE_TIME_TOL_S) / self.slot_s) + 1
            )
        else:
            self.horizon_slots = 0
        self._chunks: dict[int, tuple[FloatArray, FloatArray, BoolArray]] = {}

    @property
    def n(self) -> int:
        """Number of vehicles (one per trace)."""
        return len(self._t)

    @property
    def last_fix_s(self) -> FloatArray:
        """Per vehicle, the time of its last fix in seconds after ``start_time_s`` ``[n]``."""
        return self._last.copy()

    def positions(self, t: int) -> FloatArray:
        """Positions ``[n, 2]`` in local metres at slot ``t``."""
        chunk, i = self._lookup(t)
        return chunk[1][i].copy()

    def positions_latlon(self, t: int) -> FloatArray:
        """Positions ``[n, 2]`` as (lat, lon) degrees at slot ``t``."""
        chunk, i = self._lookup(t)
        return chunk[0][i].copy()

    def active(self, t: int) -> BoolArray:
        """Mask ``[n]``: True where slot ``t`` lies within the vehicle's trace time span."""
        chunk, i = self._lookup(t)
        return chunk[2][i].copy()

    def trajectory(self, n_slots: int) -> FloatArray:
        """Positions ``[n_slots, n, 2]`` in local metres for slots ``0 .. n_slots-1``."""
        n_slots = _count(n_slots, "n_slots", 0)
        return self._interpolate(0, n_slots)[1]

    def trajectory_latlon(self, n_slots: int) -> FloatArray:
        """Positions ``[n_slots, n, 2]`` as (lat, lon) degrees for slots ``0 .. n_slots-1``."""
        n_slots = _count(n_slots, "n_slots", 0)
        return self._interpolate(0, n_slots)[0]

    def active_matrix(self, n_slots: int) -> BoolArray:
        """Activity mask ``[n_slots, n]`` for slots ``0 .. n_slots-1``."""
        n_slots = _count(n_slots, "n_slots", 0)
        return self._interpolate(0, n_slots)[2]

    def _lookup(self, t: int) -> tuple[tuple[FloatArray, FloatArray, BoolArray], int]:
        """Return the cached chunk holding slot ``t`` and the row of ``t`` inside it."""
        t = _slot_index(t)
        key, row = divmod(t, _TRACE_CHUNK_SLOTS)
        chunk = self._chunks.get(key)
        if chunk is None:
            start = key * _TRACE_CHUNK_SLOTS
            chunk = self._interpolate(start, start + _TRACE_CHUNK_SLOTS)
            self._chunks[key] = chunk
        return chunk, row

    def _interpolate(self, t0: int, t1: int) -> tuple[FloatArray, FloatArray, BoolArray]:
        """Interpolate slots ``t0 .. t1-1``: (lat/lon ``[k, n, 2]``, xy ``[k, n, 2]``, active)."""
        times = np.arange(t0, t1, dtype=np.float64) * self.slot_s
        latlon = np.empty((times.size, self.n, 2), dtype=np.float64)
        for v in range(self.n):
            latlon[:, v, 0] = np.interp(times, self._t[v], self._lat[v])
            latlon[:, v, 1] = np.interp(times, self._t[v], self._lon[v])
        xy = self.projection.to_xy(latlon[..., 0], latlon[..., 1])
        act = (times[:, None] >= self._first[None, :] - _TRACE_TIME_TOL_S) & (
            times[:, None] <= self._last[None, :] + _TRACE_TIME_TOL_S
        )
        return latlon, xy, act


# --------------------------------------------------------------------------- static


class StaticMobility:
    """Fixed positions in metres (e.g. roadside sensors); always active."""

    def __init__(self, xy: ArrayLike, *, slot_s: float = 1.0) -> None:
        """Store a copy of ``xy`` ``[n, 2]`` metres; ``slot_s`` only labels the time axis."""
        arr = np.array(xy, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"xy must have shape [n, 2] (metres), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("xy must contain only finite coordinates (metres)")
        self._xy = arr
        self.slot_s = _positive_float(slot_s, "slot_s")

    @property
    def n(self) -> int:
        """Number of fixed points."""
        return int(self._xy.shape[0])

    def positions(self, t: int) -> FloatArray:
        """The fixed positions ``[n, 2]`` in metres (any slot ``t >= 0``)."""
        _slot_index(t)
        return self._xy.copy()

    def trajectory(self, n_slots: int) -> FloatArray:
        """The fixed positions repeated: ``[n_slots, n, 2]`` metres."""
        n_slots = _count(n_slots, "n_slots", 0)
        return np.broadcast_to(self._xy, (n_slots, *self._xy.shape)).copy()

    def active(self, t: int) -> BoolArray:
        """Always True."""
        _slot_index(t)
        return np.ones(self.n, dtype=np.bool_)
