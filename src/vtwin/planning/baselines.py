"""Baseline UAV planners of paper A Fig. 6–7 (SPEC §A): greedy, random walk, patrol, hover.

- :class:`GreedyPlanner` flies straight to the highest-load unclaimed RSU, ignoring the graph.
- :class:`RandomWalkPlanner` hops to a uniformly random graph neighbour.
- :class:`PatrolPlanner` follows a fixed closed tour over all RSUs, one hop per call.
- :class:`HoverPlanner` never moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import networkx as nx
import numpy as np

from vtwin.arrays import FloatArray, IntArray
from vtwin.planning.base import (
    FlightGraph,
    PlannerState,
    PlanningBatch,
    UavPlanner,
    claim_highest_load_goals,
)

__all__ = [
    "GreedyPlanner",
    "HoverPlanner",
    "PatrolPlanner",
    "RandomWalkPlanner",
    "build_patrol_tour",
]

_REFINE_MAX_NODES = 100
"""Largest graph on which the patrol order is refined by 2-opt/Or-opt (O(E²) per pass)."""

_REFINE_MAX_PASSES = 200
"""Upper bound on refinement passes (each: one 2-opt sweep and one Or-opt move)."""


class GreedyPlanner(UavPlanner):
    """Fly straight to the current highest-load unclaimed RSU (SPEC §A greedy baseline).

    The goal rule is DURP's (:func:`~vtwin.planning.base.claim_highest_load_goals`); the
    waypoint is the goal itself, so the UAV crosses the map in one straight leg.
    """

    name: ClassVar[str] = "greedy"
    graph_following: ClassVar[bool] = False

    def _plan(self, state: PlannerState, ready_idx: IntArray) -> list[list[int]]:
        """Waypoint = goal for every ready UAV."""
        goals = claim_highest_load_goals(
            state, ready_idx, self._reserved_goals(ready_idx), self.flight
        )
        return [[int(state.uav_node[u]), g] for u, g in zip(ready_idx, goals, strict=True)]

    @classmethod
    def next_waypoints_many(cls, planners: Sequence[UavPlanner], batch: PlanningBatch) -> IntArray:
        """Vectorised greedy round over R env copies (same result as R single calls)."""
        if not planners or not all(isinstance(p, GreedyPlanner) for p in planners):
            return super().next_waypoints_many(planners, batch)
        goal_of, _ = UavPlanner._claim_many(planners, batch)
        uav_node = batch.uav_node
        for r, u in zip(*np.nonzero(batch.ready), strict=True):
            planners[r]._store(
                int(u), int(uav_node[r, u]), [int(uav_node[r, u]), int(goal_of[r, u])]
            )
        return np.stack([p._waypoints for p in planners]).reshape(uav_node.shape).copy()


class RandomWalkPlanner(UavPlanner):
    """Hop to a graph neighbour drawn uniformly with the episode rng (SPEC §A baseline)."""

    name: ClassVar[str] = "random_walk"

    def _plan(self, state: PlannerState, ready_idx: IntArray) -> list[list[int]]:
        """One uniform neighbour per ready UAV, drawn in index order (hover if isolated)."""
        plans: list[list[int]] = []
        for u in ready_idx:
            node = int(state.uav_node[u])
            nbrs = self.flight.neighbours(node)
            nxt = nbrs[int(self.rng.integers(len(nbrs)))] if nbrs else node
            plans.append([node, nxt])
        return plans


class HoverPlanner(UavPlanner):
    """Static hover: every waypoint is the UAV's current node (SPEC §A baseline)."""

    name: ClassVar[str] = "hover"

    def _plan(self, state: PlannerState, ready_idx: IntArray) -> list[list[int]]:
        """``[node, node]`` for every ready UAV."""
        return [[int(state.uav_node[u])] * 2 for u in ready_idx]


class PatrolPlanner(UavPlanner):
    """Fixed round-robin patrol over all RSUs along a closed tour (SPEC §A baseline).

    The tour (:func:`build_patrol_tour`) is built once per :meth:`reset`; consecutive tour
    nodes are graph neighbours. A UAV joins the tour at the first position of its start node
    (every RSU is on the tour, so that is the nearest position) and then advances one
    position per call. If it is found off its expected position, it re-joins at the next
    occurrence of its node along the tour.
    """

    name: ClassVar[str] = "patrol"

    def __init__(self) -> None:
        """Planner without parameters; the tour is built at reset."""
        super().__init__()
        self._tour: list[int] = []
        self._position: IntArray = np.empty(0, dtype=np.int64)

    def _on_reset(self) -> None:
        """Build the tour and forget every UAV's tour position."""
        self._tour = build_patrol_tour(self.flight)
        self._position = np.full(self.n_uavs, -1, dtype=np.int64)

    @property
    def tour(self) -> list[int]:
        """The closed tour (its last node links back to its first); one lap = ``len(tour)``."""
        return list(self._tour)

    def _join(self, node: int, after: int) -> int:
        """Tour position of ``node``: the first one, or the first at/after ``after`` cyclically."""
        spots = [i for i, n in enumerate(self._tour) if n == node]
        if after < 0:
            return spots[0]
        n = len(self._tour)
        return min(spots, key=lambda i: (i - after) % n)

    def _plan(self, state: PlannerState, ready_idx: IntArray) -> list[list[int]]:
        """Advance every ready UAV by one tour position."""
        plans: list[list[int]] = []
        n = len(self._tour)
        for u in ready_idx:
            node = int(state.uav_node[u])
            pos = int(self._position[u])
            if pos < 0 or self._tour[pos] != node:
                pos = self._join(node, pos)
            pos = (pos + 1) % n
            self._position[u] = pos
            plans.append([node, self._tour[pos]])
        return plans


def build_patrol_tour(flight: FlightGraph) -> list[int]:
    """Deterministic closed walk over every RSU whose consecutive nodes are graph neighbours.

    The visiting order is a nearest-neighbour tour from node 0 under the shortest-path hop
    energy (ties to the lower index), refined by 2-opt and Or-opt moves on graphs of up to
    100 nodes; each leg between consecutive RSUs of that order is then expanded into its
    shortest path. On a lattice this gives a snake (boustrophedon) sweep or better (a
    Hamiltonian cycle on the 4×4 grid). The returned list does not
    repeat its first node at the end.
    """
    n = flight.n_nodes
    if n == 1:
        return [0]
    lengths, paths = _all_pairs(flight)
    order = _nearest_neighbour_order(lengths)
    if n <= _REFINE_MAX_NODES:
        order = _refine(order, lengths)
    tour: list[int] = []
    for a, b in zip(order, [*order[1:], order[0]], strict=True):
        tour.extend(paths[a][b][:-1])  # the leg a→b without b; b starts the next leg
    return tour


def _all_pairs(flight: FlightGraph) -> tuple[FloatArray, dict[int, dict[int, list[int]]]]:
    """Shortest-path hop energies ``[E, E]`` in J and the paths themselves."""
    n = flight.n_nodes
    lengths = np.zeros((n, n), dtype=np.float64)
    paths: dict[int, dict[int, list[int]]] = {}
    for src, (dist, route) in nx.all_pairs_dijkstra(flight.graph, weight=flight.edge_energy_j):
        for dst, d in dist.items():
            lengths[src, dst] = d
        paths[int(src)] = {int(k): [int(x) for x in v] for k, v in route.items()}
    return lengths, paths


def _nearest_neighbour_order(lengths: FloatArray) -> list[int]:
    """Greedy visiting order from node 0: always the closest unvisited node (lowest index)."""
    n = lengths.shape[0]
    visited = np.zeros(n, dtype=np.bool_)
    order = [0]
    visited[0] = True
    for _ in range(n - 1):
        d = np.where(visited, np.inf, lengths[order[-1]])
        nxt = int(np.argmin(d))
        order.append(nxt)
        visited[nxt] = True
    return order


def _two_opt_pass(tour: list[int], lengths: FloatArray, tol: float) -> bool:
    """One 2-opt pass over a closed order, in place (first improvement); True if it changed."""
    n = len(tour)
    improved = False
    for i in range(n - 1):
        for j in range(i + 2, n if i > 0 else n - 1):
            a, b = tour[i], tour[i + 1]
            c, d = tour[j], tour[(j + 1) % n]
            if lengths[a, c] + lengths[b, d] < lengths[a, b] + lengths[c, d] - tol:
                tour[i + 1 : j + 1] = tour[i + 1 : j + 1][::-1]
                improved = True
    return improved


def _or_opt_move(tour: list[int], lengths: FloatArray, tol: float) -> bool:
    """First improving Or-opt move (a run of 1–3 nodes moved, maybe reversed), in place."""
    n = len(tour)
    for seg_len in (1, 2, 3):
        if n - seg_len < 2:
            break
        for i in range(n - seg_len + 1):
            seg = tour[i : i + seg_len]
            rest = tour[:i] + tour[i + seg_len :]
            m = len(rest)
            p, q = rest[(i - 1) % m], rest[i % m]
            saved = lengths[p, seg[0]] + lengths[seg[-1], q] - lengths[p, q]
            for j in range(m):
                if j == (i - 1) % m:
                    continue  # that is where the run came from
                a, b = rest[j], rest[(j + 1) % m]
                for run in (seg, seg[::-1]):
                    added = lengths[a, run[0]] + lengths[run[-1], b] - lengths[a, b]
                    if added < saved - tol:
                        tour[:] = rest[: j + 1] + run + rest[j + 1 :]
                        return True
    return False


def _refine(order: list[int], lengths: FloatArray) -> list[int]:
    """2-opt and Or-opt refinement of a closed visiting order (deterministic, bounded)."""
    tour = list(order)
    if len(tour) < 4:
        return tour
    tol = 1e-9 * float(np.max(lengths))
    for _ in range(_REFINE_MAX_PASSES):
        changed = _two_opt_pass(tour, lengths, tol)
        changed = _or_opt_move(tour, lengths, tol) or changed
        if not changed:
            break
    return tour
