"""Planning several env copies at once gives exactly what one call per copy gives."""

from __future__ import annotations

import numpy as np
import pytest

from vtwin.planning import FlightGraph, PlannerState, PlanningBatch, make_planner
from vtwin.world.topology import grid_graph, knn_graph


def _flights() -> list[FlightGraph]:
    grid, _ = grid_graph(4, 4, 500.0)
    rng = np.random.default_rng(3)
    knn = knn_graph(rng.uniform(0, 3000, size=(12, 2)), 3)
    return [FlightGraph.from_graph(grid, 10.0), FlightGraph.from_graph(knn, 12.0)]


@pytest.mark.parametrize("name", ["durp", "greedy", "random_walk", "patrol", "hover"])
@pytest.mark.parametrize("n_uavs", [1, 3])
def test_many_equals_one_by_one_over_several_rounds(name: str, n_uavs: int) -> None:
    for flight in _flights():
        n_copies, e = 5, flight.n_nodes
        solo = [make_planner(name) for _ in range(n_copies)]
        many = [make_planner(name) for _ in range(n_copies)]
        for b in range(n_copies):
            solo[b].reset(flight, n_uavs, np.random.default_rng(b))
            many[b].reset(flight, n_uavs, np.random.default_rng(b))
        rng = np.random.default_rng(7)
        nodes = rng.integers(0, e, size=(n_copies, n_uavs))
        energy_max = np.full(n_uavs, 1e5)
        for _ in range(12):
            loads = rng.uniform(0, 1, size=(n_copies, e)) * (rng.random((n_copies, e)) < 0.7)
            ready = rng.random((n_copies, n_uavs)) < 0.6
            energy = rng.uniform(5e4, 1e5, size=(n_copies, n_uavs))
            expected = np.stack(
                [
                    solo[b].next_waypoints(
                        PlannerState(loads[b], np.ones(e), energy[b], energy_max, nodes[b]),
                        ready[b],
                    )
                    for b in range(n_copies)
                ]
            )
            batch = PlanningBatch(loads, np.ones(e), energy, energy_max, nodes, ready)
            got = type(many[0]).next_waypoints_many(many, batch)
            np.testing.assert_array_equal(got, expected)
            for b in range(n_copies):
                assert many[b].planned_paths == solo[b].planned_paths
                np.testing.assert_array_equal(many[b].goals, solo[b].goals)
            nodes = np.where(ready, got, nodes)  # ready UAVs reach their waypoints


def test_batch_state_is_the_row_of_each_copy() -> None:
    loads = np.array([[1.0, 2.0], [3.0, 4.0]])
    energy = np.array([[5.0], [6.0]])
    nodes = np.array([[0], [1]])
    batch = PlanningBatch(loads, np.ones(2), energy, np.full(1, 9.0), nodes, nodes == 1)
    state = batch.state(1)
    np.testing.assert_array_equal(state.loads, [3.0, 4.0])
    np.testing.assert_array_equal(state.energy_j, [6.0])
    np.testing.assert_array_equal(state.uav_node, [1])
    np.testing.assert_array_equal(state.energy_max_j, [9.0])
    assert state.n_rsus == 2 and state.n_uavs == 1
