"""Paper C's reference policies: Geo-I (planar Laplace + greedy server), random, nearest."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vtwin.config import load_config
from vtwin.envs.privacy import BatchedCrossRealityPrivacy
from vtwin.envs.privacy_policies import (
    GeoIPolicy,
    MaxRadiusPolicy,
    NearestPolicy,
    RandomHybridPolicy,
    make_privacy_policy,
    run_episode,
)
from vtwin.physics.privacy import sample_planar_laplace

SMALL = [
    "horizon_slots=10",
    "servers.rsu.count=8",
    "geography.width_m=3000",
    "geography.height_m=3000",
]


def _env(B: int = 2) -> BatchedCrossRealityPrivacy:
    return BatchedCrossRealityPrivacy(load_config("paper-c-synth", SMALL), B)


@pytest.mark.parametrize("epsilon", [0.04, 1.0, 25.0])
def test_lambert_w_radius_agrees_with_an_independent_gamma_sampler(epsilon: float) -> None:
    r, _ = sample_planar_laplace(epsilon, 20_000, np.random.default_rng(1))
    gamma = np.random.default_rng(2).gamma(2.0, 1.0 / epsilon, 20_000)  # Gamma(2, 1/ε)
    assert stats.ks_2samp(r, gamma).pvalue > 0.001
    assert float(r.mean()) == pytest.approx(2.0 / epsilon, rel=0.03)


def test_geo_i_perturbs_within_the_bound_and_picks_the_best_past_server() -> None:
    env = _env()
    env.reset(3)
    policy = GeoIPolicy(seed=4)
    policy.reset(env)
    first = policy.act(env)
    np.testing.assert_array_equal(first["server"], env.connected)  # no history yet
    assert np.all((first["radius_deg"] >= 0) & (first["radius_deg"] <= env.r_max_deg))
    _, _, _, _, info = env.step(first)
    policy.observe(info)
    second = policy.act(env)
    np.testing.assert_array_equal(second["server"], np.argmin(info["latency_by_server_s"], -1))
    # the radius in metres follows the configured budget: mean 2/ε below the r_max cut
    eps_km = env.privacy.geo_i_epsilon_per_km
    big = GeoIPolicy(seed=0)
    env_big = BatchedCrossRealityPrivacy(load_config("paper-c-synth", SMALL), 400)
    env_big.reset(0)
    r_m = big.act(env_big)["radius_deg"] * env_big.m_per_deg[1]
    cut = env_big.r_max_m
    expected = stats.gamma(2.0, scale=1e3 / eps_km)
    # E[min(R, cut)] of R ~ Gamma(2, 1/ε)
    grid = np.linspace(0.0, cut, 20_001)
    mean_cut = float(np.trapezoid(expected.sf(grid), grid))
    assert float(r_m.mean()) == pytest.approx(mean_cut, rel=0.05)


def test_policies_by_name_and_episodes() -> None:
    env = _env()
    assert isinstance(make_privacy_policy("geo_i"), GeoIPolicy)
    assert isinstance(make_privacy_policy("random"), RandomHybridPolicy)
    assert isinstance(make_privacy_policy("nearest"), NearestPolicy)
    assert isinstance(make_privacy_policy("max_radius"), MaxRadiusPolicy)
    with pytest.raises(
        ValueError, match="unknown paper C policy 'x'; known: geo_i, max_radius, random, nearest"
    ):
        make_privacy_policy("x")
    with pytest.raises(ValueError, match="epsilon_per_km = -1"):
        GeoIPolicy(-1.0)
    out = {
        name: run_episode(env, make_privacy_policy(name, seed=1), 7)
        for name in ("nearest", "geo_i", "random", "max_radius")
    }
    for res in out.values():
        assert res["utility"].shape == (env.horizon, env.B, env.M)
    # no protection: the adversary is sure; noise makes it doubt
    assert out["nearest"]["confidence"].mean() > 0.99
    assert out["geo_i"]["entropy_bits"].mean() > out["nearest"]["entropy_bits"].mean() + 1.0
    # Geo-I's greedy servers beat random ones on latency
    assert out["geo_i"]["latency_s"].mean() < out["random"]["latency_s"].mean()
    # the largest radius protects most, with the same greedy servers as Geo-I
    assert out["max_radius"]["entropy_bits"].mean() > out["random"]["entropy_bits"].mean()
    assert out["max_radius"]["utility"].mean() > out["geo_i"]["utility"].mean()
    again = run_episode(env, make_privacy_policy("geo_i", seed=1), 7)
    np.testing.assert_array_equal(again["utility"], out["geo_i"]["utility"])
