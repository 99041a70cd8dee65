"""SJTU / SUVnet Shanghai taxi reader, window splitting, and trace replay of the result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vtwin.data.samples import shared_data_dir
from vtwin.data.traces import Trace, TraceFormatError, read_suvnet, split_windows
from vtwin.physics.geo import LocalProjection
from vtwin.world.mobility import TraceReplayMobility

SUVNET_FILE = ("shanghai-taxi", "sjtu_suvnet_taxi257155_2007-01-31.txt")


def suvnet_line(rec: int, taxi: str, lon: str, lat: str, time: str, speed: str = "30") -> str:
    return f"{rec},{taxi},{lon},{lat},{speed},45,{time},0,,"


def real_suvnet_or_skip() -> Path:
    found = shared_data_dir()
    path = None if found is None else found.joinpath(*SUVNET_FILE)
    if path is None or not path.is_file():
        pytest.skip(
            "real SUVnet taxi sample not found (shared data folder: set VTWIN_DATA_DIR or place "
            "it at ../shared/data; it exists only in the development workspace)"
        )
    return path


def test_unsorted_lines_come_out_sorted_per_taxi(tmp_path: Path) -> None:
    f = tmp_path / "taxi.txt"
    f.write_text(
        "\n".join(
            [
                suvnet_line(30, "7", "121.40", "31.20", "2007-02-20 00:02:00"),
                suvnet_line(10, "7", "121.30", "31.10", "2007-02-20 00:00:00"),
                suvnet_line(50, "9", "121.60", "31.30", "2007-02-20 00:01:00"),
                suvnet_line(20, "7", "121.35", "31.15", "2007-02-20 00:01:00"),
            ]
        )
        + "\n\n"
    )
    taxis = read_suvnet(f)
    assert [t.vehicle_id for t in taxis] == ["7", "9"]  # order of first appearance
    seven = taxis[0]
    np.testing.assert_allclose(seven.time_s - seven.time_s[0], [0.0, 60.0, 120.0])
    np.testing.assert_allclose(seven.lon_deg, [121.30, 121.35, 121.40])
    np.testing.assert_allclose(seven.lat_deg, [31.10, 31.15, 31.20])
    assert [t.vehicle_id for t in read_suvnet(f, max_taxis=1)] == ["7"]


def test_repeated_timestamps_keep_the_smallest_record_id(tmp_path: Path) -> None:
    f = tmp_path / "taxi.txt"
    f.write_text(
        "\n".join(
            [
                suvnet_line(12, "7", "121.32", "31.12", "2007-02-20 00:00:00"),
                suvnet_line(11, "7", "121.31", "31.11", "2007-02-20 00:00:00"),
                suvnet_line(13, "7", "121.33", "31.13", "2007-02-20 00:00:00"),
                suvnet_line(20, "7", "121.40", "31.20", "2007-02-20 00:00:50"),
            ]
        )
        + "\n"
    )
    [taxi] = read_suvnet(f)
    assert taxi.time_s.size == 2
    np.testing.assert_allclose(taxi.lon_deg, [121.31, 121.40])
    np.testing.assert_allclose(taxi.lat_deg, [31.11, 31.20])


def test_folder_joins_a_taxi_across_files_and_skips_readmes(tmp_path: Path) -> None:
    (tmp_path / "Taxi_2").write_text(
        suvnet_line(5, "2", "121.5", "31.2", "2007-02-20 10:00:00") + "\n"
    )
    (tmp_path / "Taxi_1").write_text(
        suvnet_line(3, "1", "121.4", "31.2", "2007-02-20 09:00:00")
        + "\n"
        + suvnet_line(4, "2", "121.6", "31.3", "2007-02-20 11:00:00")
        + "\n"
    )
    (tmp_path / "README.md").write_text("# not data, skipped\n")
    (tmp_path / "SHA256SUMS").write_text("abc  Taxi_1\n")
    taxis = read_suvnet(tmp_path)
    assert [t.vehicle_id for t in taxis] == ["1", "2"]
    np.testing.assert_allclose(taxis[1].time_s - taxis[1].time_s[0], [0.0, 3600.0])
    np.testing.assert_allclose(taxis[1].lon_deg, [121.5, 121.6])
    assert [t.vehicle_id for t in read_suvnet(tmp_path, max_taxis=1)] == ["1"]


GOOD = suvnet_line(1, "7", "121.30", "31.10", "2007-02-20 00:00:00")


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("1,7,121.3,31.1,30,45,2007-02-20 00:00:10,0", r"line 2: 8 fields, expected 10 \("),
        (suvnet_line(2, "7", "east", "31.1", "2007-02-20 00:00:10"), r"field 3 \(lon\) = 'east'"),
        (suvnet_line(2, "7", "121.3", "", "2007-02-20 00:00:10"), r"field 4 \(lat\) = ''"),
        (
            suvnet_line(2, "7", "121.3", "95.5", "2007-02-20 00:00:10"),
            r"field 4 \(lat\) = 95\.5 degrees, allowed \[-90, 90\]",
        ),
        (
            suvnet_line(2, "7", "190", "31.1", "2007-02-20 00:00:10"),
            r"field 3 \(lon\) = 190 degrees, allowed \[-180, 180\]",
        ),
        (
            suvnet_line(2, "7", "121.3", "31.1", "20/02/2007 00:00"),
            r"field 7 \(time\) = '20/02/2007 00:00' is not YYYY-MM-DD HH:MM:SS",
        ),
        (suvnet_line(2, "7", "121.3", "31.1", "12.5"), r"field 7 \(time\) = '12\.5'"),
        (suvnet_line(2, "", "121.3", "31.1", "2007-02-20 00:00:10"), r"field 2 \(taxi id\)"),
        (
            suvnet_line(0, "7", "121.3", "31.1", "2007-02-20 00:00:10").replace("0,", "x0,", 1),
            r"field 1 \(record id\) = 'x0' is not an integer",
        ),
    ],
)
def test_malformed_line_names_file_line_field_and_value(
    tmp_path: Path, bad: str, needle: str
) -> None:
    f = tmp_path / "bad_taxi.txt"
    f.write_text(GOOD + "\n" + bad + "\n")
    with pytest.raises(TraceFormatError, match=needle) as info:
        read_suvnet(f)
    message = str(info.value)
    assert message.startswith(f"{f}, line 2: ")
    assert "\n" not in message


def test_header_line_empty_and_missing_inputs(tmp_path: Path) -> None:
    f = tmp_path / "with_header.txt"
    f.write_text("ID,TaxiID,Lon,Lat,Speed,Angle,Time,Status,EStatus,Reserved\n" + GOOD + "\n")
    with pytest.raises(TraceFormatError, match=r"with_header\.txt, line 1: field 1 \(record id\)"):
        read_suvnet(f)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(TraceFormatError, match="no data lines"):
        read_suvnet(empty)
    with pytest.raises(TraceFormatError, match="no such SUVnet file or folder"):
        read_suvnet(tmp_path / "none.txt")
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(TraceFormatError, match="no SUVnet files"):
        read_suvnet(folder)
    with pytest.raises(ValueError, match="max_taxis = 0"):
        read_suvnet(f, max_taxis=0)


# --------------------------------------------------------------------------- split_windows


def straight_trace() -> Trace:
    t = np.array([100.0, 110.0, 130.0, 160.0, 200.0])  # 100 s span
    return Trace("42", time_s=t, lat_deg=31.0 + (t - 100.0) * 1e-4, lon_deg=np.full(5, 121.0))


def test_split_windows_retimes_interpolates_ends_and_names_vehicles() -> None:
    windows = split_windows(straight_trace(), 3, 30.0, gap_s=5.0)
    assert [w.vehicle_id for w in windows] == ["42/w0", "42/w1", "42/w2"]
    for k, w in enumerate(windows):
        start = 100.0 + k * 35.0
        assert w.time_s[0] == 0.0 and w.time_s[-1] == 30.0
        assert np.all(np.diff(w.time_s) > 0)
        # latitude is linear in time on this trace, so interpolated ends are exact
        np.testing.assert_allclose(w.lat_deg, 31.0 + (w.time_s + start - 100.0) * 1e-4)
    np.testing.assert_allclose(windows[1].time_s, [0.0, 25.0, 30.0])  # window 135–165 s: fix at 160
    # the whole span fits exactly with n·window + (n-1)·gap = span
    assert len(split_windows(straight_trace(), 2, 50.0)) == 2


def test_split_windows_sorts_and_rejects_bad_arguments() -> None:
    tr = straight_trace()
    shuffled = Trace("42", tr.time_s[::-1], tr.lat_deg[::-1], tr.lon_deg[::-1])
    a, b = split_windows(shuffled, 2, 40.0), split_windows(tr, 2, 40.0)
    np.testing.assert_array_equal(a[1].lat_deg, b[1].lat_deg)
    with pytest.raises(ValueError, match=r"need 110 s, allowed at most the trace's span 100 s"):
        split_windows(tr, 2, 50.0, gap_s=10.0)
    for kwargs, needle in [
        ({"n": 0, "window_s": 10.0}, r"n = 0: must be an integer >= 1"),
        ({"n": 2, "window_s": -1.0}, r"window_s = -1.0: must be finite seconds > 0"),
        ({"n": 2, "window_s": 10.0, "gap_s": float("nan")}, r"gap_s = nan"),
    ]:
        with pytest.raises(ValueError, match=needle):
            split_windows(tr, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- real sample


def test_real_suvnet_taxi_one_taxi_48_hours() -> None:
    path = real_suvnet_or_skip()
    assert sum(1 for line in path.read_text().splitlines() if line.strip()) == 3_897
    [taxi] = read_suvnet(path)
    assert taxi.vehicle_id == "257155"
    assert taxi.time_s.size == 3_897 - 58  # 58 lines repeat a time (and position)
    assert np.all(np.diff(taxi.time_s) > 0)
    span_h = (taxi.time_s[-1] - taxi.time_s[0]) / 3600.0
    assert 47.9 < span_h <= 48.0  # 2007-01-31 00:00:21 → 2007-02-01 23:59:53
    assert taxi.lat_deg.min() >= 31.15 and taxi.lat_deg.max() <= 31.41
    assert taxi.lon_deg.min() >= 121.30 and taxi.lon_deg.max() <= 121.55
    assert np.diff(taxi.time_s).max() <= 1_200.0
    # the folder reads the same taxi (README and checksums skipped)
    [same] = read_suvnet(path.parent)
    np.testing.assert_array_equal(same.time_s, taxi.time_s)


def test_real_suvnet_taxi_split_into_five_windows() -> None:
    [taxi] = read_suvnet(real_suvnet_or_skip())
    windows = split_windows(taxi, 5, 9 * 3600.0, gap_s=30 * 60.0)  # 5·9 h + 4·0.5 h = 47 h
    assert len({w.vehicle_id for w in windows}) == 5
    for w in windows:
        assert w.time_s[0] == 0.0 and w.time_s[-1] == 9 * 3600.0
        assert w.time_s.size > 300
        assert np.all(np.diff(w.time_s) > 0)
    with pytest.raises(ValueError, match=r"257155.*5 windows of 36000 s"):
        split_windows(taxi, 5, 10 * 3600.0)


def test_real_suvnet_trace_drives_trace_replay() -> None:
    [taxi] = read_suvnet(real_suvnet_or_skip())
    proj = LocalProjection(31.23, 121.47)
    mob = TraceReplayMobility([taxi], projection=proj, slot_s=10.0)
    span = taxi.time_s[-1] - taxi.time_s[0]
    assert mob.horizon_slots == int(span // 10.0) + 1
    xy = mob.trajectory(mob.horizon_slots)
    assert np.all(np.isfinite(xy)) and np.all(mob.active_matrix(mob.horizon_slots))
    assert np.abs(xy).max() < 40_000.0  # within 40 km of the centre of Shanghai
    # at a slot that falls on a fix the replayed position is that fix
    on_fix = np.flatnonzero(np.isclose((taxi.time_s - taxi.time_s[0]) % 10.0, 0.0))[5]
    slot = round((taxi.time_s[on_fix] - taxi.time_s[0]) / 10.0)
    np.testing.assert_allclose(
        mob.positions_latlon(slot)[0], [taxi.lat_deg[on_fix], taxi.lon_deg[on_fix]]
    )
    # five windows as five vehicles, all active from slot 0 to the end of the window
    windows = split_windows(taxi, 5, 9 * 3600.0)
    mob5 = TraceReplayMobility(windows, projection=proj, slot_s=10.0)
    assert mob5.n == 5 and mob5.horizon_slots == 3241
    assert np.all(mob5.active_matrix(3241)) and not np.any(mob5.active(3241))
    # consecutive windows meet: the end of window k is the start of window k + 1
    np.testing.assert_allclose(mob5.positions(3240)[:-1], mob5.positions(0)[1:], atol=1e-6)
