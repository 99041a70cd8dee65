"""Batched paper C env throughput and the cost of the adversary's posterior (issue 16).

Run by hand:  .venv/bin/python benchmarks/bench_privacy.py [--batch 64] [--steps 100]

* env throughput in AV-slots/s (reset excluded, posterior included), uniform random hybrid
  actions drawn outside the timer, on ``paper-c-synth`` (30 RSUs, exact server softmax) and,
  when the shared data folder is present, ``paper-c`` (200 RSUs from the Shanghai stations,
  the lattice-tabulated normaliser);
* one posterior per AV-slot at the default 11×11 grid: the adversary's ``observe`` alone, in
  microseconds per AV-slot, for 30 and 200 servers, exact and with the lattice;
* the env's build time (the lattice is tabulated once per process).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vtwin.config import load_config
from vtwin.data.samples import shared_data_dir
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.world.adversary import BayesianAdversary


def env_rate(preset: str, batch: int, steps: int) -> tuple[float, float]:
    """(AV-slots per second, build seconds) of ``steps`` random slots on ``preset``."""
    t0 = time.perf_counter()
    env = BatchedCrossRealityPrivacy(load_config(preset, [f"horizon_slots={steps}"]), batch)
    build = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    shape = (steps, batch, env.M)
    acts = [
        {
            "radius_deg": r,
            "angle_rad": a,
            "server": s,
        }
        for r, a, s in zip(
            rng.uniform(0, env.r_max_deg, shape),
            rng.uniform(0, 2 * np.pi, shape),
            rng.integers(0, env.S, shape),
            strict=True,
        )
    ]
    env.reset(0)
    t0 = time.perf_counter()
    for act in acts:
        env.step(act)
    return batch * env.M * steps / (time.perf_counter() - t0), build


def posterior_cost(n_servers: int, lattice: bool, batch: int = 64, m: int = 5) -> float:
    """Microseconds per AV-slot of one ``observe`` (history of 30 points, 11×11 grid)."""
    rng = np.random.default_rng(1)
    servers = rng.uniform(0, 20_000, (n_servers, 2))
    adv = BayesianAdversary(
        servers,
        r_max_m=111.0,
        grid=11,
        span=3.0,
        sigma_m=111.0,
        d_t_m=1000.0,
        bandwidth_m=111.0,
        history_slots=30,
    )
    if lattice:
        adv.use_lattice([-2000.0, -2000.0], [22_000.0, 22_000.0], 100.0)
    adv.reset(batch, m)
    xy = rng.uniform(1000, 19_000, (batch, m, 2))
    for k in range(30):
        adv.remember(xy - (30 - k) * 50.0)
    pert = xy + rng.uniform(-100, 100, xy.shape)
    server = rng.integers(0, n_servers, (batch, m))
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        adv.observe(xy, pert, server)
    return 1e6 * (time.perf_counter() - t0) / (reps * batch * m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    presets = ["paper-c-synth"] + (["paper-c"] if shared_data_dir() is not None else [])
    for preset in presets:
        rate, build = env_rate(preset, args.batch, args.steps)
        print(f"{preset:14s} B={args.batch:4d}  {rate:10,.0f} AV-slots/s  (build {build:.2f} s)")
    for n, lattice in [(30, False), (200, False), (200, True)]:
        us = posterior_cost(n, lattice)
        kind = "lattice" if lattice else "exact"
        print(f"posterior, {n:3d} servers, {kind:7s}: {us:8.1f} µs per AV-slot")


if __name__ == "__main__":
    main()
