"""Backhaul topology between servers: k-nearest-neighbour and lattice graphs, hop counts.

Graphs are ``networkx.Graph`` objects with nodes ``0 .. n-1``; every node carries ``pos``
(an ``(x, y)`` tuple in metres) and every edge ``distance_m`` (Euclidean length in metres).
Paper C links RSUs by a k-NN graph (k = 4) and counts backhaul hops by BFS (SPEC §C).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from vtwin.arrays import FloatArray, IntArray

__all__ = ["grid_graph", "hop_matrix", "knn_graph", "nearest"]

_TIE_RTOL = 1e-12
"""Relative slack when collecting candidates tied at a neighbour distance."""

_NEAREST_CHUNK_ELEMENTS = 4_000_000
"""Upper bound on point×node distances held in memory at once by :func:`nearest`."""


def _points(xy: ArrayLike, name: str) -> FloatArray:
    """Return ``xy`` as a finite float64 ``[n, 2]`` array."""
    arr = np.asarray(xy, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape [n, 2] (metres), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite coordinates (metres)")
    return arr


def _tie_radius(d: float | FloatArray) -> float | FloatArray:
    """Search radius that surely includes every point at distance ``d`` despite rounding."""
    return d * (1.0 + _TIE_RTOL) + 1e-12


def _empty_graph(xy: FloatArray) -> nx.Graph:
    """Graph with nodes ``0..n-1`` carrying ``pos`` and no edges."""
    g = nx.Graph()
    g.add_nodes_from((i, {"pos": (float(p[0]), float(p[1]))}) for i, p in enumerate(xy))
    return g


def _add_edge(g: nx.Graph, xy: FloatArray, i: int, j: int) -> None:
    """Add edge (i, j) with its Euclidean length as ``distance_m``."""
    g.add_edge(i, j, distance_m=float(math.hypot(*(xy[i] - xy[j]))))


def _closest_pair(
    xy: FloatArray, members_a: IntArray, members_b: IntArray, tree_a: cKDTree
) -> tuple[float, int, int]:
    """Shortest link between two node sets as (distance, low index, high index), ties by index."""
    d_b, _ = tree_a.query(xy[members_b], k=1)
    d_min = float(np.min(d_b))
    radius = float(_tie_radius(d_min))
    best: tuple[float, int, int] | None = None
    for b in members_b[d_b <= radius]:
        for a_local in tree_a.query_ball_point(xy[b], radius):
            a = int(members_a[a_local])
            cand = (float(math.hypot(*(xy[a] - xy[b]))), min(a, int(b)), max(a, int(b)))
            if best is None or cand < best:
                best = cand
    assert best is not None  # the nearest point itself is always inside the radius
    return best


def knn_graph(xy: ArrayLike, k: int, *, connect: bool = True) -> nx.Graph:
    """Undirected k-nearest-neighbour graph of points ``xy`` ``[n, 2]`` metres (edges in metres).

    i and j are linked when j is among the k nearest points of i or i among those of j
    (distance ties go to the lower index). With ``connect=True`` the shortest edge joining two
    different components is added repeatedly (ties by index) until the graph is connected —
    the components are joined as by Kruskal's algorithm over their closest pairs.
    """
    pts = _points(xy, "xy")
    n = pts.shape[0]
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    k = int(k)
    if n >= 2 and k >= n:
        raise ValueError(f"k must be < the number of points n = {n} (so in [1, {n - 1}]), got {k}")
    g = _empty_graph(pts)
    if n < 2:
        return g

    tree = cKDTree(pts)
    d_k, _ = tree.query(pts, k=k + 1)  # column 0 is the point itself (or a duplicate)
    radii = _tie_radius(d_k[:, -1])
    candidates = tree.query_ball_point(pts, radii)
    for i in range(n):
        cand = np.array([j for j in candidates[i] if j != i], dtype=np.int64)
        dist = np.hypot(*(pts[cand] - pts[i]).T)
        order = np.lexsort((cand, dist))  # by distance, then by index
        for j in cand[order[:k]]:
            _add_edge(g, pts, i, int(j))

    if connect:
        _connect_components(g, pts)
    return g


def _connect_components(g: nx.Graph, pts: FloatArray) -> None:
    """Join the components of ``g`` by repeatedly adding the shortest inter-component edge."""
    comps = sorted(
        (np.array(sorted(c), dtype=np.int64) for c in nx.connected_components(g)),
        key=lambda c: int(c[0]),
    )
    if len(comps) <= 1:
        return
    trees = [cKDTree(pts[c]) for c in comps]
    links: list[tuple[float, int, int, int, int]] = []
    for a in range(len(comps)):
        for b in range(a + 1, len(comps)):
            d, i, j = _closest_pair(pts, comps[a], comps[b], trees[a])
            links.append((d, i, j, a, b))
    links.sort()
    # Kruskal over components: the globally shortest remaining link between two different
    # (merged) components is always one of the pairwise closest links
    parent = list(range(len(comps)))

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for _d, i, j, a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            _add_edge(g, pts, i, j)


def grid_graph(
    n_x: int, n_y: int, spacing_m: float, *, origin_xy: tuple[float, float] = (0.0, 0.0)
) -> tuple[nx.Graph, FloatArray]:
    """4-neighbour lattice of n_x × n_y nodes spacing_m metres apart; node ``iy*n_x + ix``.

    Returns the graph (``pos``/``distance_m`` attributes as :func:`knn_graph`) and the node
    positions ``[n_x*n_y, 2]`` in metres, node ``(ix, iy)`` at ``origin + spacing·(ix, iy)``.
    """
    for name, value in (("n_x", n_x), ("n_y", n_y)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if (
        isinstance(spacing_m, bool)
        or not isinstance(spacing_m, Real)
        or not math.isfinite(spacing_m)
        or spacing_m <= 0
    ):
        raise ValueError(f"spacing_m must be a finite number > 0 metres, got {spacing_m!r}")
    origin = np.asarray(origin_xy, dtype=np.float64)
    if origin.shape != (2,) or not np.all(np.isfinite(origin)):
        raise ValueError(f"origin_xy must be two finite numbers (x, y) metres, got {origin_xy!r}")
    n_x, n_y = int(n_x), int(n_y)
    iy, ix = np.divmod(np.arange(n_x * n_y), n_x)
    xy = origin + float(spacing_m) * np.stack([ix, iy], axis=1).astype(np.float64)
    g = _empty_graph(xy)
    for node in range(n_x * n_y):
        if ix[node] + 1 < n_x:
            _add_edge(g, xy, node, node + 1)
        if iy[node] + 1 < n_y:
            _add_edge(g, xy, node, node + n_x)
    return g, xy


def hop_matrix(graph: nx.Graph) -> IntArray:
    """BFS hop counts ``[n, n]`` between nodes ``0..n-1``; −1 if unreachable, 0 on the diagonal."""
    n = graph.number_of_nodes()
    if set(graph.nodes) != set(range(n)):
        raise ValueError("graph nodes must be the integers 0 .. n-1")
    hops = np.full((n, n), -1, dtype=np.int64)
    for src, lengths in nx.all_pairs_shortest_path_length(graph):
        dst = np.fromiter(lengths.keys(), dtype=np.int64, count=len(lengths))
        hops[src, dst] = np.fromiter(lengths.values(), dtype=np.int64, count=len(lengths))
    return hops


def nearest(xy_points: ArrayLike, xy_nodes: ArrayLike) -> tuple[IntArray, FloatArray]:
    """Index ``[m]`` of the nearest node to each point and its distance ``[m]`` in metres.

    Distances are computed exactly (blocked brute force), so ties go to the lowest node index.
    """
    pts = _points(xy_points, "xy_points")
    nodes = _points(xy_nodes, "xy_nodes")
    if nodes.shape[0] == 0:
        raise ValueError("xy_nodes must hold at least one node, got 0")
    m = pts.shape[0]
    index = np.empty(m, dtype=np.int64)
    dist = np.empty(m, dtype=np.float64)
    step = max(1, _NEAREST_CHUNK_ELEMENTS // nodes.shape[0])
    for s in range(0, m, step):
        diff = pts[s : s + step, None, :] - nodes[None, :, :]
        d2 = np.einsum("pnc,pnc->pn", diff, diff)
        best = np.argmin(d2, axis=1)
        index[s : s + step] = best
        dist[s : s + step] = np.sqrt(d2[np.arange(best.size), best])
    return index, dist
