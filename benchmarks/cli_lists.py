"""Comma-separated list options shared by the learning benchmarks (``--methods``, ``--seeds``);
imported by the scripts in this folder, which Python puts on the path when it runs one."""

from __future__ import annotations

from collections.abc import Sequence


def parse_methods(text: str, valid: Sequence[str]) -> list[str]:
    """``"a,b"`` → ``["a", "b"]``, else a ValueError naming the unknown ones and the valid."""
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(valid))
    if unknown or not methods:
        raise ValueError(f"--methods: unknown {unknown}; valid: {', '.join(valid)}")
    return methods


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``, else a ValueError (seeds must be ints ≥ 0)."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--seeds {text}: give seeds ≥ 0, comma-separated")
    return seeds
