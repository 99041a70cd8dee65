"""Batched paper A env throughput (issue target: ≥ 200 000 vehicle-steps/s at B = 1024).

Run by hand:  .venv/bin/python benchmarks/bench_premigration.py [--batch 1024] [--steps 1000]
Counts whole episodes, reset included; actions are uniform random (drawn outside the timer).
Measures one process holding all copies, then the copies split over --workers processes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vtwin.config import load_config
from vtwin.envs.premigration import BatchedPreMigration


def measure(batch: int, steps: int, planner: str, uavs: int) -> tuple[float, float]:
    """(vehicle-steps per second, seconds) of one reset + ``steps`` steps."""
    cfg = load_config("paper-a", [f"horizon_slots={steps}", f"servers.uav.count={uavs}"])
    env = BatchedPreMigration(cfg, batch, planner=planner)
    actions = np.random.default_rng(0).integers(0, env.n_actions, size=(steps, batch, env.V))
    t0 = time.perf_counter()
    env.reset(0)
    for t in range(steps):
        env.step(actions[t])
    elapsed = time.perf_counter() - t0
    return batch * env.V * steps / elapsed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="processes for the split run")
    args = parser.parse_args()
    for planner, uavs in [("durp", 2), ("greedy", 2), ("hover", 2), ("durp", 0)]:
        rate, secs = measure(args.batch, args.steps, planner, uavs)
        print(
            f"B={args.batch:5d} planner={planner:7s} uavs={uavs}  "
            f"{rate:12,.0f} vehicle-steps/s  ({secs:.1f} s for {args.steps} slots)"
        )
    for planner in ["durp", "hover"]:
        rate, secs = measure_subproc(args.batch, args.steps, planner, args.workers)
        print(
            f"B={args.batch:5d} planner={planner:7s} uavs=2  {args.workers} processes  "
            f"{rate:12,.0f} vehicle-steps/s  ({secs:.1f} s for {args.steps} slots)"
        )


def measure_subproc(batch: int, steps: int, planner: str, workers: int) -> tuple[float, float]:
    """Like :func:`measure`, with the copies split over ``workers`` processes."""
    from functools import partial

    from vtwin.envs.vector import SubprocBatchedEnv

    cfg = load_config("paper-a", [f"horizon_slots={steps}"])
    env_fn = partial(BatchedPreMigration, cfg, planner=planner)
    with SubprocBatchedEnv(env_fn, batch, workers=workers) as env:
        n_actions = env.get_attr("n_actions")
        v = env.get_attr("V")
        actions = np.random.default_rng(0).integers(0, n_actions, size=(steps, batch, v))
        t0 = time.perf_counter()
        env.reset(0)
        for t in range(steps):
            env.step(actions[t])
        elapsed = time.perf_counter() - t0
    return batch * v * steps / elapsed, elapsed


if __name__ == "__main__":
    main()
