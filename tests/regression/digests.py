"""SHA-256 digests of env outputs and of trained weights, for refactoring without drift.

``python tests/regression/digests.py`` prints the current digests as JSON;
``--write`` stores them in ``digests.json`` beside this file. ``test_digests.py`` compares
every case with the stored value, so a refactor that changes one bit of an env's output or
of an agent's weights after a short run fails. Floating-point results are bit-exact only on
the same platform (numpy and torch builds and the SIMD kernels they pick on this CPU); the
stored file records the platform and the test skips, naming the difference, elsewhere.
On an AVX-512 machine, ``ATEN_CPU_CAPABILITY=avx2 NPY_DISABLE_CPU_FEATURES=X86_V4,AVX512_ICL``
selects the AVX2 kernels of the stored platform (checked: every stored digest is reproduced).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

STORE = Path(__file__).with_name("digests.json")


def platform_key() -> dict[str, str]:
    """What bit-exact floating-point results depend on."""
    import torch
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    # the SIMD kernels numpy and torch pick decide the last bits of exp, sin, matmul, …
    numpy_simd = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    return {
        "machine": platform.machine(),
        "numpy": np.__version__,
        "numpy_simd": ",".join(numpy_simd),
        "torch": torch.__version__.split("+")[0],
        "torch_cpu": torch.backends.cpu.get_cpu_capability(),
        "python": ".".join(map(str, sys.version_info[:2])),
    }


class Digest:
    """A running SHA-256 over nested dicts / lists / arrays / scalars (keys sorted)."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def add(self, x: Any) -> None:
        h = self.h
        if isinstance(x, dict):
            for k in sorted(x):
                h.update(f"<{k}>".encode())
                self.add(x[k])
        elif isinstance(x, list | tuple):
            h.update(f"[{len(x)}]".encode())
            for v in x:
                self.add(v)
        elif hasattr(x, "detach"):  # torch tensor
            self.add(x.detach().cpu().numpy())
        else:
            a = np.ascontiguousarray(np.asarray(x))
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())

    def hexdigest(self) -> str:
        return self.h.hexdigest()


def _env_episode(env: Any, seed: int, slots: int, actions: Callable[[Any, Any], Any]) -> str:
    """Reset with ``seed`` and step ``slots`` slots (or to the end); digest everything returned."""
    d = Digest()
    rng = np.random.default_rng(seed + 12345)
    obs, info = env.reset(seed)
    d.add(obs)
    d.add(info)
    for _ in range(slots):
        out = env.step(actions(env, rng))
        d.add(list(out))
        if np.all(out[2] | out[3]):
            obs, info = env.reset(seed + 1000)
            d.add(obs)
            d.add(info)
    return d.hexdigest()


def _premigration(preset: str, B: int, overrides: tuple[str, ...] = ()) -> str:
    from vtwin.config import load_config
    from vtwin.envs.premigration import BatchedPreMigration

    env = BatchedPreMigration(load_config(preset, list(overrides)), B)

    def act(e: Any, rng: np.random.Generator) -> Any:
        if rng.random() < 0.5:
            return e.greedy_actions()
        return rng.integers(0, e.n_actions, (e.B, e.V))

    return _env_episode(env, 3, 60, act)


def _routing(preset: str, B: int, overrides: tuple[str, ...] = (), slots: int = 60) -> str:
    from vtwin.config import load_config
    from vtwin.envs.routing import BatchedMigrationRouting

    env = BatchedMigrationRouting(load_config(preset, list(overrides)), B)

    def act(e: Any, rng: np.random.Generator) -> Any:
        if rng.random() < 0.5:
            return e.greedy_actions(rng, 0.1)
        return rng.integers(0, e.M, (e.B, e.V))

    return _env_episode(env, 5, slots, act)


def _routing_reference(preset: str) -> str:
    from vtwin.config import load_config
    from vtwin.envs.routing import BatchedMigrationRouting
    from vtwin.rewards import reference_moments

    d = Digest()
    d.add(reference_moments(load_config(preset), BatchedMigrationRouting))
    return d.hexdigest()


def _train_single(algo: str, steps: int, params: dict[str, Any]) -> str:
    import torch

    from vtwin.config import load_config
    from vtwin.training import TrainSettings, load_agent, train

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = TrainSettings(
            algo, steps=steps, seed=1, batch_envs=4, device="cpu", algo_params=params
        )
        summary = train(load_config("paper-a-tiny"), settings, tmp)
        agent, _ = load_agent(tmp)
        d = Digest()
        d.add([summary[k] for k in ("episodes", "steps", "final_return", "final_latency_s")])
        if algo != "random":
            d.add(_weights(agent))
        return d.hexdigest()


def _weights(agent: Any) -> list[str]:
    """Digests of every network tensor the agent holds, sorted: independent of attribute and
    parameter names, so renaming a module keeps the digest while changing one bit does not."""
    import torch

    modules = [agent] if isinstance(agent, torch.nn.Module) else []
    modules += [m for m in vars(agent).values() if isinstance(m, torch.nn.Module)]
    seen: set[int] = set()
    out: list[str] = []
    for m in modules:
        for t in m.state_dict().values():
            if id(t) not in seen:
                seen.add(id(t))
                d = Digest()
                d.add(t)
                out.append(d.hexdigest())
    return sorted(set(out))


def _train_multi(algo: str, steps: int, params: dict[str, Any]) -> str:
    import torch

    from vtwin.config import load_config
    from vtwin.envs.routing import BatchedMigrationRouting
    from vtwin.training import train_agent

    torch.set_num_threads(1)
    env = BatchedMigrationRouting(load_config("paper-b-tiny"), 4)
    agent, history = train_agent(env, algo, steps, seed=2, params=params, device="cpu")
    d = Digest()
    cols = ("episode", "steps", "return", "reward_per_step", "latency_s", "packet_loss")
    d.add({c: history[c].to_numpy() for c in cols})
    if algo not in ("greedy", "random"):
        d.add(_weights(agent))
    return d.hexdigest()


CASES: dict[str, Callable[[], str]] = {
    "env/paper-a": lambda: _premigration("paper-a", 3),
    "env/paper-a-tiny": lambda: _premigration("paper-a-tiny", 2),
    "env/paper-a-no-uav": lambda: _premigration("paper-a", 2, ("servers.uav.count=0",)),
    "env/paper-b-city": lambda: _routing("paper-b-city", 3, slots=40),
    "env/paper-b-rural": lambda: _routing("paper-b-rural", 2, slots=40),
    "env/paper-b-tiny": lambda: _routing("paper-b-tiny", 3),
    "env/paper-b-tiny-episode-z": lambda: _routing(
        "paper-b-tiny", 2, ("routing.zscore_scope=episode",)
    ),
    "env/paper-b-tiny-env-z": lambda: _routing("paper-b-tiny", 2, ("routing.zscore_scope=env",)),
    "env/paper-b-tiny-no-sat": lambda: _routing("paper-b-tiny", 2, ("servers.sat.count=0",)),
    "reward/paper-b-city-reference": lambda: _routing_reference("paper-b-city"),
    "train/ppo": lambda: _train_single("ppo", 2400, {"rollout_slots": 16, "hidden": [32, 32]}),
    "train/dsac": lambda: _train_single(
        "dsac",
        1600,
        {"hidden": [32, 32], "denoising_steps": 3, "batch_size": 64, "learning_starts": 400},
    ),
    "train/random": lambda: _train_single("random", 800, {}),
    "train/dm_mappo": lambda: _train_multi("dm_mappo", 1500, {"hidden": [32, 32]}),
    "train/mappo": lambda: _train_multi("mappo", 1500, {"hidden": [32, 32]}),
    "train/masac": lambda: _train_multi(
        "masac", 1500, {"hidden": [32, 32], "learning_starts": 200}
    ),
    "train/greedy": lambda: _train_multi("greedy", 600, {}),
}


def compute(names: list[str] | None = None) -> dict[str, str]:
    """The digests of ``names`` (all cases by default)."""
    return {n: CASES[n]() for n in names or list(CASES)}


if __name__ == "__main__":
    result = {"platform": platform_key(), "digests": compute(sys.argv[2:] or None)}
    text = json.dumps(result, indent=2, sort_keys=True)
    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        STORE.write_text(text + "\n")
    print(text)
