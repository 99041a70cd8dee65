"""Paper B's reward (eq. (22)) inside the routing env: weights, z-score scopes, reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from vtwin.config import load_config
from vtwin.envs.routing import BatchedMigrationRouting
from vtwin.rewards import reference_moments

TINY = "paper-b-tiny"


def tiny(*overrides: str, batch: int = 1, **kwargs: Any) -> BatchedMigrationRouting:
    return BatchedMigrationRouting(load_config(TINY, list(overrides)), batch, **kwargs)


def test_reward_components_sum_to_minus_reward_and_follow_running_zscores() -> None:
    env = tiny(
        "reward.weights.latency=2.0",
        "reward.weights.load=0.5",
        "reward.weights.failure=3.0",
        "routing.zscore_scope=episode",
        batch=2,
    )
    env.reset(1)
    rng = np.random.default_rng(2)
    history: dict[str, list[list[float]]] = {"latency": [[], []], "load": [[], []]}
    for _ in range(env.horizon):
        _, reward, term, trunc, info = env.step(rng.integers(0, env.M, (2, env.V)))
        comp = info["reward_components"]
        np.testing.assert_allclose(comp["latency"] + comp["load"] + comp["failure"], -reward)
        active = info["server"] >= 0
        np.testing.assert_array_equal(comp["failure"], 3.0 * info["failure"])
        for b in range(2):
            parts = (("latency", info["latency_s"], 2.0), ("load", info["load_mb"], 0.5))
            for key, raw, w in parts:
                history[key][b] += list(raw[b][active[b]])
                if not active[b].any():
                    continue
                seen = np.array(history[key][b])
                z = (raw[b] - seen.mean()) / max(seen.std(), 1e-6)
                np.testing.assert_allclose(
                    comp[key][b][active[b]], w * z[active[b]], rtol=1e-9, atol=1e-9
                )
        assert np.all(reward[~active] == 0.0)
        if (term | trunc).all():
            break


def test_zscore_scope_env_keeps_statistics_across_episodes() -> None:
    per_episode, per_env = tiny("routing.zscore_scope=episode"), tiny("routing.zscore_scope=env")
    for env in (per_episode, per_env):
        env.reset(0)
        env.step(np.zeros((1, env.V), dtype=int))
        env.reset(1)
    assert per_episode.reward._stats["latency"][0, 0] == 0  # type: ignore[attr-defined]
    assert per_env.reward._stats["latency"][0, 0] == per_env.V  # type: ignore[attr-defined]


def test_reference_zscores_are_fixed_and_shared_by_every_env_of_a_config() -> None:
    a, b = tiny("reward.weights.failure=0.0"), tiny(batch=3)
    ref = reference_moments(a.config, BatchedMigrationRouting)
    assert ref == reference_moments(b.config, BatchedMigrationRouting) and ref["latency"][1] > 0
    for env in (a, b):
        env.reset(4)
        _, _, _, _, info = env.step(np.full((env.B, env.V), env.M - 1))
        comp = info["reward_components"]
        active = info["server"] >= 0
        (mu_t, sd_t), (mu_s, sd_s) = ref["latency"], ref["load"]
        np.testing.assert_allclose(
            comp["latency"][active], ((info["latency_s"] - mu_t) / sd_t)[active]
        )
        np.testing.assert_allclose(comp["load"][active], ((info["load_mb"] - mu_s) / sd_s)[active])
        assert info["zscore"]["latency_mean"][0] == mu_t


def test_an_ablation_can_share_the_full_systems_reward_reference() -> None:
    full = load_config(TINY)
    no_uav = load_config(TINY, ["servers.uav.count=0"])
    env = BatchedMigrationRouting(no_uav, 1, reference=full)
    ref = env.reward._reference  # type: ignore[attr-defined]
    assert ref == reference_moments(full, BatchedMigrationRouting)
    assert ref != reference_moments(no_uav, BatchedMigrationRouting)
