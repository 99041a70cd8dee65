"""Training throughput of paper C's hybrid-action learners on CPU (issue 17).

Run by hand:  .venv/bin/python benchmarks/bench_hybrid_learners.py [--steps 4000] [--batch 8]
              [--preset paper-c-synth] [--slots 60] [--algos hppo,hdppo,...]

For each learner of the registry's hybrid kind: joint transitions (slots × copies) per
second of one training run of ``--steps`` on ``--batch`` copies with the learner's defaults
(one torch thread, env stepping and updates included, the first episode's warm-up too), and
the wall-clock a full-budget run of ``paper-c-learners`` (200k steps) would take at that rate.
"""

from __future__ import annotations

import argparse
import time

import torch

from vtwin.config import load_config
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.training import algorithm_names, make_agent
from vtwin.training.hybrid import train_hybrid

FULL_STEPS = 200_000
"""The full budget of ``paper-c-learners`` (joint transitions per run)."""


def rate(algo: str, preset: str, slots: int, batch: int, steps: int) -> float:
    """Joint transitions per second of one ``train_hybrid`` run of ``steps``."""
    env = BatchedCrossRealityPrivacy(load_config(preset, [f"horizon_slots={slots}"]), batch)
    agent = make_agent(algo, env, seed=0, device="cpu")
    t0 = time.perf_counter()
    train_hybrid(env, agent, steps, seed=0)  # type: ignore[arg-type]
    return steps / (time.perf_counter() - t0)


def main() -> None:
    """Print one line per learner."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--slots", type=int, default=60)
    parser.add_argument("--preset", default="paper-c-synth")
    parser.add_argument("--algos", default=",".join(algorithm_names("hybrid")))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{args.preset}, {args.slots}-slot episodes, B = {args.batch}, {args.steps} steps")
    for algo in args.algos.split(","):
        r = rate(algo, args.preset, args.slots, args.batch, args.steps)
        print(
            f"{algo:12s} {r:8.0f} joint transitions/s   "
            f"full budget ({FULL_STEPS:,} steps): {FULL_STEPS / r / 60:6.1f} min"
        )


if __name__ == "__main__":
    main()
