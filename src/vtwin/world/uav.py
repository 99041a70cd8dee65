"""UAV flight shared by the envs: straight-line steps toward a goal, patrols, energy.

Batched over any leading shape (an env's ``[B, U]`` copies × UAVs); positions are local
metres ``[..., 2]``. The envs own the UAVs' state arrays and decide where each flies:

* paper A (:mod:`vtwin.envs.premigration`): to its planner's waypoint, hovering there for a
  planning period; rotary-wing energy per slot by :func:`slot_energy_j`;
* paper B (:mod:`vtwin.envs.routing`): a patrol among RSUs, each leg to a random backhaul
  neighbour (:class:`PatrolGraph`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import networkx as nx
import numpy as np

from vtwin.arrays import BoolArray, FloatArray, IntArray

__all__ = ["FlightStep", "PatrolGraph", "fly_straight", "slot_energy_j"]


@dataclass(frozen=True)
class FlightStep:
    """One slot of straight-line flight: new positions, who flew, who arrived, seconds flown."""

    xy: FloatArray
    """Positions after the slot, metres ``[..., 2]``."""
    flying: BoolArray
    """Left its position for the goal this slot (arrivals included)."""
    arrived: BoolArray
    """Reached its goal this slot (its position is then exactly the goal)."""
    flight_s: FloatArray
    """Seconds spent flying this slot (``distance / speed``, at most the slot)."""


def fly_straight(
    xy: FloatArray,
    goal_xy: FloatArray,
    speed_mps: float,
    slot_s: float,
    active: BoolArray,
    *,
    hover_within_m: float | None = None,
    rounding: Literal["heading", "fraction"] = "heading",
) -> FlightStep:
    """Fly every ``active`` UAV one slot straight toward ``goal_xy`` at ``speed_mps``.

    A UAV within reach (``speed_mps · slot_s``) of its goal lands exactly on it and has
    ``arrived``; one farther away moves by the reach along the straight line. With
    ``hover_within_m`` a UAV that close to its goal neither flies nor arrives (it hovers);
    without it a UAV already at its goal arrives again (and may pick its next goal).
    ``rounding`` fixes how the step is rounded, so an env's results stay bit for bit what
    they were: ``heading`` adds (Δ/d)·reach (paper A), ``fraction`` adds Δ·(reach/d)
    (paper B); the two agree to the last bit or so.
    """
    delta = goal_xy - xy
    dist = np.hypot(delta[..., 0], delta[..., 1])
    reach = speed_mps * slot_s
    flying = active if hover_within_m is None else active & (dist > hover_within_m)
    arrived = flying & (dist <= reach)
    going = flying & ~arrived
    if rounding == "heading":
        unit = np.divide(
            delta, dist[..., None], out=np.zeros_like(delta), where=dist[..., None] > 0
        )
        new_xy = np.where(going[..., None], xy + unit * reach, xy)
    else:
        scale = np.divide(reach, dist, out=np.zeros_like(dist), where=going)
        new_xy = np.where(going[..., None], xy + delta * scale[..., None], xy)
    new_xy[arrived] = goal_xy[arrived]
    flight_s = np.where(flying, np.minimum(dist, reach) / speed_mps, 0.0)
    return FlightStep(xy=new_xy, flying=flying, arrived=arrived, flight_s=flight_s)


def slot_energy_j(
    flight_s: FloatArray,
    slot_s: float,
    fly_power_w: float,
    hover_power_w: float,
    energy_left_j: FloatArray,
) -> FloatArray:
    """Energy a UAV spends in one slot, joules: ``P(V)·t_fly + P(0)·(τ − t_fly)`` (SPEC §0,
    rotary-wing model; :mod:`vtwin.physics.energy`), at most what its battery has left.

    A UAV with an empty battery (``energy_left_j ≤ 0``) is grounded and spends nothing.
    """
    alive = energy_left_j > 0
    spent = np.where(alive, fly_power_w * flight_s + hover_power_w * (slot_s - flight_s), 0.0)
    return np.minimum(spent, energy_left_j)


@dataclass(frozen=True)
class PatrolGraph:
    """Where a patrolling UAV may fly next: each RSU's backhaul neighbours, padded."""

    degree: IntArray
    """Number of backhaul neighbours of each RSU ``[N]``."""
    neighbours: IntArray
    """Neighbours of each RSU in increasing order ``[N, width]``, padded with the RSU itself."""

    @classmethod
    def from_graph(cls, backhaul: nx.Graph, n_rsu: int) -> PatrolGraph:
        """The patrol table of RSUs ``0 … n_rsu − 1`` over the ``backhaul`` graph."""
        nbrs = [sorted(backhaul.neighbors(i)) for i in range(n_rsu)]
        degree = np.array([len(n) for n in nbrs], dtype=np.int64)
        width = max(1, int(degree.max(initial=0)))
        table = np.array(
            [n + [i] * (width - len(n)) for i, n in enumerate(nbrs)], dtype=np.int64
        ).reshape(n_rsu, width)
        return cls(degree=degree, neighbours=table)

    def next_rsu(self, node: IntArray, draw: FloatArray) -> IntArray:
        """Next RSU of UAVs at RSUs ``node``: the neighbour picked by uniforms ``draw`` in
        [0, 1) (each neighbour equally likely); an RSU without neighbours keeps its UAV."""
        deg = self.degree[node]
        j = np.minimum((draw * deg).astype(np.int64), np.maximum(deg - 1, 0))
        return np.where(deg > 0, self.neighbours[node, j], node)
