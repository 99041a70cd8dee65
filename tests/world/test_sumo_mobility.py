"""SUMO mobility (``vehicles.mobility.kind = sumo``): a small generated grid, a user's net, a
geo-referenced net, slot mapping, determinism, errors and the SUMO presets of papers A-C.

Needs the ``vtwin[sumo]`` extra (libsumo and eclipse-sumo); skipped without it, except the
checks that the extra stays optional.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from vtwin.config import ConfigError, VTwinConfig, load_config
from vtwin.world.scenario import Scenario, scenario_sumo_track
from vtwin.world.sumo import SumoMobility, pick_vehicles, simulate, sumo_spec, sumo_track

try:  # the extra: libsumo, and eclipse-sumo for the binaries and tools
    import libsumo  # noqa: F401
    import sumo

    SUMO_HOME: Path | None = Path(sumo.SUMO_HOME)
except ImportError:
    SUMO_HOME = None

needs_sumo = pytest.mark.skipif(
    SUMO_HOME is None, reason="SUMO not installed (pip install 'vtwin[sumo]')"
)

# a 3 x 2 block grid of 200 m streets in a 600 m x 400 m area; 4 vehicles of a pool of 8;
# 2 s slots of four 0.5 s SUMO steps; 30 slots
SMALL = [
    "geography.width_m=600",
    "geography.height_m=400",
    "servers.rsu.count=4",
    "vehicles.count=4",
    "vehicles.mobility.kind=sumo",
    "vehicles.mobility.block_m=200",
    "vehicles.mobility.speed_mps=[8, 12]",
    "vehicles.mobility.sumo.pool=8",
    "vehicles.mobility.sumo.step_length_s=0.5",
    "vehicles.mobility.sumo.trip_period_s=1.0",
    "vehicles.mobility.sumo.cache=false",
    "slot_s=2.0",
    "horizon_slots=30",
]


def _small(*extra: str) -> VTwinConfig:
    return load_config("paper-a-tiny", [*SMALL, *extra])


def _netgenerate(out: Path, *args: str) -> Path:
    assert SUMO_HOME is not None
    subprocess.run(
        [
            str(SUMO_HOME / "bin" / "netgenerate"),
            "--xml-validation",
            "never",
            *args,
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def user_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 x 2 block grid of 150 m streets (a user's own net file)."""
    folder = tmp_path_factory.mktemp("sumo-net")
    return _netgenerate(
        folder / "mine.net.xml",
        "--grid",
        "--grid.x-number=3",
        "--grid.y-number=3",
        "--grid.length=150",
    )


# ------------------------------------------------------------------ generated grid


@needs_sumo
def test_generated_grid_positions_in_area_on_streets_and_active() -> None:
    config = _small()
    scenario = Scenario.from_config(config)
    mob = scenario.vehicles.mobility
    assert isinstance(mob, SumoMobility)
    traj = mob.trajectory(config.horizon_slots + 1)
    assert traj.shape == (31, 4, 2)
    assert np.all(traj >= 0.0)
    assert np.all(traj <= [600.0, 400.0])
    # vehicles drive along the streets: x or y lies near a multiple of 200 m (lane offsets
    # and junction shapes are a few metres)
    near = np.minimum(traj % 200.0, 200.0 - traj % 200.0)
    assert np.all(near.min(axis=-1) < 15.0)
    # keep_driving: every tracked vehicle drives the whole episode, and moves
    assert mob.active_matrix(31).all()
    assert np.all(np.linalg.norm(traj[-1] - traj[0], axis=-1) > 0) or np.any(
        np.linalg.norm(np.diff(traj, axis=0), axis=-1).sum(axis=0) > 100.0
    )
    speeds = np.linalg.norm(np.diff(traj, axis=0), axis=-1) / config.slot_s
    assert speeds.max() < 12.0 * 1.3  # the speed limit (upper speed_mps) times SUMO's factor
    summary = scenario.summary()
    assert summary["vehicle_mobility"] == "sumo"
    assert summary["sumo_pool"] == 8
    with pytest.raises(ValueError, match="beyond the 31 slots simulated"):
        mob.positions(31)


@needs_sumo
def test_same_seed_same_positions_other_seed_other_positions() -> None:
    spec = sumo_spec(_small(), seed=11)  # SUMO's seed, no caching
    first, again = simulate(spec), simulate(spec)
    assert first.vehicle_ids == again.vehicle_ids
    assert np.array_equal(first.xy_m, again.xy_m)
    assert np.array_equal(first.active, again.active)
    # through the scenario: the scenario seed picks SUMO's seed
    a = Scenario.from_config(_small(), seed=3).vehicles.mobility.trajectory(31)
    b = Scenario.from_config(_small(), seed=3).vehicles.mobility.trajectory(31)
    c = Scenario.from_config(_small(), seed=4).vehicles.mobility.trajectory(31)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # a fixed sumo.seed overrides the scenario's
    fixed = ["vehicles.mobility.sumo.seed=5"]
    d = Scenario.from_config(_small(*fixed), seed=3).vehicles.mobility.trajectory(31)
    e = Scenario.from_config(_small(*fixed), seed=4).vehicles.mobility.trajectory(31)
    assert np.array_equal(d, e)


@needs_sumo
def test_slot_is_a_whole_number_of_sumo_steps() -> None:
    """2 s slots of four 0.5 s steps read the same simulation as 0.5 s slots, every 4th."""
    coarse = simulate(sumo_spec(_small(), seed=2))
    fine = simulate(sumo_spec(_small("slot_s=0.5", "horizon_slots=120"), seed=2))
    assert coarse.start_time_s == fine.start_time_s
    assert fine.n_slots == 121
    assert np.array_equal(coarse.xy_m, fine.xy_m[::4])
    assert np.array_equal(coarse.active, fine.active[::4])


def test_slot_that_is_not_a_whole_number_of_steps_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"slot_s = 2 must be a whole number of SUMO steps"):
        _small("vehicles.mobility.sumo.step_length_s=0.3")


def test_bad_sumo_settings_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match=r"pool = 2 is below vehicles.count = 4"):
        _small("vehicles.mobility.sumo.pool=2")
    with pytest.raises(ConfigError, match=r"sumo is only used with kind 'sumo'"):
        _small("vehicles.mobility.kind=grid")
    with pytest.raises(ConfigError, match=r"names its own net and routes"):
        _small("vehicles.mobility.sumo.sumocfg=a.sumocfg", "vehicles.mobility.sumo.net_file=b")
    with pytest.raises(ConfigError, match=r"route_files = \['r.rou.xml'\] need net_file"):
        _small("vehicles.mobility.sumo.route_files=[r.rou.xml]")
    with pytest.raises(ConfigError, match=r"step_length_s = -1"):
        _small("vehicles.mobility.sumo.step_length_s=-1")
    with pytest.raises(ConfigError, match=r"sumo.lane: unknown key.*Did you mean 'lanes'"):
        _small("vehicles.mobility.sumo.lane=2")


def test_missing_files_name_the_field_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.net.xml"
    config = _small(f"vehicles.mobility.sumo.net_file={missing}")
    with pytest.raises(ValueError, match=rf"sumo.net_file = '{missing}': no such file"):
        sumo_spec(config, seed=0)
    config = _small(f"vehicles.mobility.sumo.sumocfg={tmp_path / 'x.sumocfg'}")
    with pytest.raises(ValueError, match=r"sumo.sumocfg = '.*x.sumocfg': no such file"):
        Scenario.from_config(config)


# ------------------------------------------------------------------ a user's net


@needs_sumo
def test_user_net_file_with_random_trips(user_net: Path) -> None:
    config = _small(f"vehicles.mobility.sumo.net_file={user_net}")
    track = sumo_track(config, seed=1)
    assert track.net_size_m == pytest.approx((300.0, 300.0), abs=1.0)
    assert track.latlon_deg is None  # not geo-referenced
    assert np.all(track.xy_m >= 0.0)
    assert np.all(track.xy_m <= 300.0 + 5.0)  # the net's boundary, plus a lane's offset
    assert track.active.all()


@needs_sumo
def test_user_net_with_routes_and_no_keep_driving(user_net: Path, tmp_path: Path) -> None:
    routes = tmp_path / "two.rou.xml"
    routes.write_text(
        '<routes>\n  <trip id="a" depart="0" from="A0B0" to="B0C0"/>\n'
        '  <trip id="b" depart="1" from="A1B1" to="B1C1"/>\n</routes>\n'
    )
    config = _small(
        f"vehicles.mobility.sumo.net_file={user_net}",
        f"vehicles.mobility.sumo.route_files=['{routes}']",
        "vehicles.mobility.sumo.keep_driving=false",
        "vehicles.count=2",
        "vehicles.mobility.sumo.pool=2",
    )
    track = sumo_track(config, seed=1)
    assert track.vehicle_ids == ("a", "b")
    # two 150 m edges at most ~12 m/s: both arrive within the 60 s episode, then stay put
    assert track.active[0].all()
    assert not track.active[-1].any()
    gone = np.argmax(~track.active, axis=0)
    for v in range(2):
        assert np.all(track.xy_m[gone[v] :, v] == track.xy_m[gone[v], v])
    # the same net and routes through a .sumocfg: the same simulation
    cfg = tmp_path / "mine.sumocfg"
    cfg.write_text(
        f'<configuration><input><net-file value="{user_net}"/>'
        f'<route-files value="{routes.name}"/></input></configuration>'
    )
    by_cfg = _small(
        f"vehicles.mobility.sumo.sumocfg={cfg}",
        "vehicles.mobility.sumo.keep_driving=false",
        "vehicles.count=2",
        "vehicles.mobility.sumo.pool=2",
    )
    assert np.array_equal(sumo_track(by_cfg, seed=1).xy_m, track.xy_m)
    too_many = _small(
        f"vehicles.mobility.sumo.net_file={user_net}",
        f"vehicles.mobility.sumo.route_files=['{routes}']",
    )
    with pytest.raises(ValueError, match=r"inserted only 2 vehicles but the pool needs 8"):
        sumo_track(too_many, seed=1)
    unknown = tmp_path / "unknown.rou.xml"
    unknown.write_text('<routes><trip id="z" depart="0" from="nope" to="A0B0"/></routes>')
    bad = _small(
        f"vehicles.mobility.sumo.net_file={user_net}",
        f"vehicles.mobility.sumo.route_files=['{unknown}']",
    )
    with pytest.raises(ValueError, match=r"SUMO could not load it: .*edge 'nope'") as err:
        sumo_track(bad, seed=1)
    assert "\n" not in str(err.value)
    assert sumo_track(config, seed=2).pool == 2  # a fresh run: libsumo is free again


@needs_sumo
def test_net_larger_than_the_area_or_broken_is_refused(tmp_path: Path) -> None:
    big = _netgenerate(
        tmp_path / "big.net.xml", "--grid", "--grid.x-number=5", "--grid.y-number=2",
        "--grid.length=300",
    )  # fmt: skip
    config = _small(f"vehicles.mobility.sumo.net_file={big}")
    with pytest.raises(ValueError, match=r"x 0\.\.1200 m.*outside the area of 600 m × 400 m"):
        sumo_track(config, seed=0)
    broken = tmp_path / "broken.net.xml"
    broken.write_text("<net><edge id='x'>")
    with pytest.raises(ValueError, match=r"net_file = '.*broken.net.xml': not a readable SUMO"):
        sumo_track(_small(f"vehicles.mobility.sumo.net_file={broken}"), seed=0)


@needs_sumo
def test_geo_referenced_net_gives_latlon_in_the_scenario_frame(tmp_path: Path) -> None:
    """A net built from lon/lat nodes (netconvert --proj.utm): positions go through
    SUMO's lon/lat and the scenario's projection, so they land where the nodes lie."""
    assert SUMO_HOME is not None
    lat0, lon0 = 31.20, 121.45
    dlat, dlon = 300.0 / 111_195.0, 300.0 / (111_195.0 * np.cos(np.radians(lat0)))
    nodes = tmp_path / "n.nod.xml"
    lines = []
    for i in range(3):
        for j in range(3):
            lon, lat = lon0 + (1 + i) * dlon / 2, lat0 + (1 + j) * dlat / 2
            lines.append(f'  <node id="n{i}{j}" x="{lon:.7f}" y="{lat:.7f}"/>')
    nodes.write_text("<nodes>\n" + "\n".join(lines) + "\n</nodes>\n")
    edges = tmp_path / "e.edg.xml"
    rows = []
    for i in range(3):
        for j in range(3):
            for di, dj in ((1, 0), (0, 1)):
                a, b = f"n{i}{j}", f"n{i + di}{j + dj}"
                if i + di < 3 and j + dj < 3:
                    rows.append(f'  <edge id="{a}{b}" from="{a}" to="{b}" speed="12"/>')
                    rows.append(f'  <edge id="{b}{a}" from="{b}" to="{a}" speed="12"/>')
    edges.write_text("<edges>\n" + "\n".join(rows) + "\n</edges>\n")
    net = tmp_path / "geo.net.xml"
    subprocess.run(
        [
            str(SUMO_HOME / "bin" / "netconvert"), "--node-files", str(nodes),
            "--edge-files", str(edges), "--proj.utm", "--xml-validation", "never",
            "-o", str(net),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    config = load_config(
        "paper-c-synth",
        [
            f"geography.origin_lat_deg={lat0}",
            f"geography.origin_lon_deg={lon0}",
            "geography.width_m=600",
            "geography.height_m=600",
            "servers.rsu.count=3",
            "servers.rsu.min_separation_m=50",
            "vehicles.count=2",
            "vehicles.mobility.kind=sumo",
            f"vehicles.mobility.sumo.net_file={net}",
            "vehicles.mobility.sumo.pool=3",
            "vehicles.mobility.sumo.cache=false",
            "horizon_slots=12",
        ],
    )
    scenario = Scenario.from_config(config)
    mob = scenario.vehicles.mobility
    assert isinstance(mob, SumoMobility)
    track = mob.track
    assert track.latlon_deg is not None
    xy = track.xy_m
    # nodes lie 150..450 m east and north of the origin
    assert np.all(xy >= 150.0 - 15.0)
    assert np.all(xy <= 450.0 + 15.0)
    # SUMO's lat/lon and the scenario's projection of the local metres agree (< 1 m)
    back = scenario.to_latlon(xy)
    err_m = np.abs(back - track.latlon_deg) * [111_195.0, 111_195.0 * np.cos(np.radians(lat0))]
    assert err_m.max() < 1.0
    assert np.array_equal(mob.positions_latlon(3), track.latlon_deg[3, :2])


# ------------------------------------------------------------------ views, picks, cache


@needs_sumo
def test_views_picks_and_disk_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTWIN_CACHE_DIR", str(tmp_path))
    config = _small("vehicles.mobility.sumo.cache=true", "vehicles.mobility.sumo.seed=9")
    track = sumo_track(config, seed=0)
    files = list((tmp_path / "sumo").glob("*.npz"))
    assert len(files) == 1
    from vtwin.world import sumo as sumo_module

    sumo_module._MEMORY.clear()
    loaded = sumo_track(config, seed=0)  # from disk
    assert loaded is not track
    assert np.array_equal(loaded.xy_m, track.xy_m)
    assert loaded.vehicle_ids == track.vehicle_ids
    picks = pick_vehicles(8, 4, [np.random.default_rng(s) for s in (0, 1, 0)])
    assert picks.shape == (3, 4)
    assert np.array_equal(picks[0], picks[2])
    assert all(len(set(row)) == 4 for row in picks)
    view = SumoMobility(track, picks.ravel())
    assert np.array_equal(view.positions(5).reshape(3, 4, 2)[1], track.xy_m[5, picks[1]])
    assert np.array_equal(pick_vehicles(4, 4, [np.random.default_rng(0)]), [[0, 1, 2, 3]])


def test_without_sumo_a_one_line_error_and_nothing_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = (
        "import sys, vtwin, vtwin.world.scenario, vtwin.envs.routing, vtwin.envs.privacy, "
        "vtwin.envs.premigration, vtwin.cli; "
        "print(any(m in sys.modules for m in ('libsumo', 'sumo', 'traci', 'sumolib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "libsumo", None)  # import libsumo now fails
    with pytest.raises(ValueError, match=r"needs SUMO .*pip install 'vtwin\[sumo\]'"):
        simulate(sumo_spec(_small(), seed=0))


# ------------------------------------------------------------------ presets and envs


def _run_env(env: Any, steps: int) -> int:
    env.reset(seed=1)
    done = 0
    for _ in range(steps):
        if hasattr(env, "agents"):
            if not env.agents:
                break
            env.step({a: env.action_space(a).sample() for a in env.agents})
        else:
            env.action_space.seed(0)
            env.step(env.action_space.sample())
        done += 1
    return done


@needs_sumo
@pytest.mark.parametrize("preset", ["paper-a-sumo", "paper-b-sumo", "paper-c-sumo"])
def test_sumo_presets_build_their_env_and_step(preset: str) -> None:
    from vtwin.envs.premigration import PreMigrationEnv
    from vtwin.envs.privacy import CrossRealityPrivacyEnv
    from vtwin.envs.routing import MigrationRoutingEnv

    short = ["horizon_slots=12"]
    env: Any
    if preset == "paper-a-sumo":
        env = PreMigrationEnv(preset, overrides=short)
    elif preset == "paper-b-sumo":
        env = MigrationRoutingEnv(preset, overrides=short)
    else:
        env = CrossRealityPrivacyEnv(preset, overrides=short)
    config = env.batched.config
    assert config.vehicles.mobility.kind == "sumo"
    assert _run_env(env, 5) == 5
    # the copy drives vehicles of the scenario's simulated pool
    track = scenario_sumo_track(config)
    assert track.n_slots == 13
    if preset == "paper-b-sumo":
        idx = env.batched.sumo_index[0]
        assert np.allclose(env.batched._veh_xy[0, 0], track.xy_m[0, idx])
    if preset == "paper-c-sumo":
        idx = env.batched.sumo_index[0]
        assert np.array_equal(env.batched._xy_tab[:, 0], track.xy_m[:, idx])


@needs_sumo
def test_cli_scenario_show_and_bad_net() -> None:
    from vtwin.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["scenario", "show", "paper-a-tiny", *_set(SMALL)])
    assert result.exit_code == 0, result.output
    assert "sumo_pool" in result.output
    bad = runner.invoke(
        app,
        ["scenario", "show", "paper-a-tiny", *_set([*SMALL, "vehicles.mobility.sumo.net_file=x"])],
    )
    assert bad.exit_code == 2
    assert "error:" in bad.output
    assert "vehicles.mobility.sumo.net_file = 'x'" in bad.output
    assert "Traceback" not in bad.output


def _set(overrides: list[str]) -> list[str]:
    return [part for item in overrides for part in ("--set", item)]
