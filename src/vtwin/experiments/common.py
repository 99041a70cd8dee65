"""What the paper modules share: the arithmetic of their claims over the summary table.

A claim function gets the summary table (one row per run: ``method``, ``sweep_value`` when the
experiment sweeps, ``seed`` and the summary metrics) and returns ``(our value, agrees)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from vtwin.experiments.spec import RunSpec

__all__ = [
    "binned_curve",
    "gain_pct",
    "lowest_everywhere",
    "method_means",
    "paired_gains",
    "sweep_means",
    "twin_run",
]


def method_means(table: pd.DataFrame, metric: str, **where: Any) -> dict[str, float]:
    """{method: mean of ``metric`` over its runs}, over the rows whose columns equal ``where``."""
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return {str(k): float(v) for k, v in rows.groupby("method")[metric].mean().items()}


def sweep_means(table: pd.DataFrame, metric: str, method: str) -> dict[Any, float]:
    """{sweep value: mean ``metric`` of ``method``'s runs} (empty when the table has no such
    column or the method was not run)."""
    if metric not in table.columns or "sweep_value" not in table.columns:
        return {}
    rows = table[table["method"] == method]
    return {k: float(v) for k, v in rows.groupby("sweep_value")[metric].mean().items()}


def gain_pct(value: float, base: float) -> float:
    """Relative change of ``value`` over ``base`` in % of |base| (NaN when ``base`` is 0)."""
    return 100.0 * (value - base) / abs(base) if base else float("nan")


def paired_gains(
    means: dict[str, float], pairs: Sequence[tuple[str, str, str]]
) -> list[tuple[str, float, float, float]]:
    """``(label, gain %, value, base)`` for each ``(label, method, base method)`` of ``pairs``
    whose two methods both have a mean in ``means`` (:func:`gain_pct` of method over base)."""
    return [
        (label, gain_pct(means[m], means[base]), means[m], means[base])
        for label, m, base in pairs
        if m in means and base in means
    ]


def lowest_everywhere(
    table: pd.DataFrame,
    metric: str,
    method: str,
    describe: Callable[[float, str, dict[str, float]], str],
) -> tuple[str, bool | None]:
    """Whether ``method`` has the lowest mean ``metric`` at every sweep value it was run at.

    ``describe(sweep value, best method, means)`` words one sweep value; the parts are joined
    with ``"; "``.
    """
    wins, parts = [], []
    for value in sorted(table["sweep_value"].unique()):
        means = method_means(table, metric, sweep_value=value)
        if method not in means:
            continue
        best = min(means, key=lambda m: means[m])
        wins.append(best == method)
        parts.append(describe(value, best, means))
    if not parts:
        return f"{method} was not run", None
    return "; ".join(parts), all(wins)


def binned_curve(
    history: pd.DataFrame, steps: int, columns: Sequence[str], points: int = 20
) -> pd.DataFrame:
    """A training curve on a grid common to seeds and methods: ``columns`` of ``history``
    (one row per episode, with the cumulative ``steps`` at its end) averaged over the
    episodes ending in each of ``points`` equal bins of ``[0, steps]``; column ``step`` is
    each bin's upper edge (bins no episode ended in are left out)."""
    edges = np.linspace(0.0, float(max(steps, 1)), points + 1)
    bins = np.clip(np.searchsorted(edges, history["steps"].to_numpy()), 1, points)
    grouped = history.assign(bin=bins).groupby("bin")[list(columns)].mean()
    out = {"step": edges[grouped.index.to_numpy()].astype(int)}
    return pd.DataFrame(out | {c: grouped[c].to_numpy() for c in columns})


def twin_run(
    spec: RunSpec,
    experiment: str,
    sweep_only: Sequence[str],
    computes: Callable[[RunSpec], Any],
) -> RunSpec | None:
    """The run of ``experiment`` (same method, seed, preset and mode) that computes exactly
    what the sweep run ``spec`` computes, or None: ``spec`` without its ``sweep_only`` budget
    entries and without the override that sets its sweep key, kept only when ``computes``
    (what a run resolves to: env config, learner parameters) is equal for both. An
    :attr:`~vtwin.experiments.spec.Experiment.same_as` function is built on it."""
    from vtwin.experiments.spec import RunSpec

    own = f"{spec.sweep_key}=" if spec.sweep_key is not None else None
    twin = RunSpec(
        experiment=experiment,
        method=spec.method,
        seed=spec.seed,
        budget={k: v for k, v in spec.budget.items() if k not in sweep_only},
        overrides=tuple(o for o in spec.overrides if own is None or not o.startswith(own)),
        preset=spec.preset,
        mode=spec.mode,
    )
    return twin if computes(spec) == computes(twin) else None
