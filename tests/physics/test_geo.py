"""Tests for vtwin.physics.geo: haversine, slant range, planar distance, local projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.physics.geo import (
    EARTH_RADIUS_M,
    LocalProjection,
    euclidean_m,
    haversine_m,
    slant_distance_m,
)

lat = st.floats(min_value=-89.9, max_value=89.9, allow_nan=False)
lon = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)
point = st.tuples(lat, lon)


def test_one_degree_of_latitude() -> None:
    # R·π/180 = 6 371 000 × 0.017453292519943 = 111 194.93 m
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_194.93, abs=0.01)
    assert haversine_m(45.0, 10.0, 46.0, 10.0) == pytest.approx(111_194.93, abs=0.01)


def test_one_degree_of_longitude_on_equator() -> None:
    # along the equator a degree of longitude is the same arc as a degree of latitude
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111_194.93, abs=0.01)


def test_antipodes_are_half_a_circumference_apart() -> None:
    # π R = 3.141592653589793 × 6 371 000 = 20 015 086.80 m
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(20_015_086.80, abs=0.01)
    assert haversine_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * EARTH_RADIUS_M, rel=1e-12)


def test_beijing_shanghai() -> None:
    # Beijing (39.9042 N, 116.4074 E) to Shanghai (31.2304 N, 121.4737 E): the usual quoted
    # great-circle distance is about 1 067 km.
    d = haversine_m(39.9042, 116.4074, 31.2304, 121.4737)
    assert d == pytest.approx(1_067_000.0, rel=5e-3)


def test_haversine_broadcasts() -> None:
    lats = np.array([0.0, 1.0, 2.0])
    d = haversine_m(0.0, 0.0, lats, 0.0)
    assert d.shape == (3,)
    assert d.dtype == np.float64
    np.testing.assert_allclose(d, [0.0, 111_194.926, 222_389.853], atol=1e-3)


@settings(deadline=None)
@given(point, point)
def test_haversine_symmetric_nonnegative(a: tuple[float, float], b: tuple[float, float]) -> None:
    d_ab = haversine_m(a[0], a[1], b[0], b[1])
    d_ba = haversine_m(b[0], b[1], a[0], a[1])
    assert d_ab >= 0.0
    assert d_ab == pytest.approx(d_ba, rel=1e-12, abs=1e-6)
    assert d_ab <= math.pi * EARTH_RADIUS_M + 1e-6


@settings(deadline=None)
@given(point)
def test_haversine_zero_on_identical_points(a: tuple[float, float]) -> None:
    assert haversine_m(a[0], a[1], a[0], a[1]) == 0.0


@settings(deadline=None)
@given(point, point, point)
def test_haversine_triangle_inequality(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    d_ac = haversine_m(a[0], a[1], c[0], c[1])
    d_ab = haversine_m(a[0], a[1], b[0], b[1])
    d_bc = haversine_m(b[0], b[1], c[0], c[1])
    # asin near 1 (near-antipodal points) loses a few digits; 0.5 m slack on 20 000 km
    assert d_ac <= d_ab + d_bc + 0.5


def test_slant_distance() -> None:
    # 3-4-5 triangle: √(300² + 400²) = 500
    assert slant_distance_m(300.0, 400.0) == pytest.approx(500.0, rel=1e-15)
    # no altitude: slant = ground
    assert slant_distance_m(1234.5, 0.0) == pytest.approx(1234.5, rel=1e-15)
    np.testing.assert_allclose(slant_distance_m([0.0, 50.0], 50.0), [50.0, 50.0 * math.sqrt(2)])


def test_euclidean() -> None:
    assert euclidean_m([0.0, 0.0], [3.0, 4.0]) == pytest.approx(5.0, rel=1e-15)
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [-6.0, 8.0]])
    np.testing.assert_allclose(euclidean_m(pts, [0.0, 0.0]), [0.0, math.sqrt(2.0), 10.0])


def test_local_projection_hand_values() -> None:
    proj = LocalProjection(60.0, 10.0)
    np.testing.assert_allclose(proj.to_xy(60.0, 10.0), [0.0, 0.0], atol=1e-9)
    # 1° north = 111 194.93 m; 1° east at 60° N = 111 194.93 × cos 60° = 55 597.46 m
    np.testing.assert_allclose(proj.to_xy(61.0, 10.0), [0.0, 111_194.93], atol=0.01)
    np.testing.assert_allclose(proj.to_xy(60.0, 11.0), [55_597.46, 0.0], atol=0.01)
    assert proj.to_xy([60.0, 61.0], [10.0, 11.0]).shape == (2, 2)


@settings(deadline=None)
@given(
    st.floats(min_value=-70.0, max_value=70.0),
    st.floats(min_value=-179.0, max_value=179.0),
    st.floats(min_value=-0.2, max_value=0.2),
    st.floats(min_value=-0.2, max_value=0.2),
)
def test_local_projection_round_trip(o_lat: float, o_lon: float, dlat: float, dlon: float) -> None:
    proj = LocalProjection(o_lat, o_lon)
    xy = proj.to_xy(o_lat + dlat, o_lon + dlon)
    back = proj.to_latlon(xy)
    np.testing.assert_allclose(back, [o_lat + dlat, o_lon + dlon], atol=1e-9)


@settings(deadline=None)
@given(
    st.floats(min_value=-55.0, max_value=55.0),
    st.floats(min_value=-179.0, max_value=179.0),
    st.floats(min_value=10.0, max_value=20_000.0),
    st.floats(min_value=0.0, max_value=2.0 * math.pi),
)
def test_local_projection_agrees_with_haversine_over_20km(
    o_lat: float, o_lon: float, dist_m: float, bearing: float
) -> None:
    proj = LocalProjection(o_lat, o_lon)
    xy = np.array([dist_m * math.sin(bearing), dist_m * math.cos(bearing)])
    lat_p, lon_p = proj.to_latlon(xy)
    planar = float(np.hypot(*xy))
    great_circle = float(haversine_m(o_lat, o_lon, lat_p, lon_p))
    assert great_circle == pytest.approx(planar, rel=1e-3)
