"""Tests for vtwin.physics.channel: path gain, Shannon rate, power units."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.physics.channel import (
    CARRIER_SPEED_MPS,
    db_to_linear,
    dbm_to_w,
    inverse_square_gain,
    linear_to_db,
    noise_power_w,
    path_gain,
    shannon_rate_bps,
    w_to_dbm,
)


def test_carrier_speed() -> None:
    assert CARRIER_SPEED_MPS == 3.0e8


def test_path_gain_free_space_2_4ghz_100m() -> None:
    # c/(4π f d) = 3e8/(4π·2.4e9·100) = 1/(3200π) = 9.9471839e-5; squared = 9.8946468e-9
    expected = 1.0 / (3200.0 * math.pi) ** 2
    assert expected == pytest.approx(9.8946468e-9, rel=1e-7)
    assert path_gain(100.0, 2.4e9) == pytest.approx(expected, rel=1e-9)


def test_path_gain_paper_c_parameters() -> None:
    # A = 4.11, f = 915 MHz, ξ = 2.8, d = 200 m:
    # c/(4π f d) = 3e8/(4π·915e6·200) = 3/(4π·1830) = 1.30454e-4;
    # ln = −8.94449, ×2.8 = −25.0446 → e^… = 1.3283e-11; ×4.11 = 5.4592e-11
    base = 3.0 / (4.0 * math.pi * 1830.0)
    assert base == pytest.approx(1.30454e-4, rel=1e-5)
    expected = 4.11 * base**2.8
    assert path_gain(200.0, 915e6, antenna_gain=4.11, exponent=2.8) == pytest.approx(
        expected, rel=1e-9
    )
    assert expected == pytest.approx(5.4592e-11, rel=1e-4)


def test_path_gain_scaling_with_distance_and_exponent() -> None:
    g = path_gain(np.array([10.0, 100.0, 1000.0]), 2.4e9)
    # ξ = 2: every decade of distance costs a factor 100
    np.testing.assert_allclose(g[:-1] / g[1:], [100.0, 100.0], rtol=1e-12)
    g28 = path_gain(np.array([10.0, 100.0]), 2.4e9, exponent=2.8)
    assert g28[0] / g28[1] == pytest.approx(10.0**2.8, rel=1e-12)


def test_path_gain_clamps_distance_to_one_metre() -> None:
    assert path_gain(0.0, 2.4e9) == path_gain(1.0, 2.4e9)
    assert path_gain(0.3, 2.4e9) == path_gain(1.0, 2.4e9)
    assert np.isfinite(path_gain(0.0, 2.4e9))


def test_path_gain_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"distance_m must be >= 0, got -5\.0"):
        path_gain(-5.0, 2.4e9)
    with pytest.raises(ValueError, match=r"carrier_hz must be > 0, got 0\.0"):
        path_gain(10.0, 0.0)
    with pytest.raises(ValueError, match=r"exponent must be > 0"):
        path_gain(10.0, 2.4e9, exponent=0.0)


def test_shannon_rate_hand_values() -> None:
    # B = 1 MHz, SNR = 1·1e-9/1e-12 = 1000 → 1e6·log2(1001) = 9.967226e6 bit/s
    assert shannon_rate_bps(1e6, 1.0, 1e-9, 1e-12) == pytest.approx(
        1e6 * math.log2(1001.0), rel=1e-12
    )
    assert 1e6 * math.log2(1001.0) == pytest.approx(9.967226e6, rel=1e-6)
    # SNR = 1 → exactly one bit per hertz
    assert shannon_rate_bps(10e6, 2.0, 0.5, 1.0) == pytest.approx(10e6, rel=1e-15)
    # no power → no rate
    assert shannon_rate_bps(10e6, 0.0, 0.5, 1.0) == 0.0


def test_shannon_rate_broadcasts() -> None:
    r = shannon_rate_bps(np.array([1e6, 2e6]), 1.0, np.array([[1.0], [3.0]]), 1.0)
    assert r.shape == (2, 2)
    np.testing.assert_allclose(r, [[1e6, 2e6], [2e6, 4e6]], rtol=1e-12)


def test_shannon_rate_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"bandwidth_hz must be >= 0, got -1\.0"):
        shannon_rate_bps(-1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"noise_w must be > 0, got 0\.0"):
        shannon_rate_bps(1.0, 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"tx_power_w must be >= 0"):
        shannon_rate_bps(1.0, [1.0, -2.0], 1.0, 1.0)
    with pytest.raises(ValueError, match=r"gain must be >= 0"):
        shannon_rate_bps(1.0, 1.0, -1e-9, 1.0)


@settings(deadline=None)
@given(
    st.floats(min_value=1.0, max_value=1e5),
    st.floats(min_value=1.0, max_value=1e5),
)
def test_rate_falls_with_distance(d1: float, d2: float) -> None:
    near, far = min(d1, d2), max(d1, d2)
    noise = dbm_to_w(-100.0)
    r_near = shannon_rate_bps(300e6, 1.0, path_gain(near, 2.4e9), noise)
    r_far = shannon_rate_bps(300e6, 1.0, path_gain(far, 2.4e9), noise)
    assert r_near >= r_far
    if far > near * (1.0 + 1e-9):
        assert r_near > r_far


def test_dbm_conversions() -> None:
    assert dbm_to_w(30.0) == pytest.approx(1.0, rel=1e-15)
    assert dbm_to_w(0.0) == pytest.approx(1e-3, rel=1e-15)
    assert dbm_to_w(-100.0) == pytest.approx(1e-13, rel=1e-12)
    assert dbm_to_w(43.0) == pytest.approx(19.9526, rel=1e-5)  # paper C RSU power
    assert w_to_dbm(1.0) == pytest.approx(30.0, abs=1e-12)
    assert w_to_dbm(0.01) == pytest.approx(10.0, abs=1e-12)  # paper C AV power 10 dBm
    assert w_to_dbm(0.0) == -np.inf
    x = np.array([-174.0, -100.0, 0.0, 23.0, 43.0])
    np.testing.assert_allclose(w_to_dbm(dbm_to_w(x)), x, atol=1e-10)
    with pytest.raises(ValueError, match=r"w must be >= 0, got -1\.0"):
        w_to_dbm(-1.0)


def test_db_conversions() -> None:
    # β0 = 1 dB as printed in paper D → 10^0.1 = 1.258925
    assert db_to_linear(1.0) == pytest.approx(1.2589254, rel=1e-7)
    assert db_to_linear(-30.0) == pytest.approx(1e-3, rel=1e-12)
    assert linear_to_db(100.0) == pytest.approx(20.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"ratio must be >= 0"):
        linear_to_db(-1.0)


def test_noise_power_from_density() -> None:
    # −174 dBm/Hz over 10 MHz = −174 + 70 = −104 dBm = 10^(−13.4) W = 3.981e-14 W
    n = noise_power_w(-174.0, 10e6)
    assert n == pytest.approx(3.9810717e-14, rel=1e-7)
    assert w_to_dbm(n) == pytest.approx(-104.0, abs=1e-9)
    with pytest.raises(ValueError, match=r"bandwidth_hz must be >= 0, got -1\.0"):
        noise_power_w(-174.0, -1.0)


def test_inverse_square_gain() -> None:
    # paper D eq. (7): β0/(H² + d²) = 1/(30² + 40²) = 1/2500 = 4e-4
    assert inverse_square_gain(1.0, 40.0, 30.0) == pytest.approx(4e-4, rel=1e-15)
    # UAV at 50 m straight above the sensor: β0/2500
    assert inverse_square_gain(2.0, 0.0, 50.0) == pytest.approx(8e-4, rel=1e-15)
    # slant range clamped to 1 m: on top of the transmitter the gain is β0
    assert inverse_square_gain(1.5, 0.0) == pytest.approx(1.5, rel=1e-15)
    np.testing.assert_allclose(
        inverse_square_gain(1.0, np.array([0.0, 50.0]), 50.0), [1 / 2500, 1 / 5000]
    )
    with pytest.raises(ValueError, match=r"altitude_m must be >= 0, got -1\.0"):
        inverse_square_gain(1.0, 10.0, -1.0)


def test_paper_d_link_rate() -> None:
    # 1 MHz, 0.1 W, β0 = 1 (linear), H = 50 m, d = 0 → g = 4e-4; σ² = −100 dBm = 1e-13 W
    # SNR = 0.1·4e-4/1e-13 = 4e8 → R = 1e6·log2(1 + 4e8) = 28.575 Mbit/s
    g = inverse_square_gain(1.0, 0.0, 50.0)
    r = shannon_rate_bps(1e6, 0.1, g, dbm_to_w(-100.0))
    assert r == pytest.approx(1e6 * math.log2(1.0 + 4e8), rel=1e-9)
    assert r == pytest.approx(28.575e6, rel=1e-4)


def test_unchecked_skips_range_checks_only_inside_the_block() -> None:
    """``unchecked()`` turns the argument checks off for an inner loop, gives the same bits
    for valid input, and restores the checks afterwards (also after an exception)."""
    from vtwin.physics import unchecked

    rng = np.random.default_rng(0)
    d, p = rng.uniform(1.0, 500.0, 64), rng.uniform(0.1, 1.0, 64)
    checked = shannon_rate_bps(1e6, p, path_gain(d, 2.4e9), 1e-13)
    with unchecked():
        fast = shannon_rate_bps(1e6, p, path_gain(d, 2.4e9), 1e-13)
        path_gain(-1.0, 2.4e9)  # not checked in here
    np.testing.assert_array_equal(fast, checked)
    with pytest.raises(ValueError, match="distance_m must be >= 0"):
        path_gain(-1.0, 2.4e9)
    with pytest.raises(RuntimeError), unchecked():
        raise RuntimeError
    with pytest.raises(ValueError, match="distance_m"):
        path_gain(-1.0, 2.4e9)
