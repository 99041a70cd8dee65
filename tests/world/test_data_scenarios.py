"""Scenarios from data files: trace formats and windows, 'data:' paths, RSUs from base stations,
and the real-data paper C presets (skipped without the shared data folder).

Every file written here holds made-up rows; the real files are only read, never copied.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import vtwin.data.samples as samples
from vtwin.config import ConfigError, load_config
from vtwin.data.samples import resolve_data_path, shared_data_dir
from vtwin.data.traces import detect_trace_format, read_traces
from vtwin.physics.geo import LocalProjection, haversine_m
from vtwin.world.mobility import TraceReplayMobility
from vtwin.world.scenario import Scenario
from vtwin.world.servers import ServerKind

BASE = "paper-c-synth"
"""Origin (31.15 N, 121.40 E), 10 km x 10 km: lat 31.15-31.2399, lon 121.40-121.5051."""

T0 = datetime(2007, 2, 20, 6, 0, 0)


# ------------------------------------------------------------------------- made-up data files


def fake_taxi_points(
    hours: float = 10.0, step_min: int = 10
) -> list[tuple[datetime, float, float]]:
    """A made-up taxi: (time, lat, lon) every ``step_min`` minutes, driving a loop in the box."""
    n = int(hours * 60 / step_min) + 1
    out = []
    for k in range(n):
        a = 2 * np.pi * k / 17.0
        lat = 31.195 + 0.03 * np.sin(a)
        lon = 121.452 + 0.035 * np.cos(a)
        out.append((T0 + timedelta(minutes=step_min * k), round(lat, 6), round(lon, 6)))
    return out


def write_suvnet(path: Path, points: list[tuple[datetime, float, float]], taxi: str = "7") -> Path:
    """Header-less SUVnet lines (10 fields), written in reverse time order (the format is
    unsorted)."""
    lines = [
        f"{1000 + k},{taxi},{lon},{lat},30,45,{t:%Y-%m-%d %H:%M:%S},0,,"
        for k, (t, lat, lon) in enumerate(points)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(reversed(lines)) + "\n")
    return path


def fake_stations() -> list[tuple[str, float, float]]:
    """Made-up stations (id, lat, lon): a jittered 8 x 8 lattice over the synth box with some
    stations 150 m apart, plus four outside the box."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(8):
        for j in range(8):
            lat = 31.155 + i * 0.011 + rng.uniform(-0.002, 0.002)
            lon = 121.405 + j * 0.0125 + rng.uniform(-0.002, 0.002)
            rows.append((f"s{len(rows)}", round(lat, 6), round(lon, 6)))
            if (i + j) % 5 == 0:  # a close neighbour, ~150 m north
                rows.append((f"s{len(rows)}", round(lat + 0.00135, 6), round(lon, 6)))
    for lat, lon in ((31.10, 121.45), (31.30, 121.45), (31.20, 121.35), (31.20, 121.55)):
        rows.append((f"s{len(rows)}", lat, lon))
    return rows


def write_station_csv(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{sid},{lat},{lon}\n" for sid, lat, lon in rows)
    path.write_text("station_id,latitude,longitude\n" + body)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of made-up files, found through VTWIN_DATA_DIR."""
    root = tmp_path / "data"
    write_suvnet(root / "taxi" / "fake_suvnet.txt", fake_taxi_points())
    write_station_csv(root / "stations" / "fake.csv", fake_stations())
    monkeypatch.setenv("VTWIN_DATA_DIR", str(root))
    return root


TRACE = [
    "vehicles.mobility.kind=trace",
    "vehicles.mobility.path=data:taxi/fake_suvnet.txt",
]
STATIONS = [
    "servers.rsu.placement=stations",
    "servers.rsu.stations_path=data:stations/fake.csv",
]


def windows(count: int, length_h: float, gap_h: float = 0.0) -> list[str]:
    return [
        f"vehicles.count={count}",
        f"vehicles.mobility.windows={{count: {count}, length_h: {length_h}, gap_h: {gap_h}}}",
    ]


# ------------------------------------------------------------------------- 'data:' paths


def test_data_prefix_resolves_under_the_data_folder(data_dir: Path) -> None:
    path = resolve_data_path("data:taxi/fake_suvnet.txt", "vehicles.mobility.path")
    assert path == data_dir.resolve() / "taxi" / "fake_suvnet.txt" and path.is_file()
    assert resolve_data_path("plain/file.csv", "x") == Path("plain/file.csv")
    for bad in ("data:", "data:../outside.csv", "data:/etc/passwd"):
        with pytest.raises(ValueError, match=r"^f = .*: after 'data:' write a path inside"):
            resolve_data_path(bad, "f")


def test_data_prefix_without_a_data_folder_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(samples, "shared_data_dir", lambda: None)
    cfg = load_config(BASE, [*TRACE, *windows(2, 1.0)])
    with pytest.raises(ValueError) as info:
        Scenario.from_config(cfg)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("vehicles.mobility.path = 'data:taxi/fake_suvnet.txt': no shared data")
    assert "VTWIN_DATA_DIR" in msg and "../shared/data" in msg
    cfg = load_config(BASE, STATIONS)
    with pytest.raises(ValueError, match=r"^servers\.rsu\.stations_path = 'data:stations/fake"):
        Scenario.from_config(cfg)


def test_data_prefix_with_a_bad_env_var_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VTWIN_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"^vehicles\.mobility\.path = .*VTWIN_DATA_DIR="):
        Scenario.from_config(load_config(BASE, [*TRACE, *windows(2, 1.0)]))


def test_missing_file_names_field_value_and_resolved_path(data_dir: Path) -> None:
    cfg = load_config(
        BASE, ["vehicles.mobility.kind=trace", "vehicles.mobility.path=data:nope.txt"]
    )
    with pytest.raises(ValueError, match=r"vehicles\.mobility\.path = 'data:nope\.txt' \(.*nope"):
        Scenario.from_config(cfg)


# ------------------------------------------------------------------------- formats and windows


def test_trace_format_detection(tmp_path: Path) -> None:
    pts = fake_taxi_points(hours=1.0)
    suv = write_suvnet(tmp_path / "a.txt", pts)
    tdrive = tmp_path / "b.txt"
    tdrive.write_text("".join(f"9,{t:%Y-%m-%d %H:%M:%S},{lon},{lat}\n" for t, lat, lon in pts))
    csv = tmp_path / "c.csv"
    csv.write_text(
        "timestamp,vehicle_id,latitude,longitude\n"
        + "".join(f"{t:%Y-%m-%d %H:%M:%S},9,{lat},{lon}\n" for t, lat, lon in pts)
    )
    folder = tmp_path / "taxis"
    folder.mkdir()
    (folder / "3.txt").write_text(tdrive.read_text())
    suv_folder = tmp_path / "suvnet"
    write_suvnet(suv_folder / "Taxi_105", pts)
    (suv_folder / "README.md").write_text("# not data\n")
    assert detect_trace_format(suv) == "suvnet"
    assert detect_trace_format(tdrive) == "tdrive"
    assert detect_trace_format(csv) == "csv"
    assert detect_trace_format(folder) == "tdrive"
    assert detect_trace_format(suv_folder) == "suvnet"
    expected = np.array([lat for _, lat, _ in pts])
    for path in (suv, tdrive, csv, folder, suv_folder):
        [tr] = read_traces(path)
        np.testing.assert_allclose(tr.lat_deg, expected)
    # a named format that does not fit the file fails naming file and line
    with pytest.raises(ValueError, match=r"a\.txt, line 1"):
        read_traces(suv, format="csv")


def test_windows_become_the_vehicles(data_dir: Path) -> None:
    cfg = load_config(BASE, [*TRACE, *windows(3, 2.0, 0.5)])
    sc = Scenario.from_config(cfg)
    mob = sc.vehicles.mobility
    assert isinstance(mob, TraceReplayMobility)
    assert mob.vehicle_ids == ("7/w0", "7/w1", "7/w2")
    # window k starts 2.5 k hours into the trace; slot j is j * 10 s into every window
    pts = fake_taxi_points()
    t = np.array([(p[0] - T0).total_seconds() for p in pts])
    lat = np.array([p[1] for p in pts])
    lon = np.array([p[2] for p in pts])
    for slot in (0, 7, 359):
        got = mob.positions_latlon(slot)
        for k in range(3):
            at = k * 2.5 * 3600 + slot * cfg.slot_s
            np.testing.assert_allclose(got[k], [np.interp(at, t, lat), np.interp(at, t, lon)])
    np.testing.assert_allclose(mob.last_fix_s, 2 * 3600.0)  # each window 2 h long
    assert mob.active(0).all()
    assert mob.active_matrix(2 * 360 + 1).all() and not mob.active(2 * 360 + 1).any()


def test_start_time_counts_on_the_windows_clock(data_dir: Path) -> None:
    base = load_config(BASE, [*TRACE, *windows(2, 3.0)])
    late = load_config(BASE, [*TRACE, *windows(2, 3.0), "vehicles.mobility.start_time_s=600"])
    a = Scenario.from_config(base).vehicles.mobility
    b = Scenario.from_config(late).vehicles.mobility
    np.testing.assert_allclose(b.positions(0), a.positions(60))  # 600 s = 60 slots of 10 s


def test_windows_longer_than_the_trace_name_the_config_fields(data_dir: Path) -> None:
    cfg = load_config(BASE, [*TRACE, *windows(3, 3.5, 0.5)])  # 11.5 h of a 10 h trace
    with pytest.raises(ValueError) as info:
        Scenario.from_config(cfg)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(
        "vehicles.mobility.windows: count 3 × length_h 3.5 + 2 × gap_h 0.5 = 11.5 h, more than "
        "the 10.00 h of trace '7' in 'data:taxi/fake_suvnet.txt'"
    )
    assert "windows.count, windows.length_h or windows.gap_h" in msg
    Scenario.from_config(load_config(BASE, [*TRACE, *windows(3, 3.0, 0.5)]))  # 10 h: fits


def test_window_count_must_match_vehicle_count() -> None:
    with pytest.raises(ConfigError, match=r"vehicles\.count = 2 must equal .*windows\.count = 3"):
        load_config(BASE, [*TRACE, *windows(3, 1.0), "vehicles.count=2"])


def test_vehicle_ids_pick_and_order_the_traces(tmp_path: Path) -> None:
    pts = fake_taxi_points(hours=1.0)
    folder = tmp_path / "taxis"
    folder.mkdir()
    for taxi in (3, 5, 8):
        (folder / f"{taxi}.txt").write_text(
            "".join(f"{taxi},{t:%Y-%m-%d %H:%M:%S},{lon},{lat}\n" for t, lat, lon in pts)
        )
    trace = ["vehicles.mobility.kind=trace", f"vehicles.mobility.path={folder}"]
    cfg = load_config(
        BASE, [*trace, "vehicles.mobility.vehicle_ids=['8', '3']", "vehicles.count=2"]
    )
    mob = Scenario.from_config(cfg).vehicles.mobility
    assert isinstance(mob, TraceReplayMobility) and mob.vehicle_ids == ("8", "3")
    cfg = load_config(
        BASE, [*trace, "vehicles.mobility.vehicle_ids=['8', '4']", "vehicles.count=2"]
    )
    with pytest.raises(ValueError, match=r"vehicle_ids: 4 not among the 3 trace\(s\) of "):
        Scenario.from_config(cfg)


# ------------------------------------------------------------------------- RSUs from stations


def _stations_scenario(count: int, spacing_m: float, seed: int = 0) -> Scenario:
    cfg = load_config(
        BASE, [*STATIONS, f"servers.rsu.count={count}", f"servers.rsu.min_separation_m={spacing_m}"]
    )
    return Scenario.from_config(cfg, seed=seed)


def _rsu_latlon(sc: Scenario) -> np.ndarray:
    return sc.to_latlon(sc.servers.xy_m[sc.servers.of_kind(ServerKind.RSU)])


def test_stations_inside_the_box_only(data_dir: Path) -> None:
    rows = fake_stations()
    proj = LocalProjection(31.15, 121.40)
    lat_max, lon_max = proj.to_latlon([10000.0, 10000.0])
    inside = [r for r in rows if 31.15 <= r[1] <= lat_max and 121.40 <= r[2] <= lon_max]
    assert 0 < len(inside) < len(rows)
    sc = _stations_scenario(len(inside), 0.0)  # no thinning, all of them
    info = sc.extras["rsu_stations"]
    assert info["stations"] == len(rows) and info["in_area"] == info["after_thinning"]
    assert info["in_area"] == len(inside)
    assert info["station_ids"] == tuple(r[0] for r in inside)  # file order
    xy = sc.servers.xy_m[sc.servers.of_kind(ServerKind.RSU)]
    assert (xy >= 0).all() and (xy <= 10000.0).all()
    np.testing.assert_allclose(_rsu_latlon(sc), [(r[1], r[2]) for r in inside], atol=1e-9)


def test_thinning_keeps_the_spacing(data_dir: Path) -> None:
    for spacing in (400.0, 1000.0):
        for seed in range(3):
            sc = _stations_scenario(10, spacing, seed)
            ll = _rsu_latlon(sc)
            d = haversine_m(ll[:, None, 0], ll[:, None, 1], ll[None, :, 0], ll[None, :, 1])
            assert d[~np.eye(len(ll), dtype=bool)].min() >= spacing
    unthinned = _stations_scenario(10, 0.0)
    ll = _rsu_latlon(_stations_scenario(unthinned.extras["rsu_stations"]["in_area"], 0.0))
    d = haversine_m(ll[:, None, 0], ll[:, None, 1], ll[None, :, 0], ll[None, :, 1])
    assert d[~np.eye(len(ll), dtype=bool)].min() < 400.0  # the close pairs exist before thinning


def test_station_subset_is_deterministic_per_seed_and_in_file_order(data_dir: Path) -> None:
    def ids(seed: int) -> tuple[str, ...]:
        return _stations_scenario(12, 400.0, seed).extras["rsu_stations"]["station_ids"]

    assert ids(3) == ids(3)
    assert len({ids(s) for s in range(5)}) > 1
    order = [r[0] for r in fake_stations()]
    for seed in range(3):
        picked = ids(seed)
        assert len(picked) == 12 and list(picked) == sorted(picked, key=order.index)
    a, b = _stations_scenario(12, 400.0, 3), _stations_scenario(12, 400.0, 3)
    np.testing.assert_array_equal(a.servers.xy_m, b.servers.xy_m)
    assert sorted(a.backhaul.edges) == sorted(b.backhaul.edges)


def test_too_few_stations_is_one_line_naming_count_spacing_and_file(data_dir: Path) -> None:
    with pytest.raises(ValueError) as info:
        _stations_scenario(60, 1000.0)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("servers.rsu.count = 60 but only ")
    assert "'data:stations/fake.csv'" in msg
    assert "servers.rsu.min_separation_m = 1000 m" in msg


def test_station_placement_reads_the_named_formats(tmp_path: Path) -> None:
    telecom = tmp_path / "telecom.csv"  # made-up rows in the Shanghai Telecom layout
    telecom.write_text(
        ",index,latitude,longitude,address,id\n"
        "0,0,31.2,121.45,31.2-121.45,0\n"
        "1,4,31.21,121.46,31.21-121.46,1\n"
        "2,9,31.5,121.46,31.5-121.46,2\n"
    )
    cfg = load_config(
        BASE,
        [
            "servers.rsu.placement=stations",
            f"servers.rsu.stations_path={telecom}",
            "servers.rsu.stations_format=shanghai-telecom",
            "servers.rsu.count=2",
        ],
    )
    sc = Scenario.from_config(cfg)
    assert sc.extras["rsu_stations"]["station_ids"] == ("0", "1")
    assert sc.summary()["rsu_stations"].startswith("telecom.csv: 2 in the area")


# ------------------------------------------------------------------------- the real presets


def real_data_or_skip(*parts: str) -> Path:
    found = shared_data_dir()
    path = None if found is None else found.joinpath(*parts)
    if path is None or not path.exists():
        pytest.skip(
            f"shared data folder not found: {'/'.join(parts)} is needed (set VTWIN_DATA_DIR or "
            "place the folder at ../shared/data; it exists only in the development workspace)"
        )
    return path


REAL = {
    "paper-c": [
        ("shanghai-taxi", "sjtu_suvnet_taxi257155_2007-01-31.txt"),
        ("base-stations", "shanghai_telecom_base_stations_all.csv"),
    ],
    "paper-c-beijing": [
        ("t-drive", "taxis"),
        ("base-stations", "beijing_bs_cellocation.csv"),
    ],
}


@pytest.mark.parametrize("preset", sorted(REAL))
def test_real_paper_c_presets_build(preset: str) -> None:
    for parts in REAL[preset]:
        real_data_or_skip(*parts)
    cfg = load_config(preset)
    sc = Scenario.from_config(cfg)
    w, h = sc.area_m
    n_rsu = cfg.servers.rsu.count
    assert sc.servers.count(ServerKind.RSU) == n_rsu and sc.servers.count(ServerKind.SAT) == 1
    rsu = sc.servers.xy_m[sc.servers.of_kind(ServerKind.RSU)]
    assert (rsu >= 0).all() and (rsu[:, 0] <= w).all() and (rsu[:, 1] <= h).all()
    ll = _rsu_latlon(sc)
    d = haversine_m(ll[:, None, 0], ll[:, None, 1], ll[None, :, 0], ll[None, :, 1])
    assert d[~np.eye(n_rsu, dtype=bool)].min() >= cfg.servers.rsu.min_separation_m
    mob = sc.vehicles.mobility
    assert isinstance(mob, TraceReplayMobility) and mob.n == 5
    assert mob.active(0).all()  # 5 vehicles driving at slot 0
    active = mob.active_matrix(cfg.horizon_slots)
    assert active.all()  # ... and through the whole episode
    traj = mob.trajectory(cfg.horizon_slots)
    assert (traj[..., 0] >= 0).all() and (traj[..., 0] <= w).all()
    assert (traj[..., 1] >= 0).all() and (traj[..., 1] <= h).all()
    moved = np.linalg.norm(traj[-1] - traj[0], axis=-1) + np.linalg.norm(
        np.diff(traj, axis=0), axis=-1
    ).sum(axis=0)
    assert (moved > 0).all()
    summary = sc.summary()
    assert summary["vehicles"] == 5 and summary["vehicles_active_slot0"] == 5
    assert summary["rsu_count"] == n_rsu and 0 < summary["vehicle_mean_speed_mps"] < 30


def test_real_paper_c_uses_the_whole_taxi_trace_inside_its_box() -> None:
    path = real_data_or_skip(*REAL["paper-c"][0])
    cfg = load_config("paper-c")
    [taxi] = read_traces(path, format="suvnet")
    proj = LocalProjection(cfg.geography.origin_lat_deg, cfg.geography.origin_lon_deg)
    xy = proj.to_xy(taxi.lat_deg, taxi.lon_deg)
    assert (xy >= 0).all() and (xy[:, 0] <= cfg.geography.width_m).all()
    assert (xy[:, 1] <= cfg.geography.height_m).all()
    mob = Scenario.from_config(cfg).vehicles.mobility
    assert isinstance(mob, TraceReplayMobility)
    assert mob.vehicle_ids == tuple(f"{taxi.vehicle_id}/w{k}" for k in range(5))


def test_real_paper_c_is_deterministic_per_seed() -> None:
    for parts in REAL["paper-c"]:
        real_data_or_skip(*parts)
    cfg = load_config("paper-c")
    a, b, c = (Scenario.from_config(cfg, seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.servers.xy_m, b.servers.xy_m)
    assert not np.array_equal(a.servers.xy_m, c.servers.xy_m)
