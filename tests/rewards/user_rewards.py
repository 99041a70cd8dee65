"""User rewards for the tests, loaded by ``module:function`` path (tests/rewards on sys.path)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def negative_latency(terms: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """−T_total per vehicle, one component."""
    r = -np.asarray(terms["latency_s"], dtype=np.float64)
    return r, {"latency": r}


def weighted_latency(
    terms: Mapping[str, np.ndarray], weights: Mapping[str, float]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """−w·T_total with ``weights['scale']``."""
    r = -weights["scale"] * np.asarray(terms["latency_s"], dtype=np.float64)
    return r, {"latency": r}


def wrong_shape(terms: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A reward per copy instead of per vehicle."""
    r = -np.asarray(terms["latency_s"]).sum(axis=1)
    return r, {}


def with_nan(terms: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """NaN rewards."""
    r = np.full(np.shape(terms["latency_s"]), np.nan)
    return r, {"latency": r}


def no_arguments() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Takes no terms."""
    return np.zeros((1, 1)), {}


NOT_CALLABLE = 3
