"""Paper D's env (vtwin/TwinUpdate-v0): API, views, seeds, hand-computed physics, constraints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from vtwin.config import load_config
from vtwin.envs import make_parallel
from vtwin.envs.twin_update import BatchedTwinUpdate, TwinUpdateEnv, sensor_choice

SMALL = ["horizon_slots=12", "sensors.count=6", "servers.uav.count=2"]


def small(B: int = 2, *extra: str) -> BatchedTwinUpdate:
    return BatchedTwinUpdate(load_config("paper-d", [*SMALL, *extra]), B)


def test_parallel_api() -> None:
    parallel_api_test(make_parallel("vtwin/TwinUpdate-v0", overrides=SMALL), num_cycles=30)


def test_spaces_are_heterogeneous() -> None:
    env = TwinUpdateEnv(overrides=SMALL)
    assert env.action_space("sensor_0").shape == (1,)
    assert env.action_space("uav_1").shape == (2 + 10,)
    assert env.observation_space("sensor_3").shape == (4 + 3 * 2,)
    assert env.observation_space("uav_0").shape == (3 + 6 * 10,)
    assert env.state_space.shape == (6 * 10 + 2 * 63,)


def test_copy_b_of_a_batch_equals_the_single_view_with_its_seed() -> None:
    batched = small(3)
    obs, _ = batched.reset([11, 12, 13])
    views = [TwinUpdateEnv(overrides=SMALL) for _ in range(3)]
    view_obs = [v.reset(seed=s)[0] for v, s in zip(views, (11, 12, 13), strict=True)]
    rng = np.random.default_rng(0)
    for _ in range(12):
        for b, v in enumerate(views):
            assert np.array_equal(view_obs[b]["sensor_2"], obs["sensor"][b, 2])
            assert np.array_equal(view_obs[b]["uav_1"], obs["uav"][b, 1])
            assert np.array_equal(v.state(), obs["state"][b])
        act = batched.random_actions(rng)
        obs, reward, _, _, _ = batched.step(act)
        for b, v in enumerate(views):
            single = {f"sensor_{k}": act["sensor"][b, k : k + 1] for k in range(6)}
            single |= {f"uav_{u}": act["uav"][b, u] for u in range(2)}
            view_obs[b], rewards, _, _, _ = v.step(single)
            assert set(rewards.values()) == {float(reward[b, 0])}


def test_same_seed_same_episode_and_other_seed_another() -> None:
    def episode(seed: int) -> list[bytes]:
        env = small(2)
        obs, _ = env.reset(seed)
        rng = np.random.default_rng(3)
        out = [obs["state"].tobytes()]
        for _ in range(12):
            obs, r, *_ = env.step(env.random_actions(rng))
            out += [obs["state"].tobytes(), r.tobytes()]
        return out

    assert episode(5) == episode(5)
    assert episode(5) != episode(6)


def test_sensor_choice_bins() -> None:
    # U = 2: three equal bins over [-1, 1]: no offload, UAV 0, UAV 1
    got = sensor_choice(np.array([-1.0, -0.34, -0.33, 0.3, 0.34, 1.0]), 2)
    assert got.tolist() == [-1, -1, 0, 0, 1, 1]


def one_on_one(*extra: str) -> BatchedTwinUpdate:
    """One sensor and one UAV at hand-set places with a hand-set task."""
    env = BatchedTwinUpdate(
        load_config(
            "paper-d",
            ["sensors.count=1", "servers.uav.count=1", "horizon_slots=5", *extra],
        ),
        1,
    )
    env.reset(0)
    env.sensor_xy[:] = [[100.0, 200.0]]
    env.uav_xy[:] = [[400.0, 600.0]]  # 500 m away on the ground
    env.f_u[:] = [[250.0]]
    env.task_bits[:] = 16_000.0  # 2 KB
    env.task_zmax[:] = 500.0
    env.task_fmax[:] = 120.0
    return env


def act(env: BatchedTwinUpdate, sensor: float, weight: float = 1.0, speed: float = -1.0):
    uav = np.full((1, env.U, env.uav_action_dim), weight)
    uav[..., 0] = 0.0
    uav[..., 1] = speed  # -1: v_min = 0 m/s, stays
    return {"sensor": np.full((1, env.K), sensor), "uav": uav}


def test_fidelity_channel_and_delay_against_hand_values() -> None:
    env = one_on_one()
    _, r0, _, _, info0 = env.step(act(env, sensor=0.9))  # offload to UAV 0, serve nothing
    assert info0["served"][0, 0] == 0 and info0["offloaded"][0, 0] == 1 and r0[0, 0] == 0.0
    _, r1, _, _, info1 = env.step(act(env, sensor=-1.0))  # serve it; no new offload
    beta0 = 10 ** (-50 / 10)
    gain = beta0 / (50.0**2 + 500.0**2)
    rate = 1e6 * math.log2(1 + 0.1 * gain / 10 ** ((-100 - 30) / 10))
    t_tx = 16_000.0 / rate
    z = 500.0  # all 600 steps of the budget, but past z_max they add nothing
    steps = 600.0
    fid = 120.0 * (z - 0) / (500.0 - 0)
    delay = t_tx + steps / 250.0
    assert info1["steps"][0, 0, 0] == pytest.approx(steps)
    assert info1["fidelity_sum"][0, 0] == pytest.approx(fid)
    assert info1["delay_s"][0, 0] == pytest.approx(delay, rel=1e-12)
    assert info1["utility"][0, 0] == pytest.approx(fid - delay)
    assert r1[0, 0] == pytest.approx(fid - delay)  # no violation: 2.4 s < 5 s deadline


def test_concave_fidelity_option() -> None:
    env = one_on_one("twin_update.fidelity_shape=concave", "twin_update.step_budget=100")
    env.step(act(env, sensor=0.9))
    _, _, _, _, info = env.step(act(env, sensor=-1.0))
    assert info["fidelity_sum"][0, 0] == pytest.approx(120.0 * math.log1p(100) / math.log1p(500))


def test_steps_split_by_weights_and_the_deadline_counts_late_tasks() -> None:
    env = BatchedTwinUpdate(
        load_config(
            "paper-d",
            [
                "sensors.count=2",
                "servers.uav.count=1",
                "horizon_slots=4",
                "twin_update.deadline_s=1.5",
            ],
        ),
        1,
    )
    env.reset(0)
    env.f_u[:] = 200.0
    env.task_zmax[:] = 500.0
    env.step(act(env, sensor=0.9))  # both sensors to UAV 0
    a = act(env, sensor=-1.0)
    a["uav"][0, 0, 2:4] = [1.0, -0.5]  # weights 0.01 + 0.99 · (1, 0.25)
    _, _, _, _, info = env.step(a)
    w = np.array([1.0, 0.01 + 0.99 * 0.25])
    assert info["steps"][0, 0, :2] == pytest.approx(600.0 * w / w.sum())
    # 477 / 200 = 2.4 s > 1.5 s is late; 123 / 200 = 0.6 s (+ upload) is not
    assert info["c4_late"][0, 0] == 1
    assert info["violations"][0, 0] == 1
    assert info["reward_components"]["violation"][0, 0] == -20.0


def test_queue_overflow_is_dropped_and_counted_as_c1() -> None:
    env = BatchedTwinUpdate(
        load_config(
            "paper-d",
            [
                "sensors.count=5",
                "servers.uav.count=1",
                "horizon_slots=4",
                "twin_update.max_tasks_per_uav=3",
            ],
        ),
        1,
    )
    env.reset(0)
    _, _, _, _, info = env.step(act(env, sensor=0.9))
    assert info["c1_dropped"][0, 0] == 2
    assert env.queue[0, 0].tolist() == [0, 1, 2]
    _, _, _, _, info = env.step(act(env, sensor=-1.0))
    assert info["served"][0, 0] == 3


def test_leaving_the_area_is_stopped_at_the_border_and_counted_as_c5() -> None:
    env = one_on_one()
    env.uav_xy[:] = [[995.0, 500.0]]
    a = act(env, sensor=-1.0, speed=1.0)  # 25 m/s east, heading 0
    _, _, _, _, info = env.step(a)
    assert info["c5_border"][0, 0] == 1
    assert env.uav_xy[0, 0].tolist() == [1000.0, 500.0]
    _, _, _, _, info = env.step(act(env, sensor=-1.0, speed=-1.0))
    assert info["c5_border"][0, 0] == 0


def test_low_fidelity_counts_as_c2() -> None:
    env = one_on_one("twin_update.fidelity_min=100")
    env.step(act(env, sensor=0.9))
    a = act(env, sensor=-1.0)
    _, _, _, _, info = env.step(a)  # 120 ≥ 100: fine
    assert info["c2_low_fidelity"][0, 0] == 0
    env.task_fmax[:] = 60.0
    env.step(act(env, sensor=0.9))
    _, _, _, _, info = env.step(act(env, sensor=-1.0))
    assert info["c2_low_fidelity"][0, 0] == 1


def test_bad_actions_are_clear_errors() -> None:
    env = small(2)
    env.reset(0)
    good = env.random_actions(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"keys 'sensor' and 'uav'"):
        env.step({"sensor": good["sensor"]})
    bad = {**good, "sensor": good["sensor"].copy()}
    bad["sensor"][1, 3] = np.nan
    with pytest.raises(ValueError, match=r"actions\['sensor'\]\[1, 3\] = nan \(copy 1, sensor 3\)"):
        env.step(bad)
    bad = {**good, "uav": good["uav"] * 3}
    with pytest.raises(ValueError, match=r"outside \[-1, 1\]"):
        env.step(bad)
    with pytest.raises(ValueError, match=r"shape \(2, 5\); expected \(2, 6\)"):
        env.step({**good, "sensor": good["sensor"][:, :5]})
    view = TwinUpdateEnv(overrides=SMALL)
    with pytest.raises(RuntimeError, match="call reset"):
        view.step({})
    view.reset(seed=0)
    with pytest.raises(ValueError, match="no action for agent"):
        view.step({"sensor_0": [0.0]})
    with pytest.raises(ValueError, match="not_an_agent"):
        view.step({"not_an_agent": [0.0]})


def test_a_non_paper_d_config_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a paper D preset"):
        BatchedTwinUpdate(load_config("paper-a-tiny"), 2)


def test_rule_and_random_run_whole_episodes_with_finite_terms() -> None:
    from vtwin.agents.twin_rules import TwinUpdateRule

    env = small(3)
    rng = np.random.default_rng(1)
    rule = TwinUpdateRule(env.uav_action_dim)
    for name in ("rule", "random"):
        obs, _ = env.reset(4)
        for _ in range(env.horizon):
            action = rule.act(obs) if name == "rule" else env.random_actions(rng)
            obs, r, _, trunc, info = env.step(action)
            assert np.isfinite(r).all() and all(np.isfinite(v).all() for v in obs.values())
            assert ((obs["sensor"] >= 0) & (obs["sensor"] <= 1)).all()
            assert ((obs["uav"] >= 0) & (obs["uav"] <= 1)).all()
            assert (info["steps"].sum(axis=-1) <= env.budget + 1e-9).all()
        assert trunc.all()
