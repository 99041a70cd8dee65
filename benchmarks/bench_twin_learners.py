"""Paper D's learners checked against a trusted reference: vtwin's SU-HATD3 (and MATD3)
against Stable-Baselines3 ``TD3`` on the same env, budget and deterministic evaluation.

Run by hand (the SB3 method needs the benchmark-only extra: ``pip install -e '.[bench]'``):

    .venv/bin/python benchmarks/bench_twin_learners.py             # tiny world, every method
    .venv/bin/python benchmarks/bench_twin_learners.py --view joint --methods random,rule,sb3_td3
    .venv/bin/python benchmarks/bench_twin_learners.py --view uav --methods sb3_td3
    .venv/bin/python benchmarks/bench_twin_learners.py --methods sb3_td3 --sb3-arch 256,256
    .venv/bin/python benchmarks/bench_twin_learners.py --methods vtwin_su_hatd3 --seeds 0 \\
        --steps 1000 --params '{"actor_lr": 3e-4}'

The world is the ``--preset`` (default ``paper-d-tiny``: 8 sensors, 2 UAVs, K_max 8, 20
slots), with ``--slots`` overriding its episode length.
SB3 sees paper D as one centralised Gymnasium agent (``vtwin.interop.sb3.TwinUpdateCentralEnv`` over
``BatchedTwinUpdate(config, 1)``): observation the global ``"state"`` row, reward the shared
per-slot reward × ``--reward-scale``, an episode truncated at the horizon (not terminal).
``--view joint``: the action is the whole joint action ``K + U (2 + K_max)`` (sensors first,
``HATD3Agent.joint_action``'s layout). ``--view uav``: the action is the UAVs' part only; the
sensors follow vtwin's rule reference (nearest UAV with room). vtwin's learners always learn
every agent, sensors included (vtwin has no UAV-only mode), in both views.

Every learner gets ``--steps`` joint transitions (slots × copies) on ``--batch`` copies, one
torch thread on the CPU, and the same number of gradient updates per slot of all copies
(``updates_per_step`` of vtwin's parameters; vtwin stops at
the first episode end past the budget, so it may get a few more transitions than asked
for: the rate uses the count each learner really had):

* ``vtwin_su_hatd3`` / ``vtwin_matd3``: ``vtwin.training.train_agent`` on
  ``BatchedTwinUpdate(config, batch)`` with ``paper_d.learners.TINY_PARAMS`` on the tiny
  preset (vtwin's defaults otherwise), ``reward_scale = --reward-scale``, then
  ``--params`` (JSON) on top.
* ``sb3_td3``: SB3 ``TD3("MlpPolicy")`` on a ``DummyVecEnv`` of ``--batch`` envs with SB3's
  defaults except γ 0.99, batch 256, ``learning_starts`` 500, a buffer of ``--steps``,
  Gaussian exploration N(0, 0.1) and ``net_arch = --sb3-arch`` (64,64 like vtwin's critic;
  ``default``: SB3's TD3 default, 400,300). SB3's ``train_freq`` 1 counts vector steps and
  ``gradient_steps`` is vtwin's ``updates_per_step``, so both update equally often.
* ``random``, ``rule``, ``greedy_steps``: vtwin's references (no training).

Training episode ``k`` of seed ``s`` resets copy ``b`` with seed ``s·10⁶ + k·B + b`` in both
libraries, never an evaluation seed. Evaluation, the same for every method: one deterministic
episode of ``BatchedTwinUpdate(config, 8)`` reset with seeds 900000…900007 (the experiments'
eval seeds); utility, reward, served tasks and C1 drops are per-slot means over slots and
copies (``vtwin.training.evaluate_policy`` for vtwin agents, :func:`play` for SB3, checked to
agree on the rule). The gap share is ``(u − u_random) / (u_rule − u_random)``; seconds count
training only. Learned policies also show where their sensors offloaded at evaluation (eq.
(21): ``none`` or the UAV index, counted over slots, copies and sensors).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from cli_lists import parse_methods, parse_seeds

from vtwin.agents.hatd3 import HATD3Config
from vtwin.config import VTwinConfig, load_config
from vtwin.envs.twin_update import BatchedTwinUpdate, sensor_choice
from vtwin.experiments.paper_d.learners import TINY_PARAMS
from vtwin.interop.sb3 import (
    TWIN_VIEWS,
    TwinUpdateCentralEnv,
    twin_split_action,
)
from vtwin.training import evaluate_policy, make_agent, train_agent

TINY_PRESET = "paper-d-tiny"
"""The default world; with it the vtwin learners take :data:`TINY_PARAMS`."""
VTWIN = {"vtwin_su_hatd3": "su_hatd3", "vtwin_matd3": "matd3"}
"""vtwin learners: benchmark name → training registry name."""
REFERENCES = ("random", "rule", "greedy_steps")
METHODS = (*REFERENCES, *VTWIN, "sb3_td3")
VIEWS = TWIN_VIEWS
EVAL_SEED = 900_000
EVAL_COPIES = 8
SEED_SPACING = 1_000_000
"""Training seed ``s`` resets episodes from ``s · SEED_SPACING`` on (as vtwin's loop)."""
INSTALL_HINT = "pip install -e '.[bench]'"

ObsDict = dict[str, np.ndarray]
FlatPolicy = Callable[[ObsDict], np.ndarray]
"""A policy over the centralised view: observation dict of B copies → actions ``[B, n]``."""


def log(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


class Progress:
    """Logs a line each time ``done`` passes another ``every`` transitions, and at the end."""

    def __init__(self, label: str, total: int, every: int = 1000) -> None:
        """``label`` starts every line."""
        self.label, self.total, self.every = label, total, every
        self.next = every
        self.t0 = time.perf_counter()

    def __call__(self, done: int, total: int | None = None) -> None:
        """Report ``done`` transitions (``total`` is accepted for ``train_agent``)."""
        if done >= self.next or done >= self.total:
            log(f"  {self.label}: {done:,}/{self.total:,} ({time.perf_counter() - self.t0:.0f} s)")
            self.next = (done // self.every + 1) * self.every


# ---------------------------------------------------------------------------- the view
def central_env(
    config: VTwinConfig, view: str, reward_scale: float, first_seed: int = 0, stride: int = 1
) -> TwinUpdateCentralEnv:
    """SB3's view of ``config``'s world (:class:`vtwin.interop.sb3.TwinUpdateCentralEnv`)."""
    return TwinUpdateCentralEnv(
        config=config,
        view=view,
        reward_scale=reward_scale,
        first_seed=first_seed,
        stride=stride,
    )


# ---------------------------------------------------------------------------- evaluation
@dataclass
class Score:
    """A policy's evaluation: per-slot means and, for learned policies, sensor choices."""

    utility: float
    reward: float
    served: float
    dropped: float
    choices: dict[str, int] = field(default_factory=dict)


def eval_env(config: VTwinConfig) -> BatchedTwinUpdate:
    """The evaluation env (``EVAL_COPIES`` copies)."""
    return BatchedTwinUpdate(config, EVAL_COPIES)


def choice_counts(choices: Sequence[np.ndarray], U: int) -> dict[str, int]:
    """Eq. (21) choices → counts of ``none`` and of each UAV."""
    c = np.concatenate([x.reshape(-1) for x in choices])
    return {"none": int((c < 0).sum())} | {f"uav{u}": int((c == u).sum()) for u in range(U)}


def play(config: VTwinConfig, policy: FlatPolicy, view: str) -> Score:
    """One deterministic evaluation episode of ``policy`` over the centralised view
    (``uav`` view: sensors by vtwin's rule), the means taken as ``evaluate_policy`` takes
    them: per slot over copies, then over slots."""
    env = eval_env(config)
    rule = make_agent("rule", env, seed=0, params={})
    obs, _ = env.reset([EVAL_SEED + b for b in range(env.B)])
    sums = dict.fromkeys(("utility", "served", "c1_dropped"), 0.0)
    ret = np.zeros(env.B)
    chosen: list[np.ndarray] = []
    slots = 0
    for _ in range(env.horizon):
        actions = twin_split_action(env, policy(obs), view)
        if view == "uav":
            actions["sensor"] = rule.act(obs, deterministic=True)["sensor"]
        chosen.append(sensor_choice(actions["sensor"], env.U))
        obs, reward, _, truncated, info = env.step(actions)
        ret += np.asarray(reward, dtype=np.float64).reshape(env.B)
        for k in sums:
            sums[k] += float(np.mean(info[k]))
        slots += 1
        if truncated.all():
            break
    return Score(
        sums["utility"] / slots,
        float(ret.mean() / slots),
        sums["served"] / slots,
        sums["c1_dropped"] / slots,
        choice_counts(chosen, env.U),
    )


def agent_policy(agent: Any, view: str) -> FlatPolicy:
    """A vtwin agent's deterministic actions in the view's flat layout."""

    def act(obs: ObsDict) -> np.ndarray:
        a = agent.act(obs, deterministic=True)
        uav = np.asarray(a["uav"]).reshape(len(a["uav"]), -1)
        return np.concatenate([np.asarray(a["sensor"]), uav], axis=1) if view == "joint" else uav

    return act


def score_vtwin(config: VTwinConfig, agent: Any, view: str, learned: bool) -> Score:
    """``evaluate_policy``'s numbers; learned agents get their sensor choices from
    :func:`play` (deterministic, so the same episode)."""
    m = evaluate_policy(agent, eval_env(config), EVAL_SEED, episodes=1)
    choices = play(config, agent_policy(agent, "joint"), "joint").choices if learned else {}
    return Score(m["utility"], m["reward"], m["served"], m["c1_dropped"], choices)


def check_view(config: VTwinConfig, view: str, reward_scale: float) -> None:
    """Gymnasium's env checker on the view, and :func:`play` against ``evaluate_policy`` on
    the rule (RuntimeError when they disagree)."""
    from gymnasium.utils.env_checker import check_env

    check_env(central_env(config, view, reward_scale), skip_render_check=True)
    rule = make_agent("rule", eval_env(config), seed=0, params={})
    mine = play(config, agent_policy(rule, view), view)
    ref = evaluate_policy(rule, eval_env(config), EVAL_SEED, episodes=1)
    for name, value in (
        ("utility", mine.utility),
        ("reward", mine.reward),
        ("served", mine.served),
        ("c1_dropped", mine.dropped),
    ):
        if not np.isclose(value, ref[name], rtol=1e-9, atol=1e-9):
            raise RuntimeError(
                f"play() gives {name} {value} for the rule, evaluate_policy {ref[name]}"
            )
    log(
        f"check: env checker passed ({view} view); play() = evaluate_policy on the rule "
        f"(utility {mine.utility:.2f})"
    )


# ---------------------------------------------------------------------------- training
def require_sb3(methods: Sequence[str]) -> None:
    """Exit with one line naming the extra when SB3 is asked for without being installed."""
    if "sb3_td3" not in methods:
        return
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        sys.exit(f"error: sb3_td3 needs Stable-Baselines3, which is not installed: {INSTALL_HINT}")


def train_vtwin(
    config: VTwinConfig, method: str, batch: int, steps: int, seed: int, params: dict[str, Any]
) -> tuple[Any, float, int]:
    """Train a vtwin learner; returns (agent, wall-clock s, transitions)."""
    t0 = time.perf_counter()
    agent, history = train_agent(
        lambda: BatchedTwinUpdate(config, batch),
        VTWIN[method],
        steps,
        seed=seed,
        params=params,
        progress=Progress(f"{method} seed {seed}", steps),
        device="cpu",
    )
    return agent, time.perf_counter() - t0, int(history["steps"].iloc[-1])


def train_sb3(
    config: VTwinConfig,
    view: str,
    batch: int,
    steps: int,
    seed: int,
    arch: list[int] | None,
    reward_scale: float,
    updates: int,
) -> tuple[FlatPolicy, float, int]:
    """Train SB3 TD3 (module docstring) on ``batch`` centralised envs; returns (policy,
    wall-clock s, transitions)."""
    from stable_baselines3 import TD3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.noise import NormalActionNoise
    from stable_baselines3.common.vec_env import DummyVecEnv

    report = Progress(f"sb3_td3 seed {seed}", steps)

    class Log(BaseCallback):
        """Progress every ~1000 transitions."""

        def _on_step(self) -> bool:
            report(self.num_timesteps)
            return True

    t0 = time.perf_counter()

    def factory(i: int) -> Callable[[], gym.Env[np.ndarray, np.ndarray]]:
        return lambda: central_env(config, view, reward_scale, seed * SEED_SPACING + i, batch)

    venv = DummyVecEnv([factory(i) for i in range(batch)])
    n = int(np.prod(venv.action_space.shape))
    model = TD3(
        "MlpPolicy",
        venv,
        gamma=0.99,
        batch_size=256,
        learning_starts=500,
        buffer_size=max(steps, 1),
        gradient_steps=updates,
        action_noise=NormalActionNoise(np.zeros(n), 0.1 * np.ones(n)),
        policy_kwargs=None if arch is None else {"net_arch": arch},
        seed=seed,
        device="cpu",
    )
    venv.seed(seed * SEED_SPACING)  # TD3(seed) reseeded the envs with seed + i: vtwin's seeds
    model.learn(total_timesteps=steps, callback=Log())
    wall = time.perf_counter() - t0
    venv.close()

    def policy(obs: ObsDict) -> np.ndarray:
        action, _ = model.predict(np.asarray(obs["state"], np.float32), deterministic=True)
        return np.asarray(action, dtype=np.float64)

    return policy, wall, int(model.num_timesteps)


# ---------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class Plan:
    """What one run does, checked before anything trains."""

    config: VTwinConfig
    overrides: list[str]
    view: str
    methods: list[str]
    seeds: list[int]
    batch: int
    steps: int
    params: dict[str, Any]
    arch: list[int] | None
    reward_scale: float
    updates: int
    """Gradient updates per slot of all copies, for both libraries."""


def plan(args: argparse.Namespace) -> Plan:
    """Check the options (ValueError naming the bad one) and load the config."""
    methods = parse_methods(args.methods, METHODS)
    seeds = parse_seeds(args.seeds)
    if args.steps < 1 or args.batch < 1:
        raise ValueError("--steps and --batch must be ≥ 1")
    overrides = [] if args.slots is None else [f"horizon_slots={args.slots}"]
    config = load_config(args.preset, overrides)
    if config.paper != "D":
        raise ValueError(f"preset {args.preset} is paper {config.paper}'s; this benchmark is D's")
    episodes = -(-args.steps // (args.batch * config.horizon_slots))
    if min(seeds) == 0 and episodes * args.batch > EVAL_SEED:
        raise ValueError("--steps: seed 0's training episodes would reach the eval seeds")
    user = json.loads(args.params) if args.params else {}
    if not isinstance(user, dict):
        raise ValueError(f"--params {args.params}: give a JSON object")
    tiny = TINY_PARAMS if args.preset == TINY_PRESET else {}
    params = {**tiny, "reward_scale": args.reward_scale, **user}
    arch = None if args.sb3_arch == "default" else [int(x) for x in args.sb3_arch.split(",")]
    probe = BatchedTwinUpdate(config, 1)
    for m in methods:  # unknown or bad parameters fail now, naming the valid ones
        if m in VTWIN:
            make_agent(VTWIN[m], probe, device="cpu", params=params)
    return Plan(
        config,
        overrides,
        args.view,
        methods,
        seeds,
        args.batch,
        args.steps,
        params,
        arch,
        args.reward_scale,
        int(params.get("updates_per_step", HATD3Config.updates_per_step)),
    )


def line(
    method: str, seed: int | None, view: str, s: Score, gap: float, wall: float, done: int
) -> str:
    """One result line."""
    rate = f"{done / wall:8.0f}" if wall > 0 else f"{'-':>8}"
    hist = " ".join(f"{k}={v}" for k, v in s.choices.items())
    return (
        f"{method:<15} {'-' if seed is None else seed:>4} {view:<5} {s.utility:9.2f} "
        f"{s.reward:9.2f} {s.served:7.2f} {s.dropped:7.2f} {100 * gap:7.1f} {wall:8.1f} "
        f"{rate} {hist}"
    ).rstrip()


def run(p: Plan) -> None:
    """References first (they set the gap), then every learner for every seed."""
    torch.set_num_threads(1)
    check_view(p.config, p.view, p.reward_scale)
    refs = {
        name: score_vtwin(
            p.config, make_agent(name, eval_env(p.config), seed=0, params={}), p.view, learned=False
        )
        for name in REFERENCES
    }
    lo, hi = refs["random"].utility, refs["rule"].utility

    def gap(u: float) -> float:
        return (u - lo) / (hi - lo)

    print(
        f"# {' '.join([p.config.name, *p.overrides])}, view {p.view}: {p.steps:,} transitions "
        f"on {p.batch} copies per learner; eval seeds {EVAL_SEED}..{EVAL_SEED + EVAL_COPIES - 1}"
    )
    if p.view == "uav" and any(m in VTWIN for m in p.methods):
        print(
            "# note: vtwin learners learn the sensors too (no UAV-only mode in vtwin); "
            "sb3_td3 gets the rule's sensors"
        )
    if any(m in VTWIN for m in p.methods):
        print(f"# vtwin params: {json.dumps(p.params)}")
    if "sb3_td3" in p.methods:
        print(f"# sb3 net_arch: {p.arch or 'default (400,300)'}")
    print(
        f"{'method':<15} {'seed':>4} {'view':<5} {'utility':>9} {'reward':>9} {'served':>7} "
        f"{'dropped':>7} {'gap%':>7} {'train_s':>8} {'trans/s':>8} sensor choices"
    )
    for name in REFERENCES:
        if name in p.methods:
            print(line(name, None, p.view, refs[name], gap(refs[name].utility), 0.0, 0), flush=True)
    for method in (m for m in p.methods if m not in REFERENCES):
        for seed in p.seeds:
            log(f"{method} seed {seed}: training")
            if method in VTWIN:
                agent, wall, done = train_vtwin(p.config, method, p.batch, p.steps, seed, p.params)
                score = score_vtwin(p.config, agent, p.view, learned=True)
            else:
                policy, wall, done = train_sb3(
                    p.config, p.view, p.batch, p.steps, seed, p.arch, p.reward_scale, p.updates
                )
                score = play(p.config, policy, p.view)
            print(line(method, seed, p.view, score, gap(score.utility), wall, done), flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    ap.add_argument("--steps", type=int, default=8000, help="joint transitions per learner")
    ap.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated")
    ap.add_argument("--batch", type=int, default=4, help="env copies while training")
    ap.add_argument("--preset", default=TINY_PRESET, help="a paper D preset")
    ap.add_argument("--slots", type=int, default=None, help="episode length (preset's if unset)")
    ap.add_argument("--view", choices=VIEWS, default="joint")
    ap.add_argument("--reward-scale", type=float, default=0.01)
    ap.add_argument("--params", default=None, help="JSON object of vtwin learner parameters")
    ap.add_argument("--sb3-arch", default="64,64", help="SB3 net_arch, e.g. 256,256 or default")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Check, train, evaluate, print."""
    args = parse_args(argv)
    try:
        p = plan(args)
    except ValueError as err:
        sys.exit(f"error: {err}")
    require_sb3(p.methods)
    run(p)


if __name__ == "__main__":
    main()
