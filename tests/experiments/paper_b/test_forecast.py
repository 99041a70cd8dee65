"""Paper B Table II / Fig. 5 experiment: registration, the run function, claims and Fig. 5."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from vtwin.data.samples import available_samples
from vtwin.experiments import expand, get_experiment
from vtwin.experiments.paper_b.forecast import (
    METHODS,
    MODELS,
    PAPER_TABLE2,
    claim_beats_last_value,
    claim_error_rate,
    claim_r2,
    claim_rmse,
    draw_fig5_synthetic,
    run_model,
)
from vtwin.experiments.spec import RunSpec

TINY = {
    "epochs": 2,
    "patience": 1,
    "synthetic_series": 2,
    "synthetic_days": 3,
    "metr_series": 2,
    "dataset": "synthetic",
}


def _spec(method: str, seed: int = 0, **budget: object) -> RunSpec:
    return RunSpec(
        experiment="paper-b-table2",
        method=method,
        seed=seed,
        sweep_value=str(budget.get("dataset", "synthetic")),
        budget={**TINY, **budget},
        preset="paper-b-city",
        sweep_key="budget.dataset",
        mode="quick",
    )


def test_registered_with_five_models_three_seeds_and_available_datasets() -> None:
    exp = get_experiment("paper-b-table2")
    assert exp.methods[:5] == MODELS and "last_value" in exp.methods
    assert exp.seeds >= 3
    assert exp.sweep is not None and exp.sweep.key == "budget.dataset"
    assert exp.sweep.values[0] == "synthetic"
    found = available_samples()
    for name, present in found.items():
        assert (name in exp.sweep.values) == present
    specs = expand(exp, quick=True)
    assert {s.budget["dataset"] for s in specs} == set(exp.sweep.values)
    assert PAPER_TABLE2["error_rate_pct"]["lstm_transformer"] == 6.814


@pytest.mark.parametrize("method", ["lstm_transformer", "last_value"])
def test_run_model_is_deterministic_and_reports_table2_metrics(method: str) -> None:
    a, b = run_model(_spec(method)), run_model(_spec(method))
    a.summary.pop("train_seconds")
    b.summary.pop("train_seconds")
    assert a.summary == b.summary
    assert {"rmse", "mae", "error_rate_pct", "r2", "rmse_scaled"} <= set(a.summary)
    fig5 = a.artifacts["fig5"]
    assert len(fig5["actual"]) == len(fig5["predicted"]) == len(fig5["hours"]) > 0
    assert fig5["dataset"] == "synthetic"


def test_unknown_method_or_dataset_fails_clearly() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        run_model(_spec("arima"))
    with pytest.raises(ValueError, match="allowed: synthetic"):
        run_model(_spec("gru", dataset="moon"))


def _table(values: dict[str, float], metric: str) -> pd.DataFrame:
    rows = []
    for method, value in values.items():
        for seed in range(2):
            rows.append({"method": method, "sweep_value": "synthetic", "seed": seed, metric: value})
    return pd.DataFrame(rows)


def test_claims_rank_the_lstm_transformer_per_dataset() -> None:
    rmse = {"lstm_transformer": 1.0, "lstm": 2.0, "gru": 1.5}
    text, agrees = claim_rmse(_table(rmse, "rmse"))
    assert agrees is True and "rank 1 of 3" in text
    text, agrees = claim_rmse(_table({**rmse, "gru": 0.5}, "rmse"))
    assert agrees is False and "best gru" in text
    text, agrees = claim_r2(_table({"lstm_transformer": 0.9, "lstm": 0.95}, "r2"))
    assert agrees is False and "rank 2 of 2" in text
    _, agrees = claim_error_rate(_table({"lstm_transformer": 5.0}, "error_rate_pct"))
    assert agrees is None
    table = _table({"lstm_transformer": 5.0, "last_value": 6.0}, "error_rate_pct")
    text, agrees = claim_beats_last_value(table)
    assert agrees is True and "5.00 % vs 6.00 %" in text


def test_fig5_draws_actual_and_each_method() -> None:
    runs = [(_spec(m), run_model(_spec(m))) for m in ("gru", "last_value")]
    fig, ax = plt.subplots()
    data = draw_fig5_synthetic(runs, ax)
    plt.close(fig)
    assert {"hours", "actual", "gru", "last_value"} <= set(data.columns)
    assert len(ax.lines) == 3
    assert METHODS[-1] == "last_value"
