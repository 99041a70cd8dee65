"""Training throughput of paper C's hybrid-action learners on CPU (issue 17).

Run by hand:  .venv/bin/python benchmarks/bench_hybrid_learners.py [--steps 4000] [--batch 8]
              [--preset paper-c-synth] [--slots 60] [--methods h_ppo,hdppo,...]

For each learner method of ``paper-c-learners`` (its algorithm, parameters and overrides,
on the experiments' ``servers`` observation): joint transitions (slots × copies) per second
of one training run of ``--steps`` on ``--batch`` copies (one torch thread, env stepping and
updates included, the first episode's warm-up too), and the wall-clock a full-budget run of
``paper-c-learners`` (200k steps) would take at that rate.
"""

from __future__ import annotations

import argparse
import time

import torch

from vtwin.config import load_config
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.experiments.paper_c.learners import LEARNERS, OBSERVATION, VARIANTS
from vtwin.training import make_agent
from vtwin.training.hybrid import train_hybrid

FULL_STEPS = 200_000
"""The full budget of ``paper-c-learners`` (joint transitions per run)."""


def rate(method: str, preset: str, slots: int, batch: int, steps: int) -> float:
    """Joint transitions per second of one ``train_hybrid`` run of ``steps``."""
    variant = VARIANTS[method]
    overrides = [OBSERVATION, *variant.overrides, f"horizon_slots={slots}"]
    env = BatchedCrossRealityPrivacy(load_config(preset, overrides), batch)
    params = dict(variant.params)
    agent = make_agent(variant.algo, env, seed=0, device="cpu", params=params)
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
    parser.add_argument("--methods", default=",".join(LEARNERS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{args.preset}, {args.slots}-slot episodes, B = {args.batch}, {args.steps} steps")
    for method in args.methods.split(","):
        if method not in VARIANTS:
            parser.error(f"--methods: unknown method {method!r}; known: {', '.join(VARIANTS)}")
        r = rate(method, args.preset, args.slots, args.batch, args.steps)
        print(
            f"{method:12s} {r:8.0f} joint transitions/s   "
            f"full budget ({FULL_STEPS:,} steps): {FULL_STEPS / r / 60:6.1f} min"
        )


if __name__ == "__main__":
    main()
