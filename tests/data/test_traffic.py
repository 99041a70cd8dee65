"""Traffic series container, PeMS / wide / long readers, gap filling and the synthetic generator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from vtwin.data.traffic import (
    TrafficFormatError,
    TrafficSeries,
    fill_short_gaps,
    parse_timestamp,
    read_long_csv,
    read_pems_detector_csv,
    read_traffic,
    read_wide_csv,
    synthetic_traffic,
)

PEMS_HEADER = "5 Minutes,Lane 1 Flow (Veh/5 Minutes),# Lane Points,% Observed\n"


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def write(tmp_path: Path, body: str, name: str = "f.csv") -> Path:
    f = tmp_path / name
    f.write_text(body, encoding="utf-8")
    return f


def series(values: list[list[float]], step_s: float = 300.0) -> TrafficSeries:
    v = np.asarray(values, dtype=float)
    names = tuple(f"s{j}" for j in range(v.shape[1]))
    return TrafficSeries(v, step_s * np.arange(v.shape[0]), names)


# --------------------------------------------------------------------------- timestamps


def test_parse_timestamp_formats() -> None:
    t = utc(2016, 1, 13, 7, 5)
    assert parse_timestamp("13/01/2016 7:05") == t  # first field > 12 ⇒ day first
    assert parse_timestamp("01/13/2016 07:05:00") == t
    assert parse_timestamp("2016-01-13 07:05") == t
    assert parse_timestamp("2016-01-13T07:05:00") == t
    assert parse_timestamp("2016/01/13 07:05:00") == t
    assert parse_timestamp("02/03/2016 0:00") == utc(2016, 2, 3)  # ambiguous ⇒ month first
    assert parse_timestamp("02/03/2016 0:00", dayfirst=True) == utc(2016, 3, 2)
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp("yesterday")
    with pytest.raises(ValueError, match="not a valid date"):
        parse_timestamp("13/01/2016 7:05", dayfirst=False)


# --------------------------------------------------------------------------- PeMS reader


def test_pems_bom_and_day_first_detected(tmp_path: Path) -> None:
    body = PEMS_HEADER + "12/01/2016 23:55,10,1,100\n13/01/2016 0:00,12,1,100\n"
    f = write(tmp_path, "\ufeff" + body)
    s = read_pems_detector_csv(f)
    assert s.names == ("flow",) and s.quantity == "flow" and s.unit == "veh/5min"
    np.testing.assert_array_equal(s.time_s, [utc(2016, 1, 12, 23, 55), utc(2016, 1, 13)])
    np.testing.assert_array_equal(s.values[:, 0], [10.0, 12.0])
    assert s.source == str(f)


def test_pems_month_first_default_and_explicit_dayfirst(tmp_path: Path) -> None:
    # Both orders parse, both increase ⇒ month first (PeMS's convention).
    f = write(tmp_path, PEMS_HEADER + "01/02/2016 00:00,1,1,100\n01/02/2016 00:05,2,1,100\n")
    assert read_pems_detector_csv(f).time_s[0] == utc(2016, 1, 2)
    assert read_pems_detector_csv(f, dayfirst=True).time_s[0] == utc(2016, 2, 1)
    # Both orders parse but only day first gives increasing times.
    g = write(tmp_path, PEMS_HEADER + "12/02/2016 00:00,1,1,100\n01/03/2016 00:00,2,1,100\n")
    assert read_pems_detector_csv(g).time_s[0] == utc(2016, 2, 12)
    # PeMS's own MM/DD/YYYY HH:MM:SS with a second field > 12 rules out day first.
    h = write(tmp_path, PEMS_HEADER + "01/13/2016 07:05:00,3,1,100\n")
    assert read_pems_detector_csv(h).time_s[0] == utc(2016, 1, 13, 7, 5)
    with pytest.raises(
        TrafficFormatError, match=r"line 2: time '01/13/2016 07:05:00' is not a valid"
    ):
        read_pems_detector_csv(h, dayfirst=True)


def test_pems_iso_dates(tmp_path: Path) -> None:
    f = write(
        tmp_path, "Timestamp,Flow (Veh/Hour)\n2016-01-13 07:00:00,100\n2016/01/13 08:00,120\n"
    )
    s = read_pems_detector_csv(f)
    assert s.unit == "veh/h" and s.interval_s == 3600.0
    assert s.time_s[0] == utc(2016, 1, 13, 7)


def test_pems_missing_values_are_nan(tmp_path: Path) -> None:
    rows = ["01/04/2016 00:00,5,1,100", "01/04/2016 00:05,,1,0", "01/04/2016 00:10,NaN,1,0"]
    rows += ["01/04/2016 00:15,-,1,0", "01/04/2016 00:20,null,1,0", "01/04/2016 00:25,7,1,100"]
    s = read_pems_detector_csv(write(tmp_path, PEMS_HEADER + "\n".join(rows) + "\n"))
    assert np.isnan(s.values[:, 0]).sum() == 4
    assert s.missing_fraction() == pytest.approx(4 / 6)


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        (
            ["01/04/2016 00:00,5,1,100", "01/04/2016 00:05,abc,1,100"],
            r"line 3: column 'Lane 1 Flow \(Veh/5 Minutes\)' value 'abc' is not a number",
        ),
        (["01/04/2016 00:00,5,1,100", "01/04/2016 00:05,5,1"], r"line 3: 3 fields, expected 4"),
        (
            ["01/04/2016 00:05,5,1,100", "01/04/2016 00:00,5,1,100"],
            r"line 3: time '01/04/2016 00:00' is before the previous row's",
        ),
        (
            ["01/04/2016 00:00,5,1,100", "01/04/2016 00:05,5,1,100", "01/04/2016 00:05,6,1,100"],
            r"line 4: duplicate time '01/04/2016 00:05' \(also on line 3\)",
        ),
        (["01/04/2016 00:00,5,1,100", "01/04/2016 00:05,-3,1,100"], r"line 3: .* is negative"),
        (["01/04/2016 00:00,5,1,100", "soon,5,1,100"], r"line 3: time 'soon' is not a timestamp"),
        (["01/04/2016 00:00,5,1,100", "", "13/13/2016 00:05,5,1,100"], r"line 4: time '13/13/2016"),
    ],
)
def test_pems_malformed_rows_name_the_line(tmp_path: Path, rows: list[str], needle: str) -> None:
    f = write(tmp_path, PEMS_HEADER + "\n".join(rows) + "\n", name="bad.csv")
    with pytest.raises(TrafficFormatError, match=needle) as info:
        read_pems_detector_csv(f)
    assert "bad.csv" in str(info.value)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("", r"the file is empty"),
        (PEMS_HEADER, r"no data rows after the header"),
        ("When,Lane 1 Flow (Veh/5 Minutes)\n01/04/2016 00:00,5\n", r"line 1: .* no time column"),
        ("5 Minutes,% Observed\n01/04/2016 00:00,5\n", r"line 1: .* has no flow column"),
    ],
)
def test_pems_bad_files(tmp_path: Path, body: str, needle: str) -> None:
    f = write(tmp_path, body, name="bad.csv")
    with pytest.raises(TrafficFormatError, match=needle) as info:
        read_pems_detector_csv(f)
    assert "bad.csv" in str(info.value)
    with pytest.raises(TrafficFormatError, match="no such traffic file"):
        read_pems_detector_csv(tmp_path / "none.csv")


def test_pems_multi_lane_sum_and_each(tmp_path: Path) -> None:
    header = (
        "5 Minutes,Lane 1 Flow (Veh/5 Minutes),Lane 2 Flow (Veh/5 Minutes),"
        "Lane 1 Speed (mph),Lane 2 Speed (mph),Lane 1 Occ (%),Lane 2 Occ (%)\n"
    )
    body = header + "01/04/2016 00:00,10,20,60,70,5,7\n01/04/2016 00:05,11,,62,,6,\n"
    f = write(tmp_path, body)
    total = read_pems_detector_csv(f)
    assert total.names == ("flow",)
    np.testing.assert_array_equal(total.values[:, 0], [30.0, np.nan])  # a missing lane ⇒ NaN
    each = read_pems_detector_csv(f, lanes="each")
    assert each.names == ("lane 1", "lane 2")
    np.testing.assert_array_equal(each.values, [[10.0, 20.0], [11.0, np.nan]])
    speed = read_pems_detector_csv(f, measure="speed")
    assert (speed.quantity, speed.unit) == ("speed", "mph")
    np.testing.assert_array_equal(speed.values[:, 0], [65.0, 62.0])  # mean of available lanes
    occ = read_pems_detector_csv(f, measure="occupancy", lanes="each")
    assert occ.unit == "%" and occ.values[0].tolist() == [5.0, 7.0]


def test_pems_station_total_preferred_for_sum(tmp_path: Path) -> None:
    body = (
        "Hour,Flow (Veh/Hour),Lane 1 Flow (Veh/Hour),Lane 2 Flow (Veh/Hour),Speed (mph)\n"
        "01/04/2016 00:00,31,10,20,64\n"
    )
    f = write(tmp_path, body)
    assert read_pems_detector_csv(f).values[0, 0] == 31.0
    assert read_pems_detector_csv(f, measure="speed", lanes="each").names == ("Speed (mph)",)


# --------------------------------------------------------------------------- wide / long / auto


def test_wide_with_time_column(tmp_path: Path) -> None:
    f = write(tmp_path, ",a,b\n2012-03-01 00:00:00,1,2\n2012-03-01 00:05:00,,4\n")
    s = read_wide_csv(f, quantity="speed", unit="mph")
    assert s.names == ("a", "b") and (s.quantity, s.unit) == ("speed", "mph")
    assert s.time_s[0] == utc(2012, 3, 1) and s.interval_s == 300.0
    np.testing.assert_array_equal(s.values, [[1.0, 2.0], [np.nan, 4.0]])
    g = write(tmp_path, "time,a\n0,1\n60,2\n", name="g.csv")
    np.testing.assert_array_equal(read_wide_csv(g).time_s, [0.0, 60.0])  # plain seconds


def test_wide_without_time_column(tmp_path: Path) -> None:
    f = write(tmp_path, "773869,767541\n64.375,67.625\n62.5,68\n61,60\n")
    s = read_wide_csv(f, start="2012-03-01 00:00", interval_s=300.0)
    assert s.names == ("773869", "767541") and s.n_steps == 3
    np.testing.assert_array_equal(s.time_s, utc(2012, 3, 1) + 300.0 * np.arange(3))
    assert read_wide_csv(f).time_s[0] == 0.0  # default start 1970-01-01


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("a,b\n1,2\n3\n", r"line 3: 1 fields, expected 2"),
        ("a,b\n1,2\n3,4,5\n", r"line 3: 3 fields, expected 2"),
        ("a,b\n1,2\n3,x\n", r"line 3: column 'b' value 'x' is not a number"),
        ("a,a\n1,2\n", r"line 1: series name 'a' appears twice"),
        ("time,a\n2012-03-01 00:05,1\n2012-03-01 00:00,2\n", r"line 3: time .* is before"),
    ],
)
def test_wide_malformed(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(TrafficFormatError, match=needle):
        read_wide_csv(write(tmp_path, body))


def test_long_pivot(tmp_path: Path) -> None:
    body = (
        "timestamp,sensor,flow\n"
        "2016-01-04 00:05,B,7\n2016-01-04 00:00,A,1\n2016-01-04 00:05,A,2\n2016-01-04 00:10,B,\n"
    )
    s = read_long_csv(write(tmp_path, body))
    assert s.names == ("B", "A") and s.quantity == "flow"
    np.testing.assert_array_equal(s.time_s, utc(2016, 1, 4) + 300.0 * np.arange(3))
    np.testing.assert_array_equal(s.values, [[np.nan, 1.0], [7.0, 2.0], [np.nan, np.nan]])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("time,id,value\n0,a,1\n0,b,2\n0,a,3\n", r"line 4: series 'a' at time '0' repeats line 2"),
        ("time,id,value\n0,a,1\n5,a,x\n", r"line 3: column 'value' value 'x' is not a number"),
        ("time,value\n0,1\n", r"line 1: .* lacks column\(s\) \['series'\]"),
    ],
)
def test_long_malformed(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(TrafficFormatError, match=needle):
        read_long_csv(write(tmp_path, body))


def test_read_traffic_sniffs_the_format(tmp_path: Path) -> None:
    pems = write(tmp_path, "\ufeff" + PEMS_HEADER + "13/01/2016 7:05,3,1,100\n", name="p.csv")
    long = write(tmp_path, "time,server,load\n0,a,1\n300,a,2\n", name="l.csv")
    wide = write(tmp_path, "a,b\n1,2\n", name="w.csv")
    assert read_traffic(pems).quantity == "flow"
    assert read_traffic(long).names == ("a",)
    assert read_traffic(wide, start="2020-01-01 00:00").time_s[0] == utc(2020, 1, 1)
    assert read_traffic(pems, format="pems", lanes="each").names == ("lane 1",)
    with pytest.raises(ValueError, match="format must be"):
        read_traffic(wide, format="xml")


# --------------------------------------------------------------------------- container


def test_container_validates() -> None:
    with pytest.raises(ValueError, match="time_s must have shape"):
        TrafficSeries(np.zeros((3, 2)), np.arange(2.0), ("a", "b"))
    with pytest.raises(ValueError, match="names has 1 entries"):
        TrafficSeries(np.zeros((2, 2)), np.arange(2.0), ("a",))
    with pytest.raises(ValueError, match="strictly increasing"):
        TrafficSeries(np.zeros((2, 1)), np.array([5.0, 5.0]), ("a",))
    with pytest.raises(ValueError, match="values must be 2-D"):
        TrafficSeries(np.zeros(2), np.arange(2.0), ("a",))


def test_select_slice_concat() -> None:
    s = series([[1, 2, 3], [4, 5, 6]])
    assert s.n_steps == 2 and s.n_series == 3 and s.interval_s == 300.0
    assert s.select(["s2", "s0"]).values.tolist() == [[3, 1], [6, 4]]
    assert s.select("s1").names == ("s1",)
    assert s.select(2).names == ("s0", "s1")
    with pytest.raises(KeyError, match="unknown series"):
        s.select(["zz"])
    tail = s.slice_steps(1, 2)
    assert tail.n_steps == 1 and tail.time_s[0] == 300.0
    head = s.slice_steps(0, 1)
    joined = TrafficSeries.concat([tail, head])  # put back into time order
    np.testing.assert_array_equal(joined.values, s.values)
    np.testing.assert_array_equal(joined.time_s, s.time_s)
    with pytest.raises(ValueError, match="overlap"):
        TrafficSeries.concat([s, tail])
    with pytest.raises(ValueError, match="cannot concat series named"):
        TrafficSeries.concat([s, s.select(1)])


def test_regular_inserts_nan_rows_for_a_missing_day() -> None:
    day = 86400.0
    t = np.concatenate([np.arange(0, day, 300.0), np.arange(2 * day, 3 * day, 300.0)])
    s = TrafficSeries(np.ones((t.size, 1)), t, ("x",))
    r = s.regular()
    assert r.n_steps == 3 * 288
    assert np.isnan(r.values[288:576]).all() and not np.isnan(r.values[:288]).any()
    np.testing.assert_array_equal(r.time_s, 300.0 * np.arange(3 * 288))
    assert r.missing_fraction() == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="not on the regular"):
        TrafficSeries(np.ones((4, 1)), np.array([0.0, 300.0, 600.0, 750.0]), ("x",)).regular()


def test_fill_short_gaps() -> None:
    col = np.arange(30, dtype=float)
    col[5:7] = np.nan  # 2-step gap: filled
    col[12:22] = np.nan  # 10-step gap: kept
    col[0] = np.nan  # edge run: kept
    s = TrafficSeries(col[:, None], 300.0 * np.arange(30), ("x",))
    filled = fill_short_gaps(s, max_gap_steps=3).values[:, 0]
    np.testing.assert_allclose(filled[5:7], [5.0, 6.0])
    assert np.isnan(filled[12:22]).all() and np.isnan(filled[0])
    assert np.isnan(s.values[5, 0])  # input untouched
    # Interpolation is in time, not in steps.
    u = TrafficSeries(np.array([[0.0], [np.nan], [30.0]]), np.array([0.0, 100.0, 300.0]), ("x",))
    assert fill_short_gaps(u).values[1, 0] == pytest.approx(10.0)


# --------------------------------------------------------------------------- synthetic


def test_synthetic_deterministic_and_plausible() -> None:
    a = synthetic_traffic(n_series=3, days=14, seed=7)
    b = synthetic_traffic(n_series=3, days=14, seed=7)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, synthetic_traffic(n_series=3, days=14, seed=8).values)
    assert a.values.shape == (14 * 288, 3) and a.interval_s == 300.0
    assert (a.quantity, a.unit, a.source) == ("flow", "veh/5min", "synthetic(seed=7)")
    assert a.time_s[0] == utc(2024, 1, 1)  # a Monday
    assert (a.values >= 0).all() and not np.isnan(a.values).any()
    hour = (a.time_s % 86400) // 3600
    weekday = ((a.time_s // 86400).astype(int) + 3) % 7
    wk = weekday < 5
    for j in range(3):
        v = a.values[:, j]
        assert v[wk & (hour == 8)].mean() > 3 * v[wk & (hour == 3)].mean()
        assert v[wk & (hour == 17)].mean() > 3 * v[wk & (hour == 3)].mean()
        assert v[~wk].mean() < 0.85 * v[wk].mean()


def test_synthetic_scales_with_interval() -> None:
    a = synthetic_traffic(n_series=2, days=7, seed=1)
    b = synthetic_traffic(n_series=2, days=7, seed=1, interval_s=900.0)
    assert b.unit == "veh/15min" and b.n_steps == 7 * 96
    assert b.values.mean() == pytest.approx(3 * a.values.mean(), rel=0.15)
