"""Generic trace CSV reader: header aliases, datetimes, malformed rows, real T-Drive sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vtwin.data.traces import TraceFormatError, parse_time_s, read_trace_csv

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
