"""UAV route planners of paper A (SPEC §A): DURP (A*, Algorithm 1) and its four baselines.

Usage: build a :class:`FlightGraph` from an RSU graph, ``make_planner(name, **params)``,
``reset(flight, n_uavs, rng)`` once per episode, then ``next_waypoints(state, ready)`` each
time some UAVs have arrived at a node.
"""

from __future__ import annotations

from typing import Any

from vtwin.planning.base import (
    FlightGraph,
    PlannerState,
    PlanningBatch,
    UavPlanner,
    claim_highest_load_goals,
)
from vtwin.planning.baselines import (
    GreedyPlanner,
    HoverPlanner,
    PatrolPlanner,
    RandomWalkPlanner,
    build_patrol_tour,
)
from vtwin.planning.durp import DurpPlanner

PLANNERS: dict[str, type[UavPlanner]] = {
    cls.name: cls
    for cls in (DurpPlanner, GreedyPlanner, RandomWalkPlanner, PatrolPlanner, HoverPlanner)
}
"""Planner classes by registry name."""


def make_planner(name: str, **params: Any) -> UavPlanner:
    """Planner ``name`` built with keyword ``params``; ValueError naming the valid names."""
    try:
        cls = PLANNERS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(PLANNERS))
        raise ValueError(f"unknown UAV planner {name!r}; valid names: {valid}") from None
    return cls(**params)


__all__ = [
    "PLANNERS",
    "DurpPlanner",
    "FlightGraph",
    "GreedyPlanner",
    "HoverPlanner",
    "PatrolPlanner",
    "PlannerState",
    "PlanningBatch",
    "RandomWalkPlanner",
    "UavPlanner",
    "build_patrol_tour",
    "claim_highest_load_goals",
    "make_planner",
]
