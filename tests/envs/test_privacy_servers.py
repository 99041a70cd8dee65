"""Paper C's optional per-server observation (``privacy.observation = servers``): shape and
named blocks, the entity layout's columns, last slot's latencies, determinism, the
Gymnasium checker, and config validation."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from vtwin.config import ConfigError, load_config
from vtwin.envs.privacy import (
    LATENCY_SCALE_S,
    PAPER_COLUMNS,
    SERVER_FEATURES,
    BatchedCrossRealityPrivacy,
    CrossRealityPrivacyEnv,
)

SMALL = [
    "horizon_slots=6",
    "servers.rsu.count=6",
    "geography.width_m=3000",
    "geography.height_m=3000",
]
SERVERS = [*SMALL, "privacy.observation=servers"]


def _env(B: int = 3, overrides: list[str] = SERVERS) -> BatchedCrossRealityPrivacy:
    return BatchedCrossRealityPrivacy(load_config("paper-c-synth", overrides), B)


def _action(env: BatchedCrossRealityPrivacy, rng: np.random.Generator) -> dict[str, object]:
    shape = (env.B, env.M)
    return {
        "radius_deg": rng.uniform(0, env.r_max_deg, shape),
        "angle_rad": rng.uniform(0, 2 * np.pi, shape),
        "server": rng.integers(0, env.S, shape),
    }


def test_paper_observation_is_unchanged_by_default() -> None:
    env = _env(overrides=SMALL)
    obs, _ = env.reset(0)
    assert env.observation_kind == "paper" and env.entity_layout is None
    assert env.obs_dim == 10 and obs.shape == (3, env.M, 10)
    assert env.obs_slices == PAPER_COLUMNS


def test_servers_blocks_are_named_and_paper_columns_come_first() -> None:
    paper, servers = _env(overrides=SMALL), _env()
    obs_p, _ = paper.reset(4)
    obs_s, _ = servers.reset(4)
    S = servers.S
    assert servers.obs_dim == 10 + len(SERVER_FEATURES) * S
    assert obs_s.shape == (3, servers.M, servers.obs_dim)
    np.testing.assert_array_equal(obs_s[..., :10], obs_p)
    covered = np.zeros(servers.obs_dim, dtype=int)
    for sl in servers.obs_slices.values():
        covered[sl] += 1
    assert (covered == 1).all()  # the blocks tile the row exactly once
    assert all(
        servers.obs_slices[n].stop - servers.obs_slices[n].start == S for n in SERVER_FEATURES
    )


def test_server_features_match_the_env_state() -> None:
    env = _env()
    rng = np.random.default_rng(1)
    obs, _ = env.reset(7)
    sl = env.obs_slices
    np.testing.assert_array_equal(obs[..., sl["server_latency"]], 0.0)  # before the first slot
    np.testing.assert_array_equal(obs[..., sl["server_latency_gap"]], 0.0)
    for _ in range(env.horizon):
        action = _action(env, rng)
        obs, _, _, _, info = env.step(action)
        one_hot = np.eye(env.S)
        np.testing.assert_array_equal(obs[..., sl["server_connected"]], one_hot[env.connected])
        np.testing.assert_array_equal(obs[..., sl["server_previous"]], one_hot[action["server"]])
        np.testing.assert_array_equal(
            obs[..., sl["server_is_sat"]], np.broadcast_to(one_hot[env.SAT], (env.B, env.M, env.S))
        )
        lat = info["latency_by_server_s"]
        np.testing.assert_allclose(
            obs[..., sl["server_latency"]], lat / (lat + LATENCY_SCALE_S), rtol=1e-12
        )
        gap = obs[..., sl["server_latency_gap"]]
        np.testing.assert_array_equal(gap.min(axis=-1), 0.0)
        # the best server last slot is where the gap is 0
        best = lat.argmin(axis=-1)
        np.testing.assert_array_equal(np.take_along_axis(gap, best[..., None], -1), 0.0)
        for name in ("server_distance", "server_hops", "server_compute"):
            assert (obs[..., sl[name]] >= 0).all() and (obs[..., sl[name]] <= 1).all()
        # hops: 0 to the connected RSU itself and to the satellite
        hops = obs[..., sl["server_hops"]]
        np.testing.assert_array_equal(hops[..., env.SAT], 0.0)
        on_rsu = env.connected < env.SAT
        at_conn = np.take_along_axis(hops, env.connected[..., None], -1)[..., 0]
        np.testing.assert_array_equal(at_conn[on_rsu], 0.0)


def test_entity_layout_points_at_each_av_and_server() -> None:
    env = _env()
    layout = env.entity_layout
    assert layout is not None
    M, S, F = env.M, env.S, env.obs_dim
    assert layout.n_entities == M * S and layout.actions_per_entity == 1
    assert layout.shared_columns == ()
    obs, _ = env.reset(3)
    obs, *_ = env.step(_action(env, np.random.default_rng(0)))
    row = obs.reshape(env.B, M * F)
    cols = np.array(layout.entity_columns)  # [M·S, 10 + K]
    feats = row[:, cols]  # [B, M·S, 10 + K]
    k_conn = 10 + SERVER_FEATURES.index("server_connected")
    for m in range(M):
        for s in range(S):
            e = m * S + s  # action order
            np.testing.assert_array_equal(feats[:, e, :10], obs[:, m, :10])
            for k, name in enumerate(SERVER_FEATURES):
                np.testing.assert_array_equal(
                    feats[:, e, 10 + k], obs[:, m, env.obs_slices[name].start + s]
                )
    # is-connected is set exactly at the env's connected index, once per AV
    conn = feats[:, :, k_conn].reshape(env.B, M, S)
    np.testing.assert_array_equal(conn.argmax(-1), env.connected)
    np.testing.assert_array_equal(conn.sum(-1), 1.0)


def test_servers_observation_is_deterministic_per_seed() -> None:
    def run(seed: int) -> np.ndarray:
        env = _env()
        rng = np.random.default_rng(11)
        obs, _ = env.reset(seed)
        out = [obs]
        for _ in range(env.horizon):
            obs, *_ = env.step(_action(env, rng))
            out.append(obs)
        return np.stack(out)

    a, b, c = run(5), run(5), run(6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_servers_view_passes_the_gymnasium_checker() -> None:
    env = CrossRealityPrivacyEnv(config=load_config("paper-c-synth", SERVERS))
    check_env(env, skip_render_check=True)
    b = env.batched
    assert env.observation_space.shape == (b.M * b.obs_dim,)


def test_unknown_observation_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"privacy\.observation"):
        load_config("paper-c-synth", [*SMALL, "privacy.observation=everything"])
