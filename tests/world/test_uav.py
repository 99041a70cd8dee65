"""UAV flight shared by the envs: straight-line steps, hovering, energy, patrol legs."""

from __future__ import annotations

import networkx as nx
import numpy as np

from vtwin.world.uav import PatrolGraph, fly_straight, slot_energy_j


def test_fly_straight_steps_by_the_reach_and_lands_on_the_goal() -> None:
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    goal = np.array([[300.0, 400.0], [30.0, 40.0], [5.0, 5.0]])
    for rounding in ("heading", "fraction"):
        f = fly_straight(xy, goal, 10.0, 10.0, np.ones(3, bool), rounding=rounding)  # reach 100
        np.testing.assert_allclose(f.xy[0], [60.0, 80.0])  # 100 m along the 3-4-5 line
        np.testing.assert_array_equal(f.xy[1:], goal[1:])
        np.testing.assert_array_equal(f.arrived, [False, True, True])  # at its goal: arrives
        np.testing.assert_allclose(f.flight_s, [10.0, 5.0, 0.0])
    assert not np.shares_memory(f.xy, xy)


def test_hovering_uavs_and_inactive_ones_stay_put() -> None:
    xy = np.array([[5.0, 5.0], [0.0, 0.0]])
    goal = np.array([[5.0, 5.0], [50.0, 0.0]])
    f = fly_straight(xy, goal, 10.0, 10.0, np.array([True, False]), hover_within_m=1e-9)
    np.testing.assert_array_equal(f.xy, xy)
    assert not f.flying.any() and not f.arrived.any()
    np.testing.assert_array_equal(f.flight_s, [0.0, 0.0])


def test_the_two_roundings_agree_to_rounding() -> None:
    rng = np.random.default_rng(0)
    xy, goal = rng.uniform(0, 5000, (2, 64, 3, 2))
    on = np.ones((64, 3), bool)
    a = fly_straight(xy, goal, 17.0, 30.0, on, rounding="heading")
    b = fly_straight(xy, goal, 17.0, 30.0, on, rounding="fraction")
    np.testing.assert_allclose(a.xy, b.xy, rtol=1e-13)
    np.testing.assert_array_equal(a.arrived, b.arrived)


def test_slot_energy_is_flight_plus_hover_and_capped_by_the_battery() -> None:
    spent = slot_energy_j(
        np.array([0.0, 10.0, 4.0, 4.0]), 10.0, 200.0, 150.0, np.array([1e6, 1e6, 100.0, 0.0])
    )
    # 150·10, 200·10, min(200·4 + 150·6, 100), grounded
    np.testing.assert_allclose(spent, [1500.0, 2000.0, 100.0, 0.0])


def test_patrol_graph_picks_each_neighbour_by_its_draw() -> None:
    g = nx.Graph([(0, 1), (0, 2)])
    g.add_node(3)  # no neighbours: its UAV stays
    patrol = PatrolGraph.from_graph(g, 4)
    np.testing.assert_array_equal(patrol.degree, [2, 1, 1, 0])
    np.testing.assert_array_equal(patrol.neighbours, [[1, 2], [0, 1], [0, 2], [3, 3]])
    node = np.array([0, 0, 1, 3])
    np.testing.assert_array_equal(
        patrol.next_rsu(node, np.array([0.2, 0.7, 0.99, 0.5])), [1, 2, 0, 3]
    )
