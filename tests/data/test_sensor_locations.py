"""Road-sensor location reader (METR-LA, PEMS-BAY, PeMSD7 layouts) and the local window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vtwin.data.samples import shared_data_dir
from vtwin.data.sensor_locations import (
    SensorLocationError,
    SensorLocations,
    SensorWindowError,
    read_sensor_locations,
    sensor_window,
)
from vtwin.physics.geo import LocalProjection, haversine_m

REAL = {
    "pems-bay": ("pems-bay_sensors", "graph_sensor_locations_bay.csv"),
    "metr-la": ("metr-la_los-loop", "graph_sensor_locations.csv"),
    "pemsd7m": ("pemsd7m_stations", "PeMSD7_M_Station_Info.csv"),
}


def real_or_skip(name: str) -> Path:
    found = shared_data_dir()
    path = None if found is None else found.joinpath("pems", *REAL[name])
    if path is None or not path.is_file():
        pytest.skip(
            f"real sensor file pems/{'/'.join(REAL[name])} not found (shared data folder: set "
            "VTWIN_DATA_DIR or place it at ../shared/data; it exists only in the development "
            "workspace)"
        )
    return path


def write(tmp_path: Path, text: str, name: str = "sensors.csv") -> Path:
    f = tmp_path / name
    f.write_bytes(text.encode("utf-8"))
    return f


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize(
    ("name", "n", "first", "lat_range", "lon_range"),
    [
        ("pems-bay", 325, ("400001", 37.364085, -121.901149), (37.25, 37.43), (-122.09, -121.84)),
        ("metr-la", 207, ("773869", 34.15497, -118.31829), (34.04, 34.23), (-118.54, -118.18)),
        ("pemsd7m", 228, ("716939", 34.041407, -118.218373), (33.80, 34.05), (-118.48, -118.00)),
    ],
)
def test_real_files(
    name: str,
    n: int,
    first: tuple[str, float, float],
    lat_range: tuple[float, float],
    lon_range: tuple[float, float],
) -> None:
    s = read_sensor_locations(real_or_skip(name))
    assert len(s) == n and len(set(s.sensor_id)) == n and s.duplicates_dropped == 0
    assert (s.sensor_id[0], s.lat_deg[0], s.lon_deg[0]) == first
    assert lat_range[0] <= s.lat_deg.min() and s.lat_deg.max() <= lat_range[1]
    assert lon_range[0] <= s.lon_deg.min() and s.lon_deg.max() <= lon_range[1]


def test_pems_bay_window_that_fits_thirty_sensors() -> None:
    s = read_sensor_locations(real_or_skip("pems-bay"))
    w = sensor_window(s, 3500.0, 3500.0, count=30)
    assert w.how == "densest" and len(w) == 35 and w.n_in_file == 325
    assert np.all((w.xy_m >= 0.0) & (w.xy_m <= 3500.0))
    with pytest.raises(SensorWindowError, match=r"1000 m × 1000 m window .* holds 14 of the 325"):
        sensor_window(s, 1000.0, 1000.0, count=30)


# --------------------------------------------------------------------------- layouts


def test_headerless_pems_bay_layout_with_crlf(tmp_path: Path) -> None:
    f = write(tmp_path, "400001,37.364085,-121.901149\r\n400017,37.253303,-121.945440\r\n")
    s = read_sensor_locations(f)
    assert s.sensor_id == ("400001", "400017") and s.source == f
    np.testing.assert_array_equal(s.lat_deg, [37.364085, 37.253303])
    np.testing.assert_array_equal(s.lon_deg, [-121.901149, -121.945440])


def test_metr_la_layout_ignores_the_index_column(tmp_path: Path) -> None:
    f = write(tmp_path, "index,sensor_id,latitude,longitude\n0,773869,34.15497,-118.31829\n")
    s = read_sensor_locations(f)
    assert s.sensor_id == ("773869",)
    np.testing.assert_array_equal(s.latlon_deg, [[34.15497, -118.31829]])


def test_pemsd7_layout_capitalised_columns_and_bom(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "\ufeff,ID,Fwy,Dir,District,Latitude,Longitude\n"
        "0,716939,5,S,7,34.041407,-118.218373\n"
        "\n"
        "1,759700,5,S,7,34.020961,-118.195456\n",
    )
    s = read_sensor_locations(f)
    assert s.sensor_id == ("716939", "759700")
    np.testing.assert_array_equal(s.lon_deg, [-118.218373, -118.195456])


def test_no_id_column_numbers_the_rows(tmp_path: Path) -> None:
    s = read_sensor_locations(write(tmp_path, "lng,lat\n-121.9,37.3\n-121.8,37.4\n"))
    assert s.sensor_id == ("0", "1")
    np.testing.assert_array_equal(s.lat_deg, [37.3, 37.4])


def test_duplicates_dropped_and_colocated_sensors_kept(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "sensor_id,latitude,longitude\n"
        "a,37.30,-121.90\n"
        "b,37.30,-121.90\n"  # another detector at the same spot: kept
        "a,37.30,-121.90\n"  # the same row again: dropped
        "c,37.31,-121.91\n",
    )
    s = read_sensor_locations(f)
    assert s.sensor_id == ("a", "b", "c") and s.duplicates_dropped == 1


def test_container_checks_its_arrays() -> None:
    with pytest.raises(ValueError, match=r"lat_deg\[1\] = nan"):
        SensorLocations(("a", "b"), [1.0, np.nan], [2.0, 3.0])
    with pytest.raises(ValueError, match="equal lengths"):
        SensorLocations(("a",), [1.0, 2.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="sensor id 'a' occurs twice"):
        SensorLocations(("a", "a"), [1.0, 2.0], [2.0, 3.0])
    s = SensorLocations(("a", "b", "c"), [1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert s.select([2, 0]).sensor_id == ("c", "a")
    assert s.select(np.array([False, True, False])).sensor_id == ("b",)


# --------------------------------------------------------------------------- bad input


HEADER = "sensor_id,latitude,longitude\n"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("x,y\n1,2\n", r"line 1: header \['x', 'y'\] names no latitude or longitude column"),
        ("sensor_id,latitude,y\n1,37,2\n", r"line 1: header .* names no longitude column"),
        ("id,lon\n1,2\n", r"line 1: header .* names no latitude column; allowed names: lat/"),
        (HEADER + "a,abc,-121.9\n", r"line 2: field 'latitude' = 'abc' is not a number$"),
        (HEADER + "a,37.3,\n", r"line 2: field 'longitude' = '' is not a number$"),
        (HEADER + "a,91,-121.9\n", r"line 2: field 'latitude' = 91 degrees, allowed \[-90, 90\]"),
        (HEADER + "a,37,-181\n", r"line 2: field 'longitude' = -181 degrees, allowed \[-180, 180"),
        (HEADER + "a,NaN,-121.9\n", r"line 2: field 'latitude' = NaN degrees, allowed \[-90, 90"),
        (HEADER + "a,37.3,inf\n", r"line 2: field 'longitude' = inf degrees, allowed \[-180"),
        ("a,37.3,-121.9\nb,95,-121.9\n", r"line 2: field 'latitude' = 95 degrees, allowed"),
        (HEADER + "a,37.3,-121.9\nb,37.3\n", r"line 3: 2 field\(s\), expected at least 3 \("),
        (HEADER + ",37.3,-121.9\n", r"line 2: field 'sensor_id' is empty; every sensor needs"),
        (
            HEADER + "a,37.3,-121.9\na,37.4,-121.9\n",
            r"line 3: sensor id 'a' at \(37.4, -121.9\) repeats line 2 at \(37.3, -121.9\)",
        ),
        (HEADER, r"a header but no data rows$"),
        ("", r"the file is empty$"),
        ("\n\n \n", r"the file holds only blank lines$"),
    ],
)
def test_malformed_text_names_file_line_field_and_value(
    tmp_path: Path, body: str, needle: str
) -> None:
    f = write(tmp_path, body, "bad_sensors.csv")
    with pytest.raises(SensorLocationError, match=needle) as info:
        read_sensor_locations(f)
    assert str(info.value).startswith(str(f)) and "\n" not in str(info.value)


def test_missing_binary_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(SensorLocationError, match=r"nowhere\.csv: no such sensor location file$"):
        read_sensor_locations(missing)
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"PK\x03\x04\x00\x00garbage")
    with pytest.raises(SensorLocationError, match=r"binary data \(a NUL byte at offset 4\)"):
        read_sensor_locations(binary)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "caf\xe9,37.3,-121.9\n".encode("latin-1"))
    with pytest.raises(SensorLocationError, match=r"not UTF-8 text \(invalid") as info:
        read_sensor_locations(latin)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- the window


def cluster(centre: tuple[float, float], offsets_m: list[tuple[float, float]]) -> SensorLocations:
    """Sensors at the given (east, north) metre offsets from ``centre`` (lat, lon)."""
    ll = LocalProjection(*centre).to_latlon(np.asarray(offsets_m, dtype=np.float64))
    ids = tuple(f"s{i}" for i in range(len(offsets_m)))
    return SensorLocations(ids, ll[:, 0], ll[:, 1], source=Path("made-up.csv"))


def test_centred_window_keeps_the_sensors_inside_and_their_distances() -> None:
    offsets = [(-400.0, -300.0), (0.0, 0.0), (450.0, 480.0), (600.0, 0.0), (0.0, -700.0)]
    s = cluster((37.3, -121.9), offsets)
    w = sensor_window(s, 1000.0, 1000.0, center_latlon=(37.3, -121.9))
    assert w.how == "center" and w.locations.sensor_id == ("s0", "s1", "s2")
    np.testing.assert_allclose(w.xy_m, [[100.0, 200.0], [500.0, 500.0], [950.0, 980.0]], atol=1e-6)
    d_plane = np.hypot(*(w.xy_m[2] - w.xy_m[0]))
    d_sphere = haversine_m(*w.locations.latlon_deg[0], *w.locations.latlon_deg[2])
    assert abs(d_plane - d_sphere) < 1e-3 * d_sphere


def test_densest_window_finds_the_cluster_and_centres_it() -> None:
    far = [(5000.0 + 1500.0 * i, 0.0) for i in range(4)]  # spread out: at most 1 per window
    near = [(100.0, 50.0), (300.0, 700.0), (800.0, 200.0), (600.0, 900.0)]
    s = cluster((34.1, -118.3), far + near)
    w = sensor_window(s, 1000.0, 1000.0, count=4)
    assert w.how == "densest" and w.locations.sensor_id == ("s4", "s5", "s6", "s7")
    assert w.n_in_file == 8
    lo, hi = w.xy_m.min(axis=0), w.xy_m.max(axis=0)
    np.testing.assert_allclose((lo + hi) / 2.0, [500.0, 500.0], atol=0.5)  # bounding box centred
    np.testing.assert_allclose(hi - lo, [700.0, 850.0], atol=0.5)


def test_too_few_sensors_in_the_window_is_one_line() -> None:
    s = cluster((37.3, -121.9), [(0.0, 0.0), (300.0, 0.0), (3000.0, 0.0)])
    with pytest.raises(SensorWindowError) as info:
        sensor_window(s, 1000.0, 1000.0, count=3)
    assert str(info.value) == (
        "made-up.csv: the 1000 m × 1000 m window with the most sensors (centre 37.30000, "
        "-121.89830) holds 2 of the 3 sensors, fewer than the 3 needed"
    )
    with pytest.raises(SensorWindowError, match=r"centred on \(0\.00000, 0\.00000\) holds 0"):
        sensor_window(s, 1000.0, 1000.0, count=1, center_latlon=(0.0, 0.0))
    with pytest.raises(ValueError, match=r"center_latlon = \(91\.0, 0\.0\): allowed latitude"):
        sensor_window(s, 1000.0, 1000.0, center_latlon=(91.0, 0.0))
    with pytest.raises(ValueError, match=r"width_m = -1\.0: must be finite metres > 0"):
        sensor_window(s, -1.0, 1000.0)


def test_choose_is_all_or_a_seeded_subset_in_file_order() -> None:
    s = cluster((37.3, -121.9), [(100.0 * i, 50.0 * i) for i in range(8)])
    w = sensor_window(s, 1000.0, 1000.0, count=5)
    assert len(w) == 8
    a = w.choose(5, np.random.default_rng(7))
    assert np.array_equal(a, w.choose(5, np.random.default_rng(7)))
    assert a.size == 5 and np.all(np.diff(a) > 0)
    picks = {tuple(w.choose(5, np.random.default_rng(seed))) for seed in range(20)}
    assert len(picks) > 1
    assert np.array_equal(w.choose(8, None), np.arange(8))
    with pytest.raises(ValueError, match="count = 9: the window holds 8 sensors"):
        w.choose(9, np.random.default_rng(0))
