"""Benchmark SUMO mobility: one episode of each SUMO preset, simulated then stepped.

Run by hand (not part of `make test`; needs `pip install 'vtwin[sumo]'`):
    .venv/bin/python benchmarks/bench_sumo.py [--presets paper-a-sumo,paper-c-sumo]

Per preset it reports
* the SUMO run (`simulate`: grid by netgenerate, trips by randomTrips.py, libsumo stepping
  and sampling), as seconds and as episode slots per second;
* building the single-copy env (scenario, reference moments, ...) with the track cached;
* one episode of random actions through the env (slots per second).
Prints one line per measurement; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from vtwin.config import load_config
from vtwin.world import sumo as sumo_module
from vtwin.world.scenario import scenario_sumo_track


def make_env(preset: str) -> Any:
    """The single-copy env of a SUMO preset's paper."""
    paper = load_config(preset).paper
    if paper == "A":
        from vtwin.envs.premigration import PreMigrationEnv

        return PreMigrationEnv(preset)
    if paper == "B":
        from vtwin.envs.routing import MigrationRoutingEnv

        return MigrationRoutingEnv(preset)
    from vtwin.envs.privacy import CrossRealityPrivacyEnv

    return CrossRealityPrivacyEnv(preset)


def episode(env: Any) -> int:
    """One episode of uniformly random actions; returns the slots stepped."""
    env.reset(seed=1)
    slots = 0
    if hasattr(env, "agents"):  # PettingZoo
        while env.agents:
            env.step({a: env.action_space(a).sample() for a in env.agents})
            slots += 1
        return slots
    env.action_space.seed(0)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
        slots += 1
    return slots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", default="paper-a-sumo,paper-b-sumo,paper-c-sumo")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    os.environ["VTWIN_CACHE_DIR"] = "off"  # every simulation runs SUMO
    results: dict[str, float] = {}
    for preset in args.presets.split(","):
        config = load_config(preset)
        sumo_module._MEMORY.clear()
        t0 = time.perf_counter()
        track = scenario_sumo_track(config)
        sim_s = time.perf_counter() - t0
        results[f"sumo_simulate_s[{preset}]"] = sim_s
        results[f"sumo_slots_per_s[{preset}]"] = track.n_slots / sim_s
        t0 = time.perf_counter()
        env = make_env(preset)  # the track comes from the in-memory cache
        results[f"env_build_s[{preset}]"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        slots = episode(env)
        results[f"env_slots_per_s[{preset}]"] = slots / (time.perf_counter() - t0)
        results[f"pool_vehicles[{preset}]"] = track.pool
    for key, value in results.items():
        print(f"{key:45s} {value:12.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
