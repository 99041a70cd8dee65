"""Toy experiments for the report tests: methods with paper labels, hostile text, a failure.

Importing this module registers ``toy-labels`` (three methods whose ids have labels, a sweep,
every figure kind, claims whose computed text names methods by id, Markdown notes holding
markup that must not render) and ``toy-labels-fail`` (one run raises with markup in its
message). Runs take milliseconds and are deterministic per seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from vtwin.experiments import Claim, Experiment, Figure, RunResult, RunSpec, Sweep, register

M = "toy_report"
METHODS = ("dm_mappo", "cnn_lstm", "su_hatd3")
COST = {"dm_mappo": 1.0, "cnn_lstm": 1.6, "su_hatd3": 2.2}
HOSTILE = "<script>window.__pwned = 1</script>"
"""Text that would run if a report forgot to escape it."""


def run_labelled(spec: RunSpec) -> RunResult:
    """Cost grows with the sweep value and the method; noise depends on the seed."""
    if spec.method == "su_hatd3" and spec.budget.get("fail"):
        raise RuntimeError("toy <b>failure</b> & more")
    x = float(spec.sweep_value) if spec.sweep_value is not None else 1.0
    rng = np.random.default_rng([spec.seed, int(COST[spec.method] * 10), int(x)])
    steps = int(spec.budget.get("steps", 4))
    reward = -COST[spec.method] * x + rng.normal(0.0, 0.1, size=steps).cumsum()
    return RunResult(
        metrics=pd.DataFrame({"step": np.arange(steps), "reward": reward}),
        summary={"cost": COST[spec.method] * x + float(rng.normal(0.0, 0.05))},
        artifacts={"route": (np.arange(3) * x).tolist()},
    )


def draw_routes(runs: list[tuple[RunSpec, RunResult]], ax: Any) -> pd.DataFrame:
    """Custom figure: each run's route."""
    rows = []
    for spec, result in runs:
        ax.plot(result.artifacts["route"], alpha=0.5)
        rows += [
            {"run_id": spec.run_id, "i": i, "y": y} for i, y in enumerate(result.artifacts["route"])
        ]
    return pd.DataFrame(rows)


def claim_ranking(table: pd.DataFrame) -> tuple[str, bool]:
    """Mean cost per method, cheapest first, named by id (as paper modules do)."""
    means = table.groupby("method")["cost"].mean().sort_values()
    text = ", ".join(f"{m} {v:.2f}" for m, v in means.items())
    return text, bool(means.index[0] == "dm_mappo")


def claim_worse(table: pd.DataFrame) -> tuple[str, bool]:
    """A claim we do not reproduce."""
    means = table.groupby("method")["cost"].mean()
    return f"su_hatd3 {means['su_hatd3']:.2f} vs cnn_lstm {means['cnn_lstm']:.2f}", False


def claim_hostile(table: pd.DataFrame) -> tuple[str, None]:
    """A claim whose computed text carries markup."""
    return f"{HOSTILE} {len(table)} runs", None


TOY_LABELS = Experiment(
    name="toy-labels",
    paper="T",
    title="Toy with paper labels <and> markup",
    preset="paper-a",
    methods=METHODS,
    run=f"{M}:run_labelled",
    seeds=2,
    sweep=Sweep(key="vehicles.count", values=(1, 2), label="Vehicles"),
    budgets={"quick": {"steps": 4}, "full": {"steps": 6}},
    figures=(
        Figure.bar("cost_bar", "cost", "Cost per method", "cost"),
        Figure.line("cost_line", "cost", "Cost against load", "cost", "vehicles"),
        Figure.curve("reward_curve", "reward", "Training reward", "reward", "step"),
        Figure.custom("routes", f"{M}:draw_routes", "Routes", "y"),
    ),
    claims=(
        Claim("DM-MAPPO is the cheapest", "dm_mappo 1.0, cnn_lstm 1.6", f"{M}:claim_ranking"),
        Claim("SU-HATD3 beats CNN-LSTM", "yes", f"{M}:claim_worse"),
        Claim(f"escaped {HOSTILE}", "n/a", f"{M}:claim_hostile"),
    ),
    notes=(
        "Toy **notes** in Markdown, with `code` and a list:\n\n"
        "- one\n- two\n\n"
        '<img src="missing.png" onerror="window.__pwned = 2"> stays text.'
    ),
)

TOY_LABELS_FAIL = Experiment(
    name="toy-labels-fail",
    paper="T",
    title="Toy with a failed run",
    preset="paper-a",
    methods=("dm_mappo", "su_hatd3"),
    run=f"{M}:run_labelled",
    seeds=1,
    budgets={"quick": {"steps": 3, "fail": 1}, "full": {"steps": 3, "fail": 1}},
    figures=(Figure.bar("cost_bar", "cost", "Cost per method", "cost"),),
)

for _exp in (TOY_LABELS, TOY_LABELS_FAIL):
    register(_exp)
