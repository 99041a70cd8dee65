"""Tests of vtwin.planning.base: FlightGraph geometry/energy, PlannerState checks, goal claims."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from vtwin.physics.energy import flight_energy_j
from vtwin.planning import FlightGraph, PlannerState, claim_highest_load_goals
from vtwin.world.topology import grid_graph, knn_graph

SPEED = 15.0


def _grid(n_x: int = 4, n_y: int = 4, spacing: float = 500.0) -> FlightGraph:
    g, _ = grid_graph(n_x, n_y, spacing)
    return FlightGraph.from_graph(g, SPEED)


def _state(loads: list[float], nodes: list[int], cap: float = 1.0) -> PlannerState:
    e = len(loads)
    u = len(nodes)
    return PlannerState(
        loads=np.asarray(loads, dtype=np.float64),
        load_max=np.full(e, cap),
        energy_j=np.full(u, 1e5),
        energy_max_j=np.full(u, 1e5),
        uav_node=np.asarray(nodes, dtype=np.int64),
    )


def test_from_graph_positions_neighbours_and_copy() -> None:
    g, xy = grid_graph(4, 4, 500.0)
    flight = FlightGraph.from_graph(g, SPEED)
    np.testing.assert_array_equal(flight.xy_m, xy)
    assert flight.n_nodes == 16
    assert flight.speed_mps == SPEED
    assert flight.neighbours(5) == [1, 4, 6, 9]
    assert flight.neighbours(0) == [1, 4]
    assert flight.mean_edge_length_m == pytest.approx(500.0)
    # the graph is copied: editing the caller's graph does not change the flight graph
    g.remove_edge(0, 1)
    assert flight.neighbours(0) == [1, 4]
    with pytest.raises(ValueError):
        flight.xy_m[0, 0] = 1.0  # read-only


def test_distances_and_energies_match_physics() -> None:
    xy = np.random.default_rng(3).uniform(0.0, 2000.0, size=(12, 2))
    flight = FlightGraph.from_graph(knn_graph(xy, 3), SPEED)
    for a, b in [(0, 1), (3, 7), (11, 2), (5, 5)]:
        d = float(np.hypot(*(xy[a] - xy[b])))
        assert flight.distance_m(a, b) == pytest.approx(d, rel=1e-15)
        assert flight.distance_m(a, b) == flight.distance_m(b, a)
        assert flight.hop_energy_j(a, b) == pytest.approx(float(flight_energy_j(d, SPEED)))
    assert flight.hop_energy_j(4, 4) == 0.0
    np.testing.assert_allclose(
        flight.energies_from_j(3), [flight.hop_energy_j(3, n) for n in range(12)], rtol=1e-15
    )
    for u, v in flight.graph.edges:
        assert flight.edge_energy_j(u, v, {}) == flight.edge_energy_j(v, u, {})
        assert flight.edge_energy_j(u, v, {}) == pytest.approx(flight.hop_energy_j(u, v))
    path = [0, *flight.neighbours(0)[:1], 0]
    assert flight.path_energy_j(path) == pytest.approx(2.0 * flight.hop_energy_j(*path[:2]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: nx.relabel_nodes(grid_graph(2, 2, 100.0)[0], {0: 7}),  # labels not 0..E-1
        lambda: nx.Graph([(0, 1)]),  # no pos
        lambda: nx.DiGraph(grid_graph(2, 2, 100.0)[0]),  # directed
        lambda: nx.disjoint_union(grid_graph(2, 1, 100.0)[0], grid_graph(2, 1, 100.0)[0]),
        lambda: nx.Graph(),  # empty
    ],
)
def test_from_graph_rejects_bad_graphs(make: object) -> None:
    with pytest.raises(ValueError):
        FlightGraph.from_graph(make(), SPEED)  # type: ignore[operator]


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf")])
def test_from_graph_rejects_bad_speed(speed: float) -> None:
    g, _ = grid_graph(2, 2, 100.0)
    with pytest.raises(ValueError, match="speed_mps"):
        FlightGraph.from_graph(g, speed)


def test_direct_construction_checks_xy_against_pos() -> None:
    g, xy = grid_graph(2, 2, 100.0)
    with pytest.raises(ValueError, match="xy_m"):
        FlightGraph(graph=g, xy_m=xy + 1.0, speed_mps=SPEED)
    with pytest.raises(ValueError, match="node"):
        _grid().distance_m(0, 16)


def test_planner_state_validation() -> None:
    ok = _state([0.1, 0.2, 0.3], [0, 2])
    assert ok.n_rsus == 3 and ok.n_uavs == 2
    np.testing.assert_allclose(ok.load_ratio, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="load_max"):
        PlannerState(np.ones(3), np.zeros(3), np.ones(1), np.ones(1), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="uav_node"):
        _state([0.1, 0.2], [2])
    with pytest.raises(ValueError, match="same shape"):
        PlannerState(np.ones(3), np.ones(3), np.ones(2), np.ones(1), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="finite"):
        _state([0.1, float("nan")], [0])
    with pytest.raises(ValueError, match="integers"):
        PlannerState(np.ones(3), np.ones(3), np.ones(1), np.ones(1), np.array([0.5]))


def test_claim_rule_ratio_order_reservations_and_overflow() -> None:
    # ratios 0.2, 0.9, 0.5, 0.9 (capacity differs): ties go to the lower index
    state = PlannerState(
        loads=np.array([2.0, 9.0, 1.0, 0.9]),
        load_max=np.array([10.0, 10.0, 2.0, 1.0]),
        energy_j=np.ones(4),
        energy_max_j=np.ones(4),
        uav_node=np.array([0, 0, 2, 3]),
    )
    assert claim_highest_load_goals(state, [0, 1, 2], set()) == [1, 3, 2]
    assert claim_highest_load_goals(state, [2, 0], {1}) == [3, 2]
    # more UAVs than free RSUs: the rest hover at their own node
    assert claim_highest_load_goals(state, [0, 1, 2, 3], {1, 3}) == [2, 0, 2, 3]
