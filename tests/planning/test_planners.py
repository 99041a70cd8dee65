"""Tests of the paper-A UAV planners (SPEC §A): DURP (paper A Algorithm 1) and the baselines."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import TypeVar

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vtwin.physics.energy import flight_energy_j, hover_energy_j, hover_power_w
from vtwin.planning import (
    PLANNERS,
    DurpPlanner,
    FlightGraph,
    GreedyPlanner,
    PatrolPlanner,
    PlannerState,
    RandomWalkPlanner,
    UavPlanner,
    make_planner,
)
from vtwin.world.topology import grid_graph, knn_graph

SPEED = 15.0
E_MAX = 2.0e5
NAMES = ("durp", "greedy", "random_walk", "patrol", "hover")
P = TypeVar("P", bound=UavPlanner)
HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _grid(n_x: int = 4, n_y: int = 4) -> FlightGraph:
    g, _ = grid_graph(n_x, n_y, 500.0)
    return FlightGraph.from_graph(g, SPEED)


def _state(
    loads: np.ndarray, nodes: list[int] | np.ndarray, energy: np.ndarray | None = None
) -> PlannerState:
    u = len(nodes)
    return PlannerState(
        loads=np.asarray(loads, dtype=np.float64),
        load_max=np.ones(len(loads)),
        energy_j=np.full(u, E_MAX) if energy is None else energy,
        energy_max_j=np.full(u, E_MAX),
        uav_node=np.asarray(nodes, dtype=np.int64),
    )


def _top(loads: np.ndarray) -> int:
    """Highest-load node, ties to the lower index."""
    return int(np.flatnonzero(loads == loads.max())[0])


def _reset(planner: P, flight: FlightGraph, n_uavs: int, seed: int = 0) -> P:
    planner.reset(flight, n_uavs, np.random.default_rng(seed))
    return planner


def _assert_graph_path(flight: FlightGraph, path: list[int]) -> None:
    for a, b in itertools.pairwise(path):
        assert b in flight.neighbours(a), (path, a, b)


# ---------------------------------------------------------------- registry


def test_registry_holds_the_five_planners() -> None:
    assert set(PLANNERS) == set(NAMES)
    for name, cls in PLANNERS.items():
        assert cls.name == name
        planner = make_planner(name)
        assert isinstance(planner, cls) and planner.name == name
    durp = make_planner("durp", alpha=2.0, beta=0.0, gamma=3.0)
    assert isinstance(durp, DurpPlanner)
    assert (durp.alpha, durp.beta, durp.gamma) == (2.0, 0.0, 3.0)
    assert (DurpPlanner().alpha, DurpPlanner().beta, DurpPlanner().gamma) == (1.0, 0.5, 1.0)


def test_make_planner_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown UAV planner 'astar'") as err:
        make_planner("astar")
    for name in NAMES:
        assert name in str(err.value)
    with pytest.raises(TypeError):
        make_planner("hover", alpha=1.0)
    with pytest.raises(ValueError, match="gamma"):
        DurpPlanner(gamma=float("nan"))


def test_use_before_reset_and_bad_inputs_raise() -> None:
    planner = DurpPlanner()
    state = _state(np.zeros(16), [0])
    with pytest.raises(RuntimeError, match="reset"):
        planner.next_waypoints(state, np.array([True]))
    _reset(planner, _grid(), 1)
    with pytest.raises(ValueError, match="ready"):
        planner.next_waypoints(state, np.array([1]))
    with pytest.raises(ValueError, match="UAVs"):
        planner.next_waypoints(_state(np.zeros(16), [0, 1]), np.array([True, True]))
    with pytest.raises(ValueError, match="RSUs"):
        planner.next_waypoints(_state(np.zeros(9), [0]), np.array([True]))
    with pytest.raises(ValueError, match="n_uavs"):
        planner.reset(_grid(), -1, np.random.default_rng(0))


# ---------------------------------------------------------------- DURP vs Dijkstra


def _check_zero_weight_durp(flight: FlightGraph, loads: np.ndarray, start: int) -> None:
    planner = _reset(DurpPlanner(alpha=0.0, beta=0.0, gamma=0.0), flight, 1)
    state = _state(loads, [start], energy=np.array([0.3 * E_MAX]))
    np.testing.assert_array_equal(planner.heuristic_j(state, 0, _top(loads)), 0.0)
    wp = planner.next_waypoints(state, np.array([True]))
    path = planner.planned_paths[0]
    goal = _top(loads)
    assert planner.goals[0] == goal
    if start == goal:
        assert path == [start, start] and wp[0] == start
        return
    assert path[0] == start and path[-1] == goal and wp[0] == path[1]
    _assert_graph_path(flight, path)
    ref = nx.dijkstra_path_length(flight.graph, start, goal, weight=flight.edge_energy_j)
    cost = sum(flight.edge_energy_j(a, b) for a, b in itertools.pairwise(path))
    assert cost == pytest.approx(ref, rel=1e-12, abs=1e-9)


@HYP
@given(
    loads=arrays(np.float64, 16, elements=st.floats(0.0, 1e9)),
    start=st.integers(0, 15),
)
def test_durp_zero_weights_is_dijkstra_on_grid(loads: np.ndarray, start: int) -> None:
    _check_zero_weight_durp(_grid(), loads, start)


@HYP
@given(
    xy=arrays(np.float64, (14, 2), elements=st.floats(0.0, 5000.0)),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    speed=st.floats(1.0, 40.0),
)
def test_durp_zero_weights_is_dijkstra_on_knn(
    xy: np.ndarray, k: int, seed: int, speed: float
) -> None:
    flight = FlightGraph.from_graph(knn_graph(xy, k), speed)
    rng = np.random.default_rng(seed)
    _check_zero_weight_durp(flight, rng.uniform(0.0, 1.0, 14), int(rng.integers(14)))


def test_durp_distance_term_alone_is_admissible_and_optimal() -> None:
    xy = np.random.default_rng(11).uniform(0.0, 3000.0, size=(25, 2))
    flight = FlightGraph.from_graph(knn_graph(xy, 3), SPEED)
    planner = _reset(DurpPlanner(alpha=1.0, beta=0.0, gamma=0.0), flight, 1)
    for trial in range(10):
        loads = np.random.default_rng(trial).uniform(0.0, 1.0, 25)
        goal, start = _top(loads), (trial * 7) % 25
        state = _state(loads, [start])
        h = planner.heuristic_j(state, 0, goal)
        true = nx.single_source_dijkstra_path_length(
            flight.graph, goal, weight=flight.edge_energy_j
        )
        for n in range(25):
            assert h[n] <= true[n] * (1 + 1e-12) + 1e-9  # straight line ≤ any graph path
        planner.next_waypoints(state, np.array([True]))
        if start != goal:
            cost = flight.path_energy_j(planner.planned_paths[0])
            assert cost == pytest.approx(true[start], rel=1e-12)


@pytest.mark.parametrize("loaded", [2, 6])
def test_durp_load_term_steers_through_loaded_rsu(loaded: int) -> None:
    # 3×3 grid, corner 0 → corner 8: six equally short routes; one side corner is loaded
    flight = _grid(3, 3)
    loads = np.zeros(9)
    loads[8], loads[loaded] = 1.0, 0.9
    paths = {}
    for gamma in (5.0, 0.0):
        planner = _reset(DurpPlanner(alpha=1.0, beta=0.0, gamma=gamma), flight, 1)
        planner.next_waypoints(_state(loads, [0]), np.array([True]))
        paths[gamma] = planner.planned_paths[0]
        _assert_graph_path(flight, paths[gamma])
        assert paths[gamma][-1] == 8
        assert flight.path_energy_j(paths[gamma]) == pytest.approx(4 * flight.hop_energy_j(0, 1))
    assert loaded in paths[5.0]  # SPEC §A sign: a loaded RSU looks cheaper
    assert loaded not in paths[0.0]


def test_durp_negative_gamma_avoids_loaded_rsu() -> None:
    flight = _grid(3, 3)
    loads = np.zeros(9)
    loads[8], loads[4] = 1.0, 0.9
    planner = _reset(DurpPlanner(alpha=1.0, beta=0.0, gamma=-5.0), flight, 1)
    planner.next_waypoints(_state(loads, [0]), np.array([True]))
    path = planner.planned_paths[0]
    assert 4 not in path and path[-1] == 8 and len(path) == 5


@HYP
@given(
    loads=arrays(np.float64, 16, elements=st.floats(0.0, 100.0)),
    nodes=st.lists(st.integers(0, 15), min_size=3, max_size=3),
    energy=arrays(np.float64, 3, elements=st.floats(0.0, E_MAX)),
    ready=arrays(np.bool_, 3),
    weights=st.tuples(st.floats(0.0, 5.0), st.floats(0.0, 5.0), st.floats(-5.0, 5.0)),
)
def test_durp_waypoint_is_neighbour_or_self_at_goal(
    loads: np.ndarray,
    nodes: list[int],
    energy: np.ndarray,
    ready: np.ndarray,
    weights: tuple[float, float, float],
) -> None:
    flight = _grid()
    planner = _reset(DurpPlanner(*weights), flight, 3)
    first = planner.next_waypoints(_state(loads, nodes, energy), np.ones(3, dtype=np.bool_))
    wp = planner.next_waypoints(_state(loads, nodes, energy), ready)
    goals = planner.goals
    assert len(set(goals.tolist())) == 3  # no two UAVs chase one RSU
    for u in range(3):
        if not ready[u]:
            assert wp[u] == first[u]
        if goals[u] == nodes[u]:
            assert wp[u] == nodes[u]
        else:
            assert wp[u] in flight.neighbours(nodes[u])
            path = planner.planned_paths[u]
            assert path[0] == nodes[u] and path[-1] == goals[u]
            _assert_graph_path(flight, path)


# ---------------------------------------------------------------- goals and claims


@pytest.mark.parametrize("cls", [DurpPlanner, GreedyPlanner])
def test_highest_load_goals_are_distinct(cls: type[UavPlanner]) -> None:
    flight = _grid()
    loads = np.linspace(0.0, 0.5, 16)
    loads[5], loads[10] = 0.95, 0.9
    planner = _reset(cls(), flight, 2)
    wp = planner.next_waypoints(_state(loads, [0, 15]), np.array([True, True]))
    np.testing.assert_array_equal(planner.goals, [5, 10])  # UAV 0 is nearer to the top RSU
    if cls is GreedyPlanner:
        np.testing.assert_array_equal(wp, [5, 10])  # straight to the goal
    else:
        assert wp[0] in flight.neighbours(0) and wp[1] in flight.neighbours(15)
        # the first hop lies on a least-energy route to the goal
        for u, (start, goal) in enumerate([(0, 5), (15, 10)]):
            d = nx.single_source_dijkstra_path_length(flight.graph, goal, weight="distance_m")
            assert d[int(wp[u])] < d[start]

    # a UAV still flying keeps its goal reserved from the UAVs that re-plan
    planner = _reset(cls(), flight, 2)
    planner.next_waypoints(_state(loads, [3, 6]), np.array([True, True]))
    assert planner.goals.tolist() == [10, 5]  # UAV 1 at node 6 is nearer to RSU 5
    loads2 = loads.copy()
    loads2[5] = 0.0  # 5 drained: 10 is the top, but UAV 0 (not ready) is flying to it
    planner.next_waypoints(_state(loads2, [3, 6]), np.array([False, True]))
    assert planner.goals.tolist() == [10, 15]  # UAV 1 takes the next one, 15


@pytest.mark.parametrize("cls", [DurpPlanner, GreedyPlanner])
def test_uav_at_goal_hovers(cls: type[UavPlanner]) -> None:
    loads = np.zeros(16)
    loads[6] = 1.0
    planner = _reset(cls(), _grid(), 1)
    wp = planner.next_waypoints(_state(loads, [6]), np.array([True]))
    assert wp.tolist() == [6]
    assert planner.planned_paths == [[6, 6]]


def test_durp_reaches_the_goal_one_hop_per_round() -> None:
    flight = _grid()
    loads = np.zeros(16)
    loads[15] = 1.0
    planner = _reset(DurpPlanner(), flight, 1)
    node, hops = 0, 0
    while node != 15:
        node = int(planner.next_waypoints(_state(loads, [node]), np.array([True]))[0])
        hops += 1
    assert hops == 6  # Manhattan distance: no detour
    assert planner.next_waypoints(_state(loads, [15]), np.array([True])).tolist() == [15]


# ---------------------------------------------------------------- simulation over all planners


@dataclass
class _Trace:
    """What a flight simulation recorded."""

    spent_j: np.ndarray
    flown_m: np.ndarray
    waypoints: list[list[int]] = field(default_factory=list)
    visited: list[set[int]] = field(default_factory=list)


def _simulate(
    planner: UavPlanner, flight: FlightGraph, starts: list[int], slots: int = 200, seed: int = 0
) -> _Trace:
    """Fly U UAVs straight at speed_mps in 1-s slots; check every planner call on the way."""
    u_n = len(starts)
    planner.reset(flight, u_n, np.random.default_rng(seed))
    load_rng = np.random.default_rng(seed + 1000)
    e_n = flight.n_nodes
    cap = np.full(e_n, 1.0)
    loads = load_rng.uniform(0.0, 0.5, e_n)
    node = np.asarray(starts, dtype=np.int64)
    pos = flight.xy_m[node].copy()
    ready = np.ones(u_n, dtype=np.bool_)
    energy = np.full(u_n, E_MAX)
    trace = _Trace(np.zeros(u_n), np.zeros(u_n), visited=[{int(n)} for n in node])
    prev = None
    for _ in range(slots):
        state = PlannerState(loads.copy(), cap, energy.copy(), np.full(u_n, E_MAX), node.copy())
        wp = planner.next_waypoints(state, ready.copy())
        assert wp.shape == (u_n,) and wp.dtype == np.int64
        assert np.all((wp >= 0) & (wp < e_n))
        paths = planner.planned_paths
        for u in range(u_n):
            if ready[u]:
                assert paths[u][0] == node[u] and paths[u][1] == wp[u]
                if planner.graph_following:
                    assert wp[u] == node[u] or wp[u] in flight.neighbours(int(node[u]))
            else:
                assert prev is not None and wp[u] == prev[u]  # kept while flying
        prev = wp.copy()
        trace.waypoints.append(wp.tolist())
        for u in range(u_n):
            gap = flight.xy_m[wp[u]] - pos[u]
            remaining = float(np.hypot(*gap))
            step = min(remaining, SPEED * 1.0)
            fly_s = step / SPEED
            cost = float(flight_energy_j(step, SPEED) + hover_energy_j(1.0 - fly_s))
            energy[u] -= cost
            trace.spent_j[u] += cost
            trace.flown_m[u] += step
            if remaining <= SPEED * 1.0:
                pos[u] = flight.xy_m[wp[u]]
                node[u] = wp[u]
                ready[u] = True
                trace.visited[u].add(int(wp[u]))
            else:
                pos[u] += gap * (step / remaining)
                ready[u] = False
        loads += load_rng.uniform(0.0, 0.02, e_n)
        served = node[ready]
        loads[served] = np.maximum(loads[served] - 0.05, 0.0)  # a UAV on site takes load off
    return trace


@pytest.mark.parametrize("name", NAMES)
def test_every_planner_flies_valid_waypoints_and_spends_energy(name: str) -> None:
    flight = _grid()
    trace = _simulate(make_planner(name), flight, starts=[0, 5, 15])
    assert np.all(trace.spent_j > 0.0)
    if name == "hover":
        assert np.all(trace.flown_m == 0.0)
        np.testing.assert_allclose(trace.spent_j, 200 * hover_power_w(), rtol=1e-12)
    else:
        assert np.all(trace.flown_m > 0.0)
        assert all(len(v) >= 2 for v in trace.visited)  # every UAV got somewhere


@pytest.mark.parametrize("name", NAMES)
def test_planners_on_a_knn_graph_and_no_global_random_state(name: str) -> None:
    xy = np.random.default_rng(5).uniform(0.0, 2500.0, size=(20, 2))
    flight = FlightGraph.from_graph(knn_graph(xy, 3), SPEED)
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    trace = _simulate(make_planner(name), flight, starts=[0, 19], slots=150, seed=3)
    assert np.all(trace.spent_j > 0.0)
    after = np.random.get_state()  # noqa: NPY002
    assert random.getstate() == py_state
    assert np_state[0] == after[0] and np.array_equal(np_state[1], after[1])  # type: ignore[index]


def test_first_call_not_ready_hovers_and_is_kept() -> None:
    flight = _grid()
    for name in NAMES:
        planner = _reset(make_planner(name), flight, 2)
        assert planner.planned_paths == [[], []]
        loads = np.arange(16.0)
        wp = planner.next_waypoints(_state(loads, [4, 9]), np.array([False, False]))
        assert wp.tolist() == [4, 9]
        wp2 = planner.next_waypoints(_state(loads, [4, 9]), np.array([True, False]))
        assert wp2[1] == 9
        assert planner.planned_paths[0][0] == 4 and planner.planned_paths[0][1] == wp2[0]


# ---------------------------------------------------------------- random walk and patrol


def test_random_walk_is_reproducible_from_the_reset_rng() -> None:
    flight = _grid()
    runs = {
        seed: _simulate(RandomWalkPlanner(), flight, [0, 10], slots=120, seed=seed).waypoints
        for seed in (7, 8)
    }
    again = _simulate(RandomWalkPlanner(), flight, [0, 10], slots=120, seed=7).waypoints
    assert again == runs[7]
    assert runs[7] != runs[8]


def test_random_walk_covers_all_neighbours_uniformly() -> None:
    flight = _grid()
    planner = _reset(RandomWalkPlanner(), flight, 1, seed=1)
    counts = dict.fromkeys(flight.neighbours(5), 0)
    for _ in range(2000):
        wp = int(planner.next_waypoints(_state(np.zeros(16), [5]), np.array([True]))[0])
        counts[wp] += 1
    assert set(counts) == {1, 4, 6, 9}
    assert all(400 < c < 600 for c in counts.values())  # 500 ± ~5 sigma


@pytest.mark.parametrize(
    "flight",
    [
        _grid(),
        _grid(3, 3),
        _grid(5, 2),
        FlightGraph.from_graph(
            knn_graph(np.random.default_rng(2).uniform(0, 4000, (30, 2)), 2), SPEED
        ),
    ],
    ids=["grid4x4", "grid3x3", "grid5x2", "knn30"],
)
def test_patrol_visits_every_rsu_within_one_tour(flight: FlightGraph) -> None:
    starts = [0, flight.n_nodes - 1, flight.n_nodes // 2]
    planner = _reset(PatrolPlanner(), flight, len(starts))
    tour = planner.tour
    assert set(tour) == set(range(flight.n_nodes))
    _assert_graph_path(flight, [*tour, tour[0]])
    node = np.asarray(starts, dtype=np.int64)
    seen = [{int(n)} for n in node]
    for _ in range(len(tour)):
        node = planner.next_waypoints(_state(np.zeros(flight.n_nodes), node), np.ones(3, bool))
        for u in range(3):
            seen[u].add(int(node[u]))
    assert all(s == set(range(flight.n_nodes)) for s in seen)
    np.testing.assert_array_equal(node, starts)  # one lap brings every UAV back


def test_patrol_tour_is_hamiltonian_on_an_even_grid() -> None:
    planner = _reset(PatrolPlanner(), _grid(), 1)
    assert sorted(planner.tour) == list(range(16))  # 16 hops per lap, no revisits


@pytest.mark.parametrize("name", NAMES)
def test_planned_paths_start_at_the_uav_node(name: str) -> None:
    flight = _grid()
    planner = _reset(make_planner(name), flight, 3)
    loads = np.random.default_rng(4).uniform(0.0, 1.0, 16)
    nodes = [2, 8, 13]
    wp = planner.next_waypoints(_state(loads, nodes), np.ones(3, dtype=np.bool_))
    for u, path in enumerate(planner.planned_paths):
        assert len(path) >= 2 and path[0] == nodes[u] and path[1] == wp[u]
        if name == "durp":
            assert path[-1] == planner.goals[u]
            if path != [nodes[u], nodes[u]]:  # [n, n] = hovering at its goal
                _assert_graph_path(flight, path)


def test_nearest_ready_uav_takes_the_hottest_rsu() -> None:
    """A UAV hovering over the hottest RSU keeps it; the farther ready UAV takes the next one."""
    from vtwin.planning.base import claim_highest_load_goals

    graph, _ = grid_graph(4, 4, 500.0)
    flight = FlightGraph.from_graph(graph, 10.0)
    loads = np.zeros(16)
    loads[5], loads[10] = 0.9, 0.8
    state = PlannerState(
        loads=loads,
        load_max=np.ones(16),
        energy_j=np.full(2, 1e5),
        energy_max_j=np.full(2, 1e5),
        uav_node=np.array([0, 5]),  # UAV 1 is already over RSU 5
    )
    assert claim_highest_load_goals(state, [0, 1], [], flight) == [10, 5]
    assert claim_highest_load_goals(state, [0, 1], []) == [5, 10]  # index order without flight
    assert claim_highest_load_goals(state, [0, 1], [5], flight) == [0, 10]
