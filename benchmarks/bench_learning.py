"""Learning side by side on paper A: vtwin's learners against Stable-Baselines3 (issue 15).

Run by hand (the SB3 methods need the benchmark-only extra: ``pip install -e '.[bench]'``):

    .venv/bin/python benchmarks/bench_learning.py                  # the issue's measurement
    .venv/bin/python benchmarks/bench_learning.py --seeds 0,1,2 --methods random,greedy,vtwin_ppo
    .venv/bin/python benchmarks/bench_learning.py --methods vtwin_dsac -p denoising_steps=5
    .venv/bin/python benchmarks/bench_learning.py -p vtwin_ppo.lr=1e-3 --out ppo.csv
    .venv/bin/python benchmarks/bench_learning.py --paper-settings --methods vtwin_ppo,sb3_ppo

Every method meets the same env and budget. The config is ``load_config(--preset, overrides)``,
the overrides being ``horizon_slots=200`` (unless ``--set`` gives another) then ``--set``.
Learners get ``--steps`` agent transitions on ``--copies`` copies for each training seed
(``--seeds``), with one torch thread on the CPU:

* ``vtwin_ppo`` / ``vtwin_dsac``: ``vtwin.training.train_agent`` on
  ``BatchedPreMigration(config, copies)``, with the algorithm's defaults or, with
  ``--paper-settings``, the settings of ``vtwin reproduce paper-a-rl`` (``PPO_PARAMS``,
  ``DSAC_PARAMS``); ``-p name=value`` then sets a parameter of every vtwin
  learner selected, ``-p vtwin_ppo.name=value`` of one (YAML values, as in ``vtwin train``).
* ``sb3_ppo``: SB3 ``PPO("MlpPolicy")`` with its defaults on the Gymnasium env
  ``vtwin/PreMigration-v1`` (``gym.make(id, config=config)``), ``copies`` envs in a
  ``DummyVecEnv`` built by ``make_vec_env`` and seeded by the training seed. SB3 stops at
  the first whole rollout (``n_steps`` × copies) past the budget, so it may get a few more
  transitions than asked for: the table shows the count each learner really had.
* ``sb3_maskable_ppo``: sb3-contrib ``MaskablePPO`` on the same envs, the mask read from the
  Gymnasium view's ``info["action_mask"]`` by ``vtwin.interop.sb3.InfoActionMasks``. Paper A
  allows every (server, α) action, so that mask is all ones and MaskablePPO is expected to
  match PPO; the code passes masks through so that a preset with masked actions needs no
  change.
* ``random`` (uniform actions from ``default_rng(0)``) and ``greedy``
  (``BatchedPreMigration.greedy_actions``, the one-slot best action) set the scale.

Evaluation: one fresh ``BatchedPreMigration(config, n)`` reset with the ``n = --eval-seeds``
unseen seeds ``--eval-from`` … ``--eval-from + n − 1`` (one episode each), so every method
sees identical episodes. SB3 policies get the batched observations flattened per copy, as the
Gymnasium view hands them out. Learners act deterministically (argmax; DSAC: its mean-only
chain); ``--stochastic-eval`` also evaluates them by sampling. Latency is the mean of
``info["latency_s"]`` over every slot, copy and vehicle; the gap share is
``(L_random − L) / (L_random − L_greedy)``; wall-clock counts training only (envs and agent
built, learning), not evaluation. With several training seeds the table ends with each
learner's mean ± std.

Paper B (``BatchedMigrationRouting``) is multi-agent (PettingZoo, a centralised critic and a
per-vehicle mask); SB3 reaches it only through the single-agent views of
``vtwin.interop.sb3`` (one vehicle as the learner, or all vehicles flattened), so this
benchmark takes paper A presets only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from cli_lists import parse_methods, parse_seeds

from vtwin.cliutil import parse_params
from vtwin.config import VTwinConfig, load_config
from vtwin.envs.premigration import BatchedPreMigration
from vtwin.interop.sb3 import InfoActionMasks

VTWIN = {"vtwin_ppo": "ppo", "vtwin_dsac": "dsac"}
"""vtwin learners: benchmark name → training registry name."""
SB3 = ("sb3_ppo", "sb3_maskable_ppo")
BASELINES = ("random", "greedy")
METHODS = (*BASELINES, *VTWIN, *SB3)
DEFAULT_METHODS = "random,greedy,vtwin_ppo,sb3_ppo,sb3_maskable_ppo"
GYM_ID = "vtwin/PreMigration-v1"
INSTALL_HINT = "pip install -e '.[bench]'"

Act = Callable[[BatchedPreMigration, np.ndarray], np.ndarray]
"""A policy for evaluation: (env, observations [B, V, obs_dim]) → actions [B, V]."""


@dataclass
class Row:
    """One method and training seed: where it got to and what it cost."""

    method: str
    seed: int | None
    latency_s: float
    gap_pct: float
    train_s: float
    transitions: int
    latency_stoch_s: float | None = None
    gap_stoch_pct: float | None = None


def log(msg: str) -> None:
    """Progress on stderr, so that stdout holds only the table."""
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- evaluation
def evaluate(config: VTwinConfig, act: Act, seeds: Sequence[int]) -> float:
    """Mean ``info["latency_s"]`` of ``act`` over one episode of each seed (copy b: seeds[b])."""
    env = BatchedPreMigration(config, len(seeds))
    obs, _ = env.reset(list(seeds))
    latency = []
    for _ in range(env.horizon):
        obs, _, terminated, truncated, info = env.step(act(env, obs))
        latency.append(info["latency_s"])
        if (terminated | truncated).all():
            break
    return float(np.mean(latency))


def random_act() -> Act:
    """Uniform actions from ``default_rng(0)`` (the protocol's random baseline)."""
    rng = np.random.default_rng(0)
    return lambda env, obs: rng.integers(0, env.n_actions, size=(env.B, env.V))


def greedy_act(env: BatchedPreMigration, obs: np.ndarray) -> np.ndarray:
    """The one-slot greedy rule of the env (best immediate paper A reward per vehicle)."""
    return env.greedy_actions()


def all_allowed(env: BatchedPreMigration) -> np.ndarray:
    """Action masks [B, V·n_actions] as the Gymnasium view flattens them per copy: paper A
    masks nothing, so all ones (the batched env has no mask of its own)."""
    return np.ones((env.B, env.V * env.n_actions), dtype=bool)


# ---------------------------------------------------------------------------- vtwin learners
def progress_printer(label: str, t0: float) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` that logs about every tenth of the budget."""
    next_mark = [0.0]

    def report(done: int, total: int) -> None:
        if done >= next_mark[0] * total or done >= total:
            log(f"  {label}: {done:>9,}/{total:,} transitions, {time.perf_counter() - t0:6.0f} s")
            next_mark[0] = math.floor(done / total * 10 + 1) / 10

    return report


def train_vtwin(
    config: VTwinConfig,
    method: str,
    copies: int,
    steps: int,
    seed: int,
    params: dict[str, Any],
) -> tuple[Callable[[bool], Act], float, int]:
    """Train a vtwin learner; returns (deterministic → policy, wall-clock s, transitions)."""
    from vtwin.training import train_agent

    t0 = time.perf_counter()
    agent, history = train_agent(
        BatchedPreMigration(config, copies),
        VTWIN[method],
        steps,
        seed,
        params,
        progress=progress_printer(f"{method} seed {seed}", t0),
        device="cpu",
    )
    wall = time.perf_counter() - t0

    def policy(deterministic: bool) -> Act:
        def act(env: BatchedPreMigration, obs: np.ndarray) -> np.ndarray:
            flat = obs.reshape(env.B * env.V, -1)
            return agent.act(flat, deterministic=deterministic).reshape(env.B, env.V)

        return act

    return policy, wall, int(history["steps"].iloc[-1])


# ---------------------------------------------------------------------------- SB3 learners
def require_sb3(methods: Sequence[str]) -> None:
    """Exit with one line naming the extra when an SB3 method is asked for without SB3."""
    needed = {"sb3_ppo": "stable_baselines3", "sb3_maskable_ppo": "sb3_contrib"}
    for method in methods:
        if method not in needed:
            continue
        try:
            __import__(needed[method])
        except ImportError:
            sys.exit(
                f"error: {method} needs Stable-Baselines3 and sb3-contrib, which are not "
                f"installed: {INSTALL_HINT}"
            )


def train_sb3(
    config: VTwinConfig, method: str, copies: int, steps: int, seed: int
) -> tuple[Callable[[bool], Act], float, int]:
    """Train SB3 PPO or MaskablePPO (defaults, MlpPolicy) on ``copies`` Gymnasium envs;
    returns (deterministic → policy, wall-clock s, transitions)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    masked = method == "sb3_maskable_ppo"
    V = config.vehicles.count  # one Gymnasium step = one transition per vehicle
    label = f"{method} seed {seed}"

    class Progress(BaseCallback):
        """Logs about every tenth of the budget, at rollout ends."""

        def __init__(self, t0: float) -> None:
            super().__init__()
            self.report = progress_printer(label, t0)

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            self.report(self.num_timesteps * V, steps)

    # make_vec_env asks for render_mode="rgb_array"; the env renders nothing and says so
    warnings.filterwarnings("ignore", message=".*render_mode.*", category=UserWarning)
    t0 = time.perf_counter()
    venv = make_vec_env(
        GYM_ID,
        n_envs=copies,
        seed=seed,
        env_kwargs={"config": config},
        vec_env_cls=DummyVecEnv,
        wrapper_class=InfoActionMasks if masked else None,
    )
    model: Any
    if masked:
        from sb3_contrib import MaskablePPO

        model = MaskablePPO("MlpPolicy", venv, seed=seed, device="cpu")
    else:
        model = PPO("MlpPolicy", venv, seed=seed, device="cpu")
    model.learn(total_timesteps=math.ceil(steps / V), callback=Progress(t0))
    wall = time.perf_counter() - t0
    venv.close()

    def policy(deterministic: bool) -> Act:
        def act(env: BatchedPreMigration, obs: np.ndarray) -> np.ndarray:
            flat = obs.reshape(env.B, -1).astype(np.float32)  # per copy, as the Gymnasium view
            extra = {"action_masks": all_allowed(env)} if masked else {}
            action, _ = model.predict(flat, deterministic=deterministic, **extra)
            return np.asarray(action, dtype=np.int64).reshape(env.B, env.V)

        return act

    return policy, wall, int(model.num_timesteps) * V


# ---------------------------------------------------------------------------- the run
def paper_settings(method: str, copies: int, horizon: int) -> dict[str, Any]:
    """The settings ``vtwin reproduce paper-a-rl`` trains ``method`` with (its full budget's
    10 denoising steps and one filled batch of episodes before DSAC learns)."""
    from vtwin.experiments.paper_a.rl import DSAC_PARAMS, PPO_PARAMS

    if method == "vtwin_ppo":
        return dict(PPO_PARAMS)
    return {**DSAC_PARAMS, "denoising_steps": 10, "learning_starts": copies * horizon}


def learner_params(
    items: Sequence[str] | None,
    learners: Sequence[str],
    base: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """``-p`` items per vtwin learner: ``name=v`` for all of them, ``method.name=v`` for one,
    on top of ``base`` (per learner; none: the algorithms' defaults)."""
    params: dict[str, dict[str, Any]] = {m: dict((base or {}).get(m, {})) for m in learners}
    for key, value in parse_params(items, "-p").items():
        method, dot, name = key.rpartition(".")
        if not dot:
            if not learners:
                raise ValueError(f"-p {key}: no vtwin learner among --methods")
            for m in learners:
                params[m][name] = value
        elif method in learners:
            params[method][name] = value
        else:
            raise ValueError(f"-p {key}: '{method}' is not a vtwin learner among --methods")
    return params


def gap(latency: float, random_s: float, greedy_s: float) -> float:
    """Share (%) of the random → greedy latency gap closed."""
    return 100.0 * (random_s - latency) / (random_s - greedy_s)


@dataclass(frozen=True)
class Plan:
    """What one run does, checked before anything trains."""

    config: VTwinConfig
    methods: list[str]
    seeds: list[int]
    eval_seeds: list[int]
    params: dict[str, dict[str, Any]]
    copies: int
    steps: int
    stochastic_eval: bool
    settings: dict[str, Any]


def plan(args: argparse.Namespace) -> Plan:
    """Check the options (ValueError naming the bad one) and load the config."""
    methods = parse_methods(args.methods, METHODS)
    seeds = parse_seeds(args.seeds)
    if args.steps < 1 or args.copies < 1 or args.eval_seeds < 1:
        raise ValueError("--steps, --copies and --eval-seeds must be ≥ 1")
    eval_seeds = list(range(args.eval_from, args.eval_from + args.eval_seeds))
    user = list(args.set or [])
    keys = {item.split("=", 1)[0].strip() for item in user}
    overrides = [*([] if "horizon_slots" in keys else ["horizon_slots=200"]), *user]
    config = load_config(args.preset, overrides)
    if config.paper != "A":
        raise ValueError(
            f"preset {args.preset} is paper {config.paper}: this benchmark takes paper A "
            "presets (for paper B with SB3 see vtwin.interop.sb3)"
        )
    learners = [m for m in methods if m in VTWIN]
    base = (
        {m: paper_settings(m, args.copies, config.horizon_slots) for m in learners}
        if args.paper_settings
        else None
    )
    params = learner_params(args.param, learners, base)
    if learners:
        from vtwin.training import make_agent

        probe = BatchedPreMigration(config, 1)
        for m in learners:  # unknown or bad parameters fail now, naming the valid ones
            make_agent(VTWIN[m], probe, device="cpu", params=params[m])
    settings = {
        "preset": args.preset,
        "overrides": overrides,
        "copies": args.copies,
        "steps": args.steps,
        "eval_seeds": eval_seeds,
        "params": params,
        "torch_threads": 1,
    }
    return Plan(
        config,
        methods,
        seeds,
        eval_seeds,
        params,
        args.copies,
        args.steps,
        args.stochastic_eval,
        settings,
    )


def run(p: Plan) -> list[Row]:
    """Baselines first, then every learner for every training seed."""
    torch.set_num_threads(1)
    config, eval_seeds = p.config, p.eval_seeds
    log(
        f"{p.settings['preset']} {' '.join(p.settings['overrides'])}: {p.copies} copies, "
        f"{p.steps:,} transitions per learner, evaluated on seeds "
        f"{eval_seeds[0]}…{eval_seeds[-1]}"
    )
    random_s = evaluate(config, random_act(), eval_seeds)
    greedy_s = evaluate(config, greedy_act, eval_seeds)
    if not random_s > greedy_s:
        raise RuntimeError(f"random ({random_s:.3f} s) is not slower than greedy: no gap")
    rows: list[Row] = []
    for name, latency in (("random", random_s), ("greedy", greedy_s)):
        if name in p.methods:
            rows.append(Row(name, None, latency, gap(latency, random_s, greedy_s), 0.0, 0))
    for method in (m for m in p.methods if m not in BASELINES):
        for seed in p.seeds:
            log(f"{method} seed {seed}: training")
            if method in VTWIN:
                policy, wall, done = train_vtwin(
                    config, method, p.copies, p.steps, seed, p.params[method]
                )
            else:
                policy, wall, done = train_sb3(config, method, p.copies, p.steps, seed)
            latency = evaluate(config, policy(True), eval_seeds)
            row = Row(method, seed, latency, gap(latency, random_s, greedy_s), wall, done)
            if p.stochastic_eval:
                torch.manual_seed(seed)  # SB3 samples from torch's global generator
                row.latency_stoch_s = evaluate(config, policy(False), eval_seeds)
                row.gap_stoch_pct = gap(row.latency_stoch_s, random_s, greedy_s)
            log(f"{method} seed {seed}: {latency:.3f} s, {row.gap_pct:.1f} % of the gap")
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------- output
def table(rows: Sequence[Row]) -> str:
    """The results, one line per method and seed, then mean ± std of learners over seeds."""
    stoch = any(r.latency_stoch_s is not None for r in rows)
    head = f"{'method':<18}{'seed':>6}{'latency s':>11}{'gap %':>9}"
    head += f"{'stoch s':>9}{'gap %':>9}" if stoch else ""
    head += f"{'train s':>10}{'transitions':>13}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = f"{r.method:<18}{'-' if r.seed is None else r.seed:>6}"
        line += f"{r.latency_s:>11.3f}{r.gap_pct:>9.1f}"
        if stoch:
            s, g = r.latency_stoch_s, r.gap_stoch_pct
            line += f"{'-':>9}{'-':>9}" if s is None or g is None else f"{s:>9.3f}{g:>9.1f}"
        line += f"{r.train_s:>10.0f}{r.transitions:>13,}"
        lines.append(line)
    by_method: dict[str, list[Row]] = {}
    for r in rows:
        if r.seed is not None:
            by_method.setdefault(r.method, []).append(r)
    several = {m: rs for m, rs in by_method.items() if len(rs) > 1}
    if several:
        lines += ["", "mean ± std over training seeds (latency s, gap %, train s)"]
        for m, rs in several.items():
            lat = np.array([r.latency_s for r in rs])
            gp = np.array([r.gap_pct for r in rs])
            wall = np.array([r.train_s for r in rs])
            lines.append(
                f"{m:<18}{len(rs):>3} seeds  {lat.mean():.3f} ± {lat.std():.3f} s  "
                f"{gp.mean():5.1f} ± {gp.std():4.1f} %  {wall.mean():5.0f} ± {wall.std():3.0f} s"
            )
    return "\n".join(lines)


def write(path: Path, rows: Sequence[Row], settings: dict[str, Any]) -> None:
    """The rows as CSV (``.csv``) or, with the run's settings, as JSON (any other suffix)."""
    records = [asdict(r) for r in rows]
    if path.suffix == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    else:
        path.write_text(json.dumps({"settings": settings, "rows": records}, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="vtwin's learners against Stable-Baselines3 on paper A (see the docstring)."
    )
    parser.add_argument("--preset", default="paper-a", help="a paper A preset")
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="config override (repeatable); horizon_slots=200 unless given here",
    )
    parser.add_argument("--steps", type=int, default=200_000, help="agent transitions")
    parser.add_argument("--copies", type=int, default=8, help="env copies while training")
    parser.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    parser.add_argument("--eval-seeds", type=int, default=8, help="evaluation episodes")
    parser.add_argument("--eval-from", type=int, default=900_000, help="first evaluation seed")
    parser.add_argument(
        "--methods", default=DEFAULT_METHODS, help=f"comma-separated, of {', '.join(METHODS)}"
    )
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="vtwin learner parameter (YAML value); METHOD.NAME=VALUE for one learner",
    )
    parser.add_argument(
        "--paper-settings",
        action="store_true",
        help="vtwin learners start from the paper A experiments' settings (then -p)",
    )
    parser.add_argument(
        "--stochastic-eval", action="store_true", help="also evaluate learners by sampling"
    )
    parser.add_argument("--out", type=Path, help="write the rows to this .csv or .json file")
    args = parser.parse_args(argv)
    try:
        p = plan(args)
    except ValueError as err:
        sys.exit(f"error: {err}")
    require_sb3(p.methods)
    rows = run(p)
    print(table(rows))
    if any(r.method == "sb3_maskable_ppo" for r in rows):
        print(
            "note: paper A's action mask is all ones (every server and α level is allowed), "
            "so MaskablePPO is expected to match PPO."
        )
    if args.out is not None:
        write(args.out, rows, p.settings)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
