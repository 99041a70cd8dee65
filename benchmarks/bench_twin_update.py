"""Paper D's env throughput and the TD3 family's update rate on CPU (issue 19).

Run by hand:  .venv/bin/python benchmarks/bench_twin_update.py [--batch 1024] [--slots 50]
              [--updates 300]

Env: agent-steps per second (slots × copies × (K + U) agents) of ``BatchedTwinUpdate`` on the
``paper-d`` preset stepped with uniformly random actions. Learners: gradient updates per
second (batch 256, one critic step plus, every ``policy_delay``, the actors' steps) of each
variant on a filled replay buffer, one torch thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vtwin.agents.buffers import Transition
from vtwin.agents.hatd3 import VARIANTS
from vtwin.config import load_config
from vtwin.envs.twin_update import BatchedTwinUpdate
from vtwin.training.registry import make_agent


def env_rate(batch: int, slots: int) -> float:
    """Agent-steps per second of random play."""
    env = BatchedTwinUpdate(load_config("paper-d", [f"horizon_slots={slots}"]), batch)
    rng = np.random.default_rng(0)
    env.reset(0)
    actions = [env.random_actions(rng) for _ in range(8)]
    t0 = time.perf_counter()
    for t in range(slots):
        env.step(actions[t % 8])
    return slots * batch * (env.K + env.U) / (time.perf_counter() - t0)


def update_rate(algo: str, updates: int) -> float:
    """Gradient updates per second of ``algo`` on a buffer of 4,000 random transitions."""
    env = BatchedTwinUpdate(load_config("paper-d", ["horizon_slots=50"]), 8)
    agent = make_agent(algo, env, seed=0, device="cpu")
    buffer = agent.make_buffer()  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    obs, _ = env.reset(0)
    for _ in range(500):
        action = env.random_actions(rng)
        nxt, reward, _, trunc, _ = env.step(action)
        step = Transition(obs["state"], agent.joint_action(action), reward[:, 0],  # type: ignore[attr-defined]
                          nxt["state"], np.zeros(env.B, dtype=bool))  # fmt: skip
        agent.store(buffer, step)  # type: ignore[attr-defined]
        obs = nxt if not trunc.all() else env.reset(1)[0]
    batch = buffer.sample(256, rng, agent.device)  # type: ignore[attr-defined]
    agent.update(batch)  # warm-up
    t0 = time.perf_counter()
    for _ in range(updates):
        agent.update(buffer.sample(256, rng, agent.device))  # type: ignore[attr-defined]
    return updates / (time.perf_counter() - t0)


def main() -> None:
    """Print the env rate and one update rate per variant."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--updates", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = env_rate(args.batch, args.slots)
    print(f"env paper-d, B = {args.batch}: {rate:,.0f} agent-steps/s (30 sensors + 5 UAVs)")
    for algo in VARIANTS:
        print(f"{algo:9s} {update_rate(algo, args.updates):7.1f} updates/s (batch 256)")


if __name__ == "__main__":
    main()
