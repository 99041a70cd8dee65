"""Tests of vtwin.world.workload: diurnal profile, synthetic series, flow and hotspot helpers."""

from __future__ import annotations

import numpy as np
import pytest

from vtwin.world.workload import (
    DiurnalShape,
    diurnal_profile,
    flow_to_load,
    hotspot_multipliers,
    profile_at_hours,
)

SLOTS_PER_DAY_60S = 24 * 60


def _local_maxima_hours(p: np.ndarray, slot_s: float) -> np.ndarray:
    inner = (p[1:-1] > p[:-2]) & (p[1:-1] >= p[2:])
    return (np.flatnonzero(inner) + 1) * slot_s / 3600.0


# --------------------------------------------------------------------------- profile


def test_profile_mean_one_over_whole_days() -> None:
    p = diurnal_profile(3 * SLOTS_PER_DAY_60S, 60.0)
    assert p.shape == (3 * SLOTS_PER_DAY_60S,)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p.mean(), 1.0, rtol=1e-9)
    # any full day, whatever the start hour, averages to 1
    shape = DiurnalShape(peak_hours=(7.0, 17.5), night_floor=0.1)
    shifted = diurnal_profile(96, 900.0, start_hour=7.3, shape=shape)
    np.testing.assert_allclose(shifted.mean(), 1.0, rtol=1e-6)


def test_profile_peaks_near_rush_hours_and_low_at_night() -> None:
    p = diurnal_profile(SLOTS_PER_DAY_60S, 60.0)
    maxima = _local_maxima_hours(p, 60.0)
    assert len(maxima) == 2
    assert abs(maxima[0] - 8.5) < 0.5
    assert abs(maxima[1] - 18.0) < 0.5
    hours = np.arange(SLOTS_PER_DAY_60S) / 60.0
    night = p[(hours >= 2) & (hours <= 5)]
    assert night.max() < 0.6 * p.max()
    assert np.all(p > 0)


def test_profile_is_periodic_and_smooth() -> None:
    p = diurnal_profile(2 * SLOTS_PER_DAY_60S, 60.0, start_hour=3.0)
    np.testing.assert_allclose(p[:SLOTS_PER_DAY_60S], p[SLOTS_PER_DAY_60S:], rtol=1e-12)
    # no jumps between neighbouring minutes (including across midnight)
    assert np.max(np.abs(np.diff(p))) < 0.02


def test_profile_weekend_dip_and_weekly_mean() -> None:
    slots_per_week = 7 * 24
    p = diurnal_profile(slots_per_week, 3600.0, shape=DiurnalShape(weekly_amplitude=0.4))
    np.testing.assert_allclose(p.mean(), 1.0, rtol=1e-9)
    day_means = p.reshape(7, 24).mean(axis=1)
    np.testing.assert_allclose(day_means[5:] / day_means[:5].mean(), 0.6, rtol=1e-9)
    np.testing.assert_allclose(day_means[:5], day_means[0], rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_slots": -1}, "n_slots"),
        ({"slot_s": 0.0}, "slot_s"),
        ({"peak_width_h": 0.0}, "peak_width_h"),
        ({"peak_gain": -0.1}, "peak_gain"),
        ({"night_floor": 1.5}, "night_floor"),
        ({"weekly_amplitude": 1.0}, "weekly_amplitude"),
    ],
)
def test_profile_rejects_bad_arguments(kwargs: dict, field: str) -> None:
    args = {"n_slots": 10, "slot_s": 60.0}
    args.update(kwargs)
    n_slots, slot_s = args.pop("n_slots"), args.pop("slot_s")
    with pytest.raises(ValueError, match=field):
        diurnal_profile(n_slots, slot_s, shape=DiurnalShape(**args))


def test_profile_at_hours_matches_the_slot_profile() -> None:
    shape = DiurnalShape(peak_hours=(9.0,), weekly_amplitude=0.2)
    hours = np.arange(48, dtype=np.float64) * 3.5
    np.testing.assert_array_equal(
        profile_at_hours(hours, shape), diurnal_profile(48, 3.5 * 3600.0, shape=shape)
    )
    np.testing.assert_array_equal(profile_at_hours([1.0, 2.0]), DiurnalShape().at_hours([1, 2]))


# --------------------------------------------------------------------------- helpers


def test_flow_to_load() -> None:
    flow = np.array([[0.0, 10.0], [3.0, 4.5]])
    np.testing.assert_allclose(flow_to_load(flow, 8.0e6), flow * 8.0e6)
    np.testing.assert_allclose(flow_to_load(flow, [1.0, 2.0]), [[0.0, 20.0], [3.0, 9.0]])
    with pytest.raises(ValueError, match="flow"):
        flow_to_load([-1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="bits_per_vehicle"):
        flow_to_load([1.0, 2.0], -1.0)


def test_hotspot_multipliers() -> None:
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [1e6, 0.0], [500.0, 0.0]])
    centres = np.array([[0.0, 0.0], [500.0, 10.0]])
    m = hotspot_multipliers(xy, centres, radius_m=100.0, gain=3.0)
    expected_1 = 1.0 + 2.0 * np.exp(-0.5)  # 100 m from the first centre: one radius
    expected_3 = 1.0 + 2.0 * np.exp(-100.0 / 20000.0)  # 10 m from the second centre
    np.testing.assert_allclose(m, [3.0, expected_1, 1.0, expected_3])
    np.testing.assert_array_equal(hotspot_multipliers(xy, np.zeros((0, 2)), 10.0, 5.0), 1.0)
    with pytest.raises(ValueError, match="radius_m"):
        hotspot_multipliers(xy, centres, radius_m=0.0, gain=2.0)
    with pytest.raises(ValueError, match="gain"):
        hotspot_multipliers(xy, centres, radius_m=10.0, gain=-1.0)
