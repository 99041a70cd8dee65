"""Paper D experiments: registration, the config each run builds, tiny end-to-end runs of
every experiment (runs, figures, claims, report) and the Fig. 6 map."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from vtwin.experiments import expand, get_experiment, registry, reproduce
from vtwin.experiments.paper_d import learners
from vtwin.experiments.paper_d.learners import (
    EXPERIMENTS,
    KPIS,
    LEARNERS,
    REFERENCES,
    VARIANTS,
    approach_metrics,
    compute_interval,
    draw_map,
    queue_size,
    run_learner,
)
from vtwin.experiments.registry import expand_name
from vtwin.experiments.spec import RunSpec, import_callable
from vtwin.training import algorithm_names

TINY = {
    "steps": 120,  # 6 episodes of 2 copies × 10 slots; learning from transition 40
    "slots": 10,
    "batch": 2,
    "eval_batch": 2,
    "eval_episodes": 1,
    "learning_starts": 40,
    "batch_size": 16,
}
NAMES = (
    "paper-d-learners",
    "paper-d-lr",
    "paper-d-scale",
    "paper-d-uavs",
    "paper-d-sensors",
    "paper-d-compute",
)


def _spec(method: str, experiment: str = "paper-d-learners", **budget: object) -> RunSpec:
    return RunSpec(
        experiment=experiment,
        method=method,
        seed=0,
        budget={**TINY, **budget},  # type: ignore[dict-item]
        preset="paper-d",
        mode="quick",
    )


def test_every_experiment_is_registered_in_the_paper_d_group() -> None:
    assert expand_name("paper-d") == NAMES == tuple(e.name for e in EXPERIMENTS)
    assert set(VARIANTS) == {*LEARNERS, *REFERENCES}
    assert {v.algo for v in VARIANTS.values()} <= set(algorithm_names("heterogeneous"))
    for name in NAMES:
        exp = get_experiment(name)
        assert (exp.paper, exp.preset, exp.run) == (
            "D",
            "paper-d",
            f"{learners.__name__}:run_learner",
        )
        assert exp.seeds >= 3 and exp.budgets["quick"]["seeds"] == 1
        assert exp.budgets["full"]["steps"] >= 150_000 and exp.budgets["full"]["batch"] == 8
        assert exp.budgets["quick"]["slots"] == exp.budgets["full"]["slots"] == 50
        for path in [c.compute for c in exp.claims] + [f.draw for f in exp.figures if f.draw]:
            assert callable(import_callable(path))
    quick = {
        n: {(s.method, s.sweep_value) for s in expand(get_experiment(n), quick=True)} for n in NAMES
    }
    assert quick["paper-d-learners"] == {(m, None) for m in VARIANTS}
    assert {v for _, v in quick["paper-d-lr"]} == {0.05, 0.005, 0.0005}  # the paper's three
    assert {v for _, v in quick["paper-d-scale"]} == {"20x5", "50x5", "20x10", "50x10"}
    assert {v for _, v in quick["paper-d-uavs"]} == {3, 10}  # the ends of Fig. 4(a)
    assert {v for _, v in quick["paper-d-sensors"]} == {20, 80}
    assert {v for _, v in quick["paper-d-compute"]} == {250, 2000}
    full = expand(get_experiment("paper-d-uavs"), quick=False)
    assert {s.sweep_value for s in full} == {3, 5, 7, 10} and len(full) == 7 * 4 * 3


def test_queue_size_compute_interval_and_the_run_config() -> None:
    assert queue_size(30, 5, 10) == 10  # the preset is unchanged
    assert (queue_size(80, 5, 10), queue_size(80, 3, 10), queue_size(30, 3, 10)) == (27, 45, 17)
    assert queue_size(20, 10, 10) == 10
    assert compute_interval(250) == (100.0, 400.0)  # Table I
    variant = VARIANTS["su_hatd3"]
    cfg = learners._config(_spec("su_hatd3", scale="80x3"), variant)
    assert (cfg.sensors.count, cfg.servers.uav.count, cfg.horizon_slots) == (80, 3, 10)
    assert cfg.twin_update is not None and cfg.twin_update.max_tasks_per_uav == 45
    cfg = learners._config(_spec("rule", compute=2000), VARIANTS["rule"])
    assert cfg.twin_update is not None and cfg.twin_update.steps_per_s == (800.0, 3200.0)
    uavs = dataclasses.replace(_spec("rule"), overrides=("servers.uav.count=3",))
    cfg = learners._config(uavs, VARIANTS["rule"])
    assert cfg.twin_update is not None and cfg.twin_update.max_tasks_per_uav == 17
    assert learners._params(_spec("su_hatd3", lr=0.005), variant) == {
        "actor_lr": 0.005,
        "critic_lr": 0.005,
        "learning_starts": 40,
        "batch_size": 16,
    }
    with pytest.raises(ValueError, match="expected one of"):
        run_learner(_spec("td3"))


def test_a_learner_run_is_deterministic_and_keeps_the_map() -> None:
    a, b = run_learner(_spec("su_hatd3")), run_learner(_spec("su_hatd3"))
    for r in (a, b):
        for key in ("train_minutes", "transitions_per_s"):
            assert r.summary.pop(key) > 0
    assert a.summary == b.summary
    assert set(KPIS) | {"upload_m_first", "upload_m_last", "near_m_first", "train_reward"} <= set(
        a.summary
    )
    assert list(a.metrics.columns) == ["step", "reward", "utility"] and len(a.metrics) >= 3
    art = a.artifacts
    assert np.shape(art["tracks"]) == (11, 5, 2) and np.shape(art["choice"]) == (10, 30)
    assert np.shape(art["sensors"]) == (30, 2) and art["area_m"] == [1000.0, 1000.0]
    fig, ax = plt.subplots()
    drawn = draw_map([(_spec("su_hatd3"), a)], ax)
    plt.close(fig)
    assert len(drawn) == 11 * 5 and set(drawn["uav"]) == set(range(5))
    fig, ax = plt.subplots()
    assert draw_map([], ax).empty  # no SU-HATD3 run: a note, no error
    plt.close(fig)


def test_references_are_flat_lines_and_the_rule_flies_to_its_sensors() -> None:
    rule = run_learner(_spec("rule", slots=30))
    assert rule.artifacts == {} and "train_minutes" not in rule.summary
    assert rule.metrics["step"].tolist() == [0, 120]
    assert rule.metrics["utility"].nunique() == 1 == rule.metrics["reward"].nunique()
    assert rule.summary["violations"] == 0 and rule.summary["served"] > 0
    assert rule.summary["upload_m_last"] < rule.summary["upload_m_first"]  # it flies to them
    assert rule.summary["near_m_last"] < rule.summary["near_m_first"]


def test_approach_metrics_measure_the_upload_distance() -> None:
    from vtwin.config import load_config
    from vtwin.envs.twin_update import BatchedTwinUpdate

    env = BatchedTwinUpdate(load_config("paper-d", ["horizon_slots=10"]), 1)

    class Still:
        """Every sensor offloads to UAV 0 (the middle of its bin); UAVs stand still."""

        def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict:
            return {
                "sensor": np.full((1, env.K), -1 + 3 / (env.U + 1)),
                "uav": -np.ones((1, env.U, env.uav_action_dim)),
            }

    out, track = approach_metrics(env, Still())
    uav0 = np.asarray(track["tracks"])[0, 0]
    want = np.linalg.norm(np.asarray(track["sensors"]) - uav0, axis=-1).mean()
    assert (
        out["upload_m_first"] == pytest.approx(out["upload_m_last"]) == pytest.approx(want, abs=0.2)
    )
    assert out["offloaded_first"] == env.K and np.all(np.asarray(track["choice"]) == 0)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_reproduction_draws_every_figure_and_checks_every_claim(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole pipeline on tiny budgets: runs, figures, claims and REPORT.md."""
    exp = get_experiment(name)
    tiny = {**TINY, **{k: v for k, v in exp.budgets["quick"].items() if k == "sweep_stride"}}
    monkeypatch.setitem(
        registry._REGISTRY, name, dataclasses.replace(exp, budgets={"quick": tiny, "full": tiny})
    )
    methods = [m for m in ("su_hatd3", "maddpg", "rule") if m in exp.methods]
    report = reproduce(name, quick=True, seeds=1, methods=methods, out=tmp_path, progress=False)
    assert report.ok and not report.figure_errors
    assert set(report.figures) == {f.name for f in exp.figures}
    assert all(f.png.stat().st_size > 0 for f in report.figures.values())
    assert len(report.claims) == len(exp.claims)
    assert all(c.error is None and c.ours for c in report.claims)
    assert report.report_path.exists()


@pytest.mark.parametrize("quick", [False, True])
def test_the_sweeps_point_at_the_presets_setting_is_the_learners_run(quick: bool) -> None:
    """Fig. 4 at 5 UAVs and at f̄ = 250 steps/s computes exactly Fig. 3(a)'s run of the same
    method and seed: its twin is that run (the runner copies it); every other point, and
    every point of Figs. 3(b)–(c) and 4(b), has none."""
    from vtwin.experiments.paper_d.learners import learners_twin
    from vtwin.experiments.registry import get_experiment
    from vtwin.experiments.spec import expand

    learners = {s.run_id: s for s in expand(get_experiment("paper-d-learners"), quick=quick)}
    twins = 0
    for name, at_preset in (
        ("paper-d-uavs", 5),
        ("paper-d-compute", 250),
        ("paper-d-sensors", None),
        ("paper-d-lr", None),
        ("paper-d-scale", None),
    ):
        assert get_experiment(name).same_as is not None
        for spec in expand(get_experiment(name), quick=quick):
            twin = learners_twin(spec)
            if spec.sweep_value != at_preset:
                assert twin is None, (name, spec.run_id)
                continue
            assert twin is not None, (name, spec.run_id)
            assert twin.fingerprint() == learners[twin.run_id].fingerprint()
            twins += 1
    # 7 methods × 3 seeds at 5 UAVs and at f̄ = 250; the quick budget has one seed and runs
    # Fig. 4(a) at 3 and 10 UAVs only
    assert twins == (7 if quick else 42)
