"""Figures of an experiment: tables of runs, mean ± std over seeds, PNG + CSV writers.

Legends and tick labels name methods as the papers do (:mod:`vtwin.experiments.labels`);
the CSV files keep the internal method ids.

Each writer draws one :class:`~vtwin.experiments.spec.Figure` from the completed runs, saves
``<name>.png`` and ``<name>.csv`` (the plotted numbers: ``mean``, ``std``, ``n`` per group)
atomically, and returns the table. Plots use matplotlib's object API (no pyplot state), so
they work headless and in threads.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vtwin.experiments.labels import method_label
from vtwin.experiments.spec import Experiment, Figure, RunResult, RunSpec, import_callable

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

__all__ = [
    "FigureOutput",
    "aggregate",
    "curve_table",
    "summary_table",
    "write_figure",
]

Runs = Sequence[tuple[RunSpec, RunResult]]

SWEEP_COLUMN = "sweep_value"
STEP_COLUMN = "step"
_FIGSIZE = (6.4, 4.2)
_DPI = 150
_TICK_CHARS = 60  # tick labels longer than this in all are drawn slanted


@dataclass(frozen=True)
class FigureOutput:
    """Where a figure was written and the numbers it shows."""

    name: str
    png: Path
    csv: Path
    data: pd.DataFrame


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def summary_table(runs: Runs, *, sweep: bool | None = None) -> pd.DataFrame:
    """One row per run: ``method``, ``sweep_value`` (when swept), ``seed``, summary metrics."""
    import pandas as pd

    with_sweep = any(spec.sweep_key is not None for spec, _ in runs) if sweep is None else sweep
    rows: list[dict[str, Any]] = []
    for spec, result in runs:
        row: dict[str, Any] = {"run_id": spec.run_id, "method": spec.method}
        if with_sweep:
            row[SWEEP_COLUMN] = spec.sweep_value
        row["seed"] = spec.seed
        row.update(result.summary)
        rows.append(row)
    columns = ["run_id", "method", *([SWEEP_COLUMN] if with_sweep else []), "seed"]
    return pd.DataFrame(rows, columns=None if rows else columns)


def aggregate(table: pd.DataFrame, value: str, by: Sequence[str]) -> pd.DataFrame:
    """Mean, sample std and count of ``value`` per group of ``by`` (group order kept)."""
    if value not in table.columns:
        raise ValueError(
            f"no column '{value}' to aggregate; columns are: {', '.join(map(str, table.columns))}"
        )
    grouped = table.groupby(list(by), sort=False, dropna=False)[value]
    out = grouped.agg(mean="mean", std="std", n="count").reset_index()
    out["n"] = out["n"].astype(int)
    return out


def curve_table(runs: Runs, metric: str) -> pd.DataFrame:
    """Per-step rows of every run (``method``, ``sweep_value``, ``seed``, ``step``, metric)."""
    import pandas as pd

    with_sweep = any(spec.sweep_key is not None for spec, _ in runs)
    frames = []
    for spec, result in runs:
        missing = [c for c in (STEP_COLUMN, metric) if c not in result.metrics.columns]
        if missing:
            raise ValueError(
                f"run {spec.run_id}: metrics table has no column {missing[0]!r}; a curve "
                f"needs '{STEP_COLUMN}' and '{metric}' (columns: "
                f"{', '.join(map(str, result.metrics.columns)) or 'none'})"
            )
        frame = result.metrics[[STEP_COLUMN, metric]].copy()
        frame.insert(0, "seed", spec.seed)
        if with_sweep:
            frame.insert(0, SWEEP_COLUMN, spec.sweep_value)
        frame.insert(0, "method", spec.method)
        frames.append(frame)
    if not frames:
        raise ValueError("no completed runs to draw")
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------


def _new_figure() -> tuple[MplFigure, Axes]:
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=_FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    return fig, ax


def _colour(experiment: Experiment, method: str) -> Any:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    index = experiment.methods.index(method) if method in experiment.methods else 0
    return cmap(index % 10)


def _seeds_note(data: pd.DataFrame) -> str:
    low, high = int(data["n"].min()), int(data["n"].max())
    count = f"{low}" if low == high else f"{low}–{high}"
    return f"mean ± std over {count} seed{'' if high == 1 else 's'}"


def _decorate(ax: Axes, figure: Figure, note: str | None) -> None:
    ax.set_title("\n".join(textwrap.wrap(figure.title, 48)), loc="left", fontsize=11)
    if note:
        ax.set_title(note, loc="right", fontsize=8, color="0.35")
    ax.set_ylabel(figure.ylabel)
    if figure.xlabel:
        ax.set_xlabel(figure.xlabel)
    ax.grid(True, axis="y", alpha=0.3)


def _vkey(value: Any) -> tuple[str, Any]:
    """A comparison key for sweep values that survives pandas dtypes (np.int64, 60 vs 60.0)."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    return ("s", str(value))


def _order(data: pd.DataFrame, experiment: Experiment) -> pd.DataFrame:
    """Sort groups by the experiment's method order, then sweep order, then step."""
    keys: list[str] = []
    frame = data.copy()
    if "method" in frame:
        frame["_m"] = frame["method"].map({m: i for i, m in enumerate(experiment.methods)})
        keys.append("_m")
    if SWEEP_COLUMN in frame and experiment.sweep is not None:
        order = {_vkey(v): i for i, v in enumerate(experiment.sweep.values)}
        frame["_s"] = frame[SWEEP_COLUMN].map(lambda v: order.get(_vkey(v), len(order)))
        keys.append("_s")
    if STEP_COLUMN in frame:
        keys.append(STEP_COLUMN)
    if keys:
        frame = frame.sort_values(keys, kind="stable")
    return frame.drop(columns=[k for k in ("_m", "_s") if k in frame]).reset_index(drop=True)


def _sweep_axis(experiment: Experiment) -> tuple[list[Any], list[float], bool]:
    """Sweep values, their x positions, and whether the axis is numeric."""
    assert experiment.sweep is not None
    values = list(experiment.sweep.values)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    positions = [float(v) for v in values] if numeric else [float(i) for i in range(len(values))]
    return values, positions, numeric


def _sweep_label(experiment: Experiment, figure: Figure) -> str:
    if figure.xlabel:
        return figure.xlabel
    return experiment.sweep.label if experiment.sweep is not None else ""


# --------------------------------------------------------------------------------------------
# One writer per kind
# --------------------------------------------------------------------------------------------


def _draw_bar(ax: Axes, figure: Figure, experiment: Experiment, runs: Runs) -> pd.DataFrame:
    import numpy as np

    table = summary_table(runs)
    swept = SWEEP_COLUMN in table.columns
    by = ["method", SWEEP_COLUMN] if swept else ["method"]
    data = _order(aggregate(table, figure.metric, by), experiment)
    methods = [m for m in experiment.methods if m in set(data["method"])]
    if not swept:
        xs = np.arange(len(data))
        ax.bar(
            xs,
            data["mean"],
            yerr=data["std"].fillna(0.0),
            capsize=4,
            color=[_colour(experiment, m) for m in data["method"]],
        )
        labels = [method_label(m) for m in data["method"]]
        if sum(len(label) for label in labels) > _TICK_CHARS:  # slant them rather than overlap
            ax.set_xticks(xs, labels, rotation=30, ha="right", rotation_mode="anchor")
        else:
            ax.set_xticks(xs, labels)
    else:
        assert experiment.sweep is not None
        values = list(experiment.sweep.values)
        width = 0.8 / max(len(methods), 1)
        for j, method in enumerate(methods):
            rows = data[data["method"] == method]
            index = {_vkey(v): i for i, v in enumerate(values)}
            xs = np.array([index[_vkey(v)] for v in rows[SWEEP_COLUMN]], dtype=float)
            ax.bar(
                xs - 0.4 + width * (j + 0.5),
                rows["mean"],
                width=width,
                yerr=rows["std"].fillna(0.0),
                capsize=3,
                label=method_label(method),
                color=_colour(experiment, method),
            )
        ax.set_xticks(np.arange(len(values)), [str(v) for v in values])
        ax.set_xlabel(_sweep_label(experiment, figure))
        ax.legend(fontsize=8)
    _decorate(ax, figure, _seeds_note(data))
    return data


def _draw_line(ax: Axes, figure: Figure, experiment: Experiment, runs: Runs) -> pd.DataFrame:
    table = summary_table(runs, sweep=True)
    data = _order(aggregate(table, figure.metric, ["method", SWEEP_COLUMN]), experiment)
    values, positions, numeric = _sweep_axis(experiment)
    where = {_vkey(v): x for v, x in zip(values, positions, strict=True)}
    for method in [m for m in experiment.methods if m in set(data["method"])]:
        rows = data[data["method"] == method]
        xs = [where[_vkey(v)] for v in rows[SWEEP_COLUMN]]
        mean = rows["mean"].to_numpy(float)
        std = rows["std"].fillna(0.0).to_numpy(float)
        colour = _colour(experiment, method)
        ax.plot(xs, mean, marker="o", label=method_label(method), color=colour)
        ax.fill_between(xs, mean - std, mean + std, alpha=0.2, color=colour, linewidth=0)
    if not numeric or len(values) <= 12:
        ax.set_xticks(positions, [str(v) for v in values])
    ax.set_xlabel(_sweep_label(experiment, figure))
    ax.legend(fontsize=8)
    _decorate(ax, figure, _seeds_note(data))
    return data


def _draw_curve(ax: Axes, figure: Figure, experiment: Experiment, runs: Runs) -> pd.DataFrame:
    table = curve_table(runs, figure.metric)
    swept = SWEEP_COLUMN in table.columns
    by = ["method", SWEEP_COLUMN, STEP_COLUMN] if swept else ["method", STEP_COLUMN]
    data = _order(aggregate(table, figure.metric, by), experiment)
    groups = data[["method", SWEEP_COLUMN]] if swept else data[["method"]]
    styles = ["-", "--", ":", "-."]
    for key in groups.drop_duplicates().itertuples(index=False):
        method = key[0]
        rows = data[data["method"] == method]
        label = method_label(method)
        linestyle = "-"
        if swept:
            assert experiment.sweep is not None
            target = _vkey(key[1])
            rows = rows[rows[SWEEP_COLUMN].map(lambda v, t=target: _vkey(v) == t).astype(bool)]
            label = f"{method_label(method)} ({experiment.sweep.short_key} = {key[1]})"
            pos = [_vkey(v) for v in experiment.sweep.values].index(_vkey(key[1]))
            linestyle = styles[pos % len(styles)]
        xs = rows[STEP_COLUMN].to_numpy(float)
        mean = rows["mean"].to_numpy(float)
        std = rows["std"].fillna(0.0).to_numpy(float)
        colour = _colour(experiment, method)
        ax.plot(xs, mean, label=label, color=colour, linestyle=linestyle)
        ax.fill_between(xs, mean - std, mean + std, alpha=0.2, color=colour, linewidth=0)
    ax.set_xlabel(figure.xlabel or STEP_COLUMN)
    ax.legend(fontsize=8)
    _decorate(ax, figure, _seeds_note(data))
    return data


def _draw_custom(ax: Axes, figure: Figure, experiment: Experiment, runs: Runs) -> pd.DataFrame:
    import pandas as pd

    assert figure.draw is not None
    draw = import_callable(figure.draw)
    data = draw(list(runs), ax)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"figure {figure.name}: draw function {figure.draw} returned "
            f"{type(data).__name__}; it must return a pandas DataFrame of what it drew"
        )
    _decorate(ax, figure, None)
    return data


_DRAWERS = {"bar": _draw_bar, "line": _draw_line, "curve": _draw_curve, "custom": _draw_custom}


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_figure(
    figure: Figure, experiment: Experiment, runs: Runs, out_dir: str | Path
) -> FigureOutput:
    """Draw one figure from completed runs; write ``<name>.png`` and ``<name>.csv`` atomically."""
    if not runs:
        raise ValueError(f"figure {figure.name}: no completed runs to draw")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = _new_figure()
    data = _DRAWERS[figure.kind](ax, figure, experiment, runs)
    png, csv = out / f"{figure.name}.png", out / f"{figure.name}.csv"
    for path, write in (
        (png, lambda p: fig.savefig(p, format="png", dpi=_DPI)),
        (csv, lambda p: data.to_csv(p, index=False)),
    ):
        tmp = _atomic_target(path)
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return FigureOutput(name=figure.name, png=png, csv=csv, data=data)
