"""Generic trace CSV reader: header aliases, datetimes, malformed rows, real T-Drive sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vtwin.data.traces import TraceFormatError, parse_time_s, read_tdrive, read_trace_csv

TDRIVE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "t-drive" / "taxis"


def test_parse_time_accepts_seconds_and_datetimes() -> None:
    assert parse_time_s("12.5") == 12.5
    a = parse_time_s("2008-02-02 16:00:00")
    assert parse_time_s("2008-02-02T16:01:30") - a == 90.0
    with pytest.raises(ValueError, match="neither seconds nor"):
        parse_time_s("yesterday")


def test_reads_aliases_bom_and_groups_by_vehicle(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "\ufeffTaxi_ID,Timestamp,Longitude,Latitude\n1,0,116.1,39.9\n2,5,116.2,39.8\n1,10,116.3,39.7\n",
        encoding="utf-8",
    )
    traces = read_trace_csv(f)
    assert [t.vehicle_id for t in traces] == ["1", "2"]
    np.testing.assert_allclose(traces[0].time_s, [0.0, 10.0])
    np.testing.assert_allclose(traces[0].lon_deg, [116.1, 116.3])
    np.testing.assert_allclose(traces[0].lat_deg, [39.9, 39.7])
    assert len(read_trace_csv(f, max_vehicles=1)) == 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("id,time,lon,lat\n1,0,116.1\n", r"line 2: 3 fields, expected at least 4"),
        ("id,time,lon,lat\n1,0,116.1,39.9\n1,soon,116.1,39.9\n", r"line 3: time 'soon'"),
        ("id,time,lon,lat\n1,0,116.1,north\n", r"line 2: could not convert"),
        ("id,time,lon,lat\n1,0,216.1,39.9\n", r"line 2: lat = 39.9, lon = 216.1 outside"),
        ("id,when,lon,lat\n1,0,116.1,39.9\n", r"line 1: header .* lacks column\(s\) \['time'\]"),
        ("id,time,lon,lat\n", r"no data rows"),
        ("", r"the file is empty"),
    ],
)
def test_malformed_input_names_file_and_line(tmp_path: Path, body: str, needle: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(body)
    with pytest.raises(TraceFormatError, match=needle) as info:
        read_trace_csv(f)
    assert "bad.csv" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="no such trace file"):
        read_trace_csv(tmp_path / "none.csv")


def test_real_tdrive_taxi_file() -> None:
    if not TDRIVE.is_dir():
        pytest.skip(f"T-Drive sample not found at {TDRIVE} (only in the development workspace)")
    path = sorted(TDRIVE.glob("*.txt"))[0]
    traces = read_trace_csv(path)
    assert len(traces) == 1
    t = traces[0]
    assert len(t.time_s) >= 30  # the sample keeps taxis with ≥ 30 points
    assert (t.lat_deg >= 39.4).all() and (t.lat_deg <= 41.6).all()
    assert (t.lon_deg >= 115.7).all() and (t.lon_deg <= 117.4).all()


def test_tdrive_files_with_and_without_header_and_folders(tmp_path: Path) -> None:
    lines = ["7,2008-02-02 15:36:08,116.51172,39.92123", "7,2008-02-02 15:46:08,116.51135,39.93883"]
    raw = tmp_path / "7.txt"
    raw.write_text("\n".join(lines) + "\n")
    (tmp_path / "12.txt").write_text("id,time,long,lat\n12,2008-02-02 16:00:00,116.4,39.9\n")
    (tmp_path / "3.txt").write_text("3,2008-02-02 16:00:00,116.3,39.8\n")
    [taxi] = read_tdrive(raw)
    assert taxi.vehicle_id == "7"
    np.testing.assert_allclose(taxi.lon_deg, [116.51172, 116.51135])
    np.testing.assert_allclose(taxi.lat_deg, [39.92123, 39.93883])
    assert taxi.time_s[1] - taxi.time_s[0] == 600.0
    # a folder: numeric order of the file names, header or not
    assert [t.vehicle_id for t in read_tdrive(tmp_path)] == ["3", "7", "12"]
    assert [t.vehicle_id for t in read_tdrive(tmp_path, max_taxis=2)] == ["3", "7"]


def test_tdrive_malformed_lines_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "5.txt"
    bad.write_text("5,2008-02-02 15:36:08,116.5,39.9\n5,2008-02-02 15:40:00,east,39.9\n")
    with pytest.raises(TraceFormatError, match=r"5\.txt, line 2: could not convert"):
        read_tdrive(bad)
    bad.write_text("5,2008-02-02 15:36:08,116.5,39.9\n5,2008-02-02 15:40:00\n")
    with pytest.raises(TraceFormatError, match="line 2: 2 fields, expected at least 4"):
        read_tdrive(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TraceFormatError, match="no \\*\\.txt"):
        read_tdrive(empty)


def test_real_tdrive_raw_excerpt_and_sample_folder() -> None:
    raw = TDRIVE.parent / "raw_excerpts" / "2.txt"
    if not raw.is_file():
        pytest.skip(f"T-Drive sample not found at {TDRIVE.parent} (only in the workspace)")
    [taxi] = read_tdrive(raw)
    assert taxi.vehicle_id == "2" and len(taxi.time_s) == 19
    taxis = read_tdrive(TDRIVE, max_taxis=5)
    assert [t.vehicle_id for t in taxis] == ["10", "16", "28", "31", "34"]
