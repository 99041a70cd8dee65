"""Building blocks of the servers' background workload (SPEC §0, background workload); the
load models themselves are in :mod:`vtwin.world.background`.

* :class:`DiurnalShape`, :func:`diurnal_profile` / :func:`profile_at_hours` — the daily shape
  (mean 1 per day).
* :func:`flow_to_load` — paper B Sec. V: ``S_m(t) = S_v · flow_m(t)`` from a traffic-flow
  series (e.g. PeMS).
* :func:`hotspot_multipliers` — heavier load near hotspots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike

from vtwin.arrays import FloatArray

__all__ = [
    "DiurnalShape",
    "diurnal_profile",
    "flow_to_load",
    "hotspot_multipliers",
]

HOURS_PER_DAY = 24.0
SECONDS_PER_HOUR = 3600.0
DAYS_PER_WEEK = 7
WEEKEND_DAYS = (5, 6)
"""Day-of-week indices of the weekend; day 0 (hours 0–24 from midnight) is a Monday."""

_TROUGH_HOUR = 4.0
"""Hour of the smooth base curve's night minimum (the base peaks 12 h later, at 16:00)."""

_NORMALISATION_SAMPLES = 24 * 60
"""Samples per day (one a minute) for the numerical daily mean used to normalise the profile."""


# --------------------------------------------------------------------------- helpers


def _finite(value: float, name: str) -> float:
    """Return ``value`` as float after checking it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _in_range(
    value: float, name: str, low: float, high: float, *, high_open: bool = False
) -> float:
    """Return ``value`` after checking ``low <= value <= high`` (or ``< high``)."""
    v = _finite(value, name)
    ok = low <= v < high if high_open else low <= v <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value!r}")
    return v


def _count(value: int, name: str, minimum: int) -> int:
    """Return ``value`` as int after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class DiurnalShape:
    """Parameters of the daily load shape (validated; see :func:`diurnal_profile`).

    Shape before normalisation, at clock hour h:
    ``night_floor + (1 − night_floor)·½(1 − cos(2π(h − 4)/24))`` (a smooth day/night swing with
    its trough, ``night_floor``, at 04:00 and its crest, 1, at 16:00) plus
    ``peak_gain · Σ_p exp(−(h − p)²/(2 peak_width_h²))`` (rush-hour bumps, wrapped around
    midnight). The shape is divided by its mean over one day, taken numerically on a one-minute
    grid (exact to rounding for this smooth periodic curve), so any whole day averages 1.
    With ``weekly_amplitude = a > 0`` Saturdays and Sundays are scaled by ``(1 − a)`` relative
    to weekdays and the weekly factor is rescaled to mean 1 over a week, so whole *weeks*
    average 1 (then single days average slightly above or below 1). Hour 0 is Monday 00:00.
    """

    peak_hours: Sequence[float] = (8.5, 18.0)
    """Clock hours of the rush-hour bumps."""
    peak_width_h: float = 1.5
    """Standard deviation of each bump, hours (> 0)."""
    peak_gain: float = 0.8
    """Height of each bump relative to the base curve's crest (>= 0)."""
    night_floor: float = 0.3
    """Base curve at its 04:00 trough, in [0, 1]."""
    weekly_amplitude: float = 0.0
    """Weekend reduction a in [0, 1)."""

    def __post_init__(self) -> None:
        peaks = tuple(_finite(p, "peak_hours[...]") for p in self.peak_hours)
        if self.peak_width_h <= 0 or not math.isfinite(self.peak_width_h):
            raise ValueError(
                f"peak_width_h must be a finite number > 0 hours, got {self.peak_width_h!r}"
            )
        _in_range(self.peak_gain, "peak_gain", 0.0, math.inf)
        _in_range(self.night_floor, "night_floor", 0.0, 1.0)
        _in_range(self.weekly_amplitude, "weekly_amplitude", 0.0, 1.0, high_open=True)
        object.__setattr__(self, "peak_hours", peaks)
        for name in ("peak_width_h", "peak_gain", "night_floor", "weekly_amplitude"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def _raw_daily(self, hours: FloatArray) -> FloatArray:
        """Un-normalised daily shape at clock ``hours`` (any real hours; period 24 h)."""
        night_floor = self.night_floor
        phase = 2.0 * np.pi * (hours - _TROUGH_HOUR) / HOURS_PER_DAY
        base = night_floor + (1.0 - night_floor) * 0.5 * (1.0 - np.cos(phase))
        peaks = np.zeros_like(base)
        for p in self.peak_hours:
            # wrapped Gaussian: nearest copy of the peak plus its neighbours a day either side
            d = np.mod(hours - p + HOURS_PER_DAY / 2.0, HOURS_PER_DAY) - HOURS_PER_DAY / 2.0
            for shift in (-HOURS_PER_DAY, 0.0, HOURS_PER_DAY):
                peaks += np.exp(-0.5 * ((d + shift) / self.peak_width_h) ** 2)
        return base + self.peak_gain * peaks

    def at_hours(self, hours: ArrayLike) -> FloatArray:
        """Normalised profile at absolute ``hours`` since Monday 00:00 (any array shape)."""
        h = np.asarray(hours, dtype=np.float64)
        grid = np.arange(_NORMALISATION_SAMPLES, dtype=np.float64) * (
            HOURS_PER_DAY / _NORMALISATION_SAMPLES
        )
        day_mean = float(self._raw_daily(grid).mean())
        daily = self._raw_daily(h) / day_mean

        weekly_amplitude = self.weekly_amplitude
        if weekly_amplitude == 0.0:
            return daily
        weekday = np.mod(np.floor(h / HOURS_PER_DAY), DAYS_PER_WEEK).astype(np.int64)
        weekend = np.isin(weekday, WEEKEND_DAYS)
        # weekend days are scaled by (1 - a) relative to weekdays; the factor is rescaled so its
        # mean over the 7 days of a week is 1
        raw = np.where(weekend, 1.0 - weekly_amplitude, 1.0)
        week_mean = (
            (DAYS_PER_WEEK - len(WEEKEND_DAYS)) + len(WEEKEND_DAYS) * (1.0 - weekly_amplitude)
        ) / DAYS_PER_WEEK
        return daily * raw / week_mean


# --------------------------------------------------------------------------- profile


def diurnal_profile(
    n_slots: int, slot_s: float, *, start_hour: float = 0.0, shape: DiurnalShape | None = None
) -> FloatArray:
    """Dimensionless daily load shape ``[n_slots]`` (mean 1 per day); slot k is k·slot_s s later.

    Slot k sits at clock hour ``start_hour + k·slot_s/3600``; ``shape`` defaults to
    :class:`DiurnalShape` ``()``. Hour 0 is Monday 00:00; pass ``start_hour = 24·d + h`` to start
    on another day.
    """
    n_slots = _count(n_slots, "n_slots", 0)
    slot_s = _finite(slot_s, "slot_s")
    if slot_s <= 0:
        raise ValueError(f"slot_s must be > 0 seconds, got {slot_s!r}")
    start_hour = _finite(start_hour, "start_hour")
    hours = start_hour + np.arange(n_slots, dtype=np.float64) * (slot_s / SECONDS_PER_HOUR)
    return profile_at_hours(hours, shape)


def profile_at_hours(hours: ArrayLike, shape: DiurnalShape | None = None) -> FloatArray:
    """The :func:`diurnal_profile` shape at arbitrary clock ``hours`` (any array shape)."""
    return (DiurnalShape() if shape is None else shape).at_hours(hours)


# --------------------------------------------------------------------------- helpers for callers


def flow_to_load(flow: ArrayLike, bits_per_vehicle: ArrayLike) -> FloatArray:
    """Server load from a traffic-flow series, ``S_m(t) = S_v · flow_m(t)`` (paper B Sec. V).

    ``flow`` is vehicles per slot (any shape, e.g. ``[n_slots, n_servers]``) and
    ``bits_per_vehicle`` (S_v, bits — or cycles — per vehicle) broadcasts against it.
    """
    f = np.asarray(flow, dtype=np.float64)
    s = np.asarray(bits_per_vehicle, dtype=np.float64)
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ValueError("flow must be finite and >= 0 (vehicles per slot)")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"bits_per_vehicle must be finite and >= 0, got {bits_per_vehicle!r}")
    return s * f


def hotspot_multipliers(
    xy: ArrayLike, centres_xy: ArrayLike, radius_m: float, gain: float
) -> FloatArray:
    """Per-point load factor ``1 + (gain − 1)·exp(−d²/(2·radius_m²))``; d: metres to nearest centre.

    ``xy`` is ``[n, 2]`` metres, ``centres_xy`` ``[c, 2]`` metres; with no centres every factor
    is 1. ``gain`` is the factor at a centre (≥ 0; < 1 makes a cold spot).
    """
    pts = np.asarray(xy, dtype=np.float64)
    ctr = np.asarray(centres_xy, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"xy must have shape [n, 2] (metres), got shape {pts.shape}")
    if ctr.size == 0:
        return np.ones(pts.shape[0], dtype=np.float64)
    if ctr.ndim != 2 or ctr.shape[1] != 2:
        raise ValueError(f"centres_xy must have shape [c, 2] (metres), got shape {ctr.shape}")
    if not (np.all(np.isfinite(pts)) and np.all(np.isfinite(ctr))):
        raise ValueError("xy and centres_xy must contain only finite coordinates (metres)")
    radius = _finite(radius_m, "radius_m")
    if radius <= 0:
        raise ValueError(f"radius_m must be > 0 metres, got {radius_m!r}")
    g = _in_range(gain, "gain", 0.0, math.inf)
    diff = pts[:, None, :] - ctr[None, :, :]
    d2 = np.min(np.sum(diff * diff, axis=-1), axis=1)
    return 1.0 + (g - 1.0) * np.exp(-d2 / (2.0 * radius * radius))
