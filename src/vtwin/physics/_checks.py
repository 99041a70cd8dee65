"""Argument checks shared by the ``vtwin.physics`` modules (private).

Each check returns its argument as a float64 array and raises ``ValueError`` naming the
argument, the first offending value and the allowed range. Inside :func:`unchecked` the checks
only convert (for an env's inner loop, whose arguments are valid by construction).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import FloatArray

_CHECKING: ContextVar[bool] = ContextVar("vtwin_physics_checking", default=True)


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Skip the argument range checks of the physics functions inside this block.

    For hot loops (an env's ``step``) that pass arrays valid by construction; the results
    are the same bits as with the checks. Scoped to the current thread / async context.
    """
    token = _CHECKING.set(False)
    try:
        yield
    finally:
        _CHECKING.reset(token)


# --------------------------------------------------------------------------------------------


def _as_float(value: ArrayLike) -> FloatArray:
    """``value`` as a float64 array (0-d for scalars)."""
    return np.asarray(value, dtype=np.float64)


def _first_bad(arr: FloatArray, bad: NDArray[np.bool_]) -> float:
    """The first offending element, for the error message."""
    return float(np.asarray(arr)[np.asarray(bad)].flat[0])


def _check_ge(name: str, value: ArrayLike, bound: float = 0.0) -> FloatArray:
    """Return ``value`` as float64; raise ValueError unless every element is ≥ ``bound``."""
    arr = _as_float(value)
    if not _CHECKING.get():
        return arr
    bad = arr < bound
    if np.any(bad):
        raise ValueError(f"{name} must be >= {bound:g}, got {_first_bad(arr, bad)!r}")
    return arr


def _check_gt(name: str, value: ArrayLike, bound: float = 0.0) -> FloatArray:
    """Return ``value`` as float64; raise ValueError unless every element is > ``bound``."""
    arr = _as_float(value)
    if not _CHECKING.get():
        return arr
    bad = ~(arr > bound)  # NaN counts as bad here: a NaN rate or frequency is always a bug
    if np.any(bad):
        raise ValueError(f"{name} must be > {bound:g}, got {_first_bad(arr, bad)!r}")
    return arr


def _check_in(name: str, value: ArrayLike, low: float, high: float) -> FloatArray:
    """Return ``value`` as float64; raise ValueError unless every element is in [low, high]."""
    arr = _as_float(value)
    if not _CHECKING.get():
        return arr
    bad = (arr < low) | (arr > high)
    if np.any(bad):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {_first_bad(arr, bad)!r}")
    return arr


def _ret(arr: FloatArray) -> FloatArray:
    """Return 0-d results as-is (numpy float64 behaves like a float) and arrays unchanged."""
    return np.asarray(arr, dtype=np.float64)[()]
