"""Resident memory over a long training run: does anything grow per step?

Runs the ``vtwin train`` path (:func:`vtwin.training.train`, with a run folder, so metrics and
checkpoints are written after every episode as they are for a user) and samples the process's
resident set size (``VmRSS`` from ``/proc/self/status``; ``ru_maxrss`` elsewhere) after every
episode. Prints RSS at the start (after the first episode), the middle and the end, the peak,
and the growth per 10⁵ steps over the second half (where a leak shows and warm-up does not).
Exits with status 1 when the end exceeds the start by more than ``--max-growth-mb``.

Run by hand (minutes; the default is 10⁶ agent transitions of the random agent on the tiny
paper A world):

    nice .venv/bin/python benchmarks/bench_memory.py
    nice .venv/bin/python benchmarks/bench_memory.py --algo ppo --steps 200000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from vtwin.config import load_config
from vtwin.training import TrainSettings, train


def rss_mb() -> float:
    """This process's resident set size now, MiB (Linux ``VmRSS``; elsewhere the peak)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def measure(
    env: str, algo: str, steps: int, batch_envs: int, params: dict[str, object]
) -> list[tuple[int, float]]:
    """(agent transitions done, RSS MiB) after every episode of one training run."""
    samples: list[tuple[int, float]] = []
    config = load_config(env)
    settings = TrainSettings(
        algo, steps=steps, seed=0, batch_envs=batch_envs, device="cpu", algo_params=params
    )
    with tempfile.TemporaryDirectory() as out:
        train(
            config,
            settings,
            Path(out) / "run",
            progress=lambda done, _total: samples.append((done, rss_mb())),
        )
    return samples


def main() -> int:
    """Run the measurement and print it; status 1 when memory grew beyond the bound."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="paper-a-tiny")
    parser.add_argument("--algo", default="random")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--batch-envs", type=int, default=16)
    parser.add_argument("-p", "--param", action="append", default=[], help="name=value")
    parser.add_argument("--max-growth-mb", type=float, default=64.0)
    args = parser.parse_args()
    import yaml

    params = {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in args.param)}
    t0 = time.perf_counter()
    before = rss_mb()
    samples = measure(args.env, args.algo, args.steps, args.batch_envs, params)
    wall = time.perf_counter() - t0
    start, middle, end = samples[0], samples[len(samples) // 2], samples[-1]
    peak = max(m for _, m in samples)
    slope = (end[1] - middle[1]) / max(1, end[0] - middle[0]) * 1e5
    print(f"{args.algo} on {args.env}, B = {args.batch_envs}: {end[0]:,} agent transitions, ")
    print(f"{len(samples)} episodes in {wall:.0f} s ({end[0] / wall:,.0f} transitions/s)")
    print(f"RSS before the run  {before:8.1f} MiB")
    print(f"RSS start (ep 1)    {start[1]:8.1f} MiB at {start[0]:>9,} steps")
    print(f"RSS middle          {middle[1]:8.1f} MiB at {middle[0]:>9,} steps")
    print(f"RSS end             {end[1]:8.1f} MiB at {end[0]:>9,} steps")
    print(f"RSS peak            {peak:8.1f} MiB")
    print(f"second-half growth  {slope:8.2f} MiB per 10^5 steps")
    if end[1] - start[1] > args.max_growth_mb:
        print(f"FAIL: grew {end[1] - start[1]:.1f} MiB > {args.max_growth_mb} MiB")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
