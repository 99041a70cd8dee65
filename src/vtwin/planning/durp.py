"""DURP: dynamic UAV routing planning by A* over the RSU graph (paper A Sec. IV, Algorithm 1).

Each planning round (SPEC §A):

1. every ready UAV, in index order, takes as goal the RSU with the highest load ratio
   L/L_max that no other UAV has claimed — neither a UAV planned earlier in this round nor
   a UAV still flying towards its goal (:func:`~vtwin.planning.base.claim_highest_load_goals`;
   paper A plans one UAV, the claiming rule keeps several UAVs from chasing one RSU);
2. a UAV already at its goal hovers there;
3. otherwise ``networkx.astar_path`` searches from its node to the goal with edge weight =
   propulsion energy of the hop in J and the heuristic ``h`` below; the UAV flies only the
   first hop and re-plans on arrival (Algorithm 1, line 15).

Heuristic, in joules so that it is commensurable with the edge weights. With
``d_ref`` = mean edge length and ``e_ref`` = hop energy of a ``d_ref`` hop,

    h(n) = α·e_ref·d(n, goal)/d_ref + β·e_ref·(1 − E_rem(n)/E_max) − γ·e_ref·L(n)/L_max(n).

The α term equals the straight-flight energy from n to the goal, a lower bound of the true
remaining cost; alone (β = γ = 0) it keeps A* optimal. ``E_rem(n)`` is the UAV's battery now
minus the straight-flight energy from its node to n: networkx passes the heuristic only the
node, not the path to it, so this stands in for the energy left on arrival at n. The minus
sign of the load term is SPEC §A's reading of the paper's ambiguous sign: loaded RSUs look
cheaper, which steers the path through them (γ < 0 gives the opposite reading). With
α = β = γ = 0 the search is Dijkstra's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import ClassVar

import networkx as nx
import numpy as np

from vtwin.arrays import FloatArray, IntArray
from vtwin.planning.base import (
    PlannerState,
    PlanningBatch,
    UavPlanner,
    claim_highest_load_goals,
)

__all__ = ["DurpPlanner"]


class DurpPlanner(UavPlanner):
    """A*-based DURP planner (paper A Algorithm 1) with SPEC §A's joule-scaled heuristic."""

    name: ClassVar[str] = "durp"

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, gamma: float = 1.0) -> None:
        """Weights (dimensionless) of the distance, energy and load terms of h(n)."""
        super().__init__()
        for label, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            if isinstance(value, bool) or not isinstance(value, Real):
                raise ValueError(f"{label} must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{label} must be finite, got {value!r}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.gamma = float(gamma)

    def __repr__(self) -> str:
        return f"DurpPlanner(alpha={self.alpha!r}, beta={self.beta!r}, gamma={self.gamma!r})"

    @property
    def reference_length_m(self) -> float:
        """d_ref in metres: mean edge length of the flight graph (1 m for an edgeless graph)."""
        d = self.flight.mean_edge_length_m
        return d if d > 0.0 else 1.0

    @property
    def reference_energy_j(self) -> float:
        """e_ref in J: propulsion energy of one hop of length d_ref at the cruise speed."""
        return self.flight.mean_edge_energy_j

    def heuristic_j(self, state: PlannerState, uav: int, goal: int) -> FloatArray:
        """[E] heuristic h(n) in J of UAV ``uav`` heading to ``goal``, for every node n."""
        flight = self.flight
        node = int(state.uav_node[uav])
        d_ref = self.reference_length_m
        e_ref = self.reference_energy_j
        dist_goal = flight.distance_matrix_m[goal]
        e_rem = state.energy_j[uav] - flight.energy_matrix_j[node]
        h = (
            self.alpha * e_ref * (dist_goal / d_ref)
            + self.beta * e_ref * (1.0 - e_rem / state.energy_max_j[uav])
            - self.gamma * e_ref * state.load_ratio
        )
        return np.asarray(h, dtype=np.float64)

    def _search(self, start: int, goal: int, h: FloatArray) -> list[int]:
        """A* path start→goal with hop-energy weights and the precomputed heuristic ``h``."""

        h_list = h.tolist()  # plain floats: A* calls the heuristic for every node it reaches

        def heuristic(n: int, _target: int) -> float:
            return h_list[n]

        path = nx.astar_path(
            self.flight.graph,
            start,
            goal,
            heuristic=heuristic,
            weight=self.flight.edge_energy_j,
        )
        return [int(n) for n in path]

    def _plan(self, state: PlannerState, ready_idx: IntArray) -> list[list[int]]:
        """One DURP round: claim goals in index order, then A* and take the first hop."""
        goals = claim_highest_load_goals(
            state, ready_idx, self._reserved_goals(ready_idx), self.flight
        )
        plans: list[list[int]] = []
        for u, goal in zip(ready_idx, goals, strict=True):
            node = int(state.uav_node[u])
            if node == goal:
                plans.append([node, node])  # at the goal: hover and serve it
            else:
                plans.append(self._search(node, goal, self.heuristic_j(state, int(u), goal)))
        return plans

    @classmethod
    def next_waypoints_many(cls, planners: Sequence[UavPlanner], batch: PlanningBatch) -> IntArray:
        """Vectorised DURP round over R env copies (same result as R single calls).

        The goal claiming and the heuristics are computed for all copies at once; A* still
        runs once per ready UAV that is not at its goal.
        """
        durps = [p for p in planners if isinstance(p, DurpPlanner)]
        if len(durps) != len(planners) or not durps:
            return super().next_waypoints_many(planners, batch)
        flight = durps[0].flight
        goal_of, ratio = UavPlanner._claim_many(durps, batch)
        # heuristics for every ready UAV, then one A* each
        r_idx, u_idx = np.nonzero(batch.ready)
        uav_node = batch.uav_node
        if r_idx.size:
            p0 = durps[0]
            d_ref, e_ref = p0.reference_length_m, p0.reference_energy_j
            node = uav_node[r_idx, u_idx]
            goal = goal_of[r_idx, u_idx]
            e_rem = batch.energy_j[r_idx, u_idx][:, None] - flight.energy_matrix_j[node]
            weights = np.array([[p.alpha, p.beta, p.gamma] for p in durps])[r_idx]
            h = (
                weights[:, :1] * e_ref * (flight.distance_matrix_m[goal] / d_ref)
                + weights[:, 1:2] * e_ref * (1.0 - e_rem / batch.energy_max_j[u_idx][:, None])
                - weights[:, 2:3] * e_ref * ratio[r_idx]
            )
            for k in range(r_idx.size):
                r, u, n, g = int(r_idx[k]), int(u_idx[k]), int(node[k]), int(goal[k])
                planner = durps[r]
                path = [n, n] if n == g else planner._search(n, g, h[k])
                planner._store(u, n, path)
        return np.stack([p._waypoints for p in durps]).reshape(uav_node.shape).copy()
