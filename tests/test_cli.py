"""The vtwin command line: version, config show, scenario show, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vtwin import __version__
from vtwin.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_config_list_names_every_preset() -> None:
    result = runner.invoke(app, ["config", "list"])
    assert result.exit_code == 0
    for name in [
        "paper-a",
        "paper-b-city",
        "paper-b-rural",
        "paper-c",
        "paper-c-beijing",
        "paper-d",
    ]:
        assert name in result.output


def test_config_show_prints_resolved_yaml_with_overrides() -> None:
    result = runner.invoke(app, ["config", "show", "paper-b-city", "--set", "servers.rsu.count=80"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["servers"]["rsu"]["count"] == 80
    assert data["servers"]["uav"]["speed_mps"] == 3.7
    assert data["sensors"]["count"] == 0  # defaults filled in


def test_config_error_is_clear_and_has_no_traceback() -> None:
    result = runner.invoke(app, ["config", "show", "paper-a", "--set", "servers.rsu.cuont=3"])
    assert result.exit_code == 2
    assert "servers.rsu.cuont: unknown key" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_unknown_preset_error() -> None:
    result = runner.invoke(app, ["scenario", "show", "nope"])
    assert result.exit_code == 2
    assert "unknown preset 'nope'" in result.stderr


def test_scenario_show_prints_summary_and_writes_png(tmp_path: Path) -> None:
    png = tmp_path / "maps" / "a.png"
    result = runner.invoke(app, ["scenario", "show", "paper-a", "--seed", "2", "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "rsu_count" in result.stdout and "16" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_scenario_show_every_preset_without_png() -> None:
    for name in ["paper-b-city", "paper-b-rural", "paper-c-synth", "paper-d"]:
        result = runner.invoke(app, ["scenario", "show", name])
        assert result.exit_code == 0, (name, result.output)
        assert name in result.stdout


def test_scenario_error_from_building_is_one_line() -> None:
    result = runner.invoke(app, ["scenario", "show", "paper-a", "--set", "servers.rsu.count=15"])
    assert result.exit_code == 2
    assert "backhaul.topology = 'grid'" in result.stderr
    assert "Traceback" not in result.stderr


def test_scenario_show_real_paper_c_presets() -> None:
    from vtwin.data.samples import shared_data_dir

    data = shared_data_dir()
    needed = ["shanghai-taxi", "t-drive/taxis", "base-stations"]
    if data is None or not all((data / part).exists() for part in needed):
        pytest.skip(
            "shared data folder not found: paper-c and paper-c-beijing read real taxi traces and "
            "base stations from it (VTWIN_DATA_DIR or ../shared/data)"
        )
    for name, n_rsu in (("paper-c", "200"), ("paper-c-beijing", "25")):
        result = runner.invoke(app, ["scenario", "show", name])
        assert result.exit_code == 0, (name, result.output)
        for key in ("rsu_count", "rsu_stations", "vehicles_active_slot0", "vehicle_mean_speed_mps"):
            assert key in result.stdout
        assert n_rsu in result.stdout


def test_scenario_show_without_data_folder_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["scenario", "show", "paper-c"], env={"VTWIN_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    # the RSUs are built first: their station file is the first one missed
    assert "servers.rsu.stations_path = 'data:base-stations/" in result.stderr
    assert "no such file" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
