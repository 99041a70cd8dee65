"""Paper C's cross-reality privacy env: API checks, determinism, physics by hand, bad actions."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from vtwin.config import load_config
from vtwin.data.samples import shared_data_dir
from vtwin.envs.privacy import BatchedCrossRealityPrivacy, CrossRealityPrivacyEnv

SMALL = [
    "horizon_slots=12",
    "servers.rsu.count=8",
    "geography.width_m=3000",
    "geography.height_m=3000",
]


def _env(B: int = 2, extra: list[str] | None = None) -> BatchedCrossRealityPrivacy:
    return BatchedCrossRealityPrivacy(load_config("paper-c-synth", SMALL + (extra or [])), B)


def _actions(env: BatchedCrossRealityPrivacy, rng: np.random.Generator) -> dict[str, np.ndarray]:
    shape = (env.B, env.M)
    return {
        "radius_deg": rng.uniform(0, env.r_max_deg, shape),
        "angle_rad": rng.uniform(0, 2 * np.pi, shape),
        "server": rng.integers(0, env.S, shape),
    }


# the checker recommends [-1, 1] Box actions; ours are the paper's units (degrees, radians)
@pytest.mark.filterwarnings("ignore:.*symmetric and normalized space")
def test_passes_the_gymnasium_checker_and_is_registered() -> None:
    env = CrossRealityPrivacyEnv("paper-c-synth", overrides=SMALL)
    check_env(env, skip_render_check=True)
    made = gym.make("vtwin/CrossRealityPrivacy-v0", preset="paper-c-synth", overrides=SMALL)
    obs, info = made.reset(seed=3)
    assert obs.shape == (5 * 10,) and obs.dtype == np.float32
    assert made.observation_space.contains(obs)
    obs, reward, term, trunc, info = made.step(made.action_space.sample())
    assert np.isfinite(reward) and not term and not trunc
    assert info["entropy_bits"].shape == (5,)


def test_batched_copy_equals_the_single_view() -> None:
    batched = _env(B=3)
    single = CrossRealityPrivacyEnv("paper-c-synth", overrides=SMALL)
    obs_b, _ = batched.reset([11, 12, 13])
    obs_s, _ = single.reset(seed=12)
    np.testing.assert_array_equal(obs_b[1].reshape(-1).astype(np.float32), obs_s)
    rng = np.random.default_rng(0)
    for _ in range(batched.horizon):
        act = _actions(batched, rng)
        obs_b, rew_b, _, trunc_b, info_b = batched.step(act)
        obs_s, rew_s, _, trunc_s, info_s = single.step({k: v[1] for k, v in act.items()})
        np.testing.assert_array_equal(obs_b[1].reshape(-1).astype(np.float32), obs_s)
        assert float(rew_b[1].mean()) == pytest.approx(rew_s, rel=1e-12)
        for key in ("entropy_bits", "latency_s", "utility", "confidence"):
            np.testing.assert_array_equal(info_b[key][1], info_s[key])
    assert trunc_b.all() and trunc_s


def test_same_seed_same_episode_and_different_seed_differs() -> None:
    def episode(seed: int) -> list[np.ndarray]:
        env = _env(B=2)
        obs, _ = env.reset(seed)
        rng = np.random.default_rng(5)
        out = [obs]
        for _ in range(env.horizon):
            obs, rew, _, _, info = env.step(_actions(env, rng))
            out += [obs, rew, info["latency_s"], info["entropy_bits"]]
        return out

    a, b, c = episode(4), episode(4), episode(5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_latency_terms_by_hand() -> None:
    env = _env(B=2)
    env.reset(21)
    rng = np.random.default_rng(1)
    pc, cfg = env.privacy, env.config
    for _ in range(4):  # a few slots, so agents move and some migrate
        act = _actions(env, rng)
        conn, prev, t = env.connected.copy(), env.agent.copy(), env.t
        xy = env._xy.copy()
        _, _, _, _, info = env.step(act)
        for b in range(env.B):
            for m in range(env.M):
                c, e, ep = int(conn[b, m]), int(act["server"][b, m]), int(prev[b, m])
                up, down = env.up_bits[b, t, m], env.down_bits[b, t, m]
                if c == env.SAT:
                    l_up, l_down = up / 20e6, down / 100e6
                else:
                    d = max(math.dist(xy[b, m], env.rsu_xy[c]), 1.0)
                    gain = 4.11 * (3e8 / (4 * math.pi * 0.915e9 * d)) ** 2.8
                    noise = 10 ** (-174 / 10) * 1e-3 * 10e6
                    r_up = 10e6 * math.log2(1 + 10 ** (10 / 10) * 1e-3 * gain / noise)
                    r_down = 10e6 * math.log2(1 + 10 ** (43 / 10) * 1e-3 * gain / noise)
                    l_up, l_down = up / r_up, down / r_down
                hops = env.rsu_hops
                back = 0.0
                if e != env.SAT and e != c:
                    h = 0 if c == env.SAT else hops[c, e]
                    back = (up + down) / 1e9 + 2 * env.phi_back[b, t] * h
                s_m = env.model_bits[b, m]
                if e == ep:
                    mig = 0.0
                elif e == env.SAT:
                    mig = s_m / 20e6
                elif ep == env.SAT:
                    mig = s_m / 100e6
                else:
                    mig = s_m / 1e9 + pc.migration_per_hop_s * hops[ep, e]
                comp = env.cycles_per_bit[b, m] * pc.compute_fraction * up / env.compute_hz[e]
                assert info["uplink_s"][b, m] == pytest.approx(l_up, rel=1e-9)
                assert info["downlink_s"][b, m] == pytest.approx(l_down, rel=1e-9)
                assert info["backhaul_s"][b, m] == pytest.approx(back, rel=1e-9, abs=1e-12)
                assert info["migration_s"][b, m] == pytest.approx(mig, rel=1e-9, abs=1e-12)
                assert info["compute_s"][b, m] == pytest.approx(comp, rel=1e-9)
                total = l_up + l_down + back + mig + comp
                assert info["latency_s"][b, m] == pytest.approx(total, rel=1e-9)
                assert info["latency_by_server_s"][b, m, e] == pytest.approx(total, rel=1e-9)
    assert cfg.channel.path_loss_exponent == 2.8  # the constants above are the preset's


def test_perturbation_qos_angle_and_utility() -> None:
    env = _env(B=1)
    env.reset(2)
    xy = env._xy.copy()
    act = {
        "radius_deg": np.full((1, env.M), env.r_max_deg),
        "angle_rad": np.full((1, env.M), math.pi / 2),  # due north: r_max degrees of latitude
        "server": env.connected.copy(),
    }
    _, reward, _, _, info = env.step(act)
    np.testing.assert_allclose(info["perturbed_xy"] - xy, [[[0.0, env.r_max_m]] * env.M], atol=1e-9)
    # QoS loss ln(1 + d_km) with d the haversine distance: r_max degrees of latitude
    d_km = 6371.0 * math.radians(env.r_max_deg)
    np.testing.assert_allclose(info["qos_loss"], math.log1p(d_km), rtol=1e-6)
    np.testing.assert_allclose(info["qos_loss_norm"], 1.0, rtol=1e-6)
    # the included angle between north and the AV→server direction
    to_srv = env.server_xy[act["server"]] - xy
    expected = np.arccos(to_srv[..., 1] / np.linalg.norm(to_srv, axis=-1))
    np.testing.assert_allclose(info["included_angle_rad"], expected, atol=1e-9)
    w_e, w_l, w_q = env.privacy.utility_weights
    util = w_e * info["entropy_bits"] - w_l * info["latency_s"] - w_q * info["qos_loss"]
    np.testing.assert_allclose(info["utility"], util, rtol=1e-12)
    np.testing.assert_allclose(reward, util, rtol=1e-12)  # reward paper-c = eq. (20)
    assert set(info["reward_components"]) == {"entropy", "latency", "qos"}


def test_llm_reward_has_its_five_parts() -> None:
    env = _env(B=1, extra=["reward.kind=paper-c-llm", "reward.weights.angle=0.3"])
    env.reset(0)
    _, reward, _, _, info = env.step(_actions(env, np.random.default_rng(2)))
    parts = info["reward_components"]
    assert set(parts) == {"entropy", "latency", "qos", "distance", "angle"}
    np.testing.assert_allclose(sum(parts.values()), reward, rtol=1e-12)
    np.testing.assert_allclose(parts["angle"], 0.3 * info["included_angle_rad"], rtol=1e-12)
    np.testing.assert_allclose(parts["latency"], -0.5 * np.log1p(info["latency_s"]), rtol=1e-12)


def test_connected_server_is_the_nearest_covering_rsu_else_the_satellite() -> None:
    env = _env(B=2)
    env.reset(8)
    d = np.linalg.norm(env._xy[:, :, None, :] - env.rsu_xy[None, None], axis=-1)
    for b in range(2):
        for m in range(env.M):
            inside = np.flatnonzero(d[b, m] <= env.coverage_m)
            expected = env.SAT if inside.size == 0 else inside[np.argmin(d[b, m, inside])]
            assert env.connected[b, m] == expected
    assert np.array_equal(env.agent, env.connected)  # the first agent server


def test_the_unprotected_policy_is_found_and_noise_lowers_confidence() -> None:
    env = _env(B=2)
    env.reset(1)
    zero = np.zeros((2, env.M))
    _, _, _, _, info = env.step({"radius_deg": zero, "angle_rad": zero, "server": env.connected})
    assert np.all(info["confidence"] > 0.99) and np.all(info["entropy_bits"] < 0.1)
    assert np.all(info["attacker_error_m"] < 1e-6)
    full = np.full((2, env.M), env.r_max_deg)
    _, _, _, _, info = env.step({"radius_deg": full, "angle_rad": zero, "server": env.connected})
    assert np.all(info["confidence"] < 0.5) and np.all(info["entropy_bits"] > 2.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"radius_deg": 0.002}, r"radius_deg = 0.002 \(copy 0, AV 0\) is outside \[0, 0.001\]"),
        ({"radius_deg": -1e-5}, r"radius_deg = -1e-05 .* is outside"),
        ({"radius_deg": np.nan}, r"radius_deg = nan"),
        ({"angle_rad": 7.0}, r"angle_rad = 7.0 .* outside \[0, 2π\)"),
        (
            {"server": 99},
            r"server = 99 \(copy 0, AV 0\) is outside \[0, 9\): RSUs 0..7, satellite 8",
        ),
        ({"server": 1.5}, r"server must be integer indices"),
    ],
)
def test_out_of_range_actions_are_errors(change: dict[str, float], message: str) -> None:
    env = _env(B=1)
    env.reset(0)
    act = {
        "radius_deg": np.zeros((1, 5)),
        "angle_rad": np.zeros((1, 5)),
        "server": np.zeros((1, 5), dtype=int),
    }
    for key, value in change.items():
        arr = act[key].astype(np.float64 if isinstance(value, float) else act[key].dtype)
        arr[0, 0] = value
        act[key] = arr
    with pytest.raises(ValueError, match=message):
        env.step(act)
    assert env.t == 0  # nothing happened


def test_malformed_actions_are_errors() -> None:
    env = _env(B=1)
    env.reset(0)
    good = {
        "radius_deg": np.zeros((1, 5)),
        "angle_rad": np.zeros((1, 5)),
        "server": np.zeros((1, 5), dtype=int),
    }
    with pytest.raises(ValueError, match="expected exactly radius_deg, angle_rad, server"):
        env.step({k: v for k, v in good.items() if k != "server"})
    with pytest.raises(ValueError, match=r"server has shape \(1, 4\); expected \(1, 5\)"):
        env.step({**good, "server": np.zeros((1, 4), dtype=int)})
    with pytest.raises(ValueError, match="must be a dict"):
        env.step(np.zeros(5))  # type: ignore[arg-type]
    # float32 rounding of the bounds is absorbed
    edge = {
        **good,
        "radius_deg": np.full((1, 5), np.float32(env.r_max_deg)),
        "angle_rad": np.full((1, 5), np.float32(2 * np.pi)),
    }
    _, _, _, _, info = env.step(edge)
    assert np.all(info["radius_deg"] <= env.r_max_deg) and np.all(info["angle_rad"] < 2 * np.pi)


def test_wrong_worlds_are_errors() -> None:
    with pytest.raises(ValueError, match="needs a paper C preset"):
        BatchedCrossRealityPrivacy(load_config("paper-a"), 1)
    with pytest.raises(
        ValueError, match=r"servers\.sat\.count = 0: paper C needs exactly 1 satellite"
    ):
        _env(extra=["servers.sat.count=0"])
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        _env().step({})


@pytest.mark.skipif(
    shared_data_dir() is None, reason="shared data folder not found: ../shared/data"
)
def test_the_shanghai_preset_replays_the_taxi_windows() -> None:
    env = BatchedCrossRealityPrivacy(load_config("paper-c", ["horizon_slots=20"]), 2)
    env.reset([0, 1])
    assert env.N == 200 and env.M == 5
    assert not np.array_equal(env.trace_start[0], env.trace_start[1])  # per-copy start slots
    obs, _, _, _, info = env.step(_actions(env, np.random.default_rng(0)))
    assert np.isfinite(info["utility"]).all() and obs.shape == (2, 5, 10)
    assert "true_latlon" in info and np.all(np.abs(info["true_latlon"][..., 0] - 31.3) < 0.2)


@pytest.mark.skipif(
    shared_data_dir() is None, reason="shared data folder not found: ../shared/data"
)
def test_the_beijing_preset_drives_five_t_drive_taxis() -> None:
    env = BatchedCrossRealityPrivacy(load_config("paper-c-beijing", ["horizon_slots=10"]), 1)
    env.reset(0)
    assert env.N == 25 and env.M == 5
    _, _, _, _, info = env.step(_actions(env, np.random.default_rng(1)))
    assert np.all(np.abs(info["true_latlon"][..., 0] - 39.95) < 0.2)
    assert np.isfinite(info["latency_s"]).all()


def test_episode_metrics_are_valid_for_the_training_loops() -> None:
    from vtwin.training.metrics import metric_spec

    env = _env()
    spec = metric_spec(env)
    assert spec is not None
    assert set(spec) == {"utility", "entropy_bits", "latency_s", "qos_loss"}


def test_a_transposed_action_is_an_error_not_a_reshape() -> None:
    env = _env(B=5)
    env.reset(0)
    zeros = np.zeros((5, 5))
    bad = {"radius_deg": zeros, "angle_rad": zeros, "server": np.zeros((25,), dtype=int)}
    with pytest.raises(ValueError, match=r"server has shape \(25,\); expected \(5, 5\)"):
        env.step(bad)
