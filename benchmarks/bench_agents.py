"""Agent speed: diffusion actor forward time, DSAC updates/s, PPO env-steps/s with learning.

Run by hand:  .venv/bin/python benchmarks/bench_agents.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.common import AgentSizes
from vtwin.agents.diffusion import Diffusion
from vtwin.agents.dsac import DSACAgent, DSACConfig
from vtwin.config import load_config
from vtwin.training import TrainSettings, train

OBS, ACTIONS = 39, 90  # paper A: 2 + 2·18 + 1 observations, 18 servers × 5 alpha levels


def diffusion_forward_ms(steps: int, batch: int = 512, repeats: int = 5) -> float:
    """Milliseconds for one reverse chain of ``steps`` denoising steps on ``batch`` states."""
    torch.manual_seed(0)
    model = Diffusion(OBS, ACTIONS, n_steps=steps)
    s = torch.randn(batch, OBS)
    with torch.no_grad():
        model.sample(s)
        t0 = time.perf_counter()
        for _ in range(repeats):
            model.sample(s)
    return (time.perf_counter() - t0) / repeats * 1e3


def dsac_updates_per_s(steps: int, n_updates: int = 20) -> float:
    """DSAC gradient updates per second at paper A's batch size 512."""
    agent = DSACAgent(AgentSizes(OBS, ACTIONS), DSACConfig(denoising_steps=steps), device="cpu")
    buf = ReplayBuffer(10_000, OBS)
    rng = np.random.default_rng(0)
    obs = rng.random((10_000, OBS)).astype(np.float32)
    buf.add(
        Transition(
            obs,
            rng.integers(0, ACTIONS, 10_000),
            rng.random(10_000).astype(np.float32),
            obs,
            np.zeros(10_000, dtype=bool),
        )
    )
    agent.update(buf.sample(512, rng, agent.device))
    t0 = time.perf_counter()
    for _ in range(n_updates):
        agent.update(buf.sample(512, rng, agent.device))
    return n_updates / (time.perf_counter() - t0)


def ppo_env_steps_per_s(steps: int = 40_000) -> float:
    """PPO agent transitions per second on paper A (B = 8 copies), learning included."""
    import tempfile

    cfg = load_config("paper-a", ["horizon_slots=100"])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train(cfg, TrainSettings("ppo", steps=steps, batch_envs=8, device="cpu"), tmp)
        return steps / (time.perf_counter() - t0)


def main() -> None:
    torch.set_num_threads(2)
    for n in (100, 5):
        print(
            f"diffusion actor forward, {n:3d} steps, batch 512: {diffusion_forward_ms(n):8.1f} ms"
        )
    for n in (100, 5):
        print(f"DSAC updates/s, {n:3d} denoising steps, batch 512: {dsac_updates_per_s(n):8.2f}")
    print(f"PPO transitions/s on paper A with learning (B = 8): {ppo_env_steps_per_s():10,.0f}")


if __name__ == "__main__":
    main()
