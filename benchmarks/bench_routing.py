"""Batched paper B env throughput (issue 6 target: ≥ 500 000 agent-steps/s at B = 1024, 2 cores).

Run by hand:  .venv/bin/python benchmarks/bench_routing.py [--batch 1024] [--episodes 3]
One agent-step is one vehicle of one copy for one slot. Counts whole episodes of
``paper-b-city`` (120 slots), reset included; actions are uniform random over the M servers
(drawn outside the timer). Measures one process holding all copies, then the copies split
over --workers independent processes (aggregate: the env's capacity on that many cores), and
over --workers processes behind :class:`vtwin.envs.vector.SubprocBatchedEnv`: observations
(~8 MB per slot at B = 1024) written by the workers into shared full-batch blocks and
returned as they are (``copy=False``) or as copies (default ``copy=True``), and once more with
``shared_memory=False`` (everything pickled through the pipe) for comparison; the first
setup also pins each worker to its own CPU (``pin_cpus=True``). Each setup is measured
``--repeats`` times; the median and range are printed (a shared VM's speed drifts).
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

from vtwin.config import load_config
from vtwin.envs.routing import BatchedMigrationRouting


def measure(preset: str, batch: int, episodes: int) -> tuple[float, float, float]:
    """(agent-steps/s with resets, agent-steps/s of step() alone, seconds) in one process."""
    env = BatchedMigrationRouting(load_config(preset), batch)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.M, size=(env.horizon, batch, env.V))
    steps = 0
    step_s = 0.0
    t0 = time.perf_counter()
    for ep in range(episodes):
        env.reset(ep * batch)
        for t in range(env.horizon):
            s0 = time.perf_counter()
            _, _, term, trunc, _ = env.step(actions[t])
            step_s += time.perf_counter() - s0
            steps += 1
            if (term | trunc).all():
                break
    elapsed = time.perf_counter() - t0
    n = batch * env.V * steps
    return n / elapsed, n / step_s, elapsed


def measure_subproc(
    preset: str,
    batch: int,
    episodes: int,
    workers: int,
    shared_memory: bool = True,
    copy: bool = True,
    pin: bool = False,
) -> tuple[float, float]:
    """Like :func:`measure` (with resets), the copies split over ``workers`` processes."""
    from vtwin.envs.vector import SubprocBatchedEnv

    env_fn = partial(BatchedMigrationRouting, load_config(preset))
    with SubprocBatchedEnv(
        env_fn, batch, workers=workers, shared_memory=shared_memory, copy=copy, pin_cpus=pin
    ) as env:
        m, v, horizon = env.get_attr("M"), env.get_attr("V"), env.get_attr("horizon")
        actions = np.random.default_rng(0).integers(0, m, size=(horizon, batch, v))
        steps = 0
        t0 = time.perf_counter()
        for ep in range(episodes):
            env.reset(ep * batch)
            for t in range(horizon):
                _, _, term, trunc, _ = env.step(actions[t])
                steps += 1
                if np.all(term | trunc):
                    break
        elapsed = time.perf_counter() - t0
    return batch * v * steps / elapsed, elapsed


def _measure_part(args: tuple[str, int, int]) -> tuple[int, float]:
    """(agent-steps, seconds) of :func:`measure` in a worker process."""
    preset, batch, episodes = args
    rate, _, secs = measure(preset, batch, episodes)
    return round(rate * secs), secs


def measure_independent(
    preset: str, batch: int, episodes: int, workers: int
) -> tuple[float, float]:
    """Aggregate agent-steps/s of ``workers`` processes, each stepping its own B/workers copies.

    The env's capacity on ``workers`` cores when each worker also consumes its own data (as a
    rollout worker running the policy next to its env does); nothing is sent back per slot.
    """
    import multiprocessing as mp

    sizes = [batch // workers + (i < batch % workers) for i in range(workers)]
    with mp.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_measure_part, [(preset, n, episodes) for n in sizes])
    steps = sum(p[0] for p in parts)
    secs = max(p[1] for p in parts)
    return steps / secs, secs


def _line(label: str, rates: list[float]) -> str:
    """One result line: the median rate over the repeats, and their range."""
    med = float(np.median(rates))
    return (
        f"{label}: {med:12,.0f} agent-steps/s with resets (median of {len(rates)}; "
        f"range {min(rates):,.0f}–{max(rates):,.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="paper-b-city")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="processes for the split run")
    parser.add_argument(
        "--repeats", type=int, default=3, help="measure each setup this many times (median)"
    )
    args = parser.parse_args()
    head = f"{args.preset} B={args.batch}"
    runs = [measure(args.preset, args.batch, args.episodes) for _ in range(args.repeats)]
    step_rate = float(np.median([r[1] for r in runs]))
    print(_line(f"{head} 1 process", [r[0] for r in runs]) + f"; step() alone {step_rate:,.0f}")
    if args.workers <= 1:
        return
    rates = [
        measure_independent(args.preset, args.batch, args.episodes, args.workers)[0]
        for _ in range(args.repeats)
    ]
    print(_line(f"{head} {args.workers} independent processes", rates))
    setups = ((True, False, True), (True, False, False), (True, True, False), (False, True, False))
    for shm, copy, pin in setups:
        rates = [
            measure_subproc(
                args.preset,
                args.batch,
                args.episodes,
                args.workers,
                shared_memory=shm,
                copy=copy,
                pin=pin,
            )[0]
            for _ in range(args.repeats)
        ]
        how = ("shared memory, " + ("copy=False" if not copy else "copied")) if shm else "pickled"
        how += ", pinned" if pin else ""
        print(_line(f"{head} SubprocBatchedEnv, {args.workers} workers, {how}", rates))


if __name__ == "__main__":
    main()
