"""Background load of edge servers per slot, batched over env copies (SPEC §0, background
workload): what the envs and :class:`vtwin.world.scenario.Scenario` add to the servers on top
of the vehicles' own tasks.

Two kinds, one interface (:class:`BackgroundLoad`: ``reset(generators)`` or
``start_episode()`` + ``reset_copy(b, generator)`` per copy, then ``load(t)`` ``[B, n]``):

* :class:`DiurnalArrivals` — paper A and the scenario: mean × daily shape (per-server clock
  shift) × mean-one log-normal AR(1) noise, drawn per copy as the slots go by;
* :class:`TrafficDays` — paper B Sec. V: a pool of synthetic traffic-flow days
  (:func:`vtwin.data.traffic.synthetic_traffic`) drawn once from a seed, flow × load per
  vehicle (:func:`vtwin.world.workload.flow_to_load`); each copy replays one day.

Loads are in the caller's unit (bits, or CPU cycles): the per-server scale says which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import FloatArray
from vtwin.config import VTwinConfig, WorkloadConfig
from vtwin.data.traffic import synthetic_traffic
from vtwin.world.servers import ServerKind
from vtwin.world.workload import flow_to_load, hotspot_multipliers, profile_at_hours

__all__ = [
    "BackgroundLoad",
    "DiurnalArrivals",
    "TrafficDays",
    "hotspot_gain",
    "load_weights",
]

NOISE_CHUNK_SLOTS = 128
"""Noise slots :class:`DiurnalArrivals` draws per copy at a time."""

TRAFFIC_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Day 0 of a :class:`TrafficDays` pool (a Monday)."""


def hotspot_gain(config: VTwinConfig, xy_m: ArrayLike) -> FloatArray:
    """Background-load multiplier of servers at ``xy_m``: the strongest hotspot's bump (≥ 1)."""
    xy = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
    gain = np.ones(xy.shape[0])
    for spot in config.servers.hotspots:
        bump = hotspot_multipliers(xy, [(spot.x_m, spot.y_m)], spot.radius_m, spot.gain)
        gain = np.maximum(gain, bump)
    return gain


def load_weights(config: VTwinConfig, kind: ArrayLike, xy_m: ArrayLike) -> FloatArray:
    """Per server, how much background it carries relative to the mean ``[n]``: 0 for kinds
    not in ``workload.servers``, the hotspot gain at an RSU's position, 1 for other kinds."""
    kinds = np.asarray(kind, dtype=np.int64)
    xy = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
    carries = np.isin(kinds, [int(ServerKind[k.upper()]) for k in config.workload.servers])
    gain = np.ones(kinds.size)
    rsu = kinds == int(ServerKind.RSU)
    gain[rsu] = hotspot_gain(config, xy[rsu])
    return np.where(carries, gain, 0.0)


class BackgroundLoad(ABC):
    """Background load ``[B, n]`` of ``n`` servers in each of ``B`` copies, slot by slot."""

    batch_size: int
    n_servers: int

    def reset(self, generators: Sequence[np.random.Generator]) -> None:
        """Start an episode in every copy; copy b draws from ``generators[b]``."""
        if len(generators) != self.batch_size:
            raise ValueError(
                f"generators: {len(generators)} given, one per copy ({self.batch_size}) needed"
            )
        self.start_episode()
        for b, rng in enumerate(generators):
            self.reset_copy(b, rng)

    @abstractmethod
    def start_episode(self) -> None:
        """Forget the last episode (call before :meth:`reset_copy` of every copy)."""

    @abstractmethod
    def reset_copy(self, b: int, rng: np.random.Generator) -> None:
        """Draw copy ``b``'s episode from ``rng`` (callers may interleave their own draws)."""

    @abstractmethod
    def load(self, t: int) -> FloatArray:
        """Background load ``[B, n]`` of slot ``t`` in every copy."""


class DiurnalArrivals(BackgroundLoad):
    """Paper A's background (SPEC §0 workload): per slot and server,
    ``mean_m · (1 + A (profile(h + φ_m) − 1)) · exp(σ z − σ²/2)``.

    ``profile`` is :func:`vtwin.world.workload.profile_at_hours` tabulated per minute of the
    day, ``h`` the clock hour of the slot (``start_hour`` at slot 0), ``φ_m`` a clock shift
    per server uniform in ±``phase_jitter_h``, ``z`` a unit-variance AR(1) Gaussian
    (``z_t = ρ z_{t−1} + √(1 − ρ²) η_t``) per server with a positive mean. At reset, copy b
    draws its shifts and the initial ``z``; its innovations ``η`` come from the same stream
    in blocks of :data:`NOISE_CHUNK_SLOTS` slots as :meth:`load` asks for slots ``0, 1, …``
    in order.
    """

    def __init__(
        self,
        mean: ArrayLike,
        batch_size: int = 1,
        *,
        slot_s: float,
        workload: WorkloadConfig,
        phase_jitter_h: float = 0.5,
    ) -> None:
        """``mean`` ``[n]``: each server's mean load per slot (caller's unit, ≥ 0); the shape
        and noise from ``workload`` (``start_hour``, ``diurnal_amplitude``, ``noise_std``,
        ``noise_corr``; its ``mean_fraction`` and ``servers`` are the caller's business)."""
        m = np.array(mean, dtype=np.float64)
        if m.ndim != 1 or not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValueError(f"mean = {mean!r}: must be a 1-D array of finite loads ≥ 0")
        checks = (
            ("batch_size", batch_size, batch_size >= 1, "≥ 1"),
            ("slot_s", slot_s, slot_s > 0, "> 0 seconds"),
            ("phase_jitter_h", phase_jitter_h, phase_jitter_h >= 0, "≥ 0 hours"),
        )
        for name, value, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{name} = {value!r}: must be {allowed}")
        self.mean = m
        self.batch_size = int(batch_size)
        self.n_servers = int(m.size)
        self.slot_s = float(slot_s)
        self.start_hour = workload.start_hour
        self.diurnal_amplitude = workload.diurnal_amplitude
        self.noise_std = workload.noise_std
        self.noise_corr = workload.noise_corr
        self.phase_jitter_h = float(phase_jitter_h)
        self.loaded = np.flatnonzero(m > 0)
        """Servers with a positive mean (the only ones with noise)."""
        # the daily shape, tabulated per minute once; slots look it up by clock time
        self._day_grid_h = np.linspace(0.0, 24.0, 24 * 60 + 1)
        self._day_profile = profile_at_hours(self._day_grid_h)
        B, n, k = self.batch_size, self.n_servers, self.loaded.size
        self.phase_h = np.zeros((B, n))
        self._z = np.zeros((B, k))  # AR(1) state of the log-normal noise
        self._rngs: list[np.random.Generator | None] = [None] * B
        self.start_episode()

    def start_episode(self) -> None:
        """Drop the noise drawn so far and the cached daily shape."""
        # current chunk of noise slots [B, chunk, loaded servers]
        self._noise = np.zeros((self.batch_size, 0, self.loaded.size), dtype=np.float32)
        self._noise_t0 = 0  # slot index of the chunk's first row
        self._profile_minute = -1  # minute of day the cached [B, n] daily shape belongs to

    def reset_copy(self, b: int, rng: np.random.Generator) -> None:
        """Copy ``b``'s clock shifts, then its initial AR(1) state, from ``rng``."""
        self._rngs[b] = rng
        self.phase_h[b] = rng.uniform(-self.phase_jitter_h, self.phase_jitter_h, self.n_servers)
        self._z[b] = rng.standard_normal(self.loaded.size)

    def _innovations(self, t: int) -> NDArray[np.float32]:
        """Standard-normal noise [B, loaded servers] of slot t from each copy's own stream."""
        while t >= self._noise_t0 + self._noise.shape[1]:
            self._noise_t0 += self._noise.shape[1]
            shape = (NOISE_CHUNK_SLOTS, self.loaded.size)
            rngs = [g for g in self._rngs if g is not None]
            if len(rngs) != self.batch_size:
                raise RuntimeError("reset every copy (reset or reset_copy) before load()")
            self._noise = np.stack([g.standard_normal(shape, dtype=np.float32) for g in rngs])
        return self._noise[:, t - self._noise_t0]

    def load(self, t: int) -> FloatArray:
        """Background ``[B, n]`` arriving in slot ``t`` (slots asked for in order 0, 1, …)."""
        clock_h = self.start_hour + t * self.slot_s / 3600.0
        minute = int(clock_h * 60.0)
        if minute != self._profile_minute:  # the shape is tabulated per minute: reuse it
            hours = np.mod(minute / 60.0 + self.phase_h, 24.0)
            profile = np.interp(hours, self._day_grid_h, self._day_profile)
            self._daily_shape = 1.0 + self.diurnal_amplitude * (profile - 1.0)
            self._profile_minute = minute
        shape = self._daily_shape
        rho = self.noise_corr
        self._z = rho * self._z + np.sqrt(1.0 - rho * rho) * self._innovations(t)
        arrivals = np.zeros((self.batch_size, self.n_servers))
        cols = self.loaded
        std = self.noise_std
        noise = np.exp(std * self._z - 0.5 * std**2)  # mean-one log-normal
        arrivals[:, cols] = self.mean[cols] * shape[:, cols] * noise
        return arrivals

    def series(self, n_slots: int) -> FloatArray:
        """Copy 0's load ``[n_slots, n]`` of slots ``0 … n_slots − 1`` (after a reset)."""
        self.start_episode()
        return np.stack([self.load(t)[0] for t in range(n_slots)]).reshape(n_slots, self.n_servers)


class TrafficDays(BackgroundLoad):
    """Paper B's background (Sec. V): ``S_m(t) = load per vehicle_m · flow_m(t)``.

    A pool of ``days`` traffic-flow days over ``n`` series (one per server) at the slot
    length is drawn once from ``seed``; each covers slots ``−window … horizon`` from
    ``start_hour`` of its day (the history a forecaster needs before slot 0). At reset each
    copy draws the day it replays.
    """

    def __init__(
        self,
        per_vehicle: ArrayLike,
        batch_size: int = 1,
        *,
        days: int,
        slot_s: float,
        horizon: int,
        window: int,
        start_hour: float,
        seed: int,
    ) -> None:
        """``per_vehicle`` ``[n]``: each server's load per unit of flow (caller's unit, ≥ 0)."""
        if days < 1:
            raise ValueError(f"days = {days}: the traffic pool needs ≥ 1 day")
        if window < 1:
            raise ValueError(f"window = {window}: must be ≥ 1")
        self.per_vehicle = np.asarray(per_vehicle, dtype=np.float64)
        self.batch_size = int(batch_size)
        self.n_servers = int(self.per_vehicle.size)
        self.window = int(window)
        self.horizon = int(horizon)
        flow = _traffic_pool(self.n_servers, days, slot_s, window, horizon, start_hour, seed)
        self.pool = flow_to_load(flow, self.per_vehicle)
        """Load ``[days, window + horizon + 1, n]`` of slots ``−window … horizon``."""
        self.day = np.zeros(self.batch_size, dtype=np.int64)
        """The pool day each copy replays ``[B]``."""

    def start_episode(self) -> None:
        """Nothing to forget: the pool is fixed and each copy's day is drawn by reset_copy."""

    def reset_copy(self, b: int, rng: np.random.Generator) -> None:
        """Copy ``b``'s day: one integer draw from ``rng``."""
        self.day[b] = rng.integers(self.pool.shape[0])

    def load(self, t: int) -> FloatArray:
        """Background ``[B, n]`` of slot ``t`` (0 … horizon) of each copy's day."""
        return self.pool[self.day, self.window + t]


def _traffic_pool(
    n_series: int,
    days: int,
    slot_s: float,
    window: int,
    horizon: int,
    start_hour: float,
    seed: int,
) -> FloatArray:
    """Flows [days, window + horizon + 1, n_series]: slots −window … horizon of each day."""
    n_steps = window + horizon + 1
    pool = np.zeros((days, n_steps, n_series))
    if n_series == 0:
        return pool
    seeds = np.random.SeedSequence(seed).generate_state(days, dtype=np.uint32)
    for d in range(days):
        start = (
            TRAFFIC_EPOCH + timedelta(days=d, hours=start_hour) - timedelta(seconds=window * slot_s)
        )
        series = synthetic_traffic(
            n_series,
            days=n_steps * slot_s / 86400.0,
            interval_s=slot_s,
            seed=int(seeds[d]),
            start=start.strftime("%Y-%m-%d %H:%M:%S"),
        )
        pool[d] = series.values[:n_steps]
    return pool
