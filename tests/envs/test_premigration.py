"""Paper A pre-migration env: API conformance, batched == single, determinism, hand values."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vtwin.envs  # noqa: F401  (registers the ids)
from vtwin.config import load_config
from vtwin.envs.premigration import BatchedPreMigration, PreMigrationEnv

SHORT = ["horizon_slots=60"]


def test_check_env_passes() -> None:
    env = PreMigrationEnv(overrides=SHORT)
    check_env(env, skip_render_check=True)


def test_gym_make_and_spaces() -> None:
    env = gym.make("vtwin/PreMigration-v1", overrides=SHORT)
    assert env.action_space.n == (16 + 2) * 5
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["action_mask"].shape == (90,)
    env.close()


def test_no_uav_ablation_shrinks_action_space() -> None:
    env = PreMigrationEnv(overrides=[*SHORT, "servers.uav.count=0"])
    assert env.action_space.n == 16 * 5
    env.reset(seed=1)
    _, _, _, _, info = env.step(7)
    assert info["uav_xy"].shape == (0, 2)


def test_multi_vehicle_uses_multidiscrete() -> None:
    env = PreMigrationEnv(overrides=[*SHORT, "vehicles.count=3"])
    assert isinstance(env.action_space, gym.spaces.MultiDiscrete)
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize("planner", ["durp", "random_walk", "greedy"])
def test_batched_equals_single_step_by_step(planner: str) -> None:
    cfg = load_config("paper-a", SHORT)
    seeds = [5, 6, 7]
    batched = BatchedPreMigration(cfg, len(seeds), planner=planner)
    obs_b, _ = batched.reset(seeds)
    singles = [PreMigrationEnv(config=cfg, planner=planner) for _ in seeds]
    obs_s = [env.reset(seed=s)[0] for env, s in zip(singles, seeds, strict=True)]
    rng = np.random.default_rng(0)
    for b in range(len(seeds)):
        np.testing.assert_array_equal(obs_b[b].reshape(-1).astype(np.float32), obs_s[b])
    for _ in range(60):
        actions = rng.integers(0, batched.n_actions, size=(len(seeds), 1))
        obs_b, rew_b, _, trunc_b, info_b = batched.step(actions)
        for b, env in enumerate(singles):
            o, r, _, tr, info = env.step(int(actions[b, 0]))
            np.testing.assert_array_equal(obs_b[b].reshape(-1).astype(np.float32), o)
            assert rew_b[b, 0] == pytest.approx(r, abs=0.0)
            assert tr == trunc_b[b]
            np.testing.assert_array_equal(info_b["uav_xy"][b], info["uav_xy"])
            np.testing.assert_array_equal(info_b["rsu_load_frac"][b], info["rsu_load_frac"])
    assert trunc_b.all()


def _episode(env: PreMigrationEnv, seed: int, steps: int = 40) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rng = np.random.default_rng(123)
    for _ in range(steps):
        obs, r, _, _, info = env.step(int(rng.integers(env.action_space.n)))
        out += [obs, np.array([r]), info["uav_xy"].ravel()]
    return out


def test_same_seed_same_episode_different_seed_differs() -> None:
    env = PreMigrationEnv(overrides=SHORT)
    a, b, c = _episode(env, 3), _episode(env, 3), _episode(env, 4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_reset_without_seed_is_reproducible_from_first_seed() -> None:
    e1, e2 = PreMigrationEnv(overrides=SHORT), PreMigrationEnv(overrides=SHORT)
    e1.reset(seed=9)
    e2.reset(seed=9)
    np.testing.assert_array_equal(e1.reset()[0], e2.reset()[0])


def test_loads_stay_within_zero_and_capacity() -> None:
    cfg = load_config("paper-a", ["horizon_slots=200"])
    env = BatchedPreMigration(cfg, 4)
    env.reset(0)
    rng = np.random.default_rng(1)
    for _ in range(200):
        _, _, _, _, info = env.step(rng.integers(0, env.n_actions, size=(4, 1)))
        assert (env.load >= 0).all()
        assert (env.load <= env.capacity_cycles + 1e-6).all()
        assert (info["rsu_load_frac"] >= 0).all() and (info["rsu_load_frac"] <= 1).all()
        assert (info["dropped_cycles"] >= 0).all()


def test_reward_is_sum_of_named_components() -> None:
    env = BatchedPreMigration(load_config("paper-a", SHORT), 2)
    env.reset(0)
    for _ in range(10):
        _, reward, _, _, info = env.step(env.greedy_actions())
        comp = info["reward_components"]
        np.testing.assert_allclose(reward, comp["latency"] + comp["overload"])
        np.testing.assert_allclose(comp["latency"], -info["latency_s"])


def test_uav_energy_is_spent_and_tracked() -> None:
    env = BatchedPreMigration(load_config("paper-a", SHORT), 2)
    env.reset(0)
    full = env.uav_energy_j.copy()
    for _ in range(20):
        _, _, _, _, info = env.step(np.zeros((2, 1), dtype=int))
        step = info["uav_energy_step_j"]
        # each slot costs between the cheapest cruise power and hover power (1 s slots)
        assert (step >= env.fly_power_w - 1e-9).all() and (step <= env.hover_power_w + 1e-9).all()
    np.testing.assert_allclose(full - env.uav_energy_j, env.uav_energy_used_j)


def test_bad_action_is_a_clear_error() -> None:
    env = PreMigrationEnv(overrides=SHORT)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 90 \(copy 0, vehicle 0\) is outside \[0, 90\)"):
        env.step(90)
    with pytest.raises(ValueError, match="expected \\(1, 1\\)"):
        env.batched.step(np.zeros((2, 1), dtype=int))


def test_step_before_reset_and_after_end() -> None:
    env = BatchedPreMigration(load_config("paper-a", ["horizon_slots=2"]), 1)
    with pytest.raises(RuntimeError, match="reset"):
        env.step([[0]])
    env.reset(0)
    env.step([[0]])
    _, _, _, trunc, _ = env.step([[0]])
    assert trunc.all()
    with pytest.raises(RuntimeError, match="episode over"):
        env.step([[0]])


def test_wrong_paper_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs a paper A preset"):
        BatchedPreMigration(load_config("paper-d"), 1)


def _rate(bw: float, p: float, d: float, noise: float) -> float:
    gain = (3e8 / (4 * math.pi * 2.4e9 * max(d, 1.0))) ** 2
    return bw * math.log2(1 + p * gain / noise)


def test_latency_terms_match_hand_computation() -> None:
    env = BatchedPreMigration(load_config("paper-a", SHORT), 1)
    env.reset(0)
    # fixed state: vehicle 30 m east of RSU 0 (at (250, 250)); UAV 0 hovering over RSU 5
    env._vehicle_xy = np.array([[[280.0, 250.0]]])
    env.uav_xy = np.array([[[750.0, 750.0], [1750.0, 1750.0]]])
    env.load = np.zeros((1, env.M))
    env.load[0, 0] = 2.0e10  # RSU 0 queue (cycles)
    env.load[0, 1] = 1.0e10  # RSU 1 queue
    env.load[0, 16] = 0.5e10  # UAV 0 queue
    noise = 1e-12  # -90 dBm
    D, Dd, Du, f = 16e6, 8e6, 8e6, 1000.0  # bits, cycles/bit

    # action: RSU 1 (at (750, 250)) with alpha = 0.5
    t = env.latency_terms(np.array([[1]]), np.array([[0.5]]), env._vehicle_xy)
    d_e = math.hypot(30.0, 10.0)  # slant to RSU 0 (antenna height 10 m)
    d_m = math.hypot(470.0, 10.0)
    up = Du / _rate(10e6, 0.19952623149688797, d_e, noise)  # 23 dBm vehicle
    mig = 0.5 * D / 100e6
    local = (2.0e10 + 0.5 * D * f) / 60e9
    remote = (1.0e10 + 0.5 * D * f) / 60e9
    down = 0.5 * Dd / _rate(10e6, 1.0, d_e, noise) + 0.5 * Dd / _rate(10e6, 1.0, d_m, noise)
    assert t["serving"][0, 0] == 0
    assert t["uplink_s"][0, 0] == pytest.approx(up, rel=1e-9)
    assert t["premigration_s"][0, 0] == pytest.approx(mig, rel=1e-12)
    assert t["local_s"][0, 0] == pytest.approx(local, rel=1e-12)
    assert t["target_s"][0, 0] == pytest.approx(remote, rel=1e-12)
    assert t["processing_s"][0, 0] == pytest.approx(max(local, remote + mig), rel=1e-12)
    assert t["downlink_s"][0, 0] == pytest.approx(down, rel=1e-9)
    assert t["total_s"][0, 0] == pytest.approx(up + max(local, remote + mig) + down, rel=1e-9)

    # action: UAV 0 (server 16, at (750, 750), 50 m up) with alpha = 1: air-link pre-migration
    t = env.latency_terms(np.array([[16]]), np.array([[1.0]]), env._vehicle_xy)
    hop = math.hypot(math.hypot(500.0, 500.0), 40.0)
    mig = D / _rate(10e6, 1.0, hop, noise)  # serving RSU transmits at 30 dBm on the UAV band
    remote = (0.5e10 + D * f) / 30e9
    d_uav = math.hypot(math.hypot(470.0, 500.0), 50.0)
    down = Dd / _rate(10e6, 0.5011872336272722, d_uav, noise)  # UAV at 27 dBm
    assert t["premigration_s"][0, 0] == pytest.approx(mig, rel=1e-9)
    assert t["local_s"][0, 0] == pytest.approx(2.0e10 / 60e9, rel=1e-12)
    assert t["processing_s"][0, 0] == pytest.approx(max(2.0e10 / 60e9, remote + mig), rel=1e-9)
    assert t["downlink_s"][0, 0] == pytest.approx(down, rel=1e-9)

    # choosing the serving RSU keeps the whole task local whatever alpha says
    t = env.latency_terms(np.array([[0]]), np.array([[0.75]]), env._vehicle_xy)
    assert t["alpha"][0, 0] == 0.0 and t["premigration_s"][0, 0] == 0.0
    assert t["processing_s"][0, 0] == pytest.approx((2.0e10 + D * f) / 60e9, rel=1e-12)


def test_greedy_actions_beat_random_on_latency() -> None:
    cfg = load_config("paper-a", ["horizon_slots=100"])
    totals = []
    for policy in ("greedy", "random"):
        env = BatchedPreMigration(cfg, 4)
        env.reset(11)
        rng = np.random.default_rng(0)
        lat = 0.0
        for _ in range(100):
            act = env.greedy_actions() if policy == "greedy" else rng.integers(0, 90, (4, 1))
            lat += env.step(act)[4]["latency_s"].mean()
        totals.append(lat)
    assert totals[0] < 0.8 * totals[1]


def test_observation_columns_follow_obs_slices_and_the_entity_layout() -> None:
    env = BatchedPreMigration(load_config("paper-a", ["vehicles.count=2"]), 3)
    obs, _ = env.reset(4)
    for _ in range(5):
        obs, *_ = env.step(env.greedy_actions())
    sl, M = env.obs_slices, env.M
    assert obs.shape == (3, 2, env.obs_dim) and env.obs_dim == 4 * M + 5
    assert sum(s.stop - s.start for s in sl.values()) == env.obs_dim
    link_m, serving, _ = env._geom
    onehot = obs[..., sl["serving"]]
    np.testing.assert_array_equal(onehot.argmax(-1), serving)
    assert (onehot.sum(-1) == 1).all() and (serving < env.E).all()
    # the serving RSU is zero hops from itself; its queue and distance are repeated
    hop = obs[..., sl["hop"]]
    np.testing.assert_array_equal(np.take_along_axis(hop, serving[..., None], -1)[..., 0], 0.0)
    load = obs[..., sl["load"]]
    np.testing.assert_allclose(
        obs[..., sl["serving_load"]][..., 0],
        np.take_along_axis(load, serving[..., None], -1)[..., 0],
    )
    dist = obs[..., sl["distance"]]
    np.testing.assert_allclose(
        obs[..., sl["serving_distance"]][..., 0],
        np.take_along_axis(dist, serving[..., None], -1)[..., 0],
    )
    np.testing.assert_allclose(dist, np.clip(link_m / env.dist_scale_m, 0, 1))
    # the layout's features for server m: its load, distance, serving flag and hop
    lay = env.entity_layout
    assert lay.n_actions == env.n_actions and lay.actions_per_entity == env.K
    row = obs[1, 0]
    for m in (0, env.E - 1, M - 1):
        np.testing.assert_array_equal(
            row[list(lay.entity_columns[m])],
            [row[sl["load"]][m], row[sl["distance"]][m], row[sl["serving"]][m], row[sl["hop"]][m]],
        )
