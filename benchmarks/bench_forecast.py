"""Table II on the PeMS detector sample: the five forecasters, quick budget, 3 seeds, 2 cores.

Run by hand:  .venv/bin/python benchmarks/bench_forecast.py [WORKERS] [SEEDS] [quick|full] [DATASET]
Target (issue 5): training and evaluating all five models ≤ 5 minutes on 2 cores. Prints the
wall time and Table II (mean ± std over seeds) with paper B's numbers beside ours. Needs the
sample in ``../shared/data/pems/`` (or ``$VTWIN_DATA_DIR``).
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from vtwin.data.samples import available_samples
from vtwin.experiments.paper_b.forecast import _FULL, _QUICK, MODELS, PAPER_TABLE2, run_model
from vtwin.experiments.spec import RunSpec

METRICS = ("rmse", "mae", "error_rate_pct", "r2")


def _one(args: tuple[str, int, str, str]) -> dict[str, float | str]:
    import torch

    torch.set_num_threads(1)
    method, seed, mode, dataset = args
    spec = RunSpec(
        experiment="paper-b-table2",
        method=method,
        seed=seed,
        sweep_value=dataset,
        budget={**(_QUICK if mode == "quick" else _FULL), "dataset": dataset},
        preset="paper-b-city",
        sweep_key="budget.dataset",
        mode=mode,
    )
    return {"method": method, "seed": seed, **run_model(spec).summary}


def main() -> None:
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    mode = sys.argv[3] if len(sys.argv) > 3 else "quick"
    dataset = sys.argv[4] if len(sys.argv) > 4 else "pems-detector"
    if dataset != "synthetic" and not available_samples().get(dataset):
        sys.exit(f"the {dataset} sample is not available (../shared/data/pems/)")
    jobs = [(m, s, mode, dataset) for m in (*MODELS, "last_value") for s in range(seeds)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(_one, jobs))
    minutes = (time.perf_counter() - t0) / 60
    table = pd.DataFrame(rows)
    print(
        f"{len(jobs)} runs (5 models + last value × {seeds} seeds), {workers} workers: "
        f"{minutes:.1f} min"
    )
    print("| metric | " + " | ".join((*MODELS, "last_value")) + " |")
    print("|---" * (len(MODELS) + 2) + "|")
    for metric in METRICS:
        cells = []
        for method in (*MODELS, "last_value"):
            v = table[table["method"] == method][metric]
            paper = PAPER_TABLE2[metric].get(method)
            cell = f"{v.mean():.4g} ± {v.std():.2g}"
            cells.append(cell + (f" (paper {paper:g})" if paper is not None else ""))
        print(f"| {metric} | " + " | ".join(cells) + " |")
    print("mean training seconds per run:", round(float(table["train_seconds"].mean()), 1))


if __name__ == "__main__":
    main()
