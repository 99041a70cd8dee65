"""Helpers shared by the batched envs: per-copy seeds and validated action arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["check_actions", "copy_seeds"]


def copy_seeds(seed: int | Sequence[int] | None, B: int) -> list[int]:
    """One seed per copy: fresh entropy (None), ``seed + b`` (an int) or the given list."""
    if seed is None:
        fresh = np.random.SeedSequence().generate_state(B, dtype=np.uint32)
        return [int(s) for s in fresh]
    if isinstance(seed, int | np.integer):
        if seed < 0:
            raise ValueError(f"seed = {seed}: must be ≥ 0")
        return [int(seed) + b for b in range(B)]
    seeds = [int(s) for s in seed]
    if len(seeds) != B or min(seeds) < 0:
        raise ValueError(
            f"seed list has {len(seeds)} entries (min {min(seeds, default=None)}); "
            f"need {B} non-negative seeds, one per copy"
        )
    return seeds


def check_actions(actions: ArrayLike, B: int, V: int, n: int, meaning: str) -> NDArray[np.int64]:
    """``actions`` as int64 [B, V] in [0, n), else a ValueError naming value, copy and range.

    ``[B]`` is accepted when ``V = 1``; whole-valued floats are accepted; ``meaning`` explains
    the range in the message (e.g. "18 servers × 5 alpha levels").
    """
    act = np.asarray(actions)
    if act.shape == (B,) and V == 1:
        act = act[:, None]
    if act.shape != (B, V):
        raise ValueError(f"actions have shape {act.shape}; expected ({B}, {V}) (copies × vehicles)")
    if not np.issubdtype(act.dtype, np.integer):
        if act.dtype == np.bool_ or not np.issubdtype(act.dtype, np.number):
            raise ValueError(f"actions must be integer indices, got dtype {act.dtype}")
        if not np.all(np.isfinite(act)) or not np.all(np.equal(np.mod(act, 1), 0)):
            raise ValueError(f"actions must be integer indices, got dtype {act.dtype}")
    bad = (act < 0) | (act >= n)
    if bad.any():
        b, v = np.argwhere(bad)[0]
        raise ValueError(
            f"action {act[b, v].item()!r} (copy {b}, vehicle {v}) is outside [0, {n}): {meaning}"
        )
    return act.astype(np.int64)
