"""Tests of vtwin.world.topology: k-NN and grid backhaul graphs, hop counts, nearest node."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vtwin.world.topology import grid_graph, hop_matrix, knn_graph, nearest


def _brute_knn_sets(xy: np.ndarray, k: int) -> list[set[int]]:
    """Reference k-NN by sorting (distance, index) for every point."""
    out = []
    for i in range(len(xy)):
        d = np.hypot(*(xy - xy[i]).T)
        order = sorted((float(d[j]), j) for j in range(len(xy)) if j != i)
        out.append({j for _, j in order[:k]})
    return out


def test_knn_graph_matches_brute_force_and_attributes() -> None:
    xy = np.random.default_rng(0).uniform(0, 1000, size=(40, 2))
    g = knn_graph(xy, 3, connect=False)
    assert sorted(g.nodes) == list(range(40))
    ref = _brute_knn_sets(xy, 3)
    expected = {frozenset((i, j)) for i in range(40) for j in ref[i]}
    assert {frozenset(e) for e in g.edges} == expected
    for i, j, data in g.edges(data=True):
        assert data["distance_m"] == pytest.approx(np.hypot(*(xy[i] - xy[j])))
    assert g.nodes[5]["pos"] == (xy[5, 0], xy[5, 1])
    assert isinstance(g.nodes[5]["pos"], tuple)
    assert not g.is_directed()


def test_knn_ties_broken_by_index() -> None:
    # point 0 has points 1..4 all at distance 1; k = 2 must pick the two lowest indices
    xy = np.array([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=float)
    g = knn_graph(xy, 2, connect=False)
    nbrs_of_0 = {j for j in g.neighbors(0)}
    assert {1, 2} <= nbrs_of_0
    # and the result does not depend on anything but the input
    assert {frozenset(e) for e in knn_graph(xy, 2).edges} == {frozenset(e) for e in g.edges}


def test_knn_connects_separate_clusters_with_shortest_edges() -> None:
    a = np.array([[0, 0], [1, 0], [0, 1]], dtype=float)
    b = a + np.array([100.0, 0.0])
    c = a + np.array([100.0, 50.0])
    xy = np.vstack([a, b, c])
    loose = knn_graph(xy, 2, connect=False)
    assert nx.number_connected_components(loose) == 3
    g = knn_graph(xy, 2)
    assert nx.is_connected(g)
    added = {frozenset(e) for e in g.edges} - {frozenset(e) for e in loose.edges}
    assert len(added) == 2
    # b–c closest pair: 5 (100, 1) – 6 (100, 50) at 49 m; a–b closest: 1 (1, 0) – 3 (100, 0)
    # at 99 m; every a–c pair is longer, so Kruskal adds b–c, then a–b, and stops
    assert added == {frozenset((5, 6)), frozenset((1, 3))}
    assert g.edges[5, 6]["distance_m"] == pytest.approx(49.0)


@settings(max_examples=40, deadline=None)
@given(
    xy=arrays(
        np.float64,
        st.tuples(st.integers(2, 40), st.just(2)),
        elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    ),
    k_frac=st.floats(0.0, 1.0),
)
def test_knn_graph_property_connected_symmetric_min_degree(xy: np.ndarray, k_frac: float) -> None:
    n = xy.shape[0]
    k = 1 + int(k_frac * (n - 2))  # in [1, n-1]
    g = knn_graph(xy, k)
    assert g.number_of_nodes() == n
    assert nx.is_connected(g)
    assert all(deg >= k for _, deg in g.degree)
    assert all(i != j for i, j in g.edges)  # no self loops, even with duplicate points
    # symmetric adjacency, non-negative edge lengths
    adj = nx.to_numpy_array(g, nodelist=range(n), weight="distance_m", nonedge=-1.0)
    np.testing.assert_array_equal(adj, adj.T)
    assert np.all(adj[adj != -1.0] >= 0)


def test_knn_graph_small_and_invalid_inputs() -> None:
    assert knn_graph(np.zeros((0, 2)), 1).number_of_nodes() == 0
    one = knn_graph(np.array([[5.0, 6.0]]), 4)
    assert one.number_of_nodes() == 1
    assert one.number_of_edges() == 0
    xy = np.zeros((4, 2))
    with pytest.raises(ValueError, match="k must be"):
        knn_graph(xy, 0)
    with pytest.raises(ValueError, match=r"k must be < .* n = 4"):
        knn_graph(xy, 4)
    with pytest.raises(ValueError, match=r"xy must have shape \[n, 2\]"):
        knn_graph(np.zeros((4, 3)), 1)


def test_hop_matrix_path_graph() -> None:
    g = nx.path_graph(4)
    hops = hop_matrix(g)
    assert hops.dtype == np.int64
    expected = np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    np.testing.assert_array_equal(hops, expected)
    assert hops[0, 3] == 3


def test_hop_matrix_matches_networkx_and_marks_unreachable() -> None:
    g = nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3), (4, 5)])
    g.add_node(6)
    hops = hop_matrix(g)
    lengths = dict(nx.all_pairs_shortest_path_length(g))
    for i in range(7):
        assert hops[i, i] == 0
        for j in range(7):
            assert hops[i, j] == lengths[i].get(j, -1)
    assert hops[0, 4] == -1
    assert hops[6, 0] == -1
    assert hops[4, 5] == 1
    with pytest.raises(ValueError, match=r"0 \.\. n-1"):
        hop_matrix(nx.Graph([(1, 2)]))


def test_grid_graph_structure_and_hops() -> None:
    n_x, n_y = 4, 3
    g, xy = grid_graph(n_x, n_y, 500.0, origin_xy=(10.0, 20.0))
    assert g.number_of_nodes() == 12
    assert g.number_of_edges() == (n_x - 1) * n_y + n_x * (n_y - 1)
    assert xy.shape == (12, 2)
    np.testing.assert_array_equal(xy[n_x * 2 + 3], [10.0 + 1500.0, 20.0 + 1000.0])
    assert g.nodes[7]["pos"] == (xy[7, 0], xy[7, 1])
    assert all(d["distance_m"] == 500.0 for *_, d in g.edges(data=True))
    hops = hop_matrix(g)
    iy, ix = np.divmod(np.arange(12), n_x)
    manhattan = np.abs(np.subtract.outer(ix, ix)) + np.abs(np.subtract.outer(iy, iy))
    np.testing.assert_array_equal(hops, manhattan)
    with pytest.raises(ValueError, match="n_x"):
        grid_graph(0, 3, 1.0)
    with pytest.raises(ValueError, match="spacing_m"):
        grid_graph(2, 3, -1.0)


def test_knn_on_grid_positions_with_ties_is_lattice() -> None:
    # a k = 4 k-NN graph of a square lattice contains the lattice; corner nodes (2 lattice
    # neighbours) add a diagonal (141 m) and, of the tied 200 m points, the lower index
    g_grid, xy = grid_graph(5, 5, 100.0)
    g = knn_graph(xy, 4)
    assert {frozenset(e) for e in g_grid.edges} <= {frozenset(e) for e in g.edges}
    assert max(d["distance_m"] for *_, d in g.edges(data=True)) == pytest.approx(200.0)
    # corner 0 at (0, 0): 1, 5 (100 m), 6 (141 m), then 2 and 10 tie at 200 m -> 2
    assert set(g.neighbors(0)) == {1, 5, 6, 2}


def test_nearest() -> None:
    nodes = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pts = np.array([[1.0, 1.0], [9.0, 0.5], [5.0, 0.0], [0.0, 30.0]])
    idx, dist = nearest(pts, nodes)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [0, 1, 0, 2])  # (5, 0) is a tie: lowest index wins
    np.testing.assert_allclose(dist, [np.sqrt(2.0), np.hypot(1.0, 0.5), 5.0, 20.0])
    rng = np.random.default_rng(1)
    many, centres = rng.uniform(0, 100, (300, 2)), rng.uniform(0, 100, (17, 2))
    idx, dist = nearest(many, centres)
    full = np.hypot(*(many[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.testing.assert_array_equal(idx, np.argmin(full, axis=1))
    np.testing.assert_allclose(dist, full.min(axis=1))
    empty_idx, empty_d = nearest(np.zeros((0, 2)), nodes)
    assert empty_idx.shape == (0,)
    assert empty_d.shape == (0,)
    with pytest.raises(ValueError, match="xy_nodes"):
        nearest(pts, np.zeros((0, 2)))
