"""Generic GPS-trace CSV reader: one row per fix with a vehicle id, a time, latitude, longitude.

The header names the columns; common spellings are recognised (``id``/``vehicle_id``/
``taxi_id``, ``time``/``timestamp``/``t``, ``lat``/``latitude``, ``lon``/``long``/``lng``/
``longitude``), so the per-taxi files of the T-Drive sample (``id,time,long,lat``) read as they
are; :func:`read_tdrive` also reads the original header-less T-Drive files and whole
folders of them. Times are seconds (numbers) or ``YYYY-MM-DD HH:MM:SS`` datetimes (read as UTC; only
differences matter). A malformed row raises :class:`TraceFormatError` naming the file, line and
reason; nothing is silently dropped.

:func:`read_suvnet` reads the header-less SJTU / SUVnet Shanghai taxi format (10 fields per
line, rows unsorted, repeated timestamps), and :func:`split_windows` cuts one long trace into
several shorter non-overlapping ones (several vehicles from one taxi). :func:`read_traces`
reads any of the three by name or recognises the format from the file
(:func:`detect_trace_format`).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from vtwin.data.textfile import check_text_file, names_undecodable

__all__ = [
    "COLUMN_ALIASES",
    "Trace",
    "TraceFormat",
    "TraceFormatError",
    "degrees",
    "detect_trace_format",
    "parse_time_s",
    "read_suvnet",
    "read_tdrive",
    "read_trace_csv",
    "read_traces",
    "split_windows",
]

TraceFormat = Literal["auto", "tdrive", "suvnet", "csv"]
"""Formats :func:`read_traces` knows; ``auto`` asks :func:`detect_trace_format`."""

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "vehicle_id", "vehicle", "taxi_id", "taxi", "car_id", "track_id"),
    "time": ("time", "timestamp", "t", "time_s", "datetime", "date_time"),
    "lat": ("lat", "latitude", "lat_deg"),
    "lon": ("lon", "long", "lng", "longitude", "lon_deg"),
}
"""Header spellings of the id, time, latitude and longitude columns (also used by the station
reader, :mod:`vtwin.data.stations`)."""

_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S")


@dataclass(frozen=True)
class Trace:
    """One vehicle's GPS trace: times in seconds, latitude and longitude in degrees."""

    vehicle_id: str
    time_s: NDArray[np.float64]
    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]

    def __post_init__(self) -> None:
        """Coerce the three series to 1-D float64 arrays of equal length."""
        arrays = []
        for name in ("time_s", "lat_deg", "lon_deg"):
            try:
                arr = np.asarray(getattr(self, name), dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"trace {self.vehicle_id!r}: {name} must be numeric, got "
                    f"{getattr(self, name)!r}"
                ) from exc
            if arr.ndim != 1:
                raise ValueError(
                    f"trace {self.vehicle_id!r}: {name} must be 1-D, got shape {arr.shape}"
                )
            arrays.append(arr)
            object.__setattr__(self, name, arr)
        lengths = {a.size for a in arrays}
        if len(lengths) != 1:
            raise ValueError(
                f"trace {self.vehicle_id!r}: time_s, lat_deg and lon_deg must have equal "
                f"lengths, got {[a.size for a in arrays]}"
            )


class TraceFormatError(ValueError):
    """A trace file is malformed; the message names the file, the line and the reason."""


MAX_TIME_S = 1e11
"""Largest time a trace may hold, in seconds (about 3 170 years: Unix time until the year
5138); a larger number is a corrupt field, not a time."""


def parse_time_s(text: str) -> float:
    """Seconds from a number or a ``YYYY-MM-DD HH:MM:SS`` datetime (read as UTC); a number
    must be finite and within ±:data:`MAX_TIME_S`."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or abs(value) > MAX_TIME_S:
            raise ValueError(
                f"time '{text}' is not a plausible time in seconds (finite, within ±{MAX_TIME_S:g})"
            )
        return value
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(f"time '{text}' is neither seconds nor YYYY-MM-DD HH:MM:SS")


def _column_map(header: list[str], path: Path) -> dict[str, int]:
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    found: dict[str, int] = {}
    for key, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[key] = names.index(alias)
                break
    missing = [k for k in COLUMN_ALIASES if k not in found]
    if missing:
        raise TraceFormatError(
            f"{path}, line 1: header {header} lacks column(s) {missing}; expected names like "
            + "; ".join(f"{k}: {'/'.join(a[:4])}" for k, a in COLUMN_ALIASES.items())
        )
    return found


_TDRIVE_COLUMNS = {"id": 0, "time": 1, "lon": 2, "lat": 3}
"""Column order of the original T-Drive files (no header): taxi id, datetime, lon, lat."""


def _looks_like_header(row: list[str]) -> bool:
    """A first row whose time field is not a time is a header."""
    if len(row) < 2:
        return True
    try:
        parse_time_s(row[1])
    except ValueError:
        return True
    return False


@names_undecodable(TraceFormatError, "trace file")
def read_trace_csv(
    path: str | Path,
    *,
    max_vehicles: int | None = None,
    header: bool | None = True,
) -> list[Trace]:
    """Read a (vehicle id, time, lat, lon) CSV into one :class:`Trace` per vehicle.

    Vehicles are returned in order of first appearance; ``max_vehicles`` keeps the first ones.
    ``header=False`` reads a file without a header in T-Drive column order (taxi id,
    datetime, longitude, latitude); ``header=None`` decides from the first line.
    """
    path = Path(path)
    if path.is_dir():
        raise TraceFormatError(
            f"{path}: a folder; the csv trace format reads one file (folders of per-taxi "
            "files are read with format tdrive or suvnet)"
        )
    check_text_file(path, TraceFormatError, "trace file")
    rows: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            first = next(reader)
        except StopIteration:
            raise TraceFormatError(f"{path}: the file is empty") from None
        has_header = _looks_like_header(first) if header is None else header
        if has_header:
            cols = _column_map(first, path)
            body: Iterable[tuple[int, list[str]]] = enumerate(reader, start=2)
        else:
            cols = _TDRIVE_COLUMNS
            body = itertools.chain([(1, first)], enumerate(reader, start=2))
        width = max(cols.values()) + 1
        for line_no, row in body:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) < width:
                raise TraceFormatError(
                    f"{path}, line {line_no}: {len(row)} fields, expected at least {width}"
                )
            vid = row[cols["id"]].strip()
            if max_vehicles is not None and vid not in rows and len(rows) >= max_vehicles:
                continue
            try:
                t = parse_time_s(row[cols["time"]])
                lat = float(row[cols["lat"]])
                lon = float(row[cols["lon"]])
            except ValueError as exc:
                raise TraceFormatError(f"{path}, line {line_no}: {exc}") from None
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                raise TraceFormatError(
                    f"{path}, line {line_no}: lat = {lat}, lon = {lon} outside "
                    "[-90, 90] × [-180, 180]"
                )
            rows[vid].append((t, lat, lon))
    if not rows:
        raise TraceFormatError(f"{path}: no data rows")
    traces = []
    for vid, pts in rows.items():
        arr = np.asarray(pts, dtype=np.float64)
        traces.append(Trace(vehicle_id=vid, time_s=arr[:, 0], lat_deg=arr[:, 1], lon_deg=arr[:, 2]))
    return traces


def read_tdrive(path: str | Path, *, max_taxis: int | None = None) -> list[Trace]:
    """Read T-Drive taxi trajectories: one per-taxi file, or a folder of them.

    Each file holds ``taxi id, YYYY-MM-DD HH:MM:SS, longitude, latitude`` lines, with or
    without an ``id,time,long,lat`` header (both variants circulate). A folder is read file
    by file (``*.txt`` and ``*.csv``, in numeric order of their names), keeping the first
    ``max_taxis`` taxis. Malformed lines raise :class:`TraceFormatError` with file and line.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.suffix in (".txt", ".csv") and p.is_file()),
            key=lambda p: (0, int(p.stem), "") if p.stem.isdigit() else (1, 0, p.stem),
        )
        if not files:
            raise TraceFormatError(f"{path}: no *.txt or *.csv trace files in the folder")
        traces: list[Trace] = []
        for file in files:
            if max_taxis is not None and len(traces) >= max_taxis:
                break
            left = None if max_taxis is None else max_taxis - len(traces)
            traces += read_trace_csv(file, max_vehicles=left, header=None)
        return traces
    return read_trace_csv(path, max_vehicles=max_taxis, header=None)


def degrees(cell: str, what: str, bound: float, error: type[ValueError]) -> float:
    """``cell`` read as degrees in [−bound, bound] (90 for latitude, 180 for longitude);
    otherwise ``error`` with ``what`` (file, line and field) and the value."""
    try:
        value = float(cell)
    except ValueError:
        raise error(f"{what} = {cell!r} is not a number") from None
    if not -bound <= value <= bound:  # also rejects nan
        raise error(f"{what} = {cell.strip()} degrees, allowed [{-bound:g}, {bound:g}]")
    return value


# --------------------------------------------------------------------------- SJTU / SUVnet

SUVNET_FIELDS = (
    "record id",
    "taxi id",
    "lon",
    "lat",
    "speed",
    "heading",
    "time",
    "status",
    "estatus",
    "reserved",
)
"""The 10 comma-separated fields of a SUVnet line (as named by VANETsim's parser): record id,
taxi id, longitude (deg E), latitude (deg N), speed (km/h), heading (deg), time
``YYYY-MM-DD HH:MM:SS``, status (0 vacant / 1 occupied), and two fields left empty."""

_SUVNET_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _natural_key(p: Path) -> tuple[int, int, str]:
    """Files whose stem is a number first, in numeric order; then the others by name."""
    return (0, int(p.stem), "") if p.stem.isdigit() else (1, 0, p.name)


def _suvnet_files(folder: Path) -> list[Path]:
    """Data files of a SUVnet folder: ``*.txt``, ``*.csv`` and extension-less files (the
    original ``Taxi_105``-style names), skipping hidden files, READMEs and ``*SUMS``."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.suffix.lower() in (".txt", ".csv", "")
        and not p.name.startswith(".")
        and not p.name.upper().startswith("README")
        and not p.name.upper().endswith("SUMS")
    ]
    return sorted(files, key=_natural_key)


@names_undecodable(TraceFormatError, "SUVnet trace file")
def _suvnet_rows(
    path: Path,
    rows: dict[str, list[tuple[float, int, float, float]]],
    max_taxis: int | None,
) -> None:
    """Append ``(time s, record id, lat, lon)`` of each line of ``path`` to ``rows[taxi id]``."""
    n_fields = len(SUVNET_FIELDS)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{path}, line {line_no}"
            if len(row) != n_fields:
                raise TraceFormatError(
                    f"{where}: {len(row)} fields, expected {n_fields} ({', '.join(SUVNET_FIELDS)})"
                )
            taxi = row[1].strip()
            if not taxi:
                raise TraceFormatError(f"{where}: field 2 (taxi id) is empty")
            if max_taxis is not None and taxi not in rows and len(rows) >= max_taxis:
                continue
            try:
                record = int(row[0])
            except ValueError:
                raise TraceFormatError(
                    f"{where}: field 1 (record id) = {row[0]!r} is not an integer"
                ) from None
            values = [
                degrees(row[idx], f"{where}: field {idx + 1} ({name})", bound, TraceFormatError)
                for idx, name, bound in ((3, "lat", 90.0), (2, "lon", 180.0))
            ]
            try:
                t = (
                    datetime.strptime(row[6].strip(), _SUVNET_TIME_FORMAT)
                    .replace(tzinfo=UTC)
                    .timestamp()
                )
            except ValueError:
                raise TraceFormatError(
                    f"{where}: field 7 (time) = {row[6]!r} is not YYYY-MM-DD HH:MM:SS"
                ) from None
            rows[taxi].append((t, record, values[0], values[1]))


def read_suvnet(path: str | Path, *, max_taxis: int | None = None) -> list[Trace]:
    """Read SJTU / SUVnet Shanghai taxi GPS lines: one file, or a folder of them.

    Each line holds the 10 fields of :data:`SUVNET_FIELDS` without a header; only the taxi
    id, longitude, latitude and time are kept (speed, heading and status are not read).
    Lines come in any order: each taxi's points are sorted by time (times read as UTC,
    seconds since the epoch; only differences matter). Of several points of one taxi with
    the same time, the one with the smallest record id is kept (in the SJTU sample repeated
    times always repeat the position too). A folder is read file by file (``*.txt``,
    ``*.csv`` and extension-less files, numeric names in numeric order, then by name;
    READMEs and checksum files skipped) and a taxi spread over several files is joined.
    Taxis are returned in order of first appearance; ``max_taxis`` keeps the first ones.
    A malformed line (field count other than 10, empty taxi id, non-integer record id,
    non-numeric or out-of-range latitude / longitude, a time not ``YYYY-MM-DD HH:MM:SS``)
    raises :class:`TraceFormatError` naming the file, the line, the field and its value.
    """
    path = Path(path)
    if max_taxis is not None and max_taxis < 1:
        raise ValueError(f"max_taxis = {max_taxis!r}: must be a positive integer or None")
    if path.is_dir():
        files = _suvnet_files(path)
        if not files:
            raise TraceFormatError(
                f"{path}: no SUVnet files (*.txt, *.csv or without extension) in the folder"
            )
    elif path.is_file():
        files = [path]
    else:
        raise TraceFormatError(f"{path}: no such SUVnet file or folder")
    rows: dict[str, list[tuple[float, int, float, float]]] = defaultdict(list)
    for file in files:
        _suvnet_rows(file, rows, max_taxis)
    if not rows:
        raise TraceFormatError(f"{path}: no data lines")
    traces = []
    for taxi, pts in rows.items():
        pts.sort(key=lambda p: (p[0], p[1]))  # by time, then record id
        arr = np.asarray([(p[0], p[2], p[3]) for p in pts], dtype=np.float64)
        keep = np.ones(len(arr), dtype=np.bool_)
        keep[1:] = arr[1:, 0] != arr[:-1, 0]  # first (smallest record id) of equal times
        arr = arr[keep]
        traces.append(
            Trace(vehicle_id=taxi, time_s=arr[:, 0], lat_deg=arr[:, 1], lon_deg=arr[:, 2])
        )
    return traces


# --------------------------------------------------------------------------- any format


@names_undecodable(TraceFormatError, "trace file")
def _first_row(path: Path) -> list[str] | None:
    """The first non-empty CSV row of a file (None when it has none)."""
    check_text_file(path, TraceFormatError, "trace file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.reader(handle):
            if row and any(cell.strip() for cell in row):
                return row
    return None


def detect_trace_format(path: str | Path) -> Literal["tdrive", "suvnet", "csv"]:
    """The format of a trace file or folder, from its first non-empty line.

    A header-less line of 10 fields whose 7th is a ``YYYY-MM-DD HH:MM:SS`` time is SUVnet;
    another header-less line (a time in field 2) is T-Drive; a line with a header is a
    generic CSV (:func:`read_trace_csv`; the T-Drive files with an ``id,time,long,lat``
    header read the same either way). A folder has the format of its first data file (in
    numeric order of the names; T-Drive when that is not SUVnet).
    """
    path = Path(path)
    if path.is_dir():
        files = _suvnet_files(path)
        if files and detect_trace_format(files[0]) == "suvnet":
            return "suvnet"
        return "tdrive"
    if not path.is_file():
        raise TraceFormatError(f"{path}: no such trace file or folder")
    row = _first_row(path)
    if row is None:
        raise TraceFormatError(f"{path}: the file is empty")
    if len(row) == len(SUVNET_FIELDS):
        try:
            datetime.strptime(row[6].strip(), _SUVNET_TIME_FORMAT)
        except ValueError:
            pass
        else:
            return "suvnet"
    return "csv" if _looks_like_header(row) else "tdrive"


def read_traces(
    path: str | Path, *, format: TraceFormat = "auto", max_vehicles: int | None = None
) -> list[Trace]:
    """Read GPS traces in a named format (``tdrive``: :func:`read_tdrive`, ``suvnet``:
    :func:`read_suvnet`, ``csv``: :func:`read_trace_csv` with a header) or, with ``auto``,
    the one :func:`detect_trace_format` recognises; ``max_vehicles`` keeps the first ones."""
    fmt = detect_trace_format(path) if format == "auto" else format
    if fmt == "tdrive":
        return read_tdrive(path, max_taxis=max_vehicles)
    if fmt == "suvnet":
        return read_suvnet(path, max_taxis=max_vehicles)
    if fmt == "csv":
        return read_trace_csv(path, max_vehicles=max_vehicles)
    raise ValueError(f"format = {format!r}: allowed 'auto', 'tdrive', 'suvnet', 'csv'")


# --------------------------------------------------------------------------- windows


def split_windows(trace: Trace, n: int, window_s: float, *, gap_s: float = 0.0) -> list[Trace]:
    """Cut ``n`` non-overlapping windows of ``window_s`` seconds out of one trace.

    Window ``k`` covers ``[t0 + k (window_s + gap_s), t0 + k (window_s + gap_s) + window_s]``
    of the trace's clock (``t0`` its first time, ``gap_s`` ≥ 0 seconds skipped between
    windows), is re-timed to start at 0 s and becomes vehicle ``"<vehicle_id>/w<k>"``. Its
    points are the trace's points strictly inside the window plus the position at both ends,
    linearly interpolated in time between the neighbouring fixes (the interpolation trace
    replay applies anyway), so every window has fixes at exactly 0 s and ``window_s``. With
    ``gap_s = 0`` consecutive windows share only their boundary instant. The trace is sorted
    by time first; of equal times the first given is kept. ``ValueError`` when ``n``,
    ``window_s`` or ``gap_s`` are invalid or when ``n window_s + (n − 1) gap_s`` exceeds the
    trace's time span.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n = {n!r}: must be an integer >= 1")
    if not (np.isfinite(window_s) and window_s > 0.0):
        raise ValueError(f"window_s = {window_s!r}: must be finite seconds > 0")
    if not (np.isfinite(gap_s) and gap_s >= 0.0):
        raise ValueError(f"gap_s = {gap_s!r}: must be finite seconds >= 0")
    order = np.argsort(trace.time_s, kind="stable")
    t, lat, lon = trace.time_s[order], trace.lat_deg[order], trace.lon_deg[order]
    keep = np.ones(t.size, dtype=np.bool_)
    keep[1:] = t[1:] != t[:-1]
    t, lat, lon = t[keep], lat[keep], lon[keep]
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"trace {trace.vehicle_id!r}: time_s must be finite and non-empty")
    span = float(t[-1] - t[0])
    needed = int(n) * float(window_s) + (int(n) - 1) * float(gap_s)
    if needed > span:
        raise ValueError(
            f"trace {trace.vehicle_id!r}: {n} windows of {window_s:g} s with gaps of "
            f"{gap_s:g} s need {needed:g} s, allowed at most the trace's span {span:g} s"
        )
    windows = []
    for k in range(int(n)):
        start = float(t[0]) + k * (float(window_s) + float(gap_s))
        end = start + float(window_s)
        inside = (t > start) & (t < end)
        times = np.concatenate([[start], t[inside], [end]])
        windows.append(
            Trace(
                vehicle_id=f"{trace.vehicle_id}/w{k}",
                time_s=times - start,
                lat_deg=np.interp(times, t, lat),
                lon_deg=np.interp(times, t, lon),
            )
        )
    return windows
