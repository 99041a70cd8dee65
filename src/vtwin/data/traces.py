"""Generic GPS-trace CSV reader: one row per fix with a vehicle id, a time, latitude, longitude.

The header names the columns; common spellings are recognised (``id``/``vehicle_id``/
``taxi_id``, ``time``/``timestamp``/``t``, ``lat``/``latitude``, ``lon``/``long``/``lng``/
``longitude``), so the per-taxi files of the T-Drive sample (``id,time,long,lat``) read as they
are; :func:`read_tdrive` also reads the original header-less T-Drive files and whole
folders of them. Times are seconds (numbers) or ``YYYY-MM-DD HH:MM:SS`` datetimes (read as UTC; only
differences matter). A malformed row raises :class:`TraceFormatError` naming the file, line and
reason; nothing is silently dropped.
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["Trace", "TraceFormatError", "parse_time_s", "read_tdrive", "read_trace_csv"]

_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "vehicle_id", "vehicle", "taxi_id", "taxi", "car_id", "track_id"),
    "time": ("time", "timestamp", "t", "time_s", "datetime", "date_time"),
    "lat": ("lat", "latitude", "lat_deg"),
    "lon": ("lon", "long", "lng", "longitude", "lon_deg"),
}

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


def parse_time_s(text: str) -> float:
    """Seconds from a number or a ``YYYY-MM-DD HH:MM:SS`` datetime (read as UTC)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(f"time '{text}' is neither seconds nor YYYY-MM-DD HH:MM:SS")


def _column_map(header: list[str], path: Path) -> dict[str, int]:
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    found: dict[str, int] = {}
    for key, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[key] = names.index(alias)
                break
    missing = [k for k in _ALIASES if k not in found]
    if missing:
        raise TraceFormatError(
            f"{path}, line 1: header {header} lacks column(s) {missing}; expected names like "
            + "; ".join(f"{k}: {'/'.join(a[:4])}" for k, a in _ALIASES.items())
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
    if not path.is_file():
        raise TraceFormatError(f"{path}: no such trace file")
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
