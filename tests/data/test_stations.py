"""Base-station reader (Shanghai Telecom, Beijing cellocation, generic CSV), region, thinning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vtwin.data.samples import shared_data_dir
from vtwin.data.stations import StationFormatError, Stations, in_region, read_stations, thin
from vtwin.physics.geo import haversine_m

SHANGHAI_BOX = (30.6, 31.9, 120.8, 122.2)  # lat min, lat max, lon min, lon max (degrees)


def real_or_skip(name: str) -> Path:
    found = shared_data_dir()
    path = None if found is None else found / "base-stations" / name
    if path is None or not path.is_file():
        pytest.skip(
            f"real station file {name} not found (shared data folder: set VTWIN_DATA_DIR or "
            "place it at ../shared/data; it exists only in the development workspace)"
        )
    return path


def min_pair_distance_m(s: Stations) -> float:
    d = haversine_m(s.lat_deg[:, None], s.lon_deg[:, None], s.lat_deg[None], s.lon_deg[None])
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def brute_force_thin(s: Stations, spacing_m: float, order: np.ndarray) -> list[int]:
    """Greedy thinning the slow way: each station against every station kept before it."""
    kept: list[int] = []
    for i in order:
        d = haversine_m(s.lat_deg[i], s.lon_deg[i], s.lat_deg[kept], s.lon_deg[kept])
        if np.all(d >= spacing_m):
            kept.append(int(i))
    return sorted(kept)


# --------------------------------------------------------------------------- formats


def test_shanghai_telecom_format(tmp_path: Path) -> None:
    f = tmp_path / "sh.csv"
    f.write_text(
        ",index,latitude,longitude,address,id\n"
        "0,0,31.20,121.40,31.20-121.40,0\n"
        "1,9,31.25,121.45,31.25-121.45,1\n"
        "2,17,39.90,116.40,39.90-116.40,2\n"
    )
    s = read_stations(f)
    assert len(s) == 3 and s.duplicates_dropped == 0 and s.source == f
    np.testing.assert_allclose(s.lat_deg, [31.20, 31.25, 39.90])
    np.testing.assert_allclose(s.lon_deg, [121.40, 121.45, 116.40])
    assert s.station_id == ("0", "1", "2")
    assert read_stations(f, format="shanghai-telecom").station_id == s.station_id


def test_beijing_cellocation_format_drops_exact_duplicates(tmp_path: Path) -> None:
    f = tmp_path / "bj.csv"
    f.write_text(
        "row,lat,lon,radius_m,address,errcode\n"
        '0,39.640000,116.190000,500,"北京市,房山区",0\n'
        "1,39.650000,116.200000,100,北京市丰台区,0\n"
        "2,39.64,116.19,300,北京市房山区,0\n"  # same coordinates as row 0 → dropped
        "3,39.66,116.21,120,北京市,0\n",
        encoding="utf-8",
    )
    s = read_stations(f)
    assert len(s) == 3 and s.duplicates_dropped == 1
    assert s.station_id == ("0", "1", "3")  # the first of the duplicates is kept
    np.testing.assert_allclose(s.latlon_deg[0], [39.64, 116.19])
    assert read_stations(f, format="beijing-cellocation").station_id == s.station_id


def test_generic_csv_with_named_columns(tmp_path: Path) -> None:
    f = tmp_path / "cells.csv"
    f.write_text("\ufeffCell_ID,Radio,Longitude,Latitude\nA,LTE,2.35,48.85\nB,GSM,2.29,48.86\n")
    s = read_stations(f)
    assert s.station_id == ("A", "B")
    np.testing.assert_allclose(s.lat_deg, [48.85, 48.86])
    g = tmp_path / "noid.csv"
    g.write_text("lng,lat\n2.35,48.85\n")
    assert read_stations(g).station_id is None and len(read_stations(g, format="csv")) == 1


@pytest.mark.parametrize(
    ("body", "fmt", "needle"),
    [
        ("lat,lon\n48.8,2.3\n48.9\n", "auto", r"line 3: 1 fields, expected at least 2"),
        ("lat,lon\n48.8,2.3\nnorth,2.3\n", "auto", r"line 3: field 'lat' = 'north' is not a"),
        ("lat,lon\n48.8,\n", "auto", r"line 2: field 'lon' = '' is not a number"),
        ("lat,lon\n98.8,2.3\n", "auto", r"line 2: field 'lat' = 98.8 degrees, allowed \[-90, 90"),
        ("lat,lon\nnan,2.3\n", "auto", r"line 2: field 'lat' = nan degrees"),
        (
            ",index,latitude,longitude,address,id\n0,0,31.2,221.4,x,0\n",
            "auto",
            r"line 2: field 'longitude' = 221.4 degrees, allowed \[-180, 180\]",
        ),
        ("x,y\n1,2\n", "auto", r"line 1: header \['x', 'y'\] names no latitude column"),
        ("lat,y\n1,2\n", "auto", r"line 1: header .* names no longitude column"),
        ("lat,lon\n1,2\n", "shanghai-telecom", r"line 1: header .* lacks column\(s\) \['latitude'"),
        ("lat,lon\n", "auto", r"no data rows"),
        ("", "auto", r"the file is empty"),
    ],
)
def test_malformed_input_names_file_line_field_and_value(
    tmp_path: Path, body: str, fmt: str, needle: str
) -> None:
    f = tmp_path / "bad_stations.csv"
    f.write_text(body)
    with pytest.raises(StationFormatError, match=needle) as info:
        read_stations(f, format=fmt)  # type: ignore[arg-type]
    assert str(info.value).startswith(str(f)) and "\n" not in str(info.value)


def test_line_numbers_count_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "multi.csv"
    f.write_text('lat,lon,address\n31.2,121.4,"two\nlines"\n\n31.3,abc,x\n')
    with pytest.raises(StationFormatError, match=r"multi\.csv, line 5: field 'lon' = 'abc'"):
        read_stations(f)


def test_bad_arguments_and_encodings(tmp_path: Path) -> None:
    with pytest.raises(StationFormatError, match="no such station file"):
        read_stations(tmp_path / "none.csv")
    f = tmp_path / "gbk.csv"
    f.write_bytes("lat,lon,address\n39.6,116.2,北京市\n".encode("gbk"))
    with pytest.raises(StationFormatError, match=r"gbk\.csv: not UTF-8 text"):
        read_stations(f)
    with pytest.raises(ValueError, match="format = 'xlsx': allowed 'auto'"):
        read_stations(f, format="xlsx")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- region, thinning


def grid_stations() -> Stations:
    lat = np.array([31.0, 31.0, 31.001, 31.5, 32.5])
    lon = np.array([121.0, 121.0005, 121.0, 121.5, 121.5])
    return Stations(lat, lon, station_id=("a", "b", "c", "d", "e"))


def test_in_region_keeps_the_box_bounds_included() -> None:
    s = in_region(grid_stations(), 31.0, 31.5, 121.0, 121.5)
    assert s.station_id == ("a", "b", "c", "d")
    with pytest.raises(ValueError, match=r"lat_min_deg = 32\.0, lat_max_deg = 31\.0"):
        in_region(grid_stations(), 32.0, 31.0, 121.0, 121.5)


def test_thin_greedy_in_file_order_and_validation() -> None:
    s = grid_stations()  # a–b 47.7 m apart, a–c 111 m, b–c 121 m
    assert thin(s, 50.0).station_id == ("a", "c", "d", "e")
    assert thin(s, 120.0).station_id == ("a", "d", "e")
    assert thin(s, 0.0).station_id == s.station_id
    assert thin(s, 500_000.0).station_id == ("a",)
    with pytest.raises(ValueError, match=r"min_spacing_m = -1.0: must be finite metres >= 0"):
        thin(s, -1.0)


@pytest.mark.parametrize("centre", [(31.2, 121.5), (0.0, 179.99), (-78.0, -60.0), (89.95, 10.0)])
def test_thin_matches_brute_force_greedy(centre: tuple[float, float]) -> None:
    rng = np.random.default_rng(7)
    lat = np.clip(centre[0] + rng.normal(0.0, 0.03, 400), -90.0, 90.0)
    lon = (centre[1] + rng.normal(0.0, 0.03, 400) + 180.0) % 360.0 - 180.0  # wraps at ±180°
    s = Stations(lat, lon)
    for spacing in (300.0, 2_000.0):
        kept = thin(s, spacing)
        np.testing.assert_array_equal(
            kept.lat_deg, s.lat_deg[brute_force_thin(s, spacing, np.arange(400))]
        )
        assert len(kept) < 400 and min_pair_distance_m(kept) >= spacing
        shuffled = thin(s, spacing, seed=3)
        order = np.random.default_rng(3).permutation(400)
        np.testing.assert_array_equal(
            shuffled.lat_deg, s.lat_deg[brute_force_thin(s, spacing, order)]
        )


# --------------------------------------------------------------------------- real files


def test_real_shanghai_telecom_stations() -> None:
    s = read_stations(real_or_skip("shanghai_telecom_base_stations_all.csv"))
    assert len(s) == 3_042 and s.duplicates_dropped == 0
    assert s.station_id is not None and s.station_id[:3] == ("0", "1", "2")
    shanghai = in_region(s, *SHANGHAI_BOX)
    assert len(shanghai) == 3_009
    a = thin(shanghai, 500.0)
    assert 1_000 < len(a) < 3_009
    assert min_pair_distance_m(a) >= 500.0
    b = thin(shanghai, 500.0)
    assert a.station_id == b.station_id  # deterministic
    c = thin(shanghai, 500.0, seed=1)
    assert c.station_id == thin(shanghai, 500.0, seed=1).station_id
    assert min_pair_distance_m(c) >= 500.0


def test_real_beijing_cellocation_stations() -> None:
    s = read_stations(real_or_skip("beijing_bs_cellocation.csv"))
    assert len(s) == 1_034 and s.duplicates_dropped == 29  # 1,063 rows
    assert s.station_id is not None and s.station_id[0] == "0"
    assert s.lat_deg.min() >= 39.59 and s.lat_deg.max() <= 40.46
    assert s.lon_deg.min() >= 115.98 and s.lon_deg.max() <= 116.66
    kept = thin(s, 1_000.0)
    assert min_pair_distance_m(kept) >= 1_000.0
    assert kept.station_id == thin(s, 1_000.0).station_id
    # the raw GBK source is not a CSV: refused with the file named
    raw = s.source.parent / "beijing_bs_location.raw.txt" if s.source else None
    if raw is not None and raw.is_file():
        with pytest.raises(StationFormatError, match=r"raw\.txt: not UTF-8 text"):
            read_stations(raw)
