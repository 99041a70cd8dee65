"""Training speed with a sandboxed candidate reward vs the built-in one (issue 18).

Run by hand:  .venv/bin/python benchmarks/bench_sandbox_reward.py [--preset paper-c]
              [--method h_ppo] [--steps 3000] [--batch 8] [--slots 60] [--repeats 2]

Trains the same learner twice per repeat, alternating: on the built-in eq. (20) reward and
on a byte-for-byte copy of it as untrusted code (``reward.kind = sandbox:FILE``: every slot's
terms go to a sandbox worker and back). Both train the same agent (the rewards are equal bit
for bit), so the ratio of joint transitions per second is the sandbox's whole cost. Also
reports the cost of one sandbox call at the env's batch shape. Target: ≥ 70 % of the speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vtwin.config import load_config
from vtwin.envs.privacy import REWARD_TERMS, BatchedCrossRealityPrivacy
from vtwin.experiments.paper_c.learners import OBSERVATION, VARIANTS
from vtwin.rewards.sandbox import SandboxedReward, sandbox_layers
from vtwin.training import make_agent
from vtwin.training.hybrid import train_hybrid

EQ20 = """
def reward(terms):
    e = 1.0 * terms["entropy_bits"]
    lat = -0.02 * terms["latency_s"]
    qos = -0.2 * terms["qos_loss"]
    return e + lat + qos, {"entropy": e, "latency": lat, "qos": qos}
"""


def rate(kind: str, args: argparse.Namespace) -> float:
    """Joint transitions per second of one training run with reward ``kind``."""
    variant = VARIANTS[args.method]
    overrides = [OBSERVATION, f"horizon_slots={args.slots}", f"reward.kind={kind}"]
    env = BatchedCrossRealityPrivacy(load_config(args.preset, overrides), args.batch)
    agent = make_agent(variant.algo, env, seed=0, device="cpu", params=dict(variant.params))
    t0 = time.perf_counter()
    train_hybrid(env, agent, args.steps, seed=0)  # type: ignore[arg-type]
    return args.steps / (time.perf_counter() - t0)


def call_cost_us(batch: int, m: int = 5, calls: int = 2000) -> float:
    """Microseconds per sandboxed call on ``[batch, m]`` terms (all the env's terms)."""
    rng = np.random.default_rng(0)
    terms = {n: (rng.random((batch, m)) < 0.5) if t is bool else rng.random((batch, m))
             for n, t in REWARD_TERMS.items()}  # fmt: skip
    with SandboxedReward(EQ20, tuple(terms)) as reward:
        reward(terms)
        t0 = time.perf_counter()
        for _ in range(calls):
            reward(terms)
        return (time.perf_counter() - t0) / calls * 1e6


def main() -> None:
    """Print both rates, their ratio and the per-call cost."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="paper-c")
    parser.add_argument("--method", default="h_ppo", choices=sorted(VARIANTS))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--slots", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for layer, state in sandbox_layers().items():
        print(f"  {layer}: {state}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "eq20.py"
        path.write_text(EQ20)
        built, boxed = [], []
        for _ in range(args.repeats):
            built.append(rate("paper-c", args))
            boxed.append(rate(f"sandbox:{path}", args))
    b, s = float(np.median(built)), float(np.median(boxed))
    print(
        f"{args.preset}, {args.method}, B = {args.batch}, {args.slots}-slot episodes, "
        f"{args.steps} steps × {args.repeats}"
    )
    print(f"built-in eq. (20):   {b:8.1f} joint transitions/s  (runs: {built})")
    print(f"sandboxed eq. (20):  {s:8.1f} joint transitions/s  (runs: {boxed})")
    print(f"sandboxed / built-in: {100 * s / b:.1f} %  (target ≥ 70 %)")
    cost = call_cost_us(args.batch)
    print(f"one sandbox call, [{args.batch}, 5] × {len(REWARD_TERMS)} terms: {cost:.0f} µs")


if __name__ == "__main__":
    main()
