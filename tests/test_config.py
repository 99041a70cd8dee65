"""Config: presets validate, overrides apply, and bad input fails naming field, value, range."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vtwin.config import (
    ConfigError,
    VTwinConfig,
    apply_overrides,
    config_to_yaml,
    list_presets,
    load_config,
)

PRESETS = [
    "paper-a",
    "paper-b-city",
    "paper-b-rural",
    "paper-b-tiny",
    "paper-c",
    "paper-c-beijing",
    "paper-c-synth",
    "paper-d",
    "paper-d-tiny",
]


def test_every_paper_preset_is_shipped_and_valid() -> None:
    assert set(PRESETS) <= set(list_presets())
    for name in PRESETS:
        cfg = load_config(name)
        assert cfg.name == name
        assert isinstance(cfg, VTwinConfig)


def test_presets_hold_the_papers_table_values() -> None:
    a = load_config("paper-a")
    assert a.servers.rsu.count == 16 and a.premigration is not None
    assert a.premigration.alpha_levels == [0.0, 0.25, 0.5, 0.75, 1.0]
    b = load_config("paper-b-city")
    assert b.slot_s == 30.0 and b.vehicles.count == 5 and b.servers.uav.count == 10
    assert 68 <= b.servers.rsu.count <= 84
    assert b.servers.uav.speed_mps == 3.7 and b.servers.uav.altitude_m == 50.0
    assert b.servers.rsu.capacity_mb == 300.0 and b.servers.sat.compute_ghz == 80.0
    assert b.servers.rsu.coverage_m == 1200.0 and b.servers.uav.coverage_m == 1500.0
    assert b.routing is not None and b.routing.migration_mb == 60.0
    c = load_config("paper-c")
    assert c.channel.carrier_ghz == 0.915 and c.channel.path_loss_exponent == 2.8
    assert c.channel.noise_density_dbm_per_hz == -174.0 and c.channel.noise_dbm is None
    assert c.privacy is not None and c.privacy.utility_weights == (1.0, 0.02, 0.2)
    d = load_config("paper-d")
    assert d.sensors.count == 30 and d.twin_update is not None
    assert d.twin_update.z_max == (400.0, 600.0)


def test_rural_extends_city_and_is_sparser() -> None:
    city, rural = load_config("paper-b-city"), load_config("paper-b-rural")
    assert rural.servers.rsu.count < city.servers.rsu.count
    assert rural.servers.uav == city.servers.uav  # inherited unchanged
    assert rural.routing == city.routing


def test_dotted_override_changes_value_and_parses_yaml_types() -> None:
    cfg = load_config(
        "paper-a",
        ["servers.rsu.count=20", "servers.rsu.grid_cols=5", "vehicles.mobility.speed_mps=[5, 6]"],
    )
    assert cfg.servers.rsu.count == 20
    assert cfg.vehicles.mobility.speed_mps == (5.0, 6.0)


def test_apply_overrides_does_not_mutate_input() -> None:
    data = {"a": {"b": 1}}
    out = apply_overrides(data, ["a.b=2", "a.c.d=x"])
    assert data == {"a": {"b": 1}}
    assert out == {"a": {"b": 2, "c": {"d": "x"}}}


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("servers.rsu.cuont=3", r"servers\.rsu\.cuont: unknown key\. Did you mean 'count'\?"),
        ("servers.rsu.bandwidth_mhz=-5", r"servers\.rsu\.bandwidth_mhz = -5: .*greater than 0"),
        ("servers.rsu.count=many", r"servers\.rsu\.count = 'many': .*valid integer"),
        ("slot_s=0", r"slot_s = 0: .*greater than or equal to 0\.001"),
        ("slot_s=1e-300", r"slot_s = '1e-300': .*greater than or equal to 0\.001"),
        ("horizon_slots=1e12", r"horizon_slots = '1e12': .*valid integer"),
        ("horizon_slots=100000000", r"horizon_slots = 100000000: .*less than or equal to 10000000"),
        ("servers.rsu.count=100000000", r"servers\.rsu\.count = 100000000: .*less than or equal"),
        ("vehicles.count=true", r"vehicles\.count = True: .*valid integer"),
        ("servers.rsu.count=3.0", r"servers\.rsu\.count = 3\.0: .*valid integer"),
        ("servers.uav.compute_ghz=.inf", r"compute_ghz = inf: .*finite number"),
        ("channel.noise_dbm=.nan", r"channel\.noise_dbm = nan: .*finite number"),
        ("servers.rsu.placement=hexagon", r"servers\.rsu\.placement = 'hexagon': .*'grid'"),
        ("vehicles.mobility.turn_probs=[0.5,0.5,0.5]", r"turn_probs = .*must sum to 1"),
        ("privacy.upload_mb=[20, 10]", r"privacy\.upload_mb = .*low 20.* above high 10"),
        ("sensors.data_kb=[-1, 3]", r"sensors\.data_kb\.0 = -1: .*greater than or equal to 0"),
        ("topsecret=1", r"topsecret: unknown key\..*Valid keys here: .*servers"),
    ],
)
def test_invalid_values_name_field_value_and_allowed(override: str, needle: str) -> None:
    preset = "paper-c" if override.startswith("privacy") else "paper-a"
    with pytest.raises(ConfigError, match=needle):
        load_config(preset, [override])


def test_override_through_a_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"'slot_s' is a value"):
        load_config("paper-a", ["slot_s.x=1"])
    with pytest.raises(ConfigError, match=r"must look like key\.sub=value"):
        load_config("paper-a", ["slot_s"])


def test_empty_preset_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    with pytest.raises(ConfigError, match=r"empty\.yaml: the preset is empty"):
        load_config(empty)


def test_unknown_preset_lists_valid_names() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown preset 'paper-e'.*paper-a, paper-a-sumo, paper-a-tiny, paper-b-city",
    ):
        load_config("paper-e")


def test_missing_paper_section_and_required_fields(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("name: x\npaper: B\n")
    with pytest.raises(ConfigError, match=r"paper B presets need a 'routing:' section"):
        load_config(p)
    p.write_text("paper: A\npremigration: {}\n")
    with pytest.raises(ConfigError, match=r"name: required field is missing"):
        load_config(p)


def test_extends_cycle_is_detected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(f"extends: {tmp_path / 'b.yaml'}\nname: a\n")
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\nname: b\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    for name in PRESETS:
        cfg = load_config(name, ["seed=7"])
        text = config_to_yaml(cfg)
        again = tmp_path / f"{name}.yaml"
        again.write_text(text)
        assert load_config(again) == cfg
        assert yaml.safe_load(text)["seed"] == 7


def test_noise_model_must_be_exactly_one() -> None:
    with pytest.raises(ConfigError, match="exactly one of noise_dbm"):
        load_config("paper-c", ["channel.noise_dbm=-100"])


def test_models_are_frozen() -> None:
    cfg = load_config("paper-a")
    with pytest.raises(Exception, match="frozen"):
        cfg.seed = 3  # type: ignore[misc]


def test_reward_section_defaults_to_the_papers_reward_with_named_weights() -> None:
    a, b, c = load_config("paper-a"), load_config("paper-b-rural"), load_config("paper-d")
    assert (a.reward.kind, a.reward.weights) == ("paper-a", {"latency": 1.0, "overload": 1.0})
    assert b.reward.kind == "paper-b"
    assert b.reward.weights == {"latency": 1.0, "load": 1.0, "failure": 1.0}
    assert (c.reward.kind, c.reward.weights) == (
        "paper-d",
        {"fidelity": 1.0, "delay": 1.0, "violation": 20.0},
    )
    assert load_config("paper-c").reward.weights == {"entropy": 1.0, "latency": 0.02, "qos": 0.2}
    raw = {"name": "x", "paper": "B", "routing": {}, "reward": {"weights": {"load": 2}}}
    assert VTwinConfig.model_validate(raw).reward.weights["load"] == 2.0
    user = load_config("paper-c", ["reward.kind=pkg.mod:fn", "reward.weights.any=0.5"])
    assert user.reward.weights == {"any": 0.5}
    with pytest.raises(ConfigError, match=r"reward.weights = .*unknown weight\(s\) w_T"):
        load_config("paper-b-tiny", ["reward.weights.w_T=1"])
    with pytest.raises(ConfigError, match=r"reward.weights.latency = -1"):
        load_config("paper-a", ["reward.weights.latency=-1"])


def test_paper_c_data_presets_share_every_physics_parameter() -> None:
    c, bj, synth = (
        load_config("paper-c"),
        load_config("paper-c-beijing"),
        load_config("paper-c-synth"),
    )
    for other in (bj, synth):
        assert other.channel == c.channel and other.privacy == c.privacy
        assert other.servers.sat == c.servers.sat and other.backhaul == c.backhaul
        assert (other.slot_s, other.horizon_slots) == (10.0, 360)
        assert other.servers.rsu.coverage_m == c.servers.rsu.coverage_m == 1000.0
    assert c.servers.rsu.placement == bj.servers.rsu.placement == "stations"
    assert c.servers.rsu.min_separation_m == bj.servers.rsu.min_separation_m == 1000.0
    assert c.vehicles.mobility.windows is not None and c.vehicles.mobility.windows.count == 5
    assert c.vehicles.mobility.format == "suvnet" and bj.vehicles.mobility.format == "tdrive"
    assert bj.vehicles.mobility.windows is None and len(bj.vehicles.mobility.vehicle_ids or []) == 5
    assert synth.vehicles.mobility.kind == "grid" and synth.servers.rsu.placement == "random"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (
            ["vehicles.count=4"],
            r"vehicles: vehicles\.count = 4 must equal vehicles\.mobility\.windows\.count = 5",
        ),
        (["vehicles.mobility.windows.count=0"], r"windows\.count = 0: .*greater than 0"),
        (["vehicles.mobility.windows.length_h=0"], r"windows\.length_h = 0: .*greater than 0"),
        (["vehicles.mobility.windows.gap_h=-1"], r"windows\.gap_h = -1: .*greater than or equal"),
        (
            ["vehicles.mobility.kind=grid"],
            r"vehicles\.mobility\.windows is only used with kind 'trace' \(kind is 'grid'\)",
        ),
        (
            ["vehicles.mobility.vehicle_ids=[a, b]"],
            r"windows cut one trace, but vehicle_ids names 2",
        ),
        (["vehicles.mobility.format=gpx"], r"vehicles\.mobility\.format = 'gpx': .*'suvnet'"),
        (
            ["servers.rsu.placement=random"],
            r"servers\.rsu\.stations_path = 'data:base-stations/.*' is only read with placement "
            r"'stations' \(placement is 'random'\)",
        ),
        (
            ["servers.rsu.stations_path=null"],
            r"servers\.rsu\.placement = 'stations' needs servers\.rsu\.stations_path",
        ),
        (
            ["geography.coordinates=local"],
            r"servers\.rsu\.placement = 'stations' needs geography\.coordinates = 'latlon' "
            r"\(got 'local'\)",
        ),
        (["servers.rsu.stations_format=excel"], r"stations_format = 'excel': .*'shanghai-telecom'"),
    ],
)
def test_trace_and_station_fields_fail_in_one_line(overrides: list[str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        load_config("paper-c", overrides)
    assert len(str(info.value).splitlines()) == 2  # "invalid config (…):" + the one error


def test_vehicle_ids_bound_the_vehicle_count() -> None:
    with pytest.raises(ConfigError, match=r"vehicles\.count = 6 exceeds the 5 trace\(s\)"):
        load_config("paper-c-beijing", ["vehicles.count=6"])
    with pytest.raises(ConfigError, match=r"vehicle_ids = \[\]: must be a non-empty list"):
        load_config("paper-c-beijing", ["vehicles.mobility.vehicle_ids=[]", "vehicles.count=0"])
    fewer = load_config("paper-c-beijing", ["vehicles.count=3"])
    assert fewer.vehicles.count == 3
