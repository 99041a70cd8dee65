"""Tests for vtwin.physics.geo: haversine, slant range, planar distance, local projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.physics.geo import (
    CHORD_EXACT_M,
    EARTH_RADIUS_M,
    LocalProjection,
    SphereOffsets,
    arc_from_squared_chord,
    chord_to_arc_m,
    euclidean_m,
    haversine_m,
    slant_distance_m,
    squared_chords,
    taylor_cos_sin,
    unit_vectors,
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


# --------------------------------------------------------------------------- sphere offsets

BEIJING = (39.9042, 116.4074)


def test_unit_vectors_hand_values() -> None:
    np.testing.assert_allclose(
        unit_vectors([[0.0, 0.0], [0.0, 90.0], [90.0, 0.0]]), np.eye(3), atol=1e-15
    )


def test_taylor_cos_sin_matches_numpy_within_its_range() -> None:
    x = np.linspace(-0.02, 0.02, 2001)
    c, s = taylor_cos_sin(x)
    np.testing.assert_allclose(c, np.cos(x), rtol=0, atol=2e-16)
    np.testing.assert_allclose(s, np.sin(x), rtol=0, atol=2e-16)


def test_offsets_agree_with_numpy_trigonometry_near_and_far() -> None:
    sphere = SphereOffsets(BEIJING)
    rng = np.random.default_rng(0)
    near = np.array(BEIJING) + rng.uniform(-1.0, 1.0, (50, 2))  # Taylor branch (≤ 0.02 rad)
    far = np.array(BEIJING) + rng.uniform(-30.0, 30.0, (50, 2))  # np.cos / np.sin branch
    for pts in (near, far):
        phi, lam = np.radians(pts[:, 0]), np.radians(pts[:, 1])
        exact = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)
        expected = (exact - unit_vectors(BEIJING)) * EARTH_RADIUS_M
        np.testing.assert_allclose(sphere.offsets(pts), expected, rtol=0, atol=1e-6)
    assert sphere.offsets(np.array(BEIJING)) == pytest.approx(np.zeros(3), abs=1e-9)


def test_chord_arcs_agree_with_haversine() -> None:
    sphere = SphereOffsets(BEIJING)
    rng = np.random.default_rng(1)
    a = np.array(BEIJING) + rng.uniform(-0.5, 0.5, (200, 2))  # within ~60 km: chord = arc
    b = np.array(BEIJING) + rng.uniform(-0.5, 0.5, (200, 2))
    chord = np.linalg.norm(sphere.offsets(a) - sphere.offsets(b), axis=-1)
    truth = haversine_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    np.testing.assert_allclose(chord_to_arc_m(chord), truth, rtol=1e-9, atol=1e-6)
    # float32 kernel: d = c below CHORD_EXACT_M (relative error < 5e-6, float32 adds ~1e-7)
    off_a = sphere.offsets(a).astype(np.float32)[None]  # [1, 200, 3]
    cols = tuple(sphere.offsets(b).astype(np.float32)[None, None, :, k] for k in range(3))
    q = np.empty((1, 200, 200), dtype=np.float32)
    squared_chords(off_a, cols, q)
    arcs = arc_from_squared_chord(q)
    assert arcs.dtype == np.float32
    np.testing.assert_allclose(np.diagonal(arcs[0]), truth, rtol=5e-6, atol=0.05)


def test_arc_from_squared_chord_beyond_the_exact_limit_uses_asin() -> None:
    # Beijing–Shanghai (~1 067 km) is far beyond 64 km: the chord is shorter than the arc
    sh = (31.2304, 121.4737)
    sphere = SphereOffsets(BEIJING)
    c = float(np.linalg.norm(sphere.offsets(np.array(sh)) - sphere.offsets(np.array(BEIJING))))
    assert c > CHORD_EXACT_M
    q = np.array([c * c, 1000.0**2], dtype=np.float32)
    out = arc_from_squared_chord(q)
    assert out is q
    truth = haversine_m(*BEIJING, *sh)
    assert out[0] == pytest.approx(truth, rel=1e-6) and c < truth
    assert out[1] == pytest.approx(1000.0)


def test_sphere_offsets_rejects_a_bad_centre() -> None:
    with pytest.raises(ValueError, match="centre_latlon_deg"):
        SphereOffsets([1.0, 2.0, 3.0])
