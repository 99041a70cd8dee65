"""Benchmark the foundation: scenario building, grid mobility and vectorised physics.

Run by hand (not part of `make test`):  .venv/bin/python benchmarks/bench_world.py
Prints one line per measurement; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vtwin.config import load_config
from vtwin.physics.channel import path_gain, shannon_rate_bps
from vtwin.physics.geo import haversine_m
from vtwin.world.mobility import ManhattanGridMobility
from vtwin.world.scenario import Scenario


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    results: dict[str, float] = {}

    for preset in ["paper-a", "paper-b-city", "paper-b-rural", "paper-c", "paper-d"]:
        cfg = load_config(preset)
        t = best_of(lambda cfg=cfg: Scenario.from_config(cfg, seed=1))
        results[f"scenario_build_ms[{preset}]"] = t * 1e3

    n_veh, n_slots = 1000, 1000

    def drive() -> None:
        mob = ManhattanGridMobility(
            n_veh,
            block_m=250.0,
            n_blocks_x=40,
            n_blocks_y=40,
            speed_mps=(8.0, 15.0),
            slot_s=1.0,
            rng=np.random.default_rng(0),
        )
        mob.trajectory(n_slots)

    results["grid_mobility_vehicle_steps_per_s"] = n_veh * n_slots / best_of(drive)

    rng = np.random.default_rng(0)
    n = 1_000_000
    d = rng.uniform(1.0, 2000.0, n)

    def rates() -> None:
        shannon_rate_bps(20e6, 0.2, path_gain(d, 2.4e9), 1e-13)

    results["shannon_rate_links_per_s"] = n / best_of(rates)
    lat = rng.uniform(39.8, 40.0, (2, n))
    lon = rng.uniform(116.2, 116.5, (2, n))
    results["haversine_pairs_per_s"] = n / best_of(
        lambda: haversine_m(lat[0], lon[0], lat[1], lon[1])
    )

    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:>14,.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
