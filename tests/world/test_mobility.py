"""Tests of vtwin.world.mobility: Manhattan grid driving, trace replay, static positions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.data.traces import Trace
from vtwin.physics.geo import LocalProjection
from vtwin.world.mobility import (
    ManhattanGridMobility,
    Mobility,
    StaticMobility,
    TraceReplayMobility,
)

BLOCK_M = 100.0
NBX, NBY = 4, 3
ORIGIN = (250.0, -40.0)


def _grid(seed: int = 0, n: int = 30, speed: float | tuple[float, float] = (5.0, 25.0), **kw):
    params = {
        "block_m": BLOCK_M,
        "n_blocks_x": NBX,
        "n_blocks_y": NBY,
        "speed_mps": speed,
        "slot_s": 10.0,
        "rng": np.random.default_rng(seed),
        "origin_xy": ORIGIN,
    }
    params.update(kw)
    return ManhattanGridMobility(n, **params)


def _on_grid(xy: np.ndarray, origin=ORIGIN, block=BLOCK_M, tol=1e-6) -> np.ndarray:
    """True where a point lies on a street: x or y is a whole number of blocks from the origin."""
    rel = (xy - np.asarray(origin)) / block
    return np.any(np.abs(rel - np.round(rel)) * block <= tol, axis=-1)


# --------------------------------------------------------------------------- grid mobility


def test_grid_satisfies_protocol_and_shapes() -> None:
    m = _grid(n=7)
    assert isinstance(m, Mobility)
    assert m.n == 7
    assert m.positions(0).shape == (7, 2)
    assert m.positions(0).dtype == np.float64
    assert m.trajectory(12).shape == (12, 7, 2)
    assert m.active(5).dtype == np.bool_
    assert m.active(5).all()


def test_grid_same_seed_same_trajectory_different_seed_differs() -> None:
    a = _grid(seed=3).trajectory(50)
    b = _grid(seed=3).trajectory(50)
    c = _grid(seed=4).trajectory(50)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_grid_lazy_cache_consistent_regardless_of_query_order() -> None:
    m1 = _grid(seed=9)
    late = m1.positions(40)
    early = m1.positions(3)
    m2 = _grid(seed=9)
    traj = m2.trajectory(41)
    np.testing.assert_array_equal(late, traj[40])
    np.testing.assert_array_equal(early, traj[3])
    np.testing.assert_array_equal(m1.positions(40), late)  # repeated call, identical
    # returned arrays are copies: mutating them does not corrupt the cache
    late[:] = -1.0
    np.testing.assert_array_equal(m1.positions(40), traj[40])


def test_grid_not_affected_by_later_use_of_callers_rng() -> None:
    rng_a = np.random.default_rng(5)
    rng_b = np.random.default_rng(5)
    kw = {"block_m": 50.0, "n_blocks_x": 3, "n_blocks_y": 3, "speed_mps": 12.0, "slot_s": 5.0}
    a = ManhattanGridMobility(10, rng=rng_a, **kw)
    b = ManhattanGridMobility(10, rng=rng_b, **kw)
    rng_b.random(1000)  # someone else draws from the shared generator afterwards
    np.testing.assert_array_equal(a.trajectory(30), b.trajectory(30))


def test_grid_positions_on_streets_and_inside_area() -> None:
    m = _grid(seed=1, n=40, speed=(0.0, 60.0))  # up to 6 blocks per slot
    traj = m.trajectory(300)
    assert np.all(_on_grid(traj))
    (x0, y0), (x1, y1) = m.bounds_xy
    assert (x0, y0) == ORIGIN
    assert (x1, y1) == (ORIGIN[0] + NBX * BLOCK_M, ORIGIN[1] + NBY * BLOCK_M)
    assert np.all(traj[..., 0] >= x0 - 1e-9)
    assert np.all(traj[..., 0] <= x1 + 1e-9)
    assert np.all(traj[..., 1] >= y0 - 1e-9)
    assert np.all(traj[..., 1] <= y1 + 1e-9)


def test_grid_displacement_bounded_by_distance_driven() -> None:
    m = _grid(seed=2, n=40, speed=(1.0, 45.0))
    traj = m.trajectory(200)
    step = m.speeds_mps * m.slot_s
    l1 = np.abs(np.diff(traj, axis=0)).sum(axis=-1)
    l2 = np.hypot(*np.moveaxis(np.diff(traj, axis=0), -1, 0))
    assert np.all(l1 <= step[None, :] + 1e-9)
    assert np.all(l2 <= step[None, :] + 1e-9)


def test_grid_short_steps_move_exactly_speed_times_slot_in_l1() -> None:
    # speed * slot < block: at most one intersection per slot, and U-turns never happen on a
    # grid with >= 1 block each way, so the L1 displacement equals the distance driven
    m = _grid(seed=4, n=50, speed=(1.0, 9.5))  # <= 95 m per slot of 10 s, blocks of 100 m
    traj = m.trajectory(300)
    l1 = np.abs(np.diff(traj, axis=0)).sum(axis=-1)
    step = m.speeds_mps * m.slot_s
    np.testing.assert_allclose(l1, np.broadcast_to(step, l1.shape), atol=1e-9)
    assert np.all(l1 > 0)


def test_grid_speed_range_and_fixed_speed() -> None:
    m = _grid(n=200, speed=(3.0, 7.0))
    s = m.speeds_mps
    assert np.all((s >= 3.0) & (s <= 7.0))
    assert s.std() > 0
    np.testing.assert_array_equal(_grid(n=5, speed=8.0).speeds_mps, np.full(5, 8.0))


def test_grid_zero_speed_is_static() -> None:
    m = _grid(n=10, speed=0.0)
    traj = m.trajectory(20)
    np.testing.assert_array_equal(traj, np.broadcast_to(traj[0], traj.shape))
    assert np.all(_on_grid(traj[0]))


def test_grid_straight_only_turns_at_border() -> None:
    # always straight where possible: a vehicle never stops moving and stays on the grid
    m = _grid(seed=6, n=20, speed=20.0, turn_probs=(1.0, 0.0, 0.0))
    traj = m.trajectory(200)
    assert np.all(_on_grid(traj))
    l1 = np.abs(np.diff(traj, axis=0)).sum(axis=-1)
    assert np.all(l1 > 0)


def test_grid_start_positions_spread_over_streets() -> None:
    xy = _grid(seed=8, n=2000, speed=0.0).positions(0)
    assert np.all(_on_grid(xy))
    rel = (xy - np.asarray(ORIGIN)) / BLOCK_M
    on_vertical = np.abs(rel[:, 0] - np.round(rel[:, 0])) < 1e-9
    # 4×4 = 16 horizontal and 5×3 = 15 vertical segments, equally likely
    assert 0.40 < on_vertical.mean() < 0.57
    assert np.unique(np.floor(rel[~on_vertical, 0])).size == NBX


def test_grid_zero_vehicles() -> None:
    m = _grid(n=0)
    assert m.positions(3).shape == (0, 2)
    assert m.trajectory(4).shape == (4, 0, 2)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": -1}, "n_vehicles"),
        ({"block_m": 0.0}, "block_m"),
        ({"n_blocks_x": 0}, "n_blocks_x"),
        ({"n_blocks_y": 0}, "n_blocks_y"),
        ({"speed": -1.0}, "speed_mps"),
        ({"speed": (5.0, 2.0)}, "speed_mps"),
        ({"slot_s": 0.0}, "slot_s"),
        ({"turn_probs": (0.5, 0.5, 0.5)}, "turn_probs"),
        ({"turn_probs": (1.2, -0.1, -0.1)}, "turn_probs"),
    ],
)
def test_grid_rejects_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _grid(**kwargs)


def test_grid_rejects_negative_slot_index() -> None:
    with pytest.raises(ValueError, match="t must be"):
        _grid().positions(-1)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nbx=st.integers(1, 4),
    nby=st.integers(1, 4),
    speed=st.floats(0.0, 80.0),
)
def test_grid_property_stays_on_streets(seed: int, nbx: int, nby: int, speed: float) -> None:
    m = ManhattanGridMobility(
        6,
        block_m=30.0,
        n_blocks_x=nbx,
        n_blocks_y=nby,
        speed_mps=speed,
        slot_s=1.0,
        rng=np.random.default_rng(seed),
    )
    traj = m.trajectory(40)
    assert np.all(_on_grid(traj, origin=(0.0, 0.0), block=30.0))
    assert np.all(traj >= -1e-9)
    assert np.all(traj[..., 0] <= nbx * 30.0 + 1e-9)
    assert np.all(traj[..., 1] <= nby * 30.0 + 1e-9)
    assert np.all(np.abs(np.diff(traj, axis=0)).sum(axis=-1) <= speed + 1e-9)


# --------------------------------------------------------------------------- trace replay

PROJ = LocalProjection(0.0, 0.0)


def test_trace_midpoint_interpolation() -> None:
    m = TraceReplayMobility(
        [Trace("car-1", np.array([0.0, 60.0]), np.array([0.0, 0.0]), np.array([0.0, 0.01]))],
        projection=PROJ,
        slot_s=30.0,
    )
    assert isinstance(m, Mobility)
    np.testing.assert_allclose(m.positions_latlon(0), [[0.0, 0.0]])
    np.testing.assert_allclose(m.positions_latlon(1), [[0.0, 0.005]], atol=1e-15)
    np.testing.assert_allclose(m.positions_latlon(2), [[0.0, 0.01]])
    # metres: 0.005° of longitude at the equator
    expected_x = np.radians(0.005) * 6_371_000.0
    np.testing.assert_allclose(m.positions(1), [[expected_x, 0.0]], atol=1e-6)
    np.testing.assert_allclose(m.positions(1), PROJ.to_xy(0.0, 0.005)[None, :], atol=1e-9)
    assert m.horizon_slots == 3
    assert m.active(0).tolist() == [True]
    assert m.active(2).tolist() == [True]


def test_trace_hold_and_inactive_outside_span() -> None:
    a = Trace("a", np.array([0.0, 100.0]), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    b = Trace("b", np.array([40.0, 60.0]), np.array([5.0, 6.0]), np.array([7.0, 8.0]))
    m = TraceReplayMobility([a, b], projection=PROJ, slot_s=20.0)
    assert m.n == 2
    assert m.vehicle_ids == ("a", "b")
    assert m.start_time_s == 0.0
    assert m.horizon_slots == 6  # slots at 0, 20, ..., 100 s
    act = np.array([m.active(t) for t in range(8)])
    np.testing.assert_array_equal(act[:, 0], [True] * 6 + [False] * 2)
    np.testing.assert_array_equal(act[:, 1], [False, False, True, True, False, False, False, False])
    # b holds its first point before it starts and its last point after it ends
    np.testing.assert_allclose(m.positions_latlon(0)[1], [5.0, 7.0])
    np.testing.assert_allclose(m.positions_latlon(1)[1], [5.0, 7.0])
    np.testing.assert_allclose(m.positions_latlon(5)[1], [6.0, 8.0])
    np.testing.assert_allclose(m.positions_latlon(500)[0], [2.0, 4.0])  # far past the end
    assert not m.active(500).any()
    np.testing.assert_array_equal(m.active_matrix(8), act)


def test_trace_start_time_and_epoch_timestamps() -> None:
    t0 = 1_700_000_000.0
    tr = Trace("taxi", np.array([t0, t0 + 10.0]), np.array([30.0, 30.0]), np.array([120.0, 120.1]))
    m = TraceReplayMobility([tr], projection=LocalProjection(30.0, 120.0), slot_s=5.0)
    np.testing.assert_allclose(m.positions_latlon(1), [[30.0, 120.05]], rtol=0, atol=1e-12)
    late = TraceReplayMobility(
        [tr], projection=LocalProjection(30.0, 120.0), slot_s=5.0, start_time_s=t0 - 5.0
    )
    assert not late.active(0)[0]
    np.testing.assert_allclose(late.positions_latlon(2), [[30.0, 120.05]], rtol=0, atol=1e-12)
    assert late.horizon_slots == 4


def test_trace_unsorted_and_duplicate_times() -> None:
    tr = Trace(
        "dup",
        np.array([60.0, 0.0, 30.0, 30.0]),
        np.array([0.0, 0.0, 9.0, 1.0]),  # duplicate time 30 s: the last (lat 1.0) wins
        np.array([2.0, 0.0, 9.0, 1.0]),
    )
    m = TraceReplayMobility([tr], projection=PROJ, slot_s=15.0)
    lat = [m.positions_latlon(t)[0, 0] for t in range(5)]
    lon = [m.positions_latlon(t)[0, 1] for t in range(5)]
    np.testing.assert_allclose(lat, [0.0, 0.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(lon, [0.0, 0.5, 1.0, 1.5, 2.0])


def test_trace_single_point_and_trajectory_matches_positions() -> None:
    one = Trace("still", np.array([10.0]), np.array([0.001]), np.array([0.002]))
    move = Trace("move", np.array([0.0, 50.0]), np.array([0.0, 0.002]), np.array([0.0, 0.0]))
    m = TraceReplayMobility([one, move], projection=PROJ, slot_s=10.0)
    traj = m.trajectory(7)
    for t in range(7):
        np.testing.assert_array_equal(traj[t], m.positions(t))
    assert [bool(m.active(t)[0]) for t in range(3)] == [False, True, False]
    np.testing.assert_allclose(traj[:, 0], np.broadcast_to(PROJ.to_xy(0.001, 0.002), (7, 2)))
    np.testing.assert_allclose(
        m.trajectory_latlon(7)[:, 1, 0], [0, 4e-4, 8e-4, 1.2e-3, 1.6e-3, 2e-3, 2e-3], atol=1e-15
    )


def test_trace_replay_fast_for_many_vehicles() -> None:
    rng = np.random.default_rng(0)
    traces = []
    for v in range(100):
        t = np.sort(rng.uniform(0, 36_000, 500))
        traces.append(Trace(f"v{v}", t, 31 + rng.random(500) * 0.1, 121 + rng.random(500) * 0.1))
    m = TraceReplayMobility(traces, projection=LocalProjection(31.0, 121.0), slot_s=10.0)
    assert m.trajectory(m.horizon_slots).shape == (m.horizon_slots, 100, 2)
    for t in range(0, 3000):
        m.positions(t)
    assert m.horizon_slots > 3000


@pytest.mark.parametrize(
    ("trace", "message"),
    [
        (Trace("empty-car", np.array([]), np.array([]), np.array([])), "at least 1 point"),
        (Trace("nan-car", np.array([0.0, np.nan]), np.zeros(2), np.zeros(2)), "finite"),
        (Trace("pole-car", np.array([0.0]), np.array([91.0]), np.array([0.0])), r"\[-90, 90\]"),
        (Trace("wrap-car", np.array([0.0]), np.array([0.0]), np.array([181.0])), "-180, 180"),
        (Trace("inf-car", np.array([0.0]), np.array([0.0]), np.array([np.inf])), "finite"),
    ],
)
def test_trace_bad_input_names_vehicle(trace: Trace, message: str) -> None:
    good = Trace("ok", np.array([0.0]), np.array([0.0]), np.array([0.0]))
    with pytest.raises(ValueError, match=message) as err:
        TraceReplayMobility([good, trace], projection=PROJ, slot_s=1.0)
    assert trace.vehicle_id in str(err.value)


def test_trace_length_mismatch_and_duplicate_ids_name_vehicle() -> None:
    with pytest.raises(ValueError, match="bent-car"):
        Trace("bent-car", np.array([0.0, 1.0]), np.array([0.0]), np.array([0.0, 1.0]))
    t = Trace("twin", np.array([0.0]), np.array([0.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="twin"):
        TraceReplayMobility([t, t], projection=PROJ, slot_s=1.0)
    with pytest.raises(ValueError, match="slot_s"):
        TraceReplayMobility([t], projection=PROJ, slot_s=0.0)


# --------------------------------------------------------------------------- static


def test_static_mobility() -> None:
    xy = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    m = StaticMobility(xy)
    assert isinstance(m, Mobility)
    assert m.n == 3
    np.testing.assert_array_equal(m.positions(0), xy)
    np.testing.assert_array_equal(m.positions(1000), xy)
    assert m.trajectory(4).shape == (4, 3, 2)
    np.testing.assert_array_equal(m.trajectory(4)[2], xy)
    assert m.active(7).all()
    xy[0, 0] = 99.0  # the source keeps its own copy
    assert m.positions(0)[0, 0] == 1.0
    with pytest.raises(ValueError, match="xy"):
        StaticMobility(np.zeros((3, 3)))


def test_grid_streams_make_groups_independent() -> None:
    """Vehicles driven by rng stream g depend on that stream alone (batched envs rely on it)."""
    kw = {
        "block_m": 100.0,
        "n_blocks_x": 5,
        "n_blocks_y": 4,
        "speed_mps": (20.0, 60.0),
        "slot_s": 2.0,
    }
    seeds = [11, 12, 13]
    joint = ManhattanGridMobility(
        6, rng=[np.random.default_rng(s) for s in seeds], **kw
    ).trajectory(300)
    for g, seed in enumerate(seeds):
        alone = ManhattanGridMobility(2, rng=np.random.default_rng(seed), **kw).trajectory(300)
        np.testing.assert_array_equal(joint[:, 2 * g : 2 * g + 2], alone)


def test_grid_streams_must_divide_vehicles() -> None:
    with pytest.raises(ValueError, match="multiple of the number of rng streams"):
        ManhattanGridMobility(
            5,
            block_m=100.0,
            n_blocks_x=2,
            n_blocks_y=2,
            speed_mps=10.0,
            slot_s=1.0,
            rng=[np.random.default_rng(0), np.random.default_rng(1)],
        )
