"""Paper D's sensors on real road positions (``sensors.placement = 'file'``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from vtwin.config import ConfigError, load_config
from vtwin.data.samples import shared_data_dir
from vtwin.envs import make_parallel
from vtwin.envs.twin_update import BatchedTwinUpdate, TwinUpdateEnv
from vtwin.physics.geo import LocalProjection

SMALL = ["horizon_slots=12", "sensors.count=6", "servers.uav.count=2"]
CENTRE = (37.30, -121.90)


@pytest.fixture
def sensor_file(tmp_path: Path) -> Path:
    """Ten made-up sensors within 1 km of CENTRE (ids r0…r9), two far away (f0, f1)."""
    rng = np.random.default_rng(5)
    near = rng.uniform(-450.0, 450.0, (10, 2))
    far = np.array([[8000.0, 0.0], [0.0, -9000.0]])
    ll = LocalProjection(*CENTRE).to_latlon(np.vstack([near, far]))
    ids = [f"r{i}" for i in range(10)] + ["f0", "f1"]
    lines = [f"{i},{lat:.7f},{lon:.7f}" for i, (lat, lon) in zip(ids, ll, strict=True)]
    f = tmp_path / "made_up_sensors.csv"
    f.write_text("sensor_id,latitude,longitude\n" + "\n".join(lines) + "\n")
    return f


def file_overrides(path: Path, *extra: str) -> list[str]:
    return [*SMALL, "sensors.placement=file", f"sensors.locations_file={path}", *extra]


def file_env(path: Path, B: int = 3, *extra: str) -> BatchedTwinUpdate:
    return BatchedTwinUpdate(load_config("paper-d", file_overrides(path, *extra)), B)


def test_positions_are_k_distinct_window_sensors_inside_the_area(sensor_file: Path) -> None:
    env = file_env(sensor_file, 4)
    env.reset(0)
    assert env.sensor_window is not None and len(env.sensor_window) == 10
    assert env.sensor_ids is not None and len(env.sensor_ids) == 4
    for b in range(4):
        xy, ids = env.sensor_xy[b], env.sensor_ids[b]
        assert xy.shape == (6, 2) and np.all((xy >= 0.0) & (xy <= 1000.0))
        assert len(set(ids)) == 6 and all(i.startswith("r") for i in ids)
        assert len({tuple(p) for p in xy}) == 6
        window_ids = env.sensor_window.locations.sensor_id
        rows = [window_ids.index(i) for i in ids]
        assert np.array_equal(xy, env.sensor_window.xy_m[rows])
    assert len({env.sensor_ids[b] for b in range(4)}) > 1  # each copy draws its own subset


def test_same_seed_same_sensors_other_seed_others(sensor_file: Path) -> None:
    a, b = file_env(sensor_file), file_env(sensor_file)
    a.reset(10)
    b.reset(10)
    assert np.array_equal(a.sensor_xy, b.sensor_xy) and a.sensor_ids == b.sensor_ids
    picks = set()
    for seed in range(8):
        b.reset([seed, seed, seed])
        assert b.sensor_ids is not None and len(set(b.sensor_ids)) == 1  # copy of seed s
        picks.add(b.sensor_ids[0])
    assert len(picks) > 1


def test_file_placement_keeps_the_other_draws_of_a_seed(sensor_file: Path) -> None:
    uniform = BatchedTwinUpdate(load_config("paper-d", SMALL), 2)
    placed = file_env(sensor_file, 2)
    uniform.reset(3)
    placed.reset(3)
    for name in ("uav_xy", "f_u", "task_bits", "task_zmax", "task_fmax"):
        assert np.array_equal(getattr(uniform, name), getattr(placed, name)), name
    assert not np.array_equal(uniform.sensor_xy, placed.sensor_xy)


def test_uniform_default_draws_are_unchanged() -> None:
    env = BatchedTwinUpdate(load_config("paper-d", SMALL), 2)
    env.reset(4)
    assert env.sensor_window is None and env.sensor_ids is None
    for b, seed in enumerate((4, 5)):
        rng = np.random.default_rng(seed)
        area = np.array([1000.0, 1000.0])
        assert np.array_equal(env.sensor_xy[b], rng.uniform(0.0, 1.0, (6, 2)) * area)
        assert np.array_equal(env.uav_xy[b], rng.uniform(0.0, 1.0, (2, 2)) * area)
        assert np.array_equal(env.f_u[b], rng.uniform(100.0, 400.0, 2))


def test_a_window_centred_on_a_point(sensor_file: Path) -> None:
    env = file_env(sensor_file, 1, f"sensors.center_latlon=[{CENTRE[0]}, {CENTRE[1]}]")
    assert env.sensor_window is not None and env.sensor_window.how == "center"
    assert env.sensor_window.center_lat_deg == CENTRE[0]


def test_parallel_api_with_file_sensors(sensor_file: Path) -> None:
    env = make_parallel("vtwin/TwinUpdate-v0", overrides=file_overrides(sensor_file))
    parallel_api_test(env, num_cycles=30)
    view = TwinUpdateEnv(overrides=file_overrides(sensor_file))
    obs, _ = view.reset(seed=1)
    batched = file_env(sensor_file, 1)
    batched.reset([1])
    np.testing.assert_allclose(obs["sensor_0"][1:3], batched.sensor_xy[0, 0] / 1000.0, rtol=1e-6)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"placement = 'file' needs sensors\.locations_file"):
        load_config("paper-d", ["sensors.placement=file"])
    with pytest.raises(ConfigError, match=r"sensors\.locations_file = 'x\.csv' is only used"):
        load_config("paper-d", ["sensors.locations_file=x.csv"])
    with pytest.raises(ConfigError, match=r"sensors\.center_latlon = \(37\.0, -122\.0\) is only"):
        load_config("paper-d", ["sensors.center_latlon=[37, -122]"])
    far_north = ["sensors.placement=file", "sensors.locations_file=x.csv"]
    with pytest.raises(ConfigError, match=r"sensors\.center_latlon\.0 = 95"):
        load_config("paper-d", [*far_north, "sensors.center_latlon=[95, 0]"])
    with pytest.raises(ConfigError, match=r"sensors\.placement = 'grid'.*'uniform' or 'file'"):
        load_config("paper-d", ["sensors.placement=grid"])


def test_env_errors_name_the_config_field(sensor_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(ValueError, match=r"^sensors\.locations_file = .*: no such sensor loc"):
        file_env(missing)
    bad = tmp_path / "bad.csv"
    bad.write_text("sensor_id,latitude,longitude\na,91,0\n")
    with pytest.raises(ValueError, match=r"^sensors\.locations_file = .*line 2: field 'latit"):
        file_env(bad)
    with pytest.raises(ValueError, match=r"holds 10 of the 12 sensors, fewer than the 11 needed; "):
        file_env(sensor_file, 1, "sensors.count=11")


def test_the_pems_preset() -> None:
    found = shared_data_dir()
    path = None if found is None else found / "pems/pems-bay_sensors/graph_sensor_locations_bay.csv"
    if path is None or not path.is_file():
        pytest.skip(
            "shared data folder not found: pems/pems-bay_sensors/graph_sensor_locations_bay.csv "
            "is needed by paper-d-pems (set VTWIN_DATA_DIR or place the folder at ../shared/data)"
        )
    cfg = load_config("paper-d-pems")
    assert cfg.sensors.count == 30 and cfg.sensors.placement == "file"
    env = BatchedTwinUpdate(cfg, 2)
    env.reset(0)
    assert env.sensor_window is not None and len(env.sensor_window) >= 30
    assert env.sensor_ids is not None and all(len(set(ids)) == 30 for ids in env.sensor_ids)
    assert np.all((env.sensor_xy >= 0.0) & (env.sensor_xy <= 3500.0))
    rng = np.random.default_rng(0)
    for _ in range(5):
        _, reward, _, _, _ = env.step(env.random_actions(rng))
        assert np.all(np.isfinite(reward))


def test_the_scenario_places_file_sensors_too(sensor_file: Path) -> None:
    from vtwin.world.scenario import Scenario, file_sensor_window

    cfg = load_config("paper-d", file_overrides(sensor_file))
    sc = Scenario.from_config(cfg, seed=2)
    window = file_sensor_window(cfg)
    assert sc.sensors.n == 6
    rows = [int(np.flatnonzero((window.xy_m == p).all(axis=1))[0]) for p in sc.sensors.xy_m]
    assert len(set(rows)) == 6
