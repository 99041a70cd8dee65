"""Tests for vtwin.physics.energy: rotary-wing propulsion power and flight energy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.physics.energy import (
    Rotor,
    flight_energy_j,
    hover_energy_j,
    hover_power_w,
    rotary_wing_power_w,
)


def _power_by_hand(v: float) -> float:
    """The SPEC §0 formula written out literally with the default constants."""
    p0, pi_, u_tip, v0 = 79.86, 88.63, 120.0, 4.03
    d0, rho, s, a_r = 0.6, 1.225, 0.05, 0.503
    blade = p0 * (1.0 + 3.0 * v**2 / u_tip**2)
    induced = pi_ * math.sqrt(math.sqrt(1.0 + v**4 / (4.0 * v0**4)) - v**2 / (2.0 * v0**2))
    parasite = 0.5 * d0 * rho * s * a_r * v**3
    return blade + induced + parasite


def test_hover_power_is_p0_plus_pi() -> None:
    # P(0) = P0 + P_i = 79.86 + 88.63 = 168.49 W
    assert rotary_wing_power_w(0.0) == pytest.approx(168.49, abs=1e-12)
    assert hover_power_w() == pytest.approx(168.49, abs=1e-12)


def test_power_at_10_mps_by_hand() -> None:
    # blade    = 79.86·(1 + 300/14400)                      = 81.52375
    # induced  : y = 100/(2·4.03²) = 3.078647; √(1+y²) − y = 0.158337; √ = 0.397916; ×88.63
    #          = 35.26731
    # parasite = 0.5·0.6·1.225·0.05·0.503·1000                = 9.242625
    # total    ≈ 126.0337 W
    assert rotary_wing_power_w(10.0) == pytest.approx(126.0337, rel=1e-5)


@pytest.mark.parametrize("v", [0.0, 1.0, 3.7, 10.0, 25.0, 70.0, 150.0])
def test_power_matches_literal_formula(v: float) -> None:
    assert rotary_wing_power_w(v) == pytest.approx(_power_by_hand(v), rel=1e-9)


def test_power_minimum_is_at_moderate_speed() -> None:
    v = np.linspace(0.0, 40.0, 4001)
    p = rotary_wing_power_w(v)
    v_best = v[int(np.argmin(p))]
    # the well-known minimum-power speed of this model is about 10 m/s (P ≈ 126 W)
    assert 9.0 < v_best < 20.0
    assert rotary_wing_power_w(15.0) < hover_power_w()
    assert float(np.min(p)) == pytest.approx(126.0, abs=0.5)
    # beyond the minimum the V³ drag term takes over
    assert np.all(np.diff(p[v >= 12.0]) > 0.0)


def test_power_overrides() -> None:
    # only induced power at hover → P(0) = P_i
    assert rotary_wing_power_w(0.0, Rotor(blade_profile_w=0.0, induced_w=100.0)) == pytest.approx(
        100.0
    )
    assert hover_power_w(Rotor(blade_profile_w=50.0, induced_w=50.0)) == pytest.approx(100.0)
    # no drag, no induced power: P(V) = P0 (1 + 3 V²/U_tip²) = 10·(1 + 3·3600/14400) = 17.5
    assert rotary_wing_power_w(
        60.0, Rotor(blade_profile_w=10.0, induced_w=0.0, drag_ratio=0.0)
    ) == pytest.approx(17.5)


def test_power_broadcasts_and_rejects_negative_speed() -> None:
    p = rotary_wing_power_w(np.array([[0.0, 10.0], [20.0, 30.0]]))
    assert p.shape == (2, 2)
    assert p.dtype == np.float64
    with pytest.raises(ValueError, match=r"speed_mps must be >= 0, got -1\.0"):
        rotary_wing_power_w(-1.0)
    with pytest.raises(ValueError, match=r"tip_speed_mps must be > 0, got 0\.0"):
        Rotor(tip_speed_mps=0.0)


@settings(deadline=None)
@given(st.floats(min_value=0.0, max_value=300.0))
def test_power_positive_and_above_parasite(v: float) -> None:
    p = float(rotary_wing_power_w(v))
    assert p > 0.0
    assert p >= 0.5 * 0.6 * 1.225 * 0.05 * 0.503 * v**3


def test_flight_energy() -> None:
    # 1 km at 10 m/s takes 100 s at 126.0337 W → 12 603.37 J
    assert flight_energy_j(1000.0, 10.0) == pytest.approx(12_603.37, rel=1e-5)
    assert flight_energy_j(1000.0, 10.0) == pytest.approx(rotary_wing_power_w(10.0) * 100.0)
    # a zero-length flight costs nothing, whatever the speed (even 0)
    assert flight_energy_j(0.0, 0.0) == 0.0
    e = flight_energy_j(np.array([0.0, 500.0, 1000.0]), np.array([0.0, 5.0, 20.0]))
    np.testing.assert_allclose(
        e, [0.0, rotary_wing_power_w(5.0) * 100.0, rotary_wing_power_w(20.0) * 50.0]
    )


def test_flight_energy_rejects_zero_speed_for_positive_distance() -> None:
    with pytest.raises(ValueError, match=r"speed_mps must be > 0 when distance_m > 0, got 0\.0"):
        flight_energy_j(100.0, 0.0)
    with pytest.raises(ValueError, match=r"speed_mps must be > 0"):
        flight_energy_j([0.0, 100.0], [1.0, -3.0])
    with pytest.raises(ValueError, match=r"distance_m must be >= 0, got -1\.0"):
        flight_energy_j(-1.0, 10.0)


def test_energy_optimal_speed_beats_hover_speed_per_metre() -> None:
    # per metre, flying at ~14 m/s is far cheaper than crawling at 1 m/s
    assert flight_energy_j(1000.0, 14.0) < flight_energy_j(1000.0, 1.0) / 5.0


def test_hover_energy() -> None:
    # 10 s of hover at 168.49 W = 1684.9 J
    assert hover_energy_j(10.0) == pytest.approx(1684.9, rel=1e-12)
    np.testing.assert_allclose(hover_energy_j([0.0, 1.0]), [0.0, 168.49])
    assert hover_energy_j(2.0, Rotor(induced_w=0.0)) == pytest.approx(2.0 * 79.86)
    with pytest.raises(ValueError, match=r"duration_s must be >= 0, got -2\.0"):
        hover_energy_j(-2.0)
