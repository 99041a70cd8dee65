"""Toy experiments for the experiment-machinery tests (module-level functions, so they pickle).

Importing this module registers them. Run as a script it is a tiny ``vtwin`` CLI with the
experiment commands mounted, used by the kill-and-resume test.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from vtwin.experiments import (
    Claim,
    Experiment,
    Figure,
    RunResult,
    RunSpec,
    Sweep,
    register,
)

LOG_ENV = "VTWIN_TOY_LOG"
"""When set, every toy run appends its run id to this file as it finishes."""

METHOD_COST = {"good": 1.0, "bad": 2.0, "broken": 3.0}


def _log(spec: RunSpec) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(spec.run_id + "\n")
            fh.flush()


def run_toy(spec: RunSpec) -> RunResult:
    """A deterministic toy run: cost grows with the sweep value, noise depends on the seed."""
    x = float(spec.sweep_value) if spec.sweep_value is not None else 1.0
    rng = np.random.default_rng([spec.seed, int(METHOD_COST[spec.method] * 10), int(x * 10)])
    steps = int(spec.budget.get("steps", 5))
    reward = -METHOD_COST[spec.method] * x + rng.normal(0.0, 0.1, size=steps).cumsum()
    metrics = pd.DataFrame({"step": np.arange(steps), "reward": reward, "phase": "train"})
    cost = METHOD_COST[spec.method] * x + float(rng.normal(0.0, 0.05))
    time.sleep(float(spec.budget.get("sleep", 0.0)))
    _log(spec)
    return RunResult(
        metrics=metrics,
        summary={"cost": cost, "reward": float(reward.mean())},
        artifacts={"route": np.arange(3) * x, "method": spec.method},
    )


def run_fail(spec: RunSpec) -> RunResult:
    """Like :func:`run_toy`, but method 'broken' with seed 1 raises."""
    if spec.method == "broken" and spec.seed == 1:
        raise RuntimeError(f"toy failure in {spec.run_id}")
    return run_toy(spec)


def run_not_a_result(spec: RunSpec) -> Any:
    """Returns the wrong type."""
    return {"cost": 1.0}


def run_die(spec: RunSpec) -> RunResult:
    """Kills its own worker process for method 'broken' (a crash, not an exception)."""
    if spec.method == "broken":
        time.sleep(0.2)
        os._exit(3)
    return run_toy(spec)


def run_threads_seen(spec: RunSpec) -> RunResult:
    """Reports how many torch threads the run was given."""
    import torch

    return RunResult(
        metrics=pd.DataFrame({"step": [0], "reward": [0.0], "phase": "train"}),
        summary={"cost": 0.0, "threads": float(torch.get_num_threads())},
    )


def draw_routes(runs: list[tuple[RunSpec, RunResult]], ax: Any) -> pd.DataFrame:
    """Custom figure: each run's route artifact as a line."""
    rows = []
    for spec, result in runs:
        route = result.artifacts["route"]
        ax.plot(route, alpha=0.5)
        rows += [{"run_id": spec.run_id, "i": i, "y": y} for i, y in enumerate(route)]
    return pd.DataFrame(rows)


def claim_good_is_cheaper(table: pd.DataFrame) -> tuple[str, bool]:
    """Mean cost of 'good' is below that of 'bad'."""
    means = table.groupby("method")["cost"].mean()
    return f"{means['good']:.3g} vs {means['bad']:.3g}", bool(means["good"] < means["bad"])


def claim_broken(table: pd.DataFrame) -> tuple[str, bool]:
    """A claim whose compute function fails."""
    raise KeyError("no column 'latency'")


def claim_unknown(table: pd.DataFrame) -> tuple[str, None]:
    """A claim we cannot judge."""
    return f"{len(table)} runs", None


M = "toy_experiments"

TOY = Experiment(
    name="toy",
    paper="T",
    title="Toy cost against load",
    preset="paper-a",
    methods=("good", "bad"),
    run=f"{M}:run_toy",
    seeds=2,
    sweep=Sweep(key="vehicles.count", values=(1, 2), label="Vehicles"),
    budgets={"quick": {"steps": 4}, "full": {"steps": 8}},
    figures=(
        Figure("cost_bar", "bar", "cost", "Cost per method", "cost"),
        Figure("cost_line", "line", "cost", "Cost against load", "cost", xlabel="vehicles"),
        Figure("reward_curve", "curve", "reward", "Training reward", "reward", xlabel="step"),
        Figure("routes", "custom", "", "Routes", "y", draw=f"{M}:draw_routes"),
    ),
    claims=(
        Claim("good is cheaper than bad", "30% cheaper", f"{M}:claim_good_is_cheaper"),
        Claim("latency drops", "-12 ms", f"{M}:claim_broken"),
        Claim("runs counted", "n/a", f"{M}:claim_unknown"),
    ),
)

TOY_FLAT = Experiment(
    name="toy-flat",
    paper="T",
    title="Toy without a sweep",
    preset="paper-a",
    methods=("good", "bad"),
    run=f"{M}:run_toy",
    seeds=3,
    budgets={"quick": {"steps": 3}, "full": {"steps": 6}},
    figures=(Figure("cost_bar", "bar", "cost", "Cost per method", "cost"),),
    claims=(Claim("good is cheaper than bad", "yes", f"{M}:claim_good_is_cheaper"),),
    notes="Toy note: costs are made up.",
)

TOY_SLOW = Experiment(
    name="toy-slow",
    paper="T",
    title="Slow toy sweep (for kill and resume)",
    preset="paper-a",
    methods=("good", "bad"),
    run=f"{M}:run_toy",
    seeds=1,
    sweep=Sweep(key="budget.steps", values=(2, 3, 4, 5), label="Steps"),
    budgets={"quick": {"sleep": 0.3}, "full": {"sleep": 0.3}},
    figures=(Figure("cost_line", "line", "cost", "Cost against steps", "cost"),),
)

TOY_HANG = Experiment(
    name="toy-hang",
    paper="T",
    title="Runs that take a minute each (for killing the sweep's parent process)",
    preset="paper-a",
    methods=("good", "bad"),
    run=f"{M}:run_toy",
    seeds=2,
    budgets={"quick": {"sleep": 60.0}, "full": {"sleep": 60.0}},
    figures=(Figure("cost_bar", "bar", "cost", "Cost per method", "cost"),),
)

TOY_FAIL = Experiment(
    name="toy-fail",
    paper="T",
    title="Toy with a failing run",
    preset="paper-a",
    methods=("good", "broken"),
    run=f"{M}:run_fail",
    seeds=2,
    budgets={"quick": {"steps": 3}, "full": {"steps": 3}},
    figures=(Figure("cost_bar", "bar", "cost", "Cost per method", "cost"),),
)


def flat_twin(spec: RunSpec) -> RunSpec | None:
    """toy-twin at one vehicle computes what toy-flat computes (run_toy reads x = 1 from
    both): that run of toy-flat, as toy-flat's own expansion names it."""
    from vtwin.experiments import expand

    if spec.sweep_value != 1:
        return None
    quick = spec.mode == "quick"
    flat = expand(TOY_FLAT, quick=quick, seeds=spec.seed + 1, methods=(spec.method,))
    return next(s for s in flat if s.seed == spec.seed)


TOY_TWIN = Experiment(
    name="toy-twin",
    paper="T",
    title="Toy sweep whose first point is toy-flat's runs",
    preset="paper-a",
    methods=("good", "bad"),
    run=f"{M}:run_toy",
    same_as=f"{M}:flat_twin",
    seeds=2,
    sweep=Sweep(key="vehicles.count", values=(1, 3), label="Vehicles"),
    budgets={"quick": {"steps": 3}, "full": {"steps": 6}},
    figures=(Figure("cost_line", "line", "cost", "Cost against load", "cost"),),
)

for _exp in (TOY, TOY_FLAT, TOY_SLOW, TOY_HANG, TOY_FAIL, TOY_TWIN):
    register(_exp)


def main(argv: list[str]) -> None:
    """A minimal CLI with the experiment commands (the kill-and-resume test drives it)."""
    import typer

    from vtwin.experiments.cli import register_cli

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register_cli(app)
    app(argv, prog_name="vtwin")


if __name__ == "__main__":
    main(sys.argv[1:])
