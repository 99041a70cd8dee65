"""Background load models: paper A's diurnal arrivals and paper B's traffic-flow days."""

from __future__ import annotations

import numpy as np
import pytest

from vtwin.config import WorkloadConfig, load_config
from vtwin.world.background import DiurnalArrivals, TrafficDays, load_weights
from vtwin.world.scenario import Scenario
from vtwin.world.servers import ServerKind
from vtwin.world.workload import flow_to_load


def _arrivals(seed: int = 0, n_servers: int = 6, batch: int = 1, **kw) -> DiurnalArrivals:
    params = {"slot_s": kw.pop("slot_s", 300.0), "phase_jitter_h": kw.pop("phase_jitter_h", 0.5)}
    mean = kw.pop("mean", np.full(n_servers, 2.0e6))
    shape = {"start_hour": 0.0, "diurnal_amplitude": 1.0, "noise_std": 0.1} | kw
    bg = DiurnalArrivals(mean, batch, workload=WorkloadConfig(**shape), **params)
    bg.reset([np.random.default_rng(seed + b) for b in range(batch)])
    return bg


def test_series_shape_non_negative_and_deterministic_per_seed() -> None:
    s = _arrivals(seed=11).series(800)
    assert s.shape == (800, 6) and s.dtype == np.float64 and np.all(s >= 0)
    np.testing.assert_array_equal(_arrivals(seed=11).series(800), s)
    assert not np.allclose(_arrivals(seed=12).series(800), s)


def test_copy_b_of_a_batch_equals_a_single_run_with_its_stream() -> None:
    batch = _arrivals(seed=3, batch=3, noise_corr=0.5)
    rows = np.stack([batch.load(t) for t in range(300)])  # [T, B, n]
    for b in range(3):
        np.testing.assert_array_equal(rows[:, b], _arrivals(seed=3 + b, noise_corr=0.5).series(300))


@pytest.mark.parametrize("noise_corr", [0.0, 0.9])
def test_mean_over_whole_days(noise_corr: float) -> None:
    slots_per_day = 24 * 12  # 5-minute slots
    s = _arrivals(seed=2, noise_std=0.3, noise_corr=noise_corr, n_servers=20).series(
        7 * slots_per_day
    )
    np.testing.assert_allclose(s.mean(), 2.0e6, rtol=0.10)
    np.testing.assert_allclose(s.mean(axis=0), 2.0e6, rtol=0.10 if noise_corr == 0 else 0.25)


def test_no_noise_no_diurnal_is_constant_mean() -> None:
    s = _arrivals(noise_std=0.0, diurnal_amplitude=0.0).series(50)
    np.testing.assert_allclose(s, 2.0e6, rtol=1e-12)


def test_follows_the_daily_shape() -> None:
    s = _arrivals(noise_std=0.05, phase_jitter_h=0.0, slot_s=3600.0).series(24 * 5)
    daily = s.reshape(5, 24, -1).mean(axis=(0, 2))
    assert abs(int(np.argmax(daily)) - 18) <= 1
    assert daily[3] < 0.5 * daily.max()


def test_servers_with_zero_mean_get_nothing_and_others_scale_with_it() -> None:
    mean = np.array([1.0, 1.0, 3.0, 0.0, 2.0, 1.0]) * 1e6
    s = _arrivals(seed=4, mean=mean).series(24 * 12 * 2).mean(axis=0)
    assert s[3] == 0.0
    cold = s[mean == 1e6].mean()
    assert s[2] > 2.5 * cold and s[4] > 1.6 * cold and s[2] > s[4]


def test_noise_corr_gives_autocorrelation() -> None:
    s = _arrivals(seed=5, diurnal_amplitude=0.0, noise_std=0.3, noise_corr=0.9).series(3000)
    x = np.log(s[:, 0])
    assert 0.8 < np.corrcoef(x[:-1], x[1:])[0, 1] < 0.97
    iid = np.log(_arrivals(seed=5, diurnal_amplitude=0.0, noise_std=0.3).series(3000)[:, 0])
    assert abs(np.corrcoef(iid[:-1], iid[1:])[0, 1]) < 0.1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mean": [1.0, -2.0]}, "mean"),
        ({"slot_s": -5.0}, "slot_s"),
        ({"diurnal_amplitude": 1.5}, "diurnal_amplitude"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"noise_corr": 1.0}, "noise_corr"),
        ({"phase_jitter_h": -1.0}, "phase_jitter_h"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _arrivals(**kwargs)


def test_reset_needs_one_generator_per_copy() -> None:
    bg = DiurnalArrivals(np.ones(2), 2, slot_s=1.0, workload=WorkloadConfig())
    with pytest.raises(ValueError, match="one per copy"):
        bg.reset([np.random.default_rng(0)])


def test_traffic_days_replay_the_drawn_day_scaled_per_vehicle() -> None:
    per = np.array([2.0, 0.0, 1.5])
    bg = TrafficDays(per, 4, days=3, slot_s=300.0, horizon=10, window=2, start_hour=8.0, seed=1)
    assert bg.pool.shape == (3, 13, 3) and np.all(bg.pool[..., 1] == 0)
    again = TrafficDays(per, 1, days=3, slot_s=300.0, horizon=10, window=2, start_hour=8.0, seed=1)
    np.testing.assert_array_equal(again.pool, bg.pool)
    flow = TrafficDays(
        np.ones(3), days=3, slot_s=300.0, horizon=10, window=2, start_hour=8.0, seed=1
    )
    np.testing.assert_array_equal(bg.pool, flow_to_load(flow.pool, per))
    bg.reset([np.random.default_rng(s) for s in range(4)])
    assert np.all((bg.day >= 0) & (bg.day < 3))
    for t in (0, 5, 10):
        np.testing.assert_array_equal(bg.load(t), bg.pool[bg.day, 2 + t])


def test_load_weights_follow_the_workload_kinds_and_hotspots() -> None:
    cfg = load_config("paper-a")
    sc = Scenario.from_config(cfg)
    w = load_weights(cfg, sc.servers.kind, sc.servers.xy_m)
    rsu = sc.servers.kind == ServerKind.RSU
    assert np.all(w[~rsu] == 0) and np.all(w[rsu] >= 1.0) and w.max() == pytest.approx(1.6)
    both = cfg.model_copy(
        update={"workload": cfg.workload.model_copy(update={"servers": ("rsu", "uav")})}
    )
    w2 = load_weights(both, sc.servers.kind, sc.servers.xy_m)
    np.testing.assert_array_equal(w2[rsu], w[rsu])
    assert np.all(w2[sc.servers.kind == ServerKind.UAV] == 1.0)
