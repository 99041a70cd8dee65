"""Tests for vtwin.physics.fidelity: paper D fidelity, motion, delay, utility, step split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.physics.channel import dbm_to_w, inverse_square_gain, shannon_rate_bps
from vtwin.physics.fidelity import (
    allocate_steps,
    fidelity,
    inference_latency_s,
    offload_latency_s,
    system_delay_s,
    system_utility,
    uav_move,
)


def test_fidelity_linear() -> None:
    # F_max (z − z_min)/(z_max − z_min) = 100·200/400 = 50
    assert fidelity(200.0, 0.0, 400.0, 100.0) == pytest.approx(50.0)
    # z_min = 100: 150·(250 − 100)/(600 − 100) = 45
    assert fidelity(250.0, 100.0, 600.0, 150.0) == pytest.approx(45.0)
    np.testing.assert_allclose(fidelity([0.0, 400.0], 0.0, 400.0, 100.0), [0.0, 100.0])


def test_fidelity_concave() -> None:
    # F_max ln(1 + 200)/ln(1 + 400) = 100·5.3033049/5.9939614 = 88.4774
    assert fidelity(200.0, 0.0, 400.0, 100.0, concave=True) == pytest.approx(88.4774, rel=1e-5)
    assert fidelity(400.0, 0.0, 400.0, 100.0, concave=True) == pytest.approx(100.0)
    assert fidelity(0.0, 0.0, 400.0, 100.0, concave=True) == 0.0
    # concave lies above the linear curve in between
    z = np.linspace(1.0, 399.0, 50)
    assert np.all(fidelity(z, 0, 400, 100, concave=True) > fidelity(z, 0, 400, 100))


def test_fidelity_clips_steps() -> None:
    # more than z_max adds nothing, fewer than z_min gives nothing
    assert fidelity(500.0, 0.0, 400.0, 100.0) == pytest.approx(100.0)
    assert fidelity(-5.0, 0.0, 400.0, 100.0) == 0.0
    assert fidelity(50.0, 100.0, 400.0, 100.0, concave=True) == 0.0


def test_fidelity_rejects_bad_range() -> None:
    with pytest.raises(
        ValueError, match=r"z_max must be > z_min, got z_max=100\.0 <= z_min=100\.0"
    ):
        fidelity(50.0, 100.0, 100.0, 10.0)
    with pytest.raises(ValueError, match=r"z_max must be > z_min"):
        fidelity(50.0, 0.0, [400.0, -1.0], 10.0)
    with pytest.raises(ValueError, match=r"f_max must be >= 0, got -1\.0"):
        fidelity(50.0, 0.0, 400.0, -1.0)


@settings(deadline=None)
@given(
    st.floats(min_value=0.0, max_value=600.0),
    st.floats(min_value=0.0, max_value=600.0),
    st.booleans(),
)
def test_fidelity_monotone_and_bounded(z1: float, z2: float, concave: bool) -> None:
    lo, hi = min(z1, z2), max(z1, z2)
    f_lo = float(fidelity(lo, 0.0, 500.0, 120.0, concave=concave))
    f_hi = float(fidelity(hi, 0.0, 500.0, 120.0, concave=concave))
    assert 0.0 <= f_lo <= f_hi <= 120.0 + 1e-9


def test_uav_move() -> None:
    # eqs. (2)–(3): 100 m/s for 1 s along +x, then along +y
    np.testing.assert_allclose(uav_move([0.0, 0.0], 100.0, 0.0, 1.0), [100.0, 0.0])
    np.testing.assert_allclose(
        uav_move([10.0, 20.0], 100.0, math.pi / 2, 1.0), [10.0, 120.0], atol=1e-12
    )
    # 3-4-5: heading atan2(4, 3) at 50 m/s for 0.1 s → (+3, +4)
    np.testing.assert_allclose(uav_move([1.0, 1.0], 50.0, math.atan2(4, 3), 0.1), [4.0, 5.0])
    xy = np.zeros((3, 2))
    out = uav_move(xy, np.array([0.0, 10.0, 20.0]), np.array([0.0, math.pi, -math.pi / 2]), 2.0)
    np.testing.assert_allclose(out, [[0.0, 0.0], [-20.0, 0.0], [0.0, -40.0]], atol=1e-12)
    with pytest.raises(ValueError, match=r"speed_mps must be >= 0, got -1\.0"):
        uav_move([0.0, 0.0], -1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"xy must have a last axis of length 2"):
        uav_move([0.0, 0.0, 0.0], 1.0, 0.0, 1.0)


@settings(deadline=None)
@given(
    st.floats(min_value=0.0, max_value=150.0),
    st.floats(min_value=-10.0, max_value=10.0),
    st.floats(min_value=0.1, max_value=10.0),
)
def test_uav_move_distance_is_speed_times_slot(speed: float, heading: float, slot: float) -> None:
    new = uav_move([5.0, -7.0], speed, heading, slot)
    assert float(np.hypot(new[0] - 5.0, new[1] + 7.0)) == pytest.approx(
        speed * slot, rel=1e-9, abs=1e-9
    )


def test_inference_and_offload_latency() -> None:
    # z/f_u = 400 steps / 200 steps/s = 2 s
    assert inference_latency_s(400.0, 200.0) == pytest.approx(2.0)
    # 24 KB = 24·1024·8 = 196 608 bit at 1 Mbit/s = 0.196608 s, + 2 s inference
    assert offload_latency_s(196_608.0, 1e6, 400.0, 200.0) == pytest.approx(2.196608)
    np.testing.assert_allclose(inference_latency_s([0.0, 100.0], [100.0, 400.0]), [0.0, 0.25])
    with pytest.raises(ValueError, match=r"steps_per_s must be > 0, got 0\.0"):
        inference_latency_s(10.0, 0.0)
    with pytest.raises(ValueError, match=r"steps must be >= 0"):
        inference_latency_s(-1.0, 100.0)


def test_offload_latency_with_paper_d_channel() -> None:
    # sensor under a UAV at 50 m: g = 1/2500; p = 0.1 W; σ² = −100 dBm = 1e-13 W; B = 1 MHz
    # R = 1e6·log2(1 + 4e8) = 28.5754 Mbit/s; 24 KB takes 196 608/28.5754e6 = 6.880 ms
    rate = shannon_rate_bps(1e6, 0.1, inverse_square_gain(1.0, 0.0, 50.0), dbm_to_w(-100.0))
    t = offload_latency_s(196_608.0, rate, 300.0, 300.0)
    assert t == pytest.approx(196_608.0 / (1e6 * math.log2(1.0 + 4e8)) + 1.0, rel=1e-9)
    assert t == pytest.approx(1.006880, rel=1e-5)


def test_system_delay() -> None:
    t = np.array([1.0, 2.0, 3.0, 4.0])
    uav = np.array([0, 0, 1, -1])  # the last task stays local and does not count
    assert system_delay_s(t, uav, 2) == pytest.approx(6.0)  # 1 + 2 + 3
    # max per UAV: max(1, 2) + 3 = 5
    assert system_delay_s(t, uav, 2, aggregate="max_per_uav") == pytest.approx(5.0)
    batched = system_delay_s(np.array([t, t]), np.array([uav, [-1, -1, -1, -1]]), 2)
    np.testing.assert_allclose(batched, [6.0, 0.0])
    with pytest.raises(ValueError, match=r"assigned_uav must be in \[-1, 1\], got 2"):
        system_delay_s(t, np.array([0, 2, 0, 0]), 2)
    with pytest.raises(ValueError, match=r"aggregate must be 'sum' or 'max_per_uav'"):
        system_delay_s(t, uav, 2, aggregate="mean")  # type: ignore[arg-type]


def test_system_utility() -> None:
    # w1 Σ F − w2 T = 1·(50 + 30) − 10·2.5 = 55
    assert system_utility([50.0, 30.0], 2.5, 1.0, 10.0) == pytest.approx(55.0)
    np.testing.assert_allclose(
        system_utility(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 0.0]), 2.0, 1.0),
        [5.0, 14.0],
    )
    with pytest.raises(ValueError, match=r"total_delay_s must be >= 0"):
        system_utility([1.0], -1.0, 1.0, 1.0)


def test_allocate_steps() -> None:
    # z_k = w_k/Σw · Z_u = [1, 3]/4 · 400 = [100, 300]
    np.testing.assert_allclose(allocate_steps([1.0, 3.0], 400.0), [100.0, 300.0])
    # zero weight → zero steps; all-zero weights → nothing allocated
    np.testing.assert_allclose(allocate_steps([0.0, 2.0, 2.0], 100.0), [0.0, 50.0, 50.0])
    np.testing.assert_allclose(allocate_steps([0.0, 0.0], 100.0), [0.0, 0.0])
    out = allocate_steps(np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([100.0, 50.0]))
    np.testing.assert_allclose(out, [[50.0, 50.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"weights must be >= 0, got -1\.0"):
        allocate_steps([1.0, -1.0], 100.0)
    with pytest.raises(ValueError, match=r"budget must be >= 0"):
        allocate_steps([1.0], -5.0)


@settings(deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e3), min_size=1, max_size=20),
    st.floats(min_value=0.0, max_value=1e4),
)
def test_allocate_steps_respects_budget(weights: list[float], budget: float) -> None:
    z = allocate_steps(weights, budget)
    assert np.all(z >= 0.0)
    if sum(weights) > 0.0:
        assert float(np.sum(z)) == pytest.approx(budget, rel=1e-9, abs=1e-9)
    else:
        assert float(np.sum(z)) == 0.0
