"""Where fixed nodes go: grid, uniform-random and hotspot-clustered layouts in local metres."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from vtwin.arrays import FloatArray


def _check_area(count: int, width_m: float, height_m: float) -> None:
    if count < 0:
        raise ValueError(f"count = {count}: must be ≥ 0")
    if width_m <= 0 or height_m <= 0:
        raise ValueError(f"area {width_m} m × {height_m} m: both sides must be > 0")


def grid_positions(
    count: int, width_m: float, height_m: float, cols: int | None = None
) -> FloatArray:
    """``count`` points on a rows × cols lattice, each at the centre of its cell: [count, 2]."""
    _check_area(count, width_m, height_m)
    if count == 0:
        return np.zeros((0, 2))
    cols = cols or math.ceil(math.sqrt(count))
    if cols < 1:
        raise ValueError(f"grid_cols = {cols}: must be ≥ 1")
    rows = math.ceil(count / cols)
    idx = np.arange(count)
    x = (idx % cols + 0.5) * width_m / cols
    y = (idx // cols + 0.5) * height_m / rows
    return np.stack([x, y], axis=-1)


def random_positions(
    count: int,
    width_m: float,
    height_m: float,
    rng: np.random.Generator,
    *,
    min_separation_m: float = 0.0,
    max_tries: int = 200,
) -> FloatArray:
    """Uniform points in the area, each at least ``min_separation_m`` from the others."""
    _check_area(count, width_m, height_m)
    if min_separation_m < 0:
        raise ValueError(f"min_separation_m = {min_separation_m}: must be ≥ 0")
    points: list[FloatArray] = []
    for i in range(count):
        for _ in range(max_tries):
            cand = rng.uniform((0.0, 0.0), (width_m, height_m))
            if not points or np.min(np.hypot(*(np.asarray(points) - cand).T)) >= min_separation_m:
                points.append(cand)
                break
        else:
            raise ValueError(
                f"could not place point {i + 1} of {count} at ≥ {min_separation_m} m from the "
                f"others in a {width_m} m × {height_m} m area; lower min_separation_m or count"
            )
    return np.asarray(points, dtype=np.float64).reshape(count, 2)


def clustered_positions(
    count: int,
    width_m: float,
    height_m: float,
    rng: np.random.Generator,
    *,
    centres_xy: ArrayLike,
    spread_m: ArrayLike,
    background_share: float = 0.35,
) -> FloatArray:
    """A city layout: a jittered grid for ``background_share`` of the points, the rest drawn
    from Gaussian clusters around the hotspot centres (clipped to the area)."""
    _check_area(count, width_m, height_m)
    centres = np.asarray(centres_xy, dtype=np.float64).reshape(-1, 2)
    spread = np.broadcast_to(np.asarray(spread_m, dtype=np.float64), (centres.shape[0],))
    if not 0.0 <= background_share <= 1.0:
        raise ValueError(f"background_share = {background_share}: must be in [0, 1]")
    if centres.shape[0] == 0:
        background_share = 1.0
    n_bg = round(count * background_share)
    n_cl = count - n_bg
    bg = grid_positions(n_bg, width_m, height_m)
    if n_bg:
        cell = min(width_m, height_m) / math.ceil(math.sqrt(n_bg))
        bg = bg + rng.uniform(-0.25 * cell, 0.25 * cell, size=bg.shape)
    which = rng.integers(0, max(centres.shape[0], 1), size=n_cl)
    cl = centres[which] + rng.normal(size=(n_cl, 2)) * spread[which, None] if n_cl else bg[:0]
    pts = np.concatenate([bg, cl]) if n_cl else bg
    pts[:, 0] = np.clip(pts[:, 0], 0.0, width_m)
    pts[:, 1] = np.clip(pts[:, 1], 0.0, height_m)
    return pts
