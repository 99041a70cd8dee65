"""Traffic time series: a small container, readers for common CSV layouts, a synthetic generator.

A :class:`TrafficSeries` holds ``values[n_steps, n_series]`` (float64, NaN = missing) on strictly
increasing times ``time_s`` (Unix seconds). Time stamps are read as written and stored as if they
were UTC: a PeMS stamp ``01/13/2016 07:05`` (Pacific local time) becomes 2016-01-13 07:05 UTC, so
the hour of day and the weekday seen in ``time_s`` are the local clock's (no time zone or
daylight-saving conversion is done anywhere here).

Formats read (all CSV, UTF-8 with or without BOM; line 1 is the header):

* **PeMS detector / station export** (:func:`read_pems_detector_csv`): a time column named
  ``5 Minutes``, ``Hour``, ``Timestamp`` or ``Time`` and measure columns such as
  ``Lane 1 Flow (Veh/5 Minutes)``, ``Flow (Veh/5 Minutes)`` (station total), ``Speed (mph)``,
  ``Lane 1 Speed (mph)``, ``Occupancy (%)``, ``Lane 1 Occ (%)``; other columns (``# Lane Points``,
  ``% Observed``) are ignored. Stamps are ``MM/DD/YYYY HH:MM[:SS]`` (PeMS), ``DD/MM/YYYY H:MM``
  (some re-exports) or ISO ``YYYY-MM-DD HH:MM[:SS]`` / ``YYYY/MM/DD HH:MM[:SS]``; the day/month
  order is detected from the whole file (see :func:`read_pems_detector_csv`).
* **Wide** (:func:`read_wide_csv`, METR-LA / PEMS-BAY style): one column per sensor, one row per
  time step, with a leading time column or none (then times are ``start + k·interval_s``).
* **Long** (:func:`read_long_csv`): one row per (time, series, value), pivoted to wide.

Missing values: an empty cell or ``NaN`` / ``null`` / ``NA`` / ``-`` reads as NaN. Anything else
that is not a number, a ragged row, a row out of time order or a repeated time raises
:class:`TrafficFormatError` naming the file, the line and the reason; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from vtwin.arrays import FloatArray
from vtwin.data.textfile import check_text_file, names_undecodable

__all__ = [
    "TrafficFormatError",
    "TrafficSeries",
    "fill_short_gaps",
    "parse_timestamp",
    "read_long_csv",
    "read_pems_detector_csv",
    "read_traffic",
    "read_wide_csv",
    "synthetic_traffic",
]


_MISSING = frozenset({"", "nan", "null", "na", "n/a", "none", "-"})
_TIME_NAMES = ("time", "timestamp", "datetime", "date_time", "date", "hour", "t")
_SERIES_NAMES = ("series", "sensor", "sensor_id", "station", "id", "server", "detector")
_VALUE_NAMES = ("value", "flow", "speed", "load", "workload")
_TS_RE = re.compile(
    r"^(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(?:Z|UTC)?$",
    re.IGNORECASE,
)
_PEMS_TIME_RE = re.compile(r"^(\d+ minutes?|hour|timestamp|time|date|datetime)$", re.IGNORECASE)
_PEMS_MEASURE_RE = re.compile(
    r"^(?:lane\s*(\d+)\s+)?(?:avg\.?\s+|total\s+)?(flow|speed|occ|occupancy)\b", re.IGNORECASE
)
_MEASURES = {"flow": "flow", "speed": "speed", "occ": "occupancy", "occupancy": "occupancy"}


MAX_ABS_VALUE = 1e12
"""Largest magnitude a traffic value may have: far above any flow, speed, occupancy or load
in bits per slot, far below where standardising the series would overflow."""


class TrafficFormatError(ValueError):
    """A traffic file is malformed; the message names the file, the line and the reason."""


# --------------------------------------------------------------------------- container


@dataclass(frozen=True, eq=False)
class TrafficSeries:
    """Several aligned traffic time series.

    ``values`` is float64 ``[n_steps, n_series]`` in ``unit`` (NaN = missing); ``time_s`` float64
    ``[n_steps]``, Unix seconds (UTC), strictly increasing; ``names`` one per column.
    ``quantity`` is ``"flow"``, ``"speed"``, ``"occupancy"`` or ``"value"``; ``source`` says where
    the data came from (file paths or ``synthetic(seed=..)``). Arrays are not copied.
    """

    values: FloatArray
    time_s: FloatArray
    names: tuple[str, ...]
    quantity: str = "value"
    unit: str = ""
    source: str = field(default="")

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        time_s = np.asarray(self.time_s, dtype=np.float64)
        names = tuple(str(n) for n in self.names)
        if values.ndim != 2:
            raise ValueError(f"values must be 2-D [n_steps, n_series], got shape {values.shape}")
        if time_s.shape != (values.shape[0],):
            raise ValueError(
                f"time_s must have shape ({values.shape[0]},) to match values, got {time_s.shape}"
            )
        if len(names) != values.shape[1]:
            raise ValueError(
                f"names has {len(names)} entries, values has {values.shape[1]} columns"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"names must be unique, got duplicates in {names[:10]}")
        if np.isinf(values).any():
            raise ValueError("values must be finite or NaN (found ±inf)")
        big = np.abs(np.nan_to_num(values)) > MAX_ABS_VALUE
        if big.any():
            r, c = (int(x[0]) for x in np.nonzero(big))
            where = f"{self.source}: " if self.source else ""
            raise ValueError(
                f"{where}series '{names[c]}' step {r} holds {values[r, c]:g}, beyond "
                f"±{MAX_ABS_VALUE:g} (not a plausible traffic value; scaling it would overflow)"
            )
        if not np.isfinite(time_s).all():
            raise ValueError("time_s must be finite")
        if time_s.size > 1 and not (np.diff(time_s) > 0).all():
            i = int(np.flatnonzero(np.diff(time_s) <= 0)[0]) + 1
            raise ValueError(
                f"time_s must be strictly increasing (step {i} is not after step {i - 1})"
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "time_s", time_s)
        object.__setattr__(self, "names", names)

    @property
    def n_steps(self) -> int:
        """Number of time steps (rows)."""
        return int(self.values.shape[0])

    @property
    def n_series(self) -> int:
        """Number of series (columns)."""
        return int(self.values.shape[1])

    @property
    def interval_s(self) -> float:
        """Median time step, s (NaN with fewer than two steps)."""
        if self.n_steps < 2:
            return math.nan
        return float(np.median(np.diff(self.time_s)))

    def _with(
        self, values: FloatArray, time_s: FloatArray, names: tuple[str, ...]
    ) -> TrafficSeries:
        return TrafficSeries(values, time_s, names, self.quantity, self.unit, self.source)

    def select(self, series: Sequence[str] | str | int) -> TrafficSeries:
        """The series named in ``series`` (in that order; one name may be given as a plain string),
        or the first ``series`` columns when it is an int."""
        if isinstance(series, int):
            if not 0 <= series <= self.n_series:
                raise ValueError(f"cannot select {series} series out of {self.n_series}")
            return self._with(self.values[:, :series], self.time_s, self.names[:series])
        wanted = [series] if isinstance(series, str) else list(series)
        index = {n: i for i, n in enumerate(self.names)}
        unknown = [n for n in wanted if n not in index]
        if unknown:
            raise KeyError(f"unknown series {unknown[:5]}; available: {list(self.names[:10])}…")
        cols = [index[n] for n in wanted]
        return self._with(self.values[:, cols], self.time_s, tuple(wanted))

    def slice_steps(self, start: int, stop: int) -> TrafficSeries:
        """Rows ``start:stop`` (Python slice semantics)."""
        return self._with(self.values[start:stop], self.time_s[start:stop], self.names)

    def regular(self) -> TrafficSeries:
        """Reindex onto the regular grid ``time_s[0] + k·interval_s`` up to the last time.

        Grid steps absent from the data become all-NaN rows (e.g. the weekends of a weekday-only
        export). Every existing time must lie on the grid (within 0.1 % of a step), else
        ``ValueError``.
        """
        if self.n_steps < 2:
            return self
        dt = self.interval_s
        k_float = (self.time_s - self.time_s[0]) / dt
        k = np.rint(k_float).astype(np.int64)
        off = np.abs(k_float - k) > 1e-3
        if off.any() or (np.diff(k) <= 0).any():
            i = (
                int(np.flatnonzero(off)[0])
                if off.any()
                else int(np.flatnonzero(np.diff(k) <= 0)[0])
            )
            raise ValueError(
                f"time at step {i} ({self.time_s[i]:.0f} s) is not on the regular "
                f"{dt:g} s grid starting at {self.time_s[0]:.0f} s"
            )
        n = int(k[-1]) + 1
        if n == self.n_steps:
            return self
        values = np.full((n, self.n_series), np.nan)
        values[k] = self.values
        return self._with(values, self.time_s[0] + dt * np.arange(n), self.names)

    @staticmethod
    def concat(parts: Sequence[TrafficSeries]) -> TrafficSeries:
        """Join parts along time (sorted by their first time); names, quantity and unit must agree
        and the time ranges must not overlap."""
        if not parts:
            raise ValueError("concat needs at least one part")
        first = parts[0]
        for p in parts[1:]:
            if p.names != first.names:
                raise ValueError(f"cannot concat series named {p.names[:5]} to {first.names[:5]}")
            if (p.quantity, p.unit) != (first.quantity, first.unit):
                raise ValueError(
                    f"cannot concat {p.quantity} [{p.unit}] to {first.quantity} [{first.unit}]"
                )
        ordered = sorted((p for p in parts if p.n_steps), key=lambda p: float(p.time_s[0]))
        for a, b in itertools.pairwise(ordered):
            if b.time_s[0] <= a.time_s[-1]:
                raise ValueError(
                    f"parts overlap in time: {b.source or 'a part'} starts at {b.time_s[0]:.0f} s, "
                    f"before {a.source or 'the previous part'} ends at {a.time_s[-1]:.0f} s"
                )
        if not ordered:
            return first
        sources = list(dict.fromkeys(p.source for p in ordered if p.source))
        return TrafficSeries(
            np.concatenate([p.values for p in ordered]),
            np.concatenate([p.time_s for p in ordered]),
            first.names,
            first.quantity,
            first.unit,
            " + ".join(sources),
        )

    def missing_fraction(self) -> float:
        """Fraction of NaN cells (0.0 when empty)."""
        return float(np.isnan(self.values).mean()) if self.values.size else 0.0


def fill_short_gaps(series: TrafficSeries, max_gap_steps: int = 3) -> TrafficSeries:
    """Linearly interpolate (in time) NaN runs of at most ``max_gap_steps`` steps per series.

    Only runs with data on both sides are filled; longer runs and runs at either end stay NaN.
    Run :meth:`TrafficSeries.regular` first so that absent time steps count as gaps.
    """
    if max_gap_steps < 0:
        raise ValueError(f"max_gap_steps must be >= 0, got {max_gap_steps}")
    values = series.values.copy()
    t = series.time_s
    for j in range(series.n_series):
        col = values[:, j]
        nan = np.isnan(col)
        if not nan.any() or nan.all():
            continue
        edges = np.diff(np.concatenate([[0], nan.view(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for a, b in zip(starts, stops, strict=True):  # NaN run is col[a:b]
            if a == 0 or b == len(col) or b - a > max_gap_steps:
                continue
            col[a:b] = np.interp(t[a:b], [t[a - 1], t[b]], [col[a - 1], col[b]])
    return series._with(values, series.time_s, series.names)


# --------------------------------------------------------------------------- timestamps

_Parts = tuple[int, int, int, int, int, int, int, bool]  # a, b, year, h, m, s, µs, ambiguous


def _split_timestamp(text: str) -> _Parts | None:
    """Fields of a timestamp; ``(a, b)`` is (month, day) for ISO and (first, second) otherwise."""
    m = _TS_RE.match(text.strip())
    if m is None:
        return None
    g1, _, g3, g4, hh, mm, ss, frac = m.groups()
    hms = (int(hh or 0), int(mm or 0), int(ss or 0), int((frac or "0").ljust(6, "0")))
    if len(g1) == 4 and len(g4) <= 2:
        return (int(g3), int(g4), int(g1), *hms, False)
    if len(g4) == 4 and len(g1) <= 2:
        return (int(g1), int(g3), int(g4), *hms, True)
    return None


def _to_seconds(p: _Parts, dayfirst: bool) -> float:
    a, b, year, h, mi, s, us, ambiguous = p
    month, day = (b, a) if ambiguous and dayfirst else (a, b)
    return datetime(year, month, day, h, mi, s, us, tzinfo=UTC).timestamp()


def parse_timestamp(text: str, *, dayfirst: bool | None = None) -> float:
    """Unix seconds (stamp read as UTC) of ``MM/DD/YYYY HH:MM[:SS]``, ``DD/MM/YYYY H:MM``, ISO
    ``YYYY-MM-DD[ T]HH:MM[:SS]`` or ``YYYY/MM/DD HH:MM[:SS]`` (time of day optional).

    ``dayfirst=None`` reads ``A/B/YYYY`` day first only when ``A > 12``, else month first (PeMS).
    """
    parts = _split_timestamp(text)
    if parts is None:
        raise ValueError(
            f"time '{text}' is not a timestamp like MM/DD/YYYY HH:MM, DD/MM/YYYY HH:MM "
            "or YYYY-MM-DD HH:MM[:SS]"
        )
    if dayfirst is None:
        dayfirst = parts[7] and parts[0] > 12
    try:
        return _to_seconds(parts, dayfirst)
    except ValueError as exc:
        raise ValueError(f"time '{text}' is not a valid date: {exc}") from None


def _parse_times(
    path: Path, cells: list[str], lines: list[int], dayfirst: bool | None, *, numeric: bool = False
) -> FloatArray:
    """Parse a whole time column, choosing the day/month order that fits every row."""
    if numeric:
        try:
            return np.array([float(c) for c in cells], dtype=np.float64)
        except ValueError:
            pass
    parts: list[_Parts] = []
    for cell, line in zip(cells, lines, strict=True):
        p = _split_timestamp(cell)
        if p is None:
            raise TrafficFormatError(
                f"{path}, line {line}: time '{cell}' is not a timestamp like MM/DD/YYYY HH:MM, "
                "DD/MM/YYYY HH:MM or YYYY-MM-DD HH:MM[:SS]"
            )
        parts.append(p)
    candidates = [dayfirst] if dayfirst is not None else [False, True]
    if dayfirst is None and not any(p[7] for p in parts):
        candidates = [False]  # ISO only: the order does not matter
    parsed: dict[bool, FloatArray] = {}
    failures: dict[bool, tuple[int, str]] = {}
    for df in candidates:
        out = np.empty(len(parts))
        for i, p in enumerate(parts):
            try:
                out[i] = _to_seconds(p, df)
            except ValueError as exc:
                failures[df] = (i, str(exc))
                break
        else:
            parsed[df] = out
    if not parsed:
        df, (i, why) = max(failures.items(), key=lambda kv: kv[1][0])
        order = "DD/MM/YYYY" if df else "MM/DD/YYYY"
        raise TrafficFormatError(
            f"{path}, line {lines[i]}: time '{cells[i]}' is not a valid {order} date ({why})"
        )
    if len(parsed) == 1:
        return next(iter(parsed.values()))
    if not (np.diff(parsed[False]) > 0).all() and (np.diff(parsed[True]) > 0).all():
        return parsed[True]
    return parsed[False]


# --------------------------------------------------------------------------- CSV helpers


@names_undecodable(TrafficFormatError, "traffic file")
def _read_rows(path: str | Path) -> tuple[Path, list[str], list[list[str]], list[int]]:
    """Header (stripped), data rows and their line numbers; blank rows skipped."""
    path = Path(path)
    check_text_file(path, TrafficFormatError, "traffic file")
    rows: list[list[str]] = []
    lines: list[int] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise TrafficFormatError(f"{path}: the file is empty (expected a header on line 1)")
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    if not rows:
        raise TrafficFormatError(f"{path}: no data rows after the header")
    header = [h.strip().lstrip("\ufeff") for h in header]
    return path, header, rows, lines


def _check_width(path: Path, row: list[str], line: int, width: int) -> None:
    if len(row) < width or any(c.strip() for c in row[width:]):
        raise TrafficFormatError(
            f"{path}, line {line}: {len(row)} fields, expected {width} (as in the header)"
        )


def _number(path: Path, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if text.lower() in _MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = math.inf
    if not math.isfinite(value):
        raise TrafficFormatError(
            f"{path}, line {line}: column '{column}' value '{cell}' is not a number"
        )
    if abs(value) > MAX_ABS_VALUE:
        raise TrafficFormatError(
            f"{path}, line {line}: column '{column}' value '{cell}' is beyond ±{MAX_ABS_VALUE:g} "
            "(not a plausible traffic value)"
        )
    return value


def _check_order(path: Path, time_s: FloatArray, cells: list[str], lines: list[int]) -> None:
    bad = np.flatnonzero(np.diff(time_s) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        if time_s[i] == time_s[i - 1]:
            why = f"duplicate time '{cells[i]}' (also on line {lines[i - 1]})"
        else:
            why = (
                f"time '{cells[i]}' is before the previous row's '{cells[i - 1]}' "
                "(rows must be in time order)"
            )
        raise TrafficFormatError(f"{path}, line {lines[i]}: {why}")


def _find(header: list[str], aliases: Sequence[str]) -> int | None:
    low = [h.lower() for h in header]
    return next((low.index(a) for a in aliases if a in low), None)


# --------------------------------------------------------------------------- readers


def _pems_unit(name: str) -> str:
    m = re.search(r"\(([^)]*)\)", name)
    if m is None:
        return ""
    unit = re.sub(r"\s*minutes?", "min", m.group(1).strip().lower())
    return unit.replace("/hour", "/h")


def read_pems_detector_csv(
    path: str | Path, *, measure: str = "flow", lanes: str = "sum", dayfirst: bool | None = None
) -> TrafficSeries:
    """Read a PeMS 5-minute (or hourly) detector/station export.

    ``measure`` is ``flow`` (veh per interval, e.g. unit ``veh/5min``), ``speed`` (``mph``) or
    ``occupancy`` (``%``). ``lanes="sum"`` gives one series named after the measure: the station
    total column when the file has one, else flow summed over the lane columns (NaN if any lane is
    missing, as a partial sum would look like a drop in traffic) or speed/occupancy averaged over
    the lanes that have data. ``lanes="each"`` gives one series per lane (``lane 1``, …; the
    total column alone when there are no lane columns).

    ``dayfirst=None`` detects the date order from the whole file: an order under which any row is
    not a valid date is ruled out (``13/01/2016`` ⇒ day first); if both fit, the one giving
    increasing times wins, else month first (PeMS's own ``MM/DD/YYYY``). Negative values raise.
    """
    if measure not in ("flow", "speed", "occupancy"):
        raise ValueError(f"measure must be 'flow', 'speed' or 'occupancy', got {measure!r}")
    if lanes not in ("sum", "each"):
        raise ValueError(f"lanes must be 'sum' or 'each', got {lanes!r}")
    path, header, rows, lines = _read_rows(path)
    t_col = next((i for i, h in enumerate(header) if _PEMS_TIME_RE.match(h)), None)
    if t_col is None:
        raise TrafficFormatError(
            f"{path}, line 1: header {header} has no time column "
            "(expected '5 Minutes', 'Hour', 'Timestamp' or 'Time')"
        )
    lane_cols: dict[int, int] = {}
    total_col: int | None = None
    for i, h in enumerate(header):
        m = _PEMS_MEASURE_RE.match(h)
        if m is None or _MEASURES[m.group(2).lower()] != measure:
            continue
        if m.group(1) is not None:
            lane_cols.setdefault(int(m.group(1)), i)
        elif total_col is None:
            total_col = i
    if not lane_cols and total_col is None:
        raise TrafficFormatError(
            f"{path}, line 1: header {header} has no {measure} column (expected e.g. "
            f"'Lane 1 {'Occ' if measure == 'occupancy' else measure.title()} (…)' or "
            f"'{measure.title()} (…)')"
        )
    if lanes == "each" and lane_cols:
        cols = [lane_cols[k] for k in sorted(lane_cols)]
        names = tuple(f"lane {k}" for k in sorted(lane_cols))
    else:
        cols = [total_col] if total_col is not None else [lane_cols[k] for k in sorted(lane_cols)]
        names = (measure,) if lanes == "sum" else (header[cols[0]],)
    width = len(header)
    data = np.empty((len(rows), len(cols)))
    for r, (row, line) in enumerate(zip(rows, lines, strict=True)):
        _check_width(path, row, line, width)
        for j, c in enumerate(cols):
            v = _number(path, line, header[c], row[c])
            if v < 0:
                raise TrafficFormatError(
                    f"{path}, line {line}: column '{header[c]}' value '{row[c]}' is negative"
                )
            data[r, j] = v
    if lanes == "sum" and len(cols) > 1:
        if measure == "flow":
            data = data.sum(axis=1, keepdims=True)
        else:
            count = (~np.isnan(data)).sum(axis=1, keepdims=True)
            total = np.nansum(data, axis=1, keepdims=True)
            data = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    cells = [row[t_col] for row in rows]
    time_s = _parse_times(path, cells, lines, dayfirst)
    _check_order(path, time_s, cells, lines)
    return TrafficSeries(data, time_s, names, measure, _pems_unit(header[cols[0]]), str(path))


def read_wide_csv(
    path: str | Path,
    *,
    start: str | None = None,
    interval_s: float = 300.0,
    quantity: str = "value",
    unit: str = "",
) -> TrafficSeries:
    """Read a wide CSV: one column per series (header = names), one row per time step.

    The first column is a time column if its header is empty, ``time``, ``timestamp``, ``date``,
    ``datetime`` (or ``Unnamed: 0``), or its first value is a timestamp; then ``start`` and
    ``interval_s`` are not used. Without a time column (METR-LA ``los_speed.csv``) row ``k`` is at
    ``start + k·interval_s`` (``start`` defaults to ``1970-01-01 00:00``; ``interval_s`` in s).
    """
    if not interval_s > 0:
        raise ValueError(f"interval_s must be > 0, got {interval_s}")
    path, header, rows, lines = _read_rows(path)
    first = header[0].lower()
    has_time = (
        first in ("", *_TIME_NAMES)
        or first.startswith("unnamed")
        or _split_timestamp(rows[0][0]) is not None
    )
    names = header[1:] if has_time else header
    if not names:
        raise TrafficFormatError(f"{path}, line 1: header {header} names no series column")
    empty = [i + 1 for i, n in enumerate(header) if not n and (i > 0 or not has_time)]
    if empty:
        raise TrafficFormatError(f"{path}, line 1: header column {empty[0]} has no name")
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise TrafficFormatError(f"{path}, line 1: series name '{dup}' appears twice")
    width, off = len(header), int(has_time)
    data = np.empty((len(rows), len(names)))
    for r, (row, line) in enumerate(zip(rows, lines, strict=True)):
        _check_width(path, row, line, width)
        try:  # fast path; fall back cell by cell for missing markers and error messages
            data[r] = [float(c) for c in row[off:width]]
        except ValueError:
            data[r] = [
                _number(path, line, n, c) for n, c in zip(names, row[off:width], strict=True)
            ]
    if np.isinf(data).any():
        r, c = (int(x[0]) for x in np.nonzero(np.isinf(data)))
        cell = rows[r][c + off]
        raise TrafficFormatError(
            f"{path}, line {lines[r]}: column '{names[c]}' value '{cell}' is not a number"
        )
    big = np.abs(np.nan_to_num(data)) > MAX_ABS_VALUE
    if big.any():
        r, c = (int(x[0]) for x in np.nonzero(big))
        _number(path, lines[r], names[c], rows[r][c + off])  # raises, naming line and column
    if has_time:
        cells = [row[0] for row in rows]
        time_s = _parse_times(path, cells, lines, None, numeric=True)
        _check_order(path, time_s, cells, lines)
    else:
        t0 = parse_timestamp(start if start is not None else "1970-01-01 00:00")
        time_s = t0 + interval_s * np.arange(len(rows), dtype=np.float64)
    return TrafficSeries(data, time_s, tuple(names), quantity, unit, str(path))


def read_long_csv(path: str | Path, *, quantity: str = "value", unit: str = "") -> TrafficSeries:
    """Read a long CSV (time, series, value per row) and pivot it to one column per series.

    Columns are found by name: time ``time``/``timestamp``/``date``/``datetime``, series
    ``series``/``sensor``/``sensor_id``/``station``/``id``/``server``/``detector``, value
    ``value``/``flow``/``speed``/``load``/``workload``. Times may be timestamps or plain seconds;
    rows may come in any order. The result has the sorted union of times and the series in order
    of first appearance; absent (time, series) pairs are NaN; a repeated pair raises. With the
    default ``quantity="value"`` a ``flow`` or ``speed`` value column sets the quantity.
    """
    path, header, rows, lines = _read_rows(path)
    found = {
        "time": _find(header, _TIME_NAMES),
        "series": _find(header, _SERIES_NAMES),
        "value": _find(header, _VALUE_NAMES),
    }
    missing = [k for k, v in found.items() if v is None]
    if missing:
        raise TrafficFormatError(
            f"{path}, line 1: header {header} lacks column(s) {missing}; expected time: "
            f"time/timestamp/date, series: {'/'.join(_SERIES_NAMES)}, "
            f"value: {'/'.join(_VALUE_NAMES)}"
        )
    tc, sc, vc = (int(found[k] or 0) for k in ("time", "series", "value"))
    width = len(header)
    for row, line in zip(rows, lines, strict=True):
        _check_width(path, row, line, width)
    cells = [row[tc] for row in rows]
    time_s = _parse_times(path, cells, lines, None, numeric=True)
    times, t_index = np.unique(time_s, return_inverse=True)
    keys = [row[sc].strip() for row in rows]
    names = tuple(dict.fromkeys(keys))
    s_of = {n: j for j, n in enumerate(names)}
    data = np.full((len(times), len(names)), np.nan)
    seen: dict[tuple[int, int], int] = {}
    for r, (row, line) in enumerate(zip(rows, lines, strict=True)):
        if not keys[r]:
            raise TrafficFormatError(f"{path}, line {line}: empty series name in '{header[sc]}'")
        cell = (int(t_index[r]), s_of[keys[r]])
        if cell in seen:
            raise TrafficFormatError(
                f"{path}, line {line}: series '{keys[r]}' at time '{row[tc]}' repeats line "
                f"{seen[cell]}"
            )
        seen[cell] = line
        data[cell] = _number(path, line, header[vc], row[vc])
    if quantity == "value" and header[vc].lower() in ("flow", "speed"):
        quantity = header[vc].lower()
    return TrafficSeries(data, times.astype(np.float64), names, quantity, unit, str(path))


@names_undecodable(TrafficFormatError, "traffic file")
def read_traffic(path: str | Path, *, format: str = "auto", **kwargs: Any) -> TrafficSeries:
    """Read a traffic CSV in ``format`` ``pems``, ``wide``, ``long`` or ``auto`` (sniff the header:
    time + series + value columns ⇒ long; a PeMS time column and a flow/speed/occupancy column ⇒
    pems; else wide). ``kwargs`` go to the chosen reader."""
    readers = {"pems": read_pems_detector_csv, "wide": read_wide_csv, "long": read_long_csv}
    if format == "auto":
        p = Path(path)
        check_text_file(p, TrafficFormatError, "traffic file")
        with p.open(newline="", encoding="utf-8-sig") as handle:
            header = [h.strip() for h in next(csv.reader(handle), [])]
        if all(
            _find(header, names) is not None for names in (_TIME_NAMES, _SERIES_NAMES, _VALUE_NAMES)
        ):
            format = "long"
        elif any(_PEMS_TIME_RE.match(h) for h in header) and any(
            _PEMS_MEASURE_RE.match(h) for h in header
        ):
            format = "pems"
        else:
            format = "wide"
    if format not in readers:
        raise ValueError(f"format must be 'auto', 'pems', 'wide' or 'long', got {format!r}")
    reader: Any = readers[format]
    return reader(path, **kwargs)


# --------------------------------------------------------------------------- synthetic data


def _bump(h: FloatArray, centre: float, width: float) -> FloatArray:
    """Gaussian bump in hour of day, wrapped around midnight."""
    d = (h - centre + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def synthetic_traffic(
    n_series: int = 4,
    days: float = 28.0,
    *,
    interval_s: float = 300.0,
    seed: int = 0,
    start: str = "2024-01-01",
    base_flow: float = 300.0,
    noise_std: float = 0.08,
) -> TrafficSeries:
    """Synthetic detector flows, deterministic per ``seed`` (``np.random.default_rng(seed)``).

    ``round(days·86400 / interval_s)`` steps from ``start`` (clock time, stored as UTC); series
    ``sensor_0``, …. Each value is, per series,

    ``base · profile(hour, weekday) · exp(ar) · (1 + noise_std·ε) · incident``, clipped at 0:

    * **base level**: ``base_flow`` (veh per 5 min on a weekday daytime plateau) × a per-series
      factor uniform in [0.6, 1.4], scaled by ``interval_s / 300`` so counts match the interval
      (the unit is ``veh/{interval}min``, ``veh/5min`` by default);
    * **daily profile** (weekdays): a night trough (≈ 0.1 around 3 am), a daytime plateau (1.0,
      logistic ramps at ≈ 6 am and ≈ 9 pm), a morning rush peak at ≈ 8:00 and an evening one at
      ≈ 17:30 (heights +0.4…+0.8 each, drawn per series);
    * **weekly cycle**: Saturday and Sunday have no rush peaks, a lower plateau (0.7 and 0.6) and a
      broad early-afternoon bump;
    * **slow variation**: an AR(1) process in log space, correlation time 2 h, stationary std 0.1;
    * **noise**: multiplicative white noise ``1 + noise_std·ε``, ε ~ N(0, 1);
    * **incidents**: on average one per series per week, 15–60 min long, flow reduced by 30–80 %.
    """
    if n_series < 1 or not days > 0 or not interval_s > 0 or base_flow < 0 or noise_std < 0:
        raise ValueError(
            "need n_series >= 1, days > 0, interval_s > 0, base_flow >= 0, noise_std >= 0; got "
            f"{n_series}, {days}, {interval_s}, {base_flow}, {noise_std}"
        )
    rng = np.random.default_rng(seed)
    n = max(1, round(days * 86400.0 / interval_s))
    time_s = parse_timestamp(start) + interval_s * np.arange(n, dtype=np.float64)
    hour = (time_s % 86400.0) / 3600.0
    weekday = ((time_s // 86400.0).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    day = 1.0 / (1.0 + np.exp(-(hour - 6.0) / 0.6)) - 1.0 / (1.0 + np.exp(-(hour - 21.0) / 0.9))
    plateau = np.select([weekday == 5, weekday == 6], [0.7, 0.6], 1.0)
    weekend = weekday >= 5

    level = base_flow * rng.uniform(0.6, 1.4, n_series) * (interval_s / 300.0)
    am, pm = rng.uniform(0.4, 0.8, n_series), rng.uniform(0.4, 0.8, n_series)
    rush = np.where(
        weekend[:, None],
        0.2 * _bump(hour, 13.5, 2.5)[:, None],
        am * _bump(hour, 8.0, 1.0)[:, None] + pm * _bump(hour, 17.5, 1.2)[:, None],
    )
    profile = 0.1 + (plateau * day)[:, None] * 0.9 + rush * day[:, None]

    phi = math.exp(-interval_s / 7200.0)
    eps = rng.normal(0.0, 0.1 * math.sqrt(1.0 - phi**2), (n, n_series))
    ar = lfilter([1.0], [1.0, -phi], eps, axis=0)
    noise = 1.0 + noise_std * rng.normal(size=(n, n_series))

    incident = np.ones((n, n_series))
    for j in range(n_series):
        for _ in range(rng.poisson(n * interval_s / (7 * 86400.0))):
            i0 = int(rng.integers(n))
            length = max(1, round(rng.uniform(900.0, 3600.0) / interval_s))
            incident[i0 : i0 + length, j] *= 1.0 - rng.uniform(0.3, 0.8)

    values = np.maximum(level * profile * np.exp(ar) * noise * incident, 0.0)
    names = tuple(f"sensor_{j}" for j in range(n_series))
    unit = f"veh/{interval_s / 60.0:g}min"
    return TrafficSeries(values, time_s, names, "flow", unit, f"synthetic(seed={seed})")
