"""Grid mobility's table-driven fast path against a plain per-vehicle reference.

The reference below evaluates the driving rule the direct way (per crossing vehicle: candidate
moves, feasibility, renormalised weights, running sums, first sum above the scaled uniform)
with the same random draws in the same order. The model must reproduce it bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.world.mobility import ManhattanGridMobility

_STEPS = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int64)


def _reference_trajectory(
    n: int,
    n_slots: int,
    *,
    block_m: float,
    n_blocks_x: int,
    n_blocks_y: int,
    speed_mps: float | tuple[float, float],
    slot_s: float,
    streams: list[np.random.Generator],
    origin_xy: tuple[float, float] = (0.0, 0.0),
    turn_probs: tuple[float, float, float] = (0.5, 0.25, 0.25),
) -> np.ndarray:
    """Positions ``[n_slots, n, 2]`` from the direct evaluation of the driving rule."""
    nbx, nby = n_blocks_x, n_blocks_y
    k = n // len(streams)
    speeds, segs, dirs, offs, turn_rngs = [], [], [], [], []
    for g in streams:  # per stream: speeds, segments, directions, offsets, child seed
        if isinstance(speed_mps, tuple):
            speeds.append(g.uniform(speed_mps[0], speed_mps[1], size=k))
        else:
            speeds.append(np.full(k, float(speed_mps)))
        segs.append(g.integers(0, nbx * (nby + 1) + (nbx + 1) * nby, size=k))
        dirs.append(g.random(k))
        offs.append(g.random(k))
        turn_rngs.append(np.random.default_rng(int(g.integers(0, 2**63 - 1))))
    speed = np.concatenate(speeds)
    seg, forward = np.concatenate(segs), np.concatenate(dirs) < 0.5
    along = np.concatenate(offs) * block_m

    # start: horizontal segments first (west to east), then vertical ones (south to north)
    node = np.zeros((n, 2), dtype=np.int64)
    heading = np.zeros(n, dtype=np.int64)
    horiz = seg < nbx * (nby + 1)
    jh, jv = seg[horiz], seg[~horiz] - nbx * (nby + 1)
    node[horiz, 0] = jh % nbx + np.where(forward[horiz], 0, 1)
    node[horiz, 1] = jh // nbx
    heading[horiz] = np.where(forward[horiz], 0, 2)
    node[~horiz, 0] = jv // nby
    node[~horiz, 1] = jv % nby + np.where(forward[~horiz], 0, 1)
    heading[~horiz] = np.where(forward[~horiz], 1, 3)

    probs = np.asarray(turn_probs, dtype=np.float64)
    origin = np.asarray(origin_xy, dtype=np.float64)
    tape = np.zeros((n, 0))
    used = np.zeros(n, dtype=np.int64)
    out = np.empty((n_slots, n, 2))
    for t in range(n_slots):
        if t:
            remaining = speed * slot_s
            while True:
                to_go = block_m - along
                crossing = (remaining > 0) & (remaining >= to_go)
                if not np.any(crossing):
                    break
                idx = np.flatnonzero(crossing)
                remaining[idx] -= to_go[idx]
                node[idx] += _STEPS[heading[idx]]
                along[idx] = 0.0
                # turn: candidates straight / left / right, off-grid ones dropped
                arriving = heading[idx]
                cand = np.stack([arriving, (arriving + 1) % 4, (arriving + 3) % 4], axis=1)
                nxt = node[idx][:, None, :] + _STEPS[cand]
                feas = (
                    (nxt[..., 0] >= 0)
                    & (nxt[..., 0] <= nbx)
                    & (nxt[..., 1] >= 0)
                    & (nxt[..., 1] <= nby)
                )
                weights = probs[None, :] * feas
                total = weights.sum(axis=1)
                no_mass = total <= 0
                weights[no_mass] = feas[no_mass].astype(np.float64)
                total = weights.sum(axis=1)
                cum = np.cumsum(weights, axis=1)
                if np.any(used[idx] >= tape.shape[1]):  # next 64 uniforms of every vehicle
                    chunk = np.concatenate([g.random((k, 64)) for g in turn_rngs])
                    tape = np.concatenate([tape, chunk], axis=1)
                u = tape[idx, used[idx]] * total
                used[idx] += 1
                hit = cum > u[:, None]
                pick = np.argmax(hit, axis=1)
                missed = ~hit.any(axis=1)
                pick[missed] = 2 - np.argmax(weights[missed][:, ::-1] > 0, axis=1)
                new_heading = cand[np.arange(idx.size), pick]
                dead_end = total <= 0
                new_heading[dead_end] = (arriving[dead_end] + 2) % 4
                heading[idx] = new_heading
            along += remaining
        out[t] = origin + block_m * node.astype(np.float64) + along[:, None] * _STEPS[heading]
    return out


def _both(
    n: int, n_slots: int, seed: int, n_streams: int, **kw: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(model trajectory, reference trajectory) from identically seeded generators."""
    seqs = np.random.SeedSequence(seed).spawn(n_streams)
    model_rngs = [np.random.default_rng(s) for s in seqs]
    rng = model_rngs[0] if n_streams == 1 else model_rngs
    model = ManhattanGridMobility(n, rng=rng, **kw)
    ref_rngs = [np.random.default_rng(s) for s in seqs]
    ref = _reference_trajectory(n, n_slots, streams=ref_rngs, **kw)
    return model.trajectory(n_slots), ref


@pytest.mark.parametrize(
    ("kw", "n_streams"),
    [
        (  # the paper-B city grid: 24 x 24 blocks of 500 m, 30 s slots
            {
                "block_m": 500.0,
                "n_blocks_x": 24,
                "n_blocks_y": 24,
                "speed_mps": (8.0, 14.0),
                "slot_s": 30.0,
            },
            8,
        ),
        (  # fixed speed, one stream
            {"block_m": 500.0, "n_blocks_x": 6, "n_blocks_y": 6, "speed_mps": 11.0, "slot_s": 30.0},
            1,
        ),
        (  # several intersections per slot, sums that round differently by association
            {
                "block_m": 37.3,
                "n_blocks_x": 2,
                "n_blocks_y": 9,
                "speed_mps": (0.0, 200.0),
                "slot_s": 1.7,
                "turn_probs": (0.1, 0.3, 0.6),
                "origin_xy": (250.0, -40.0),
            },
            4,
        ),
        (  # one-block grid: every intersection is a corner
            {
                "block_m": 100.0,
                "n_blocks_x": 1,
                "n_blocks_y": 1,
                "speed_mps": (5.0, 95.0),
                "slot_s": 10.0,
                "turn_probs": (0.7, 0.2, 0.1),
            },
            2,
        ),
        (  # right turns only: borders leave no weight, allowed moves taken uniformly
            {
                "block_m": 10.0,
                "n_blocks_x": 5,
                "n_blocks_y": 1,
                "speed_mps": (0.0, 30.0),
                "slot_s": 3.0,
                "turn_probs": (0.0, 0.0, 1.0),
            },
            2,
        ),
    ],
)
def test_grid_matches_direct_rule_bit_for_bit(kw: dict, n_streams: int) -> None:
    got, want = _both(16 * n_streams, 220, 11, n_streams, **kw)
    assert got.tobytes() == want.tobytes()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nbx=st.integers(1, 6),
    nby=st.integers(1, 6),
    block=st.floats(40.0, 600.0),
    low=st.floats(0.0, 40.0),
    span=st.floats(0.0, 40.0),
    probs=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)).filter(
        lambda p: sum(p) > 0.05
    ),
)
def test_grid_property_matches_direct_rule(
    seed: int,
    nbx: int,
    nby: int,
    block: float,
    low: float,
    span: float,
    probs: tuple[float, float, float],
) -> None:
    s = sum(probs)
    p = (probs[0] / s, probs[1] / s, 1.0 - probs[0] / s - probs[1] / s)
    if min(p) < 0:
        p = (probs[0] / s, probs[1] / s, 0.0)
    got, want = _both(
        12,
        90,
        seed,
        3,
        block_m=block,
        n_blocks_x=nbx,
        n_blocks_y=nby,
        speed_mps=(low, low + span),
        slot_s=3.0,  # at most 240 m per slot: up to 6 intersections
        turn_probs=p,
    )
    assert got.tobytes() == want.tobytes()


def test_grid_table_decisions_at_exact_boundaries() -> None:
    """Scaled uniforms landing exactly on a running sum, or on the total, pick as directly."""
    nbx, nby, probs = 3, 2, (0.5, 0.25, 0.25)
    model = ManhattanGridMobility(
        1,
        block_m=100.0,
        n_blocks_x=nbx,
        n_blocks_y=nby,
        speed_mps=10.0,
        slot_s=1.0,
        rng=np.random.default_rng(0),
        turn_probs=probs,
    )
    # every reachable (intersection, arriving heading), with uniforms at each running sum
    cases = []
    for x in range(nbx + 1):
        for y in range(nby + 1):
            for h in range(4):
                px, py = x - _STEPS[h, 0], y - _STEPS[h, 1]
                if 0 <= px <= nbx and 0 <= py <= nby:
                    for t in (0.0, 0.5, 0.75, 1.0, np.nextafter(0.5, 0.0), 0.9999):
                        cases.append((x, y, h, px * (nby + 1) + py, t))
    arr = np.array(cases, dtype=np.float64)
    n = arr.shape[0]
    # direct rule on the same inputs (u == total when t == 1: last move with weight)
    node, arriving, t = arr[:, :2].astype(np.int64), arr[:, 2].astype(np.int64), arr[:, 4]
    cand = np.stack([arriving, (arriving + 1) % 4, (arriving + 3) % 4], axis=1)
    nxt = node[:, None, :] + _STEPS[cand]
    feas = (nxt[..., 0] >= 0) & (nxt[..., 0] <= nbx) & (nxt[..., 1] >= 0) & (nxt[..., 1] <= nby)
    weights = np.asarray(probs)[None, :] * feas
    total = weights.sum(axis=1)
    cum = np.cumsum(weights, axis=1)
    hit = cum > (t * total)[:, None]
    pick = np.argmax(hit, axis=1)
    missed = ~hit.any(axis=1)
    pick[missed] = 2 - np.argmax(weights[missed][:, ::-1] > 0, axis=1)
    want = cand[np.arange(n), pick]

    # the model, put in the same state: leaving the previous intersection towards (x, y)
    model._n = n
    model._cell = arr[:, 3].astype(np.int64)
    model._heading = arriving.copy()
    model._tape = t[None, :].copy()
    model._filled = 1
    model._tape_at = np.arange(n, dtype=np.int64)
    model._choose_headings(np.arange(n))
    assert np.array_equal(model._cell, node[:, 0] * (nby + 1) + node[:, 1])
    np.testing.assert_array_equal(model._heading, want)
