"""Common ground of the UAV route planners of paper A: flight graph, planner state, interface.

The UAVs of paper A fly over the RSU graph (SPEC §A, "DURP"): nodes are RSUs with positions
in local metres, edges join neighbouring RSUs. A UAV always sits at a node when it is asked
for its next waypoint and then flies *straight* to that waypoint at the cruise speed, so
every cost here is computed from straight-line geometry: the propulsion energy of a hop is
``P(V)·d/V`` from the rotary-wing model of SPEC §0 (:func:`vtwin.physics.energy.flight_energy_j`).
The ``distance_m`` edge attribute of the input graph is not used for costs.

A planner is reset once per episode with the graph, the number of UAVs and the episode's
``numpy.random.Generator`` (the only source of randomness), then asked repeatedly for the
next waypoint of the UAVs that have just arrived somewhere (``ready``).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from numbers import Integral
from typing import Any, ClassVar

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from vtwin.arrays import BoolArray, FloatArray, IntArray
from vtwin.physics.energy import flight_energy_j

__all__ = [
    "FlightGraph",
    "PlannerState",
    "PlanningBatch",
    "UavPlanner",
    "claim_highest_load_goals",
]


def _positions(graph: nx.Graph) -> FloatArray:
    """Node positions ``[E, 2]`` in metres from the ``pos`` attribute of nodes ``0..E-1``."""
    n = graph.number_of_nodes()
    if n == 0:
        raise ValueError("the flight graph must have at least one node")
    if set(graph.nodes) != set(range(n)):
        raise ValueError(f"flight graph nodes must be the integers 0 .. {n - 1}")
    xy = np.empty((n, 2), dtype=np.float64)
    for node in range(n):
        pos = graph.nodes[node].get("pos")
        if pos is None:
            raise ValueError(f"flight graph node {node} has no 'pos' attribute (x, y) metres")
        arr = np.asarray(pos, dtype=np.float64)
        if arr.shape != (2,) or not np.all(np.isfinite(arr)):
            raise ValueError(f"node {node} 'pos' must be two finite numbers (x, y) m, got {pos!r}")
        xy[node] = arr
    return xy


@dataclass(frozen=True, eq=False)
class FlightGraph:
    """RSU graph the UAVs fly over: nodes 0..E-1 with 'pos' (x, y) m; edges with 'distance_m'.

    The graph must be undirected, simple (no self-loops, no multi-edges) and connected, so
    that every RSU can be reached along edges (SPEC §A). ``xy_m[i]`` equals node ``i``'s
    ``pos``; ``speed_mps`` is the UAV cruise speed used for every hop.
    """

    graph: nx.Graph
    xy_m: FloatArray
    speed_mps: float

    def __post_init__(self) -> None:
        g = self.graph
        if not isinstance(g, nx.Graph) or g.is_directed() or g.is_multigraph():
            raise ValueError("the flight graph must be an undirected simple networkx.Graph")
        pos = _positions(g)
        xy = np.array(self.xy_m, dtype=np.float64)  # own copy
        if xy.shape != pos.shape or not np.array_equal(xy, pos):
            raise ValueError("xy_m must equal the 'pos' attributes of nodes 0..E-1 row by row")
        xy.setflags(write=False)
        object.__setattr__(self, "xy_m", xy)
        speed = float(self.speed_mps)
        if not (np.isfinite(speed) and speed > 0.0):
            raise ValueError(f"speed_mps must be a finite number > 0, got {self.speed_mps!r}")
        object.__setattr__(self, "speed_mps", speed)
        if nx.number_of_selfloops(g) > 0:
            raise ValueError("the flight graph must not have self-loops")
        if not nx.is_connected(g):
            raise ValueError("the flight graph must be connected (every RSU reachable)")

    @classmethod
    def from_graph(cls, graph: nx.Graph, speed_mps: float) -> FlightGraph:
        """Flight graph from a networkx graph (copied) with node 'pos' in m; speed in m/s."""
        if not isinstance(graph, nx.Graph):
            raise ValueError(f"graph must be a networkx.Graph, got {type(graph).__name__}")
        g = graph.copy()
        return cls(graph=g, xy_m=_positions(g), speed_mps=speed_mps)

    @property
    def n_nodes(self) -> int:
        """Number of RSU nodes E."""
        return int(self.xy_m.shape[0])

    def _check_node(self, node: int) -> int:
        """``node`` as a Python int; ValueError unless it is in 0..E-1."""
        if type(node) is int and 0 <= node < self.xy_m.shape[0]:  # fast path of hot loops
            return node
        if isinstance(node, bool) or not isinstance(node, Integral):
            raise ValueError(f"node must be an integer, got {node!r}")
        if not 0 <= int(node) < self.n_nodes:
            raise ValueError(f"node must be in 0 .. {self.n_nodes - 1}, got {node!r}")
        return int(node)

    def distance_m(self, a: int, b: int) -> float:
        """Straight-line distance in metres between nodes ``a`` and ``b``."""
        a, b = self._check_node(a), self._check_node(b)
        d = self.xy_m[a] - self.xy_m[b]
        return float(np.hypot(d[0], d[1]))

    @cached_property
    def distance_matrix_m(self) -> FloatArray:
        """[E, E] straight-line distances in metres between all node pairs (computed once)."""
        d = self.xy_m[:, None, :] - self.xy_m[None, :, :]
        out = np.asarray(np.hypot(d[..., 0], d[..., 1]), dtype=np.float64)
        out.setflags(write=False)
        return out

    @cached_property
    def energy_matrix_j(self) -> FloatArray:
        """[E, E] straight-flight energies in J between all node pairs (computed once)."""
        out = np.asarray(flight_energy_j(self.distance_matrix_m, self.speed_mps), dtype=np.float64)
        out.setflags(write=False)
        return out

    def distances_from_m(self, node: int) -> FloatArray:
        """Straight-line distances ``[E]`` in metres from ``node`` to every node."""
        return self.distance_matrix_m[self._check_node(node)].copy()

    def hop_energy_j(self, a: int, b: int) -> float:
        """Rotary-wing propulsion energy in J to fly a→b straight at ``speed_mps`` (SPEC §0)."""
        return float(flight_energy_j(self.distance_m(a, b), self.speed_mps))

    def energies_from_j(self, node: int) -> FloatArray:
        """Straight-flight energies ``[E]`` in J from ``node`` to every node at ``speed_mps``."""
        return self.energy_matrix_j[self._check_node(node)].copy()

    @cached_property
    def _edge_energy(self) -> dict[tuple[int, int], float]:
        """Hop energy in J of every edge, keyed by (low node, high node)."""
        keys = sorted((min(int(u), int(v)), max(int(u), int(v))) for u, v in self.graph.edges)
        dist = np.array([self.distance_m(u, v) for u, v in keys], dtype=np.float64)
        energy = np.atleast_1d(flight_energy_j(dist, self.speed_mps))
        return {k: float(e) for k, e in zip(keys, energy, strict=True)}

    def edge_energy_j(self, u: int, v: int, attrs: dict[str, Any] | None = None) -> float:
        """Edge weight in J for networkx (signature ``(u, v, attrs)``): the hop energy u→v."""
        return self._edge_energy[(u, v) if u <= v else (v, u)]

    def path_energy_j(self, path: Iterable[int]) -> float:
        """Total hop energy in J of flying a node sequence leg by leg, straight, at speed_mps."""
        nodes = [self._check_node(n) for n in path]
        return float(sum(self.hop_energy_j(a, b) for a, b in itertools.pairwise(nodes)))

    @cached_property
    def mean_edge_length_m(self) -> float:
        """Mean straight-line edge length in metres (0.0 for a graph without edges)."""
        if self.graph.number_of_edges() == 0:
            return 0.0
        return float(np.mean([self.distance_m(u, v) for u, v in self.graph.edges]))

    @cached_property
    def mean_edge_energy_j(self) -> float:
        """Flight energy in J of one hop of the mean edge length (1 m for an edgeless graph)."""
        length = self.mean_edge_length_m if self.mean_edge_length_m > 0.0 else 1.0
        return float(flight_energy_j(length, self.speed_mps))

    @cached_property
    def _adjacency(self) -> tuple[tuple[int, ...], ...]:
        """Sorted neighbour tuple of every node."""
        return tuple(tuple(sorted(int(m) for m in self.graph.adj[n])) for n in range(self.n_nodes))

    def neighbours(self, node: int) -> list[int]:
        """Graph neighbours of ``node``, sorted ascending."""
        return list(self._adjacency[self._check_node(node)])


def _as_array(name: str, value: Any, dtype: type[np.generic]) -> NDArray[Any]:
    """``value`` as a 1-D array of ``dtype``; ValueError if it is not 1-D."""
    arr = np.asarray(value)
    if dtype is np.int64 and arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(dtype, copy=False)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class PlannerState:
    """What a planner sees when some UAVs need their next waypoint."""

    loads: FloatArray
    """[E] current RSU load (any unit, e.g. CPU cycles)."""
    load_max: FloatArray
    """[E] RSU capacity in the unit of ``loads`` (> 0)."""
    energy_j: FloatArray
    """[U] remaining battery energy in J."""
    energy_max_j: FloatArray
    """[U] full battery energy in J (> 0)."""
    uav_node: IntArray
    """[U] node each UAV is at now (it has just arrived there)."""

    def __post_init__(self) -> None:
        for name in ("loads", "load_max", "energy_j", "energy_max_j"):
            arr = _as_array(name, getattr(self, name), np.float64)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} must be finite")
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "uav_node", _as_array("uav_node", self.uav_node, np.int64))
        if self.load_max.shape != self.loads.shape:
            raise ValueError(f"load_max shape {self.load_max.shape} != loads {self.loads.shape}")
        if np.any(self.load_max <= 0.0):
            raise ValueError("load_max must be > 0 for every RSU")
        u = self.uav_node.shape
        if self.energy_j.shape != u or self.energy_max_j.shape != u:
            raise ValueError(
                f"energy_j {self.energy_j.shape}, energy_max_j {self.energy_max_j.shape} and "
                f"uav_node {u} must have the same shape [U]"
            )
        if np.any(self.energy_max_j <= 0.0):
            raise ValueError("energy_max_j must be > 0 for every UAV")
        if np.any((self.uav_node < 0) | (self.uav_node >= self.loads.shape[0])):
            raise ValueError(f"uav_node must be in 0 .. {self.loads.shape[0] - 1}")

    @classmethod
    def trusted(
        cls,
        loads: FloatArray,
        load_max: FloatArray,
        energy_j: FloatArray,
        energy_max_j: FloatArray,
        uav_node: IntArray,
    ) -> PlannerState:
        """Build without the checks, for hot loops whose arrays are already float64/int64 1-D
        of consistent shapes (a batched env calls this thousands of times per second)."""
        state = object.__new__(cls)
        for name, value in (
            ("loads", loads),
            ("load_max", load_max),
            ("energy_j", energy_j),
            ("energy_max_j", energy_max_j),
            ("uav_node", uav_node),
        ):
            object.__setattr__(state, name, value)
        return state

    @property
    def n_rsus(self) -> int:
        """Number of RSUs E."""
        return int(self.loads.shape[0])

    @property
    def n_uavs(self) -> int:
        """Number of UAVs U."""
        return int(self.uav_node.shape[0])

    @cached_property
    def load_ratio(self) -> FloatArray:
        """[E] load over capacity L/L_max (dimensionless; computed once per state)."""
        return np.asarray(self.loads / self.load_max, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class PlanningBatch:
    """One planning round over R env copies: row r is what copy r's planner sees.

    ``loads`` [R, E], ``energy_j`` [R, U], ``uav_node`` [R, U] and ``ready`` [R, U] (the UAVs
    that need a waypoint) per copy; ``load_max`` [E] and ``energy_max_j`` [U] are shared. Units
    as in :class:`PlannerState`. Not checked: a batched env builds it from its own arrays.
    """

    loads: FloatArray
    load_max: FloatArray
    energy_j: FloatArray
    energy_max_j: FloatArray
    uav_node: IntArray
    ready: BoolArray

    def state(self, row: int) -> PlannerState:
        """Copy ``row``'s :class:`PlannerState` (views of the batch arrays)."""
        return PlannerState.trusted(
            self.loads[row],
            self.load_max,
            self.energy_j[row],
            self.energy_max_j,
            self.uav_node[row],
        )


def claim_highest_load_goals(
    state: PlannerState,
    uavs: Iterable[int],
    reserved: Iterable[int],
    flight: FlightGraph | None = None,
) -> list[int]:
    """Goal RSU of each UAV in ``uavs`` (same order): highest-L/L_max RSUs, nearest UAV first.

    Shared goal rule of DURP and greedy (SPEC §A, paper A Algorithm 1 line 3, extended to
    several UAVs): the free RSUs (not in ``reserved``, the goals of UAVs still flying) are
    taken in order of decreasing load ratio (ties: lower index), and each goes to the nearest
    still-unassigned ready UAV (straight distance over ``flight``; without ``flight``, the
    lowest UAV index). So two UAVs never chase one RSU, and a UAV already hovering over the
    hottest RSU keeps it instead of being displaced by a farther one. When every RSU is taken
    (more UAVs than RSUs) a UAV's goal is its own node: it hovers.
    """
    order = [int(u) for u in uavs]
    ratio = state.load_ratio
    rank = np.lexsort((np.arange(ratio.shape[0]), -ratio))  # by ratio desc, then index
    taken = {int(n) for n in reserved}
    goal_of: dict[int, int] = {}
    waiting = list(order)
    for cand in rank:
        if not waiting:
            break
        goal = int(cand)
        if goal in taken:
            continue
        if flight is None:
            u = waiting[0]
        else:
            dist = flight.distance_matrix_m[state.uav_node[waiting], goal]
            u = waiting[int(np.argmin(dist))]  # argmin keeps the first (lowest index) on ties
        goal_of[u] = goal
        taken.add(goal)
        waiting.remove(u)
    for u in waiting:
        goal_of[u] = int(state.uav_node[u])
    return [goal_of[u] for u in order]


class UavPlanner(ABC):
    """Route planner for U UAVs over a :class:`FlightGraph` (paper A, SPEC §A).

    Subclasses implement :meth:`_plan`; this class keeps the waypoints and plans of the UAVs
    that are not ready, validates the inputs and the plans, and exposes the latest plans.
    """

    name: ClassVar[str]
    """Registry name: "durp", "greedy", "random_walk", "patrol" or "hover"."""

    graph_following: ClassVar[bool] = True
    """Whether every waypoint is the UAV's node or a graph neighbour of it."""

    def __init__(self) -> None:
        self._flight: FlightGraph | None = None
        self._rng: np.random.Generator | None = None
        self._waypoints: IntArray = np.empty(0, dtype=np.int64)
        self._goals: IntArray = np.empty(0, dtype=np.int64)
        self._paths: list[list[int]] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def flight(self) -> FlightGraph:
        """The flight graph given to :meth:`reset`; RuntimeError before the first reset."""
        if self._flight is None:
            raise RuntimeError(f"{type(self).__name__}.reset() must be called first")
        return self._flight

    @property
    def rng(self) -> np.random.Generator:
        """The episode's random generator given to :meth:`reset`."""
        if self._rng is None:
            raise RuntimeError(f"{type(self).__name__}.reset() must be called first")
        return self._rng

    @property
    def n_uavs(self) -> int:
        """Number of UAVs U planned for."""
        return int(self._waypoints.shape[0])

    def reset(self, flight: FlightGraph, n_uavs: int, rng: np.random.Generator) -> None:
        """Start an episode: U = ``n_uavs`` UAVs over ``flight``, randomness only from ``rng``."""
        if not isinstance(flight, FlightGraph):
            raise ValueError(f"flight must be a FlightGraph, got {type(flight).__name__}")
        if isinstance(n_uavs, bool) or not isinstance(n_uavs, Integral) or n_uavs < 0:
            raise ValueError(f"n_uavs must be an integer >= 0, got {n_uavs!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self._flight = flight
        self._rng = rng
        self._waypoints = np.full(int(n_uavs), -1, dtype=np.int64)
        self._goals = np.full(int(n_uavs), -1, dtype=np.int64)
        self._paths = [[] for _ in range(int(n_uavs))]
        self._on_reset()

    def _on_reset(self) -> None:  # noqa: B027 (optional hook, deliberately not abstract)
        """Hook for subclasses: per-episode set-up after :meth:`reset` stored its arguments."""

    def next_waypoints(self, state: PlannerState, ready: NDArray[np.bool_]) -> IntArray:
        """[U] next waypoint node of every UAV: planned anew where ``ready``, else kept.

        A ready UAV flies straight to its waypoint; a waypoint equal to its node means it
        hovers there for one slot. Entries of UAVs that are not ready are those of the
        previous call (their node, i.e. hover, if they were never planned).
        """
        flight = self.flight
        if state.n_rsus != flight.n_nodes:
            raise ValueError(f"state has {state.n_rsus} RSUs, flight graph {flight.n_nodes}")
        if state.n_uavs != self.n_uavs:
            raise ValueError(f"state has {state.n_uavs} UAVs, planner was reset for {self.n_uavs}")
        ready_arr = np.asarray(ready)
        if ready_arr.shape != (self.n_uavs,) or ready_arr.dtype != np.bool_:
            raise ValueError(f"ready must be a bool array of shape ({self.n_uavs},)")
        if self._waypoints.min(initial=0) < 0:  # UAVs never planned: hover where they are
            for u in np.flatnonzero(~ready_arr & (self._waypoints < 0)):
                node = int(state.uav_node[u])
                self._waypoints[u] = node
                self._paths[u] = [node, node]
        ready_idx = np.flatnonzero(ready_arr).astype(np.int64)
        if ready_idx.size:
            paths = self._plan(state, ready_idx)
            if len(paths) != ready_idx.size:
                raise RuntimeError(f"{type(self).__name__} returned {len(paths)} plans")
            for u, path in zip(ready_idx, paths, strict=True):
                self._store(int(u), int(state.uav_node[u]), path)
        return self._waypoints.copy()

    @classmethod
    def next_waypoints_many(cls, planners: Sequence[UavPlanner], batch: PlanningBatch) -> IntArray:
        """:meth:`next_waypoints` for several env copies at once: row i is planner i's copy.

        Returns [R, U] waypoints, exactly what R separate calls return (subclasses may
        vectorise; this default calls each planner in turn).
        """
        out = np.empty_like(batch.uav_node)
        for i, planner in enumerate(planners):
            out[i] = planner.next_waypoints(batch.state(i), batch.ready[i])
        return out

    @staticmethod
    def _claim_many(
        planners: Sequence[UavPlanner], batch: PlanningBatch
    ) -> tuple[IntArray, FloatArray]:
        """:func:`claim_highest_load_goals` for R copies at once: goals [R, U] (−1 where not
        ready) and the load ratios [R, E]. Also lets never-planned, not-ready UAVs hover, as
        :meth:`next_waypoints` does."""
        loads, load_max, uav_node, ready = batch.loads, batch.load_max, batch.uav_node, batch.ready
        flight = planners[0].flight
        n_rows, n_uavs = uav_node.shape
        rows = np.arange(n_rows)
        wps = np.stack([p._waypoints for p in planners]).reshape(n_rows, n_uavs)
        goals = np.stack([p._goals for p in planners]).reshape(n_rows, n_uavs)
        for r, u in zip(*np.nonzero((wps < 0) & ~ready), strict=True):
            node = int(uav_node[r, u])
            planners[r]._waypoints[u] = node
            planners[r]._paths[u] = [node, node]
        ratio = loads / load_max[None, :]
        taken = np.zeros_like(ratio, dtype=bool)
        held = (~ready) & (goals >= 0)  # goals of UAVs still flying are reserved
        taken[np.nonzero(held)[0], goals[held]] = True
        waiting: NDArray[np.bool_] = np.array(ready, dtype=bool)
        goal_of = np.full((n_rows, n_uavs), -1, dtype=np.int64)
        for _ in range(n_uavs):
            active = np.asarray(waiting.any(axis=1), dtype=bool)
            if not active.any():
                break
            free = np.asarray(~taken.all(axis=1), dtype=bool)
            best = np.argmax(np.where(taken, -np.inf, ratio), axis=1)  # first max: lowest index
            dist = flight.distance_matrix_m[uav_node, best[:, None]]
            u_near = np.argmin(np.where(waiting, dist, np.inf), axis=1)  # ties: lowest index
            sel = active & free
            goal_of[rows[sel], u_near[sel]] = best[sel]
            taken[rows[sel], best[sel]] = True
            waiting[rows[sel], u_near[sel]] = False
            none_left = active & ~free  # more UAVs than free RSUs: the rest hover
            stay = waiting & none_left[:, None]
            goal_of[stay] = uav_node[stay]
            waiting[none_left] = False
        return goal_of, ratio

    def _store(self, uav: int, node: int, path: list[int]) -> None:
        """Record ``path`` (``[node, waypoint, ..., goal]``) as the latest plan of ``uav``."""
        plan = [int(n) for n in path]
        if len(plan) < 2 or plan[0] != node:
            raise RuntimeError(f"plan {plan} of UAV {uav} must start [node {node}, waypoint ...]")
        flight = self.flight
        if min(plan) < 0 or max(plan) >= flight.n_nodes:
            raise RuntimeError(f"plan {plan} of UAV {uav} leaves nodes 0..{flight.n_nodes - 1}")
        if self.graph_following and plan[1] != node and plan[1] not in flight._adjacency[node]:
            raise RuntimeError(f"waypoint {plan[1]} is not a neighbour of node {node}")
        self._waypoints[uav] = plan[1]
        self._goals[uav] = plan[-1]
        self._paths[uav] = plan

    def _reserved_goals(self, ready_idx: IntArray) -> set[int]:
        """Goals of the latest plans of the UAVs that are not in ``ready_idx`` (still flying)."""
        busy = np.ones(self.n_uavs, dtype=np.bool_)
        busy[ready_idx] = False
        return {int(g) for g in self._goals[busy] if g >= 0}

    @abstractmethod
    def _plan(self, state: PlannerState, ready_idx: IntArray) -> list[list[int]]:
        """Plan of each UAV in ``ready_idx`` (index order): ``[node, waypoint, ..., goal]``."""

    @property
    def goals(self) -> IntArray:
        """[U] last node of each UAV's latest plan (its goal), −1 where it has none yet."""
        return self._goals.copy()

    @property
    def planned_paths(self) -> list[list[int]]:
        """Per UAV, its latest plan ``[node, waypoint, ..., goal]`` (for paper A Fig. 5).

        Planners without a multi-hop plan give ``[node, waypoint]``; a hovering UAV gives
        ``[node, node]``; a UAV never planned yet gives ``[]``.
        """
        return [list(p) for p in self._paths]
