"""Paper B migration-routing env: PettingZoo API, batched == single, mask, hand values, traces."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from vtwin.config import ConfigError, load_config
from vtwin.envs import make_parallel
from vtwin.envs.routing import BatchedMigrationRouting, MigrationRoutingEnv
from vtwin.forecast.predictor import LastValuePredictor
from vtwin.physics.geo import haversine_m, slant_distance_m

TINY = "paper-b-tiny"
TAXIS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "t-drive" / "taxis"
MB = 8e6  # bits


def tiny(*overrides: str, batch: int = 1, **kwargs: Any) -> BatchedMigrationRouting:
    return BatchedMigrationRouting(load_config(TINY, list(overrides)), batch, **kwargs)


def rows(tree: Any, b: int) -> Any:
    """Copy ``b`` of every array in a (nested) dict of batched arrays."""
    if isinstance(tree, dict):
        return {k: rows(v, b) for k, v in tree.items()}
    return np.asarray(tree)[b]


def assert_tree_equal(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_tree_equal(a[k], b[k], f"{where}/{k}")
    else:
        np.testing.assert_array_equal(a, b, err_msg=where)


# ------------------------------------------------------------------ API conformance


def test_parallel_api_test_passes() -> None:
    parallel_api_test(MigrationRoutingEnv(TINY), num_cycles=100)


def test_parallel_seed_test_passes() -> None:
    parallel_seed_test(lambda: MigrationRoutingEnv(TINY))


def test_make_parallel_builds_the_env_and_rejects_unknown_ids() -> None:
    env = make_parallel("vtwin/MigrationRouting-v0", preset=TINY)
    assert isinstance(env, MigrationRoutingEnv)
    assert env.metadata["name"] == "vtwin/MigrationRouting-v0"
    with pytest.raises(ValueError, match=r"unknown parallel env id 'vtwin/Nope-v0'"):
        make_parallel("vtwin/Nope-v0")
    with pytest.raises(ValueError, match=r"a Gymnasium id"):
        make_parallel("vtwin/PreMigration-v1")


def test_spaces_state_and_layout() -> None:
    env = MigrationRoutingEnv(TINY)
    b = env.batched
    assert (b.N, b.U, b.M, b.V, b.sat) == (6, 2, 9, 3, 8)
    assert env.possible_agents == ["vehicle_0", "vehicle_1", "vehicle_2"]
    assert env.action_space("vehicle_1").n == b.M
    obs, infos = env.reset(seed=4)
    for agent, o in obs.items():
        assert env.observation_space(agent).contains(o)
        assert o["action_mask"][b.sat] == 1
        np.testing.assert_array_equal(infos[agent]["action_mask"], o["action_mask"])
    assert env.state().shape == (b.state_dim,) and env.state_space.contains(env.state())
    # obs_slices tile the observation; the first M−1 entries are the distances (km)
    sl = b.obs_slices
    assert sl["distance"] == slice(0, b.M - 1)
    assert sum(s.stop - s.start for s in sl.values()) == b.obs_dim == 3 * b.M + 2
    assert sum(s.stop - s.start for s in b.state_slices.values()) == b.state_dim
    bo, _ = b.reset(4)
    np.testing.assert_allclose(bo["observation"][0, :, : b.M - 1], b._dist[0] / 1e3, rtol=1e-6)
    hot = bo["observation"][0, :, sl["serving"]]
    np.testing.assert_array_equal(hot.argmax(-1), b.serving[0])
    assert hot.sum() == b.V
    lean = tiny("routing.observe_serving=false")
    assert lean.obs_dim == 2 * lean.M + 2 and "serving" not in lean.obs_slices
    assert lean.reset(0)[0]["observation"].shape == (1, 3, lean.obs_dim)


def test_distances_are_haversine_with_uav_altitude() -> None:
    env = tiny("vehicles.count=8", batch=2)
    env.reset(11)
    ll = env.projection.to_latlon(env._veh_xy[0])  # [B, V, 2]
    d_rsu = haversine_m(
        ll[..., 0, None], ll[..., 1, None], env.rsu_latlon[:, 0], env.rsu_latlon[:, 1]
    )
    np.testing.assert_allclose(env._dist[..., : env.N], d_rsu, rtol=1e-5, atol=0.01)
    uav_ll = env.projection.to_latlon(env._uav_xy)  # [B, U, 2]
    d_uav = haversine_m(
        ll[..., 0, None], ll[..., 1, None], uav_ll[:, None, :, 0], uav_ll[:, None, :, 1]
    )
    np.testing.assert_allclose(
        env._dist[..., env.N :], slant_distance_m(d_uav, 50.0), rtol=1e-5, atol=0.01
    )


# ------------------------------------------------------------------ determinism


def test_batched_copy_equals_single_env_with_its_seed() -> None:
    cfg = load_config(TINY)
    seeds = [5, 6, 7]
    batched = BatchedMigrationRouting(cfg, len(seeds))
    singles = [BatchedMigrationRouting(cfg, 1) for _ in seeds]
    obs_b, info_b = batched.reset(seeds)
    for b, (env, s) in enumerate(zip(singles, seeds, strict=True)):
        obs_s, info_s = env.reset([s])
        assert_tree_equal(rows(obs_b, b), rows(obs_s, 0), "reset")
    rng = np.random.default_rng(0)
    for t in range(12):
        actions = rng.integers(0, batched.M, size=(len(seeds), batched.V))
        obs_b, rew_b, term_b, trunc_b, info_b = batched.step(actions)
        for b, env in enumerate(singles):
            obs_s, rew_s, term_s, trunc_s, info_s = env.step(actions[b : b + 1])
            assert_tree_equal(rows(obs_b, b), rows(obs_s, 0), f"t={t} obs")
            np.testing.assert_array_equal(rew_b[b], rew_s[0])
            assert (term_b[b], trunc_b[b]) == (term_s[0], trunc_s[0])
            assert_tree_equal(rows(info_b, b), rows(info_s, 0), f"t={t} info")


def test_observation_buffers_are_written_in_place_and_change_nothing() -> None:
    """With set_observation_buffers (used by SubprocBatchedEnv's workers) the env writes into
    the given arrays and returns them, with the same values as fresh arrays, also for copies
    that finished early (their observation is frozen) and across a reset."""
    fresh, direct = tiny(batch=16), tiny(batch=16)
    keys = {"observation": np.float32, "action_mask": np.bool_, "state": np.float32}
    bufs = {k: np.empty(fresh.reset(3)[0][k].shape, dtype=dt) for k, dt in keys.items()}
    bufs["extra"] = np.empty(3)  # an entry the env does not write is ignored
    direct.set_observation_buffers(bufs)
    rng = np.random.default_rng(0)
    partial_done = False
    for episode in range(2):
        obs_f, _ = fresh.reset(3 + episode)
        obs_d, _ = direct.reset(3 + episode)
        assert_tree_equal(obs_f, obs_d, "reset")
        for t in range(fresh.horizon):
            actions = rng.integers(0, fresh.M, size=(16, fresh.V))
            out_f, out_d = fresh.step(actions), direct.step(actions)
            assert_tree_equal(out_f[0], out_d[0], f"t={t} obs")
            assert all(out_d[0][k] is bufs[k] for k in keys)
            assert all(out_f[0][k] is not bufs[k] for k in keys)
            assert_tree_equal(out_f[4], out_d[4], f"t={t} info")
            done = out_d[2] | out_d[3]
            partial_done |= bool(done.any() and not done.all())
            if done.all():
                break
    assert partial_done, "no copy finished before the others: the frozen rows went untested"
    direct.set_observation_buffers({})  # back to fresh arrays
    assert direct.step(np.zeros((16, fresh.V), dtype=np.int64))[0]["state"] is not bufs["state"]


def test_pettingzoo_view_matches_the_batched_env() -> None:
    cfg = load_config(TINY)
    env = MigrationRoutingEnv(config=cfg)
    batched = BatchedMigrationRouting(cfg, 2)
    obs_p, _ = env.reset(seed=9)
    obs_b, _ = batched.reset([9, 10])
    for v, agent in enumerate(env.possible_agents):
        np.testing.assert_array_equal(obs_p[agent]["observation"], obs_b["observation"][0, v])
    rng = np.random.default_rng(1)
    for _ in range(8):
        actions = rng.integers(0, batched.M, size=(2, batched.V))
        obs_b, rew_b, _, _, info_b = batched.step(actions)
        obs_p, rew_p, _, _, info_p = env.step(
            {a: int(actions[0, v]) for v, a in enumerate(env.possible_agents) if a in env.agents}
        )
        np.testing.assert_array_equal(env.state(), obs_b["state"][0])
        for v, agent in enumerate(env.possible_agents):
            if agent not in rew_p:
                continue
            assert rew_p[agent] == rew_b[0, v]
            comps = info_p[agent]["reward_components"]
            assert comps["latency"] == info_b["reward_components"]["latency"][0, v]
            assert info_p[agent]["latency_s"] == info_b["latency_s"][0, v]


def test_int_seed_gives_consecutive_copy_seeds_and_repeats_exactly() -> None:
    a, b = tiny(batch=2), tiny(batch=1)
    obs_a, info_a = a.reset(3)
    assert list(info_a["seeds"]) == [3, 4]
    obs_b, _ = b.reset([4])
    np.testing.assert_array_equal(obs_a["observation"][1], obs_b["observation"][0])
    first = [a.step(np.full((2, a.V), a.sat))[1] for _ in range(5)]
    a.reset(3)
    again = [a.step(np.full((2, a.V), a.sat))[1] for _ in range(5)]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))


# ------------------------------------------------------------------ mask


def test_mask_overloaded_and_out_of_range_servers_never_the_satellite() -> None:
    env = tiny()
    env.reset(0)
    N, M, sat = env.N, env.M, env.sat
    here = env.rsu_xy[0]
    xy = np.tile(here, (1, env.V, 1))
    uav = np.stack([here, here + np.array([20_000.0, 0.0])])[None]  # overhead, and far off
    pred = np.full((1, M - 1), 100.0)
    pred[0, 0] = 290.0  # RSU 0: 290 MB predicted + 60 MB of the vehicle > L_max = 300 MB
    cache = np.zeros((1, M))
    cache[0, sat] = 5000.0  # far above the satellite's L_max: still never masked
    obs = env.set_state(
        vehicle_xy_m=xy,
        uav_xy_m=uav,
        predicted_mb=pred,
        background_mb=pred,
        cache_mb=cache,
        data_mb=np.full((1, env.V), 60.0),
    )
    mask = obs["action_mask"][0, 0]
    d = env._dist[0, 0]
    assert d[0] < 1.0 and not mask[0]  # in range but overloaded
    assert d[N] == pytest.approx(50.0, abs=0.01) and mask[N]  # UAV overhead: altitude only
    assert d[N + 1] > 1500.0 and not mask[N + 1]  # UAV out of its D_max
    for m in range(1, N):
        assert mask[m] == (d[m] <= 1200.0), m  # RSUs: D_max = 1200 m, load fine
    assert mask[sat]
    # the cache counts too: a full cache masks a server whose background is small
    cache[0, sat] = 0.0
    cache[0, N] = 250.0
    obs = env.set_state(cache_mb=cache)
    assert not obs["action_mask"][0, 0, N] and obs["action_mask"][0, 0, sat]

    # a masked action is still executed: RSU 0 overflows, ξ = 1, computed on the satellite CPU
    actions = np.full((1, env.V), sat)
    actions[0, 0] = 0
    _, _, _, _, info = env.step(actions)
    assert info["infeasible"][0, 0] and not info["infeasible"][0, 1]
    assert info["failure"][0, 0] == 1.0 and info["load_mb"][0, 0] == pytest.approx(350.0)
    assert info["compute_s"][0, 0] == pytest.approx(1000 * 350 * MB / 80e9)


def test_mask_follows_the_predictor_not_the_true_background() -> None:
    env = tiny()
    env.reset(0)
    M = env.M
    xy = np.tile(env.rsu_xy[0], (1, env.V, 1))
    true_bg = np.full((1, M - 1), 10.0)
    pred = np.full((1, M - 1), 10.0)
    pred[0, 0] = 280.0  # predicted busy, actually idle
    obs = env.set_state(
        vehicle_xy_m=xy, background_mb=true_bg, predicted_mb=pred, data_mb=np.full((1, 3), 30.0)
    )
    assert not obs["action_mask"][0, 0, 0]
    np.testing.assert_allclose(
        obs["observation"][0, 0, env.obs_slices["load"]][0], 280.0 / 300.0, rtol=1e-6
    )
    actions = np.full((1, env.V), env.sat)
    actions[0, 0] = 0
    _, _, _, _, info = env.step(actions)
    assert info["infeasible"][0, 0] and info["failure"][0, 0] == 0.0  # fine in truth


# ------------------------------------------------------------------ physics by hand


def _shannon(bw_hz: float, p_w: float, d_m: float, noise_w: float = 1e-13) -> float:
    gain = (3e8 / (4 * math.pi * 2.4e9 * max(d_m, 1.0))) ** 2  # A = 1, ξ = 2
    return bw_hz * math.log2(1.0 + p_w * gain / noise_w)


def test_latency_terms_by_hand() -> None:
    env = tiny()
    env.reset(0)
    M, sat = env.M, env.sat
    car = env.rsu_xy[0] + np.array([300.0, 400.0])  # ~500 m from RSU 0
    xy = np.stack([car, env.rsu_xy[1], env.rsu_xy[2]])[None]
    bg = np.full((1, M - 1), 10.0)
    env.set_state(
        vehicle_xy_m=xy,
        cache_mb=np.zeros((1, M)),
        background_mb=bg,
        predicted_mb=bg,
        data_mb=np.array([[60.0, 30.0, 30.0]]),
        serving=np.array([[1, sat, 2]]),  # RSU 1 → RSU 0, sat → sat, RSU 2 → sat
    )
    _, _, _, _, info = env.step(np.array([[0, sat, sat]]))

    # vehicle 0 on RSU 0: Shannon up (1000 W) and down (1 W) over 300 MHz, eqs. (3)–(7)
    ll = env.projection.to_latlon(car)
    d = haversine_m(ll[0], ll[1], *env.rsu_latlon[0])
    assert 490 < d < 510
    up = 60 * MB / _shannon(300e6, 1000.0, d)
    down = 60 * MB / _shannon(300e6, 1.0, d)
    compute = 1000 * (10 + 60) * MB / 32e9  # eqs. (8)–(9): S' = 10 MB background + 60 MB
    d_mig = haversine_m(*env.rsu_latlon[1], *env.rsu_latlon[0])
    mig = 60 * MB / _shannon(300e6, 1.0, d_mig)  # eqs. (11)–(12), S_mig = 60 MB
    assert info["uplink_s"][0, 0] == pytest.approx(up, rel=1e-5)
    assert info["downlink_s"][0, 0] == pytest.approx(down, rel=1e-5)
    assert info["compute_s"][0, 0] == pytest.approx(compute, rel=1e-9)
    assert info["migration_s"][0, 0] == pytest.approx(mig, rel=1e-6)
    assert info["latency_s"][0, 0] == pytest.approx(up + down + compute + mig, rel=1e-5)
    assert info["load_mb"][0, 0] == pytest.approx(70.0)
    assert info["failure"][0, 0] == 0.0 and info["migrated"][0, 0]

    # vehicles 1, 2 on the satellite: fixed 20 / 100 Mb/s links, S'_sat = 30 + 30 MB at 80 GHz
    sat_up, sat_down = 30 * MB / 20e6, 30 * MB / 100e6
    sat_compute = 1000 * 60 * MB / 80e9
    assert info["latency_s"][0, 1] == pytest.approx(sat_up + sat_down + sat_compute)
    assert not info["migrated"][0, 1] and info["migration_s"][0, 1] == 0.0
    # RSU 2 → satellite: the VT goes up the satellite's 20 Mb/s uplink
    assert info["migration_s"][0, 2] == pytest.approx(60 * MB / 20e6)
    assert info["load_mb"][0, 2] == pytest.approx(60.0)

    # caches keep what a server could not compute in the slot: C τ / e_v = 32e9·30/1000 bits
    assert env.cache_bits[0, 0] == 0.0  # 70 MB < 120 MB
    assert env.cache_bits[0, sat] == 0.0  # 60 MB < 300 MB


def test_cache_carries_unfinished_data_capped_at_l_max() -> None:
    env = tiny()
    env.reset(0)
    M = env.M
    cache = np.zeros((1, M))
    cache[0, 0] = 150.0
    bg = np.zeros((1, M - 1))
    bg[0, 1] = 500.0  # overflows: the excess above L_max does not stay
    env.set_state(cache_mb=cache, background_mb=bg)
    env.step(np.full((1, env.V), env.sat))
    drained = 32e9 * 30 / 1000 / MB  # 120 MB per slot
    assert env.cache_bits[0, 0] / MB == pytest.approx(150.0 - drained)
    assert env.cache_bits[0, 1] / MB == pytest.approx(300.0 - drained)


# ------------------------------------------------------------------ actions and episodes


def test_invalid_actions_are_clear_errors() -> None:
    env = tiny(batch=2)
    env.reset(0)
    with pytest.raises(ValueError, match=r"shape \(3,\); expected \(2, 3\)"):
        env.step(np.zeros(3, dtype=int))
    bad = np.zeros((2, 3), dtype=int)
    bad[1, 2] = env.M
    with pytest.raises(ValueError, match=r"action 9 \(copy 1, vehicle 2\) is outside \[0, 9\)"):
        env.step(bad)
    bad[1, 2] = -1
    with pytest.raises(ValueError, match=r"action -1 .* outside \[0, 9\)"):
        env.step(bad)
    with pytest.raises(ValueError, match=r"integer indices"):
        env.step(np.full((2, 3), 1.5))
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        tiny().step(np.zeros((1, 3), dtype=int))
    pz = MigrationRoutingEnv(TINY)
    pz.reset(seed=0)
    good = {a: 0 for a in pz.agents}
    with pytest.raises(ValueError, match=r"action 12 of vehicle_1 is outside \[0, 9\)"):
        pz.step({**good, "vehicle_1": 12})
    with pytest.raises(ValueError, match=r"unknown agent 'car_0'"):
        pz.step({**good, "car_0": 0})
    with pytest.raises(ValueError, match=r"no action for live agent\(s\) \['vehicle_2'\]"):
        pz.step({"vehicle_0": 0, "vehicle_1": 0})


def test_wrong_config_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"paper A; the migration-routing env needs a paper B"):
        BatchedMigrationRouting(load_config("paper-a-tiny"))
    with pytest.raises(ConfigError, match=r"at most 1 satellite"):
        load_config(TINY, ["servers.sat.count=2"])
    cfg = load_config(TINY)  # model_copy skips validation: the env checks again
    two = cfg.servers.model_copy(update={"sat": cfg.servers.sat.model_copy(update={"count": 2})})
    with pytest.raises(ValueError, match=r"servers.sat.count = 2: .* at most 1 satellite"):
        BatchedMigrationRouting(cfg.model_copy(update={"servers": two}))
    with pytest.raises(ConfigError, match=r"trip_fraction .* must lie in \(0, 1\]"):
        load_config(TINY, ["routing.trip_fraction=[0.5, 1.5]"])


def test_trips_end_at_destinations_then_the_copy_terminates() -> None:
    env = tiny("routing.trip_fraction=[0.2, 0.6]", batch=3)
    env.reset(7)
    ends = env.trip_end.copy()
    assert ends.min() >= 1 and ends.max() <= 0.6 * env.horizon + 1
    done_at = np.full(3, -1)
    t = 0
    while not np.all(done_at >= 0):
        obs, reward, term, trunc, info = env.step(env.greedy_actions(np.random.default_rng(t)))
        t += 1
        np.testing.assert_array_equal(obs["active"], (t < ends) & (done_at < 0)[:, None])
        np.testing.assert_array_equal(info["server"] >= 0, (t - 1 < ends) & (done_at < 0)[:, None])
        assert not trunc.any()
        done_at[term & (done_at < 0)] = t
    np.testing.assert_array_equal(done_at, ends.max(axis=1))
    # a finished copy: frozen observation, zero reward, sticky flags
    last = obs["observation"].copy()
    obs, reward, term, trunc, info = env.step(np.zeros((3, env.V), dtype=int))
    assert term.all() and not trunc.any() and np.all(reward == 0.0)
    assert not obs["active"].any()
    np.testing.assert_array_equal(obs["observation"], last)


def test_truncated_at_horizon_and_pettingzoo_removes_agents() -> None:
    env = MigrationRoutingEnv(TINY, ["routing.trip_fraction=[1.0, 1.0]", "horizon_slots=6"])
    env.reset(seed=0)
    for _ in range(6):
        assert env.agents == env.possible_agents
        _, _, term, trunc, _ = env.step({a: env.batched.sat for a in env.agents})
    # every trip lasts the whole horizon: arrival and horizon coincide, arrival wins
    assert all(term.values()) and not any(trunc.values()) and env.agents == []
    env = MigrationRoutingEnv(TINY, ["routing.trip_fraction=[0.2, 0.3]", "horizon_slots=20"])
    env.reset(seed=0)
    ends = env.batched.trip_end[0]
    removed_at: dict[str, int] = {}
    for t in range(1, 21):
        _, _, term, _, _ = env.step({a: 0 for a in env.agents})
        removed_at |= {a: t for a, done in term.items() if done}
        if not env.agents:
            break
    assert removed_at == {f"vehicle_{v}": int(ends[v]) for v in range(3)}


def test_greedy_picks_the_nearest_feasible_server() -> None:
    env = tiny("vehicles.count=6", batch=4)
    obs, _ = env.reset(3)
    M = env.M
    for _ in range(10):
        dist = obs["observation"][..., : M - 1]
        mask = obs["action_mask"]
        want = np.where(
            mask[..., : M - 1].any(-1),
            np.where(mask[..., : M - 1], dist, np.inf).argmin(-1),
            M - 1,
        )
        got = env.greedy_actions(np.random.default_rng(0), epsilon=0.0)
        np.testing.assert_array_equal(got, want)
        explore = env.greedy_actions(np.random.default_rng(1), epsilon=1.0)
        assert np.take_along_axis(mask, explore[..., None], -1).all()
        obs, *_ = env.step(got)
    with pytest.raises(ValueError, match=r"epsilon = 1.5"):
        env.greedy_actions(np.random.default_rng(0), 1.5)


# ------------------------------------------------------------------ predictor, UAVs, traces


class _ConstantPredictor:
    window = 3

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def predict_next(self, history: np.ndarray) -> np.ndarray:
        self.shapes.append(history.shape)
        return np.full(history.shape[:-2] + history.shape[-1:], 123.0)


def test_agents_see_the_background_through_the_predictor() -> None:
    pred = _ConstantPredictor()
    env = tiny(batch=2, predictor=pred)
    obs, _ = env.reset(0)
    M, H = env.M, env.horizon
    assert all(s[1:] == (3, M - 1) and s[0] % (H + 1) == 0 for s in pred.shapes)
    loads = obs["observation"][0, 0, env.obs_slices["load"]]
    np.testing.assert_allclose(loads[: M - 1], 123.0 / 300.0, rtol=1e-6)
    assert loads[M - 1] == 0.0
    # the last-value predictor is what the env does without one
    a, b = tiny(predictor=LastValuePredictor()), tiny()
    np.testing.assert_array_equal(a.reset(5)[0]["observation"], b.reset(5)[0]["observation"])
    for _ in range(3):
        assert_tree_equal(a.step(np.zeros((1, 3), int))[0], b.step(np.zeros((1, 3), int))[0])


def test_background_forecast_error_by_hand() -> None:
    """The constant forecast's error equals Σ|123 MB − true| / Σ true over the pool."""
    env = tiny(predictor=_ConstantPredictor())
    carries = env.background_mb_per_flow > 0
    W, n = env.window, env.horizon + 1
    true_mb = env._pool_bits[:, W : W + n][..., carries] / MB
    err = env.background_forecast_error()
    expected = 100.0 * np.abs(123.0 - true_mb).sum() / true_mb.sum()
    assert err["error_pct"] == pytest.approx(expected, rel=1e-9)
    assert err["mae_mb"] == pytest.approx(np.abs(123.0 - true_mb).mean(), rel=1e-9)
    # without a predictor the agents see the last measured value: slot t−1's background
    last = tiny()
    true = last._pool_bits[:, 1 : 1 + n][..., carries]
    prev = last._pool_bits[:, 0:n][..., carries]
    expected = 100.0 * np.abs(prev - true).sum() / true.sum()
    assert last.background_forecast_error()["error_pct"] == pytest.approx(expected, rel=1e-9)


def test_uavs_patrol_among_rsus_at_their_speed() -> None:
    env = tiny(batch=3)
    env.reset(2)
    reach = 3.7 * 30.0
    prev = env._uav_xy.copy()
    moved = 0.0
    for _ in range(30):
        env.step(np.full((3, env.V), env.sat))
        step = np.hypot(*(env._uav_xy - prev).transpose(2, 0, 1))
        assert np.all(step <= reach + 1e-6)
        moved += step.sum()
        prev = env._uav_xy.copy()
        assert np.all(env._uav_target < env.N)
    assert moved > 0.5 * 30 * reach * env.U * 3


def _tdrive_config(path: Path, count: int) -> Any:
    trace = ["vehicles.mobility.kind=trace", f"vehicles.mobility.path={path}"]
    # an area that the taxis drive through (a trace wholly outside the area is refused)
    area = ["geography.width_m=12000", "geography.height_m=12000"]
    return load_config(TINY, [*trace, *area, f"vehicles.count={count}"])


@pytest.mark.skipif(not TAXIS.is_dir(), reason=f"T-Drive sample not found at {TAXIS}")
def test_tdrive_traces_drive_the_vehicles() -> None:
    cfg = _tdrive_config(TAXIS, 3)
    env = BatchedMigrationRouting(cfg, 2)
    env.reset(0)
    assert env.trace_index.shape == (2, 3) and len(set(env.trace_index[0])) == 3
    rng = np.random.default_rng(0)
    steps = 0
    while True:
        _, reward, term, trunc, info = env.step(env.greedy_actions(rng))
        steps += 1
        assert np.isfinite(reward).all() and np.isfinite(info["latency_s"]).all()
        if (term | trunc).all():
            break
    assert steps <= env.horizon
    # the replay starts at the pool's earliest fix; before its own first fix a taxi waits there
    from vtwin.data.traces import read_tdrive

    taxi = read_tdrive(TAXIS)[int(env.trace_index[0, 0])]
    start = env.projection.to_latlon(env._veh_xy[0, 0, 0])
    first = int(np.argmin(taxi.time_s))
    np.testing.assert_allclose(start, [taxi.lat_deg[first], taxi.lon_deg[first]], atol=1e-3)


@pytest.mark.skipif(not TAXIS.is_dir(), reason=f"T-Drive sample not found at {TAXIS}")
def test_a_trace_ends_at_its_destination(tmp_path: Path) -> None:
    src = sorted(TAXIS.glob("*.txt"))[:2]
    cut = {src[0]: "2008-02-02 16:06:00", src[1]: "2008-02-02 16:11:00"}
    for file, until in cut.items():
        lines = file.read_text().splitlines()
        kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[1] < until]
        (tmp_path / file.name).write_text("\n".join(kept) + "\n")
    env = BatchedMigrationRouting(_tdrive_config(tmp_path, 2), 1)
    env.reset(0)
    t = 0
    arrived_at = [-1, -1]
    while True:
        _, _, term, trunc, info = env.step(np.full((1, 2), env.sat))
        t += 1
        for v in range(2):
            if info["arrived"][0, v] and arrived_at[v] < 0:
                arrived_at[v] = t
        if term[0] or trunc[0]:
            break
    assert term[0] and not trunc[0] and t < env.horizon
    assert 0 < arrived_at[0] < arrived_at[1] == t


def test_trace_mode_needs_an_existing_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no such file or folder"):
        BatchedMigrationRouting(_tdrive_config(tmp_path / "missing", 1))


# ------------------------------------------------------------------ without the satellite

NO_SAT = "servers.sat.count=0"  # paper B Fig. 8, "without the satellite"


def test_parallel_api_test_passes_without_the_satellite() -> None:
    parallel_api_test(MigrationRoutingEnv(TINY, [NO_SAT]), num_cycles=100)


def test_without_the_satellite_layout_and_actions() -> None:
    env = tiny(NO_SAT)
    assert (env.N, env.U, env.M, env.G, env.sat, env.has_sat) == (6, 2, 8, 8, -1, False)
    assert env.obs_dim == 3 * env.M + 3
    sl = env.obs_slices
    assert sl["distance"] == slice(0, env.M) and sl["load"] == slice(env.M, 2 * env.M)
    assert sum(s.stop - s.start for s in sl.values()) == env.obs_dim
    assert sum(s.stop - s.start for s in env.state_slices.values()) == env.state_dim
    obs, _ = env.reset(4)
    assert obs["observation"].shape == (1, 3, env.obs_dim)
    assert obs["action_mask"].shape == (1, 3, env.M)
    # distances to all M servers, km
    np.testing.assert_allclose(obs["observation"][0, :, : env.M], env._dist[0] / 1e3, rtol=1e-6)
    hot = obs["observation"][0, :, sl["serving"]]
    np.testing.assert_array_equal(hot.argmax(-1), env.serving[0])
    lean = tiny(NO_SAT, "routing.observe_serving=false")
    assert lean.obs_dim == 2 * lean.M + 3 and "serving" not in lean.obs_slices
    with pytest.raises(ValueError, match=r"outside \[0, 8\): 6 RSUs and 2 UAVs \(no satellite\)"):
        env.step(np.full((1, 3), 8))
    pz = MigrationRoutingEnv(TINY, [NO_SAT])
    assert pz.action_space("vehicle_0").n == 8
    pz.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 8 of vehicle_0 is outside \[0, 8\)"):
        pz.step({a: 8 for a in pz.agents})


def test_without_the_satellite_an_overflowing_host_computes_on_its_own_cpu() -> None:
    env = tiny(NO_SAT)
    env.reset(0)
    N, M = env.N, env.M
    here = env.rsu_xy[0]
    bg = np.full((1, M), 100.0)
    obs = env.set_state(
        vehicle_xy_m=np.tile(here, (1, env.V, 1)),
        uav_xy_m=np.stack([here, here + np.array([20_000.0, 0.0])])[None],
        cache_mb=np.zeros((1, M)),
        background_mb=bg,
        predicted_mb=bg,
        data_mb=np.full((1, env.V), 250.0),  # 100 + 250 MB > L_max = 300 MB everywhere
    )
    assert not obs["action_mask"].any()  # no feasible server: an all-False row
    # greedy: the nearest server when none is feasible; exploring picks among all M
    np.testing.assert_array_equal(env.greedy_actions(np.random.default_rng(0), 0.0), 0)
    explore = env.greedy_actions(np.random.default_rng(1), 1.0)
    assert explore.min() >= 0 and explore.max() < M

    _, reward, _, _, info = env.step(np.array([[0, 0, N]]))  # two on RSU 0, one on UAV 0
    assert info["infeasible"].all() and np.isfinite(reward).all()
    np.testing.assert_array_equal(info["failure"], 1.0)  # eq. (14): overflow
    np.testing.assert_allclose(info["load_mb"][0], [600.0, 600.0, 350.0])
    # eq. (9) without a satellite: e_v S'_m / C_m on the host's own 32 GHz
    np.testing.assert_allclose(info["compute_s"][0], 1000 * np.array([600, 600, 350]) * MB / 32e9)
    drained = 32e9 * 30 / 1000 / MB  # caches keep at most L_max less a slot's work
    assert env.cache_bits[0, 0] / MB == pytest.approx(300.0 - drained)
    assert env.cache_bits[0, N] / MB == pytest.approx(300.0 - drained)


def test_without_the_satellite_vts_start_on_the_nearest_feasible_else_nearest_server() -> None:
    env = tiny(NO_SAT, "vehicles.count=6", batch=4)
    obs, _ = env.reset(2)
    mask, dist = obs["action_mask"], env._dist
    want = np.where(mask.any(-1), np.where(mask, dist, np.inf).argmin(-1), dist.argmin(-1))
    np.testing.assert_array_equal(env.serving, want)
    for _ in range(10):
        got = env.greedy_actions(np.random.default_rng(0), epsilon=0.0)
        mask, dist = env._mask, env._dist
        want = np.where(mask.any(-1), np.where(mask, dist, np.inf).argmin(-1), dist.argmin(-1))
        np.testing.assert_array_equal(got, want)
        env.step(got)
    # 20 MB/s × 30 s = 600 MB > L_max: nothing is ever feasible, every VT starts on the nearest
    flood = tiny(NO_SAT, "routing.generated_mbps=20", batch=2)
    obs, _ = flood.reset(0)
    assert not obs["action_mask"].any()
    np.testing.assert_array_equal(flood.serving, flood._dist.argmin(-1))


def test_without_the_satellite_batched_equals_single_and_reference_moments_work() -> None:
    from vtwin.rewards import reference_moments

    cfg = load_config(TINY, [NO_SAT])
    ref = reference_moments(cfg, BatchedMigrationRouting)
    assert all(np.isfinite(v).all() and v[1] > 0 for v in ref.values())
    batched = BatchedMigrationRouting(cfg, 2)
    singles = [BatchedMigrationRouting(cfg, 1) for _ in range(2)]
    obs_b, _ = batched.reset([5, 6])
    for b, env in enumerate(singles):
        assert_tree_equal(rows(obs_b, b), rows(env.reset([5 + b])[0], 0), "reset")
    rng = np.random.default_rng(0)
    for t in range(batched.horizon):
        actions = rng.integers(0, batched.M, size=(2, batched.V))
        out_b = batched.step(actions)
        for b, env in enumerate(singles):
            out_s = env.step(actions[b : b + 1])
            for k, (x, y) in enumerate(zip(out_b, out_s, strict=True)):
                assert_tree_equal(rows(x, b), rows(y, 0), f"t={t} part {k}")
        assert np.isfinite(out_b[1]).all()


# ------------------------------------------------------------------ generated data


def test_generated_mbps_takes_a_scalar_or_an_interval() -> None:
    cfg = load_config(TINY, ["routing.generated_mbps=2.0"])
    assert cfg.routing is not None and cfg.routing.generated_mbps == 2.0
    with pytest.raises(ConfigError, match=r"generated_mbps"):
        load_config(TINY, ["routing.generated_mbps=-1.0"])
    with pytest.raises(ConfigError, match=r"interval low 3.0 is above high 1.0"):
        load_config(TINY, ["routing.generated_mbps=[3.0, 1.0]"])
    scalar = tiny("routing.generated_mbps=2.0", batch=3)
    pair = tiny("routing.generated_mbps=[2.0, 2.0]", batch=3)
    obs_s, _ = scalar.reset(1)
    obs_p, _ = pair.reset(1)
    np.testing.assert_array_equal(scalar.data_bits, 2.0 * 30.0 * MB)  # exactly x MB/s
    assert_tree_equal(obs_s, obs_p)  # a scalar x is the interval [x, x]
    drawn = tiny(batch=3)
    drawn.reset(1)
    assert len(np.unique(drawn.data_bits)) == drawn.data_bits.size  # [1, 3]: one draw each
    assert drawn.data_bits.min() >= 30 * MB and drawn.data_bits.max() <= 90 * MB
