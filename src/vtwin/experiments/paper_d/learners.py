"""Paper D Figs. 3–6: the four TD3-family learners against three references, on the
``paper-d`` preset (:class:`~vtwin.envs.twin_update.BatchedTwinUpdate`).

``paper-d-learners`` trains SU-HATD3, HADDPG, MATD3 and MADDPG (one update with four
settings, :data:`vtwin.agents.hatd3.VARIANTS`) and plays three references on the same
evaluation copies: ``rule`` (nearest UAV with room, even step split, fly to the queue),
``greedy_steps`` (the rule with steps by fidelity per step; ours) and ``random``. Each run
reports, per slot of a deterministic evaluation on copies whose seeds no training episode
uses (900 000…): the reward (eqs. (19)–(20)), the system utility (eq. (12)), the fidelity
Σ F (eq. (1)), the delay T (eq. (11), s), the C2/C4/C5 violations, the tasks served and
dropped (C1); for the learners the training curve (Fig. 3(a)), minutes and transitions/s.
One more deterministic episode measures Fig. 6's approach (:func:`approach_metrics`) and,
for SU-HATD3's seed 0, keeps copy 0's UAV tracks and offloading choices for the map.

``paper-d-lr`` (Fig. 3(b)) trains SU-HATD3 at the paper's three learning rates (actor and
critic alike); ``paper-d-scale`` (Fig. 3(c)) at four scales sensors × UAVs; ``paper-d-uavs``,
``paper-d-sensors`` and ``paper-d-compute`` (Fig. 4(a)–(c)) run all seven methods against
the number of UAVs, the number of sensors and the UAVs' compute.

Two choices of ours that the sweeps need (also in each experiment's notes):

* **Queue size K_max.** The preset's K_max = 10 queued tasks per UAV gives 30 sensors over
  5 UAVs (6 each on average) 5/3 headroom. A sweep to 80 sensors or down to 3 UAVs would
  drop most tasks at K_max (C1), so every run uses
  ``K_max = max(preset K_max, ⌈5 K / (3 U)⌉)`` (:func:`queue_size`): 10 at the preset's
  30 × 5, 27 at 80 × 5, 17 at 30 × 3.
* **UAV compute (Fig. 4(c)).** Table I draws each UAV's compute f_u uniformly in [100, 400]
  steps/s; Fig. 4(c)'s axis is lost and its text names a compute of 2000. The swept value is
  the mean compute f̄ (steps/s) and each UAV draws f_u in [0.4 f̄, 1.6 f̄] (Table I's
  interval is f̄ = 250), so the paper's 2000 is f̄ = 2000, i.e. f_u ∈ [800, 3200].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vtwin.experiments.common import binned_curve, twin_run
from vtwin.experiments.paper_d.claims import (
    COMPUTE_CLAIMS,
    LEARNER_CLAIMS,
    LR_CLAIMS,
    PAPER_METHODS,
    SCALE_CLAIMS,
    SENSOR_CLAIMS,
    UAV_CLAIMS,
    parse_scale,
)
from vtwin.experiments.registry import register, register_group
from vtwin.experiments.spec import Claim, Experiment, Figure, RunResult, RunSpec, Sweep

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from vtwin.config import VTwinConfig
    from vtwin.envs.twin_update import BatchedTwinUpdate

__all__ = [
    "BUDGET_PARAMS",
    "EXPERIMENTS",
    "KPIS",
    "LEARNERS",
    "REFERENCES",
    "TINY_PARAMS",
    "VARIANTS",
    "Variant",
    "approach_metrics",
    "compute_interval",
    "draw_map",
    "queue_size",
    "run_learner",
]

KPIS = ("reward", "utility", "fidelity_sum", "delay_s", "violations", "served", "c1_dropped")
"""Per-slot means of the deterministic evaluation every run reports."""


@dataclass(frozen=True)
class Variant:
    """What a method name stands for: a registered algorithm of the heterogeneous env kind
    (:mod:`vtwin.training.registry`), its parameters and config overrides."""

    algo: str
    params: tuple[tuple[str, Any], ...] = ()
    overrides: tuple[str, ...] = ()


VARIANTS: dict[str, Variant] = {
    "su_hatd3": Variant("su_hatd3"),
    "haddpg": Variant("haddpg"),
    "matd3": Variant("matd3"),
    "maddpg": Variant("maddpg"),
    "rule": Variant("rule"),
    "greedy_steps": Variant("greedy_steps"),
    "random": Variant("random"),
}
"""Method → algorithm, parameters, overrides: the one place to change what a method runs
(the learners take :class:`~vtwin.agents.hatd3.HATD3Config`'s defaults)."""
LEARNERS = PAPER_METHODS
"""SU-HATD3 and the paper's three baselines (Fig. 3(a))."""
REFERENCES = ("rule", "greedy_steps", "random")
"""Non-learning references (ours), evaluated on the same copies."""
BUDGET_PARAMS = ("learning_starts", "batch_size", "noise_decay_steps", "updates_per_step")
""":class:`~vtwin.agents.hatd3.HATD3Config` fields a budget may set (the quick budget sets
``batch_size``; tests set the others)."""
TINY_PARAMS: dict[str, Any] = {
    "learning_starts": 500,
    "hidden": (64, 64),
    "actor_hidden": (32, 32),
    "noise_decay_steps": 4_000,
}
""":class:`~vtwin.agents.hatd3.HATD3Config` fields for the ``paper-d-tiny`` preset (8 sensors,
2 UAVs, 20 slots) on 4 copies and 8 000 transitions, about a minute on one core: smaller
networks, learning from the 500th transition, exploration decaying over half the budget (used by
the learning tests and ``benchmarks/bench_twin_learners.py``)."""
_EVAL_SEED = 900_000  # evaluation copies: training seed s uses s·10⁶ + episode·B + copy
_CURVE_POINTS = 20
_HEADROOM = (5, 3)  # K_max / average queued tasks per UAV at the preset's 30 × 5 (10 / 6)
_HERE = __name__


def queue_size(sensors: int, uavs: int, preset: int) -> int:
    """K_max for K sensors over U UAVs: the preset's, or ⌈5 K / (3 U)⌉ when larger (the
    preset's 10 queue slots for 6 tasks per UAV on average; module docstring)."""
    num, den = _HEADROOM
    return max(preset, -(-num * sensors // (den * uavs)))


def compute_interval(mean_steps_per_s: float) -> tuple[float, float]:
    """The f_u interval, steps/s, of a mean compute f̄: [0.4 f̄, 1.6 f̄] (Table I's
    [100, 400] is f̄ = 250; Fig. 4(c), module docstring)."""
    return 0.4 * mean_steps_per_s, 1.6 * mean_steps_per_s


def _config(spec: RunSpec, variant: Variant) -> VTwinConfig:
    """The run's config: preset, experiment and sweep overrides, the variant's, the swept
    budget entries (``scale`` = ``"KxU"``, ``compute`` = f̄), the episode length, then
    K_max grown with sensors per UAV (:func:`queue_size`)."""
    from vtwin.config import load_config

    b = spec.budget
    overrides = [*spec.overrides, *variant.overrides]
    if "scale" in b:
        sensors, uavs = parse_scale(b["scale"])
        overrides += [f"sensors.count={sensors}", f"servers.uav.count={uavs}"]
    if "compute" in b:
        low, high = compute_interval(float(b["compute"]))
        overrides.append(f"twin_update.steps_per_s=[{low:g},{high:g}]")
    overrides.append(f"horizon_slots={int(b['slots'])}")
    config = load_config(spec.preset, overrides)
    tw = config.twin_update
    assert tw is not None  # a paper D preset
    k_max = queue_size(config.sensors.count, config.servers.uav.count, tw.max_tasks_per_uav)
    if k_max != tw.max_tasks_per_uav:
        config = load_config(spec.preset, [*overrides, f"twin_update.max_tasks_per_uav={k_max}"])
    return config


def _params(spec: RunSpec, variant: Variant) -> dict[str, Any]:
    """The learner's parameters: the variant's, the swept learning rate of Fig. 3(b)
    (``budget.lr``, actor and critic alike) and any :data:`BUDGET_PARAMS` in the budget."""
    params = dict(variant.params)
    if "lr" in spec.budget:
        params["actor_lr"] = params["critic_lr"] = float(spec.budget["lr"])
    for key in BUDGET_PARAMS:
        if key in spec.budget:
            params[key] = int(spec.budget[key])
    return params


_SWEEP_ONLY = ("lr", "scale", "compute", "sweep_stride")


def learners_twin(spec: RunSpec) -> RunSpec | None:
    """The ``paper-d-learners`` run that computes exactly what this sweep run computes, or
    None.

    Fig. 4's sweeps pass through the preset's own setting (5 UAVs, f̄ = 250 steps/s), where
    a run is Fig. 3(a)'s run of the same method and seed; the runner copies it instead of
    training it again (24 runs at the full budget). Checked, not assumed: the resolved env
    config, the learner's parameters and every other budget entry must be equal."""
    if spec.method not in VARIANTS or spec.sweep_key is None:
        return None
    variant = VARIANTS[spec.method]

    def computes(s: RunSpec) -> tuple[Any, ...]:
        return _params(s, variant), _config(s, variant).model_dump()

    return twin_run(spec, "paper-d-learners", _SWEEP_ONLY, computes)


def _curve(history: pd.DataFrame, steps: int) -> pd.DataFrame:
    """The training curve on ``_CURVE_POINTS`` bins of steps (:func:`binned_curve`)."""
    return binned_curve(history, steps, ("reward", "utility"), _CURVE_POINTS)


def run_learner(spec: RunSpec) -> RunResult:
    """Train one learner with one seed for ``budget['steps']`` joint transitions (or build
    one reference), then evaluate it deterministically on ``budget['eval_episodes']``
    episodes of ``budget['eval_batch']`` fresh copies, ``budget['slots']`` slots each."""
    from vtwin.envs.twin_update import BatchedTwinUpdate
    from vtwin.training import evaluate_policy, make_agent, train_agent

    if spec.method not in VARIANTS:
        raise ValueError(f"method '{spec.method}': expected one of {', '.join(VARIANTS)}")
    b = spec.budget
    variant = VARIANTS[spec.method]
    config = _config(spec, variant)
    steps = int(b["steps"])
    env = BatchedTwinUpdate(config, int(b["eval_batch"]))
    extra: dict[str, float] = {}
    if variant.algo in REFERENCES:
        agent: Any = make_agent(variant.algo, env, seed=spec.seed, params=dict(variant.params))
        metrics = None
    else:
        t0 = time.perf_counter()
        agent, history = train_agent(
            lambda: BatchedTwinUpdate(config, int(b["batch"])),
            variant.algo,
            steps,
            seed=spec.seed,
            params=_params(spec, variant),
            device="auto",
        )
        seconds = time.perf_counter() - t0
        done = int(history["steps"].iloc[-1])
        tail = history["reward"].iloc[-max(1, len(history) // 10) :]
        extra = {
            "train_reward": float(tail.mean()),
            "train_minutes": seconds / 60.0,
            "transitions_per_s": done / max(seconds, 1e-9),
        }
        metrics = _curve(history, steps)
    result = evaluate_policy(agent, env, _EVAL_SEED, episodes=int(b["eval_episodes"]))
    approach, track = approach_metrics(env, agent)
    summary = {k: float(result[k]) for k in KPIS} | approach | extra
    if metrics is None:  # a reference: a flat line at its evaluated level over the budget
        metrics = pd.DataFrame(
            {
                "step": [0, steps],
                "reward": [summary["reward"]] * 2,
                "utility": [summary["utility"]] * 2,
            }
        )
    keep = spec.method == "su_hatd3" and spec.seed == 0 and spec.sweep_key is None
    return RunResult(metrics=metrics, summary=summary, artifacts=track if keep else {})


# ----------------------------------------------------------------------------- Fig. 6
def approach_metrics(
    env: BatchedTwinUpdate, policy: Any
) -> tuple[dict[str, float], dict[str, Any]]:
    """One deterministic episode of ``policy`` on the evaluation copies (seeds 900 000 + b)
    and how close the UAVs get to the sensors, first tenth of the slots vs the last tenth:

    * ``upload_m_first`` / ``_last``: mean horizontal distance (m) from each offloading
      sensor to the UAV it chose, after that slot's flight (the distance its upload travels,
      eqs. (7)–(9); NaN when nothing was offloaded);
    * ``near_m_first`` / ``_last``: mean distance (m) from each UAV to its ⌈K / U⌉ nearest
      sensors (how deep it sits in a dense region);
    * ``offloaded_first`` / ``_last``: tasks offloaded per slot.

    Also returns Fig. 6's data for copy 0: the area, sensor positions, every UAV's track
    (start and one point per slot, m) and every slot's offloading choices (−1: none).
    """
    obs, _ = env.reset([_EVAL_SEED + b for b in range(env.B)])
    start = env.uav_xy.copy()
    tracks, choices = [], []
    for _ in range(env.horizon):
        obs, _, _, truncated, info = env.step(policy.act(obs, deterministic=True))
        tracks.append(np.asarray(info["uav_xy"], dtype=np.float64))
        choices.append(np.asarray(info["choice"], dtype=np.int64))
        if truncated.all():
            break
    uav = np.stack(tracks)  # [T, B, U, 2]
    choice = np.stack(choices)  # [T, B, K]
    sensors = np.asarray(env.sensor_xy, dtype=np.float64)  # [B, K, 2]
    gap = np.linalg.norm(sensors[None, :, None] - uav[:, :, :, None], axis=-1)  # [T, B, U, K]
    on = choice[:, :, None, :] == np.arange(env.U)[None, None, :, None]  # [T, B, U, K]
    count = on.sum(axis=(1, 2, 3)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        upload = np.where(count > 0, (gap * on).sum(axis=(1, 2, 3)) / count, np.nan)
    nearest = -(-env.K // env.U)
    near = np.sort(gap, axis=-1)[..., :nearest].mean(axis=(1, 2, 3))
    n = max(1, math.ceil(len(uav) / 10))
    out: dict[str, float] = {}
    for name, series in (("upload_m", upload), ("near_m", near), ("offloaded", count / env.B)):
        for part, window in (("first", series[:n]), ("last", series[-n:])):
            finite = window[np.isfinite(window)]
            out[f"{name}_{part}"] = float(finite.mean()) if finite.size else float("nan")
    track = {
        "area_m": [float(env.width), float(env.height)],
        "sensors": sensors[0].round(1).tolist(),
        "tracks": np.concatenate([start[None, 0], uav[:, 0]]).round(1).tolist(),  # [T+1, U, 2]
        "choice": choice[:, 0].tolist(),  # [T, K]
    }
    return out, track


def draw_map(runs: list[tuple[RunSpec, RunResult]], ax: Axes) -> pd.DataFrame:
    """Fig. 6: copy 0 of SU-HATD3's (lowest seed) evaluation episode — each UAV's track
    (○ start, ★ end) and the sensors, coloured by the UAV they offloaded to most often
    (grey ×: never offloaded)."""
    found = sorted(
        ((s, r) for s, r in runs if s.method == "su_hatd3" and r.artifacts.get("tracks")),
        key=lambda sr: sr[0].seed,
    )
    columns = ["uav", "slot", "x_m", "y_m"]
    if not found:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no SU-HATD3 run with a trajectory", ha="center", va="center")
        return pd.DataFrame(columns=columns)
    from matplotlib import colormaps

    spec, result = found[0]
    art = result.artifacts
    tracks = np.asarray(art["tracks"], dtype=np.float64)  # [T+1, U, 2]
    sensors = np.asarray(art["sensors"], dtype=np.float64)
    choice = np.asarray(art["choice"], dtype=np.int64)  # [T, K]
    U = tracks.shape[1]
    colours = colormaps["tab10"]
    favourite = np.full(len(sensors), -1)
    for k in range(len(sensors)):
        picks = choice[:, k][choice[:, k] >= 0]
        if picks.size:
            favourite[k] = int(np.bincount(picks, minlength=U).argmax())
    none = favourite < 0
    if none.any():
        ax.scatter(sensors[none, 0], sensors[none, 1], marker="x", color="0.6", s=25)
    rows = []
    for u in range(U):
        colour = colours(u % 10)
        mine = favourite == u
        if mine.any():
            ax.scatter(
                sensors[mine, 0], sensors[mine, 1], marker="s", s=22, color=colour, alpha=0.6
            )
        ax.plot(tracks[:, u, 0], tracks[:, u, 1], color=colour, lw=1.4, label=f"UAV {u}")
        for point, marker, size in ((tracks[0, u], "o", 40), (tracks[-1, u], "*", 90)):
            ax.scatter(
                point[0], point[1], marker=marker, s=size, color=colour, edgecolors="k", zorder=3
            )
        rows += [
            {"uav": u, "slot": t, "x_m": tracks[t, u, 0], "y_m": tracks[t, u, 1]}
            for t in range(len(tracks))
        ]
    for marker, label in (
        ("o", "start"),
        ("*", "end"),
        ("s", "sensor (its UAV's colour)"),
        ("x", "sensor, no offload"),
    ):  # legend entries for the markers
        edge = None if marker == "x" else "k"  # an unfilled marker has no edge
        ax.scatter([], [], marker=marker, color="0.6", edgecolors=edge, label=label)
    width, height = art["area_m"]
    ax.set_xlim(0.0, width)
    ax.set_ylim(0.0, height)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.legend(
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        title=f"seed {spec.seed}, copy 0",
        title_fontsize=7,
    )
    return pd.DataFrame(rows, columns=columns)


# ----------------------------------------------------------------------------- registration
_QUICK: dict[str, int | float] = {
    # `vtwin reproduce paper-d --quick --workers 2` on 2 cores: 35 learner runs of 4 000
    # transitions (250 updates after HATD3Config.learning_starts — one per slot, not the
    # default two — on minibatches of 64 rather than 256: the per-agent critic costs ~0.1 s
    # per update of 256 on one core) and 21 references (< 1 s each). A smoke test of the
    # machinery, not of the learners.
    "steps": 4_000,
    "batch_size": 64,
    "updates_per_step": 1,
    "slots": 50,
    "batch": 8,
    "eval_batch": 8,
    "eval_episodes": 1,
    "seeds": 1,
}
_FULL: dict[str, int | float] = {
    "steps": 200_000,
    "slots": 50,
    "batch": 8,
    "eval_batch": 8,
    "eval_episodes": 4,
}
_NOTES = """\
The learners take `HATD3Config`'s defaults (paper D: γ 0.99, τ 0.005, batch 256; the rest
ours, see `docs/reproductions/paper-d.md`); the references are `rule` (nearest UAV with room,
even step split, fly to the queue), `greedy_steps` (the rule with steps by fidelity per step;
ours) and `random`. Every number is a per-slot mean of a deterministic evaluation on copies
whose seeds no training episode uses (900 000…); Fig. 3's curves are the training episodes'
reward per slot (with exploration noise), the references drawn flat at their evaluated
level, and Fig. 3's claims compare the evaluated reward. Fig. 6's claim compares the mean
distance from each offloading sensor to its UAV over the first and the last tenth of one
more deterministic episode (all copies; `upload_m_first`, `upload_m_last`). Each UAV's
queue holds K_max = max(10, ⌈5 K / (3 U)⌉) tasks (the preset's 10 for 30 sensors over 5
UAVs, scaled so that sweeps to 80 sensors or 3 UAVs do not drop most tasks as C1). Quick
budgets (4 000 transitions, half of them before learning starts) only check that everything runs."""
_COMPUTE_NOTES = """

Fig. 4(c)'s axis is lost; its text names a UAV compute of 2000 while Table I draws f_u in
[100, 400] steps/s. The swept value is the mean compute f̄ (steps/s) with f_u uniform in
[0.4 f̄, 1.6 f̄] per UAV: Table I is f̄ = 250, the paper's 2000 is f_u ∈ [800, 3200]. (If
the paper's 2000 was the step budget Z_u instead, `twin_update.step_budget` is the knob.)"""
_SCALE_NOTES = """

Paper D does not list Fig. 3(c)'s scales; ours are the corners of Table I's ranges,
sensors {20, 50} × UAVs {5, 10}."""

_REWARD_CURVE = Figure.curve(
    "fig3_reward",
    "reward",
    "Fig. 3: reward per slot during training (references: evaluated, flat)",
    "reward per slot",
    "joint transitions (slots × copies)",
)
_UTILITY_CURVE = Figure.curve(
    "fig3_utility",
    "utility",
    "Fig. 3: system utility per slot during training (references: evaluated, flat)",
    "utility per slot",
    "joint transitions (slots × copies)",
)


def _experiment(
    name: str,
    title: str,
    methods: tuple[str, ...],
    figures: tuple[Figure, ...],
    claims: tuple[Claim, ...],
    *,
    sweep: Sweep | None = None,
    quick: dict[str, int | float] | None = None,
    notes: str = "",
) -> Experiment:
    return Experiment(
        name=name,
        paper="D",
        title=title,
        preset="paper-d",
        methods=methods,
        run=f"{_HERE}:run_learner",
        seeds=3,
        sweep=sweep,
        budgets={"quick": {**_QUICK, **(quick or {})}, "full": _FULL},
        figures=figures,
        claims=claims,
        notes=_NOTES + notes,
        same_as=f"{_HERE}:learners_twin" if sweep is not None else None,
    )


_LR = Sweep("budget.lr", (0.05, 0.005, 0.0005), "learning rate (actor and critic)")
_SCALE = Sweep("budget.scale", ("20x5", "50x5", "20x10", "50x10"), "sensors × UAVs")
_UAVS = Sweep("servers.uav.count", (3, 5, 7, 10), "number of UAVs U")
_SENSORS = Sweep("sensors.count", (20, 40, 60, 80), "number of sensors K")
_COMPUTE = Sweep("budget.compute", (250, 500, 1000, 2000), "mean UAV compute f̄ (steps/s)")


def _sweep_curve(fig: str, what: str) -> Figure:
    return Figure.curve(
        f"fig{fig}_curves",
        "reward",
        f"Fig. {fig[0]}({fig[1]}): SU-HATD3's reward per slot during training, per {what}",
        "reward per slot",
        "joint transitions (slots × copies)",
    )


def _utility_line(fig: str, sweep: Sweep) -> Figure:
    return Figure.line(
        f"fig{fig}_utility",
        "utility",
        f"Fig. {fig[0]}({fig[1]}): system utility per slot vs {sweep.label}",
        "utility per slot",
        sweep.label,
    )


EXPERIMENTS: tuple[Experiment, ...] = (
    _experiment(
        "paper-d-learners",
        "Paper D Figs. 3(a), 5 and 6: the four TD3-family learners against the rule, "
        "greedy_steps and random",
        (*LEARNERS, *REFERENCES),
        (
            _REWARD_CURVE,
            _UTILITY_CURVE,
            Figure.bar("fig5_fidelity", "fidelity_sum", "Fig. 5: fidelity Σ F per slot", "Σ F"),
            Figure.bar("fig5_delay", "delay_s", "Fig. 5: system delay T per slot", "s"),
            Figure.bar("utility", "utility", "System utility per slot (eq. (12))", "utility"),
            Figure.bar("violations", "violations", "C2/C4/C5 violations per slot", "violations"),
            Figure.custom(
                "fig6_map",
                f"{_HERE}:draw_map",
                "Fig. 6: SU-HATD3's UAV trajectories over one evaluation episode",
                "y (m)",
            ),
        ),
        LEARNER_CLAIMS,
    ),
    _experiment(
        "paper-d-lr",
        "Paper D Fig. 3(b): SU-HATD3 at three learning rates",
        ("su_hatd3",),
        (
            _sweep_curve("3b", "learning rate"),
            Figure.bar("fig3b_reward", "reward", "Fig. 3(b): evaluated reward per slot", "reward"),
        ),
        LR_CLAIMS,
        sweep=_LR,
    ),
    _experiment(
        "paper-d-scale",
        "Paper D Fig. 3(c): SU-HATD3 at four scales (sensors × UAVs)",
        ("su_hatd3",),
        (
            _sweep_curve("3c", "scale"),
            Figure.bar("fig3c_reward", "reward", "Fig. 3(c): evaluated reward per slot", "reward"),
        ),
        SCALE_CLAIMS,
        sweep=_SCALE,
        notes=_SCALE_NOTES,
    ),
    _experiment(
        "paper-d-uavs",
        "Paper D Fig. 4(a): system utility against the number of UAVs",
        (*LEARNERS, *REFERENCES),
        (_utility_line("4a", _UAVS),),
        UAV_CLAIMS,
        sweep=_UAVS,
        quick={"sweep_stride": 3},  # 3 and 10 UAVs
    ),
    _experiment(
        "paper-d-sensors",
        "Paper D Fig. 4(b): system utility against the number of sensors",
        (*LEARNERS, *REFERENCES),
        (_utility_line("4b", _SENSORS),),
        SENSOR_CLAIMS,
        sweep=_SENSORS,
        quick={"sweep_stride": 3},  # 20 and 80 sensors
    ),
    _experiment(
        "paper-d-compute",
        "Paper D Fig. 4(c): system utility against the UAVs' compute",
        (*LEARNERS, *REFERENCES),
        (_utility_line("4c", _COMPUTE),),
        COMPUTE_CLAIMS,
        sweep=_COMPUTE,
        quick={"sweep_stride": 3},  # f̄ = 250 (Table I) and 2000
        notes=_COMPUTE_NOTES,
    ),
)
"""Paper D's experiments, in the order ``vtwin reproduce paper-d`` runs them."""

for _experiment_ in EXPERIMENTS:
    register(_experiment_)
register_group("paper-d", tuple(e.name for e in EXPERIMENTS))
