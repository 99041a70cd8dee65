"""Generic GPS-trace CSV reader: one row per fix with a vehicle id, a time, latitude, longitude.

The header names the columns; common spellings are recognised (``id``/``vehicle_id``/
``taxi_id``, ``time``/``timestamp``/``t``, ``lat``/``latitude``, ``lon``/``long``/``lng``/
``longitude``), so the per-taxi files of the T-Drive sample (``id,time,long,lat``) read as they
are. Times are seconds (numbers) or ``YYYY-MM-DD HH:MM:SS`` datetimes (read as UTC; only
differences matter). A malformed row raises :class:`TraceFormatError` naming the file, line and
reason; nothing is silently dropped.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vtwin.world.mobility import Trace

__all__ = ["TraceFormatError", "parse_time_s", "read_trace_csv"]

_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "vehicle_id", "vehicle", "taxi_id", "taxi", "car_id", "track_id"),
    "time": ("time", "timestamp", "t", "time_s", "datetime", "date_time"),
    "lat": ("lat", "latitude", "lat_deg"),
    "lon": ("lon", "long", "lng", "longitude", "lon_deg"),
}

_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S")


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


def read_trace_csv(path: str | Path, *, max_vehicles: int | None = None) -> list[Trace]:
    """Read a (vehicle id, time, lat, lon) CSV into one :class:`Trace` per vehicle.

    Vehicles are returned in order of first appearance; ``max_vehicles`` keeps the first ones.
    """
    path = Path(path)
    if not path.is_file():
        raise TraceFormatError(f"{path}: no such trace file")
    rows: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise TraceFormatError(f"{path}: the file is empty") from None
        cols = _column_map(header, path)
        width = max(cols.values()) + 1
        for line_no, row in enumerate(reader, start=2):
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
        raise TraceFormatError(f"{path}: no data rows after the header")
    traces = []
    for vid, pts in rows.items():
        arr = np.asarray(pts, dtype=np.float64)
        traces.append(Trace(vehicle_id=vid, time_s=arr[:, 0], lat_deg=arr[:, 1], lon_deg=arr[:, 2]))
    return traces
