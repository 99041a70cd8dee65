"""Road-sensor locations (loop detectors, PeMS stations): reading, and a local window of them.

:func:`read_sensor_locations` reads a sensor-location CSV into :class:`SensorLocations` (ids,
latitude and longitude in degrees, in file order). Three layouts are recognised:

* a header naming a latitude and a longitude column (any case; the spellings of
  :data:`vtwin.data.traces.COLUMN_ALIASES`: ``lat``/``latitude``/``lat_deg`` and
  ``lon``/``long``/``lng``/``longitude``/``lon_deg``) and, optionally, an id column
  (:data:`ID_COLUMNS`, first found wins). This covers METR-LA's
  ``graph_sensor_locations.csv`` (``index,sensor_id,latitude,longitude``) and PeMSD7(M)'s
  ``PeMSD7_M_Station_Info.csv`` (``,ID,Fwy,Dir,District,Latitude,Longitude``). Without an id
  column a sensor's id is its 0-based data row number.
* no header, fields ``sensor_id,latitude,longitude`` (PEMS-BAY's
  ``graph_sensor_locations_bay.csv``): chosen when the first row names no latitude or
  longitude column and its second and third fields are numbers.

A row that repeats an earlier sensor id with the same coordinates is dropped (counted in
``duplicates_dropped``); the same id at other coordinates is an error. Distinct ids at equal
coordinates are kept: co-located detectors, such as the two directions of a freeway at one
post mile, are separate sensors. Every problem raises :class:`SensorLocationError` with a
one-line message naming the file, the line, the field, the value and what is allowed.

:func:`sensor_window` then picks a ``width_m`` × ``height_m`` rectangle (x east, y north) of
them: centred on a given (latitude, longitude), or the one holding the most sensors, and
gives their positions in metres from its south-west corner (local equirectangular projection
about the window's centre, :class:`vtwin.physics.geo.LocalProjection`).
:meth:`SensorWindow.choose` draws a subset of a given size from a generator.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import FloatArray
from vtwin.data.stations import globe_degrees
from vtwin.data.traces import COLUMN_ALIASES, degrees
from vtwin.physics.geo import LocalProjection

__all__ = [
    "ID_COLUMNS",
    "SensorLocationError",
    "SensorLocations",
    "SensorWindow",
    "SensorWindowError",
    "read_sensor_locations",
    "sensor_window",
]

ID_COLUMNS = (
    "sensor_id",
    "station_id",
    "detector_id",
    "vds_id",
    "id",
    "sensor",
    "station",
    "detector",
    "vds",
)
"""Header spellings (any case) of the sensor id column; ``index`` is never taken for one."""

_NUL_PROBE_BYTES = 8192
"""Bytes at the start of a file searched for a NUL byte (the mark of a binary file)."""


class SensorLocationError(ValueError):
    """A sensor-location file is malformed; the message names file, line, field and value."""


class SensorWindowError(ValueError):
    """A window holds fewer sensors than needed; the message names file, window and counts."""


@dataclass(frozen=True)
class SensorLocations:
    """Road sensors: unique ids, latitude and longitude in degrees, in file order.

    ``source`` is the file they were read from; ``duplicates_dropped`` counts its rows that
    repeated an earlier row's id and coordinates and were left out.
    """

    sensor_id: tuple[str, ...]
    lat_deg: FloatArray
    lon_deg: FloatArray
    source: Path | None = None
    duplicates_dropped: int = field(default=0)

    def __post_init__(self) -> None:
        """Coerce the coordinates to finite 1-D float64 arrays on the globe, ids to unique
        strings, one per sensor."""
        arrays = globe_degrees("sensor locations", self.lat_deg, self.lon_deg)
        object.__setattr__(self, "lat_deg", arrays[0])
        object.__setattr__(self, "lon_deg", arrays[1])
        ids = tuple(str(s) for s in self.sensor_id)
        if not len(ids) == arrays[0].size == arrays[1].size:
            raise ValueError(
                f"sensor locations: sensor_id, lat_deg and lon_deg must have equal lengths, got "
                f"{len(ids)}, {arrays[0].size} and {arrays[1].size}"
            )
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            for sid in ids:
                if sid in seen:
                    raise ValueError(
                        f"sensor locations: sensor id {sid!r} occurs twice; ids must be unique"
                    )
                seen.add(sid)
        object.__setattr__(self, "sensor_id", ids)
        if self.source is not None:
            object.__setattr__(self, "source", Path(self.source))

    def __len__(self) -> int:
        """Number of sensors."""
        return int(self.lat_deg.size)

    @property
    def latlon_deg(self) -> FloatArray:
        """Positions ``[n, 2]`` as (latitude, longitude) degrees."""
        return np.stack([self.lat_deg, self.lon_deg], axis=-1)

    def select(self, index: ArrayLike) -> SensorLocations:
        """The sensors picked by a boolean mask ``[n]`` or an integer index array, in that
        order (same ``source`` and ``duplicates_dropped``)."""
        idx = np.asarray(index)
        if idx.dtype == np.bool_:
            if idx.shape != (len(self),):
                raise ValueError(
                    f"sensor locations: mask of shape {idx.shape}, expected ({len(self)},)"
                )
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).ravel()
        return SensorLocations(
            sensor_id=tuple(self.sensor_id[i] for i in idx),
            lat_deg=self.lat_deg[idx],
            lon_deg=self.lon_deg[idx],
            source=self.source,
            duplicates_dropped=self.duplicates_dropped,
        )


# --------------------------------------------------------------------------- reading


def _find(names: list[str], aliases: tuple[str, ...]) -> int | None:
    for alias in aliases:
        if alias in names:
            return names.index(alias)
    return None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


_HEADERLESS = ("sensor_id", "latitude", "longitude")
"""Fields of a header-less file (PEMS-BAY's ``graph_sensor_locations_bay.csv``)."""


def _layout(first: list[str], path: Path) -> tuple[bool, int, int, int | None, list[str]]:
    """(has header, latitude, longitude and id column indices, field names for messages)."""
    names = [h.strip().lstrip("\ufeff").lower() for h in first]
    i_lat = _find(names, COLUMN_ALIASES["lat"])
    i_lon = _find(names, COLUMN_ALIASES["lon"])
    if i_lat is not None and i_lon is not None:
        return True, i_lat, i_lon, _find(names, ID_COLUMNS), [h.strip() for h in first]
    if i_lat is None and i_lon is None and len(first) >= 3 and all(map(_is_number, first[1:3])):
        return False, 1, 2, 0, [*_HEADERLESS, *(f"field {i + 1}" for i in range(3, len(first)))]
    missing = "latitude" if i_lat is None else "longitude"
    if i_lat is None and i_lon is None:
        missing = "latitude or longitude"
    raise SensorLocationError(
        f"{path}, line 1: header {[h.strip() for h in first]} names no {missing} column; "
        f"allowed names: {'/'.join(COLUMN_ALIASES['lat'])} and "
        f"{'/'.join(COLUMN_ALIASES['lon'])} (any case), or no header with fields "
        f"{','.join(_HEADERLESS)}"
    )


def _check_text(path: Path) -> None:
    """One-line errors for a missing, empty or binary file."""
    if not path.is_file():
        raise SensorLocationError(f"{path}: no such sensor location file")
    with path.open("rb") as handle:
        head = handle.read(_NUL_PROBE_BYTES)
    if not head:
        raise SensorLocationError(f"{path}: the file is empty")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise SensorLocationError(
            f"{path}: binary data (a NUL byte at offset {nul}); expected a CSV text file"
        )


def read_sensor_locations(path: str | Path) -> SensorLocations:
    """Read a sensor-location CSV (layouts in the module docstring) into
    :class:`SensorLocations`, in file order.

    Coordinates are degrees: latitude in [−90, 90], longitude in [−180, 180], finite. Blank
    lines are skipped; a file must hold at least one sensor. Missing, empty, binary or
    non-UTF-8 files, a header without latitude/longitude columns, a row too short, an empty
    id, a coordinate that is not a number or off the globe, and an id repeated at other
    coordinates raise :class:`SensorLocationError` (one line: file, line, field, value,
    what is allowed).
    """
    path = Path(path)
    _check_text(path)
    ids: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    first_at: dict[str, tuple[int, float, float]] = {}
    dropped = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            first = next((row for row in reader if any(c.strip() for c in row)), None)
            if first is None:
                raise SensorLocationError(f"{path}: the file holds only blank lines")
            has_header, i_lat, i_lon, i_id, names = _layout(first, path)
            width = max(i for i in (i_lat, i_lon, i_id) if i is not None) + 1
            first_line = reader.line_num

            def numbered() -> Iterator[tuple[int, list[str]]]:
                if not has_header:
                    yield first_line, first
                for row in reader:
                    yield reader.line_num, row

            for line, row in numbered():
                if not row or all(not cell.strip() for cell in row):
                    continue
                where = f"{path}, line {line}"
                if len(row) < width:
                    raise SensorLocationError(
                        f"{where}: {len(row)} field(s), expected at least {width} "
                        f"({', '.join(names[:width])})"
                    )
                lat = degrees(
                    row[i_lat], f"{where}: field {names[i_lat]!r}", 90.0, SensorLocationError
                )
                lon = degrees(
                    row[i_lon], f"{where}: field {names[i_lon]!r}", 180.0, SensorLocationError
                )
                sid = str(len(ids) + dropped) if i_id is None else row[i_id].strip()
                if not sid:
                    raise SensorLocationError(
                        f"{where}: field {names[i_id or 0]!r} is empty; every sensor needs an id"
                    )
                if sid in first_at:
                    line0, lat0, lon0 = first_at[sid]
                    if (lat0, lon0) == (lat, lon):
                        dropped += 1
                        continue
                    raise SensorLocationError(
                        f"{where}: sensor id {sid!r} at ({lat:g}, {lon:g}) repeats line {line0} "
                        f"at ({lat0:g}, {lon0:g}); an id may repeat only with equal coordinates"
                    )
                first_at[sid] = (line, lat, lon)
                ids.append(sid)
                lats.append(lat)
                lons.append(lon)
            if has_header and not ids:
                raise SensorLocationError(f"{path}: a header but no data rows")
    except UnicodeDecodeError as exc:
        raise SensorLocationError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected a CSV file"
        ) from None
    except csv.Error as exc:
        raise SensorLocationError(f"{path}: not readable as CSV ({exc})") from None
    return SensorLocations(
        sensor_id=tuple(ids),
        lat_deg=np.asarray(lats, dtype=np.float64),
        lon_deg=np.asarray(lons, dtype=np.float64),
        source=path,
        duplicates_dropped=dropped,
    )


# --------------------------------------------------------------------------- the window


@dataclass(frozen=True)
class SensorWindow:
    """The sensors inside a ``width_m`` × ``height_m`` rectangle, in file order.

    ``xy_m`` ``[n, 2]``: metres east (x) and north (y) of the rectangle's south-west corner,
    in ``[0, width_m] × [0, height_m]`` (local equirectangular projection about the
    rectangle's centre, ``center_lat_deg``, ``center_lon_deg``). ``how`` is ``"densest"`` (the
    rectangle holding the most sensors of the file) or ``"center"`` (centred on a given
    point); ``n_in_file`` counts the sensors of the file.
    """

    locations: SensorLocations
    xy_m: FloatArray
    center_lat_deg: float
    center_lon_deg: float
    width_m: float
    height_m: float
    how: str
    n_in_file: int

    def __len__(self) -> int:
        """Number of sensors inside the window."""
        return len(self.locations)

    def choose(self, count: int, rng: np.random.Generator | None) -> NDArray[np.int64]:
        """Indices (ascending) of ``count`` of the window's sensors: all of them when the
        window holds exactly ``count``, else ``count`` drawn without replacement from
        ``rng`` (deterministic for a generator's state)."""
        n = len(self)
        if not 0 <= count <= n:
            raise ValueError(f"count = {count}: the window holds {n} sensors")
        if count == n:
            return np.arange(n, dtype=np.int64)
        if rng is None:
            raise ValueError(f"choosing {count} of {n} sensors needs a generator (rng)")
        return np.sort(rng.choice(n, size=count, replace=False)).astype(np.int64)


def _densest(xy: FloatArray, width_m: float, height_m: float) -> NDArray[np.int64]:
    """Indices of the points inside the closed ``width_m`` × ``height_m`` rectangle that holds
    the most of them (ties: the smallest west edge, then the smallest south edge).

    Some best rectangle has a point on its west edge and one on its south edge, so those
    edges are searched: per west edge (a point's x), the points of the vertical strip are
    sorted by y and counted per south edge with a binary search, O(n² log n) in all.
    """
    order = np.argsort(xy[:, 0], kind="stable")
    xs, ys = xy[order, 0], xy[order, 1]
    best_n, best_x, best_y = -1, 0.0, 0.0
    for west in np.unique(xs):
        lo = int(np.searchsorted(xs, west, side="left"))
        hi = int(np.searchsorted(xs, west + width_m, side="right"))
        strip = np.sort(ys[lo:hi])
        counts = np.searchsorted(strip, strip + height_m, side="right") - np.arange(strip.size)
        j = int(np.argmax(counts))
        if counts[j] > best_n:
            best_n, best_x, best_y = int(counts[j]), float(west), float(strip[j])
    inside = (xy[:, 0] >= best_x) & (xy[:, 0] <= best_x + width_m)
    inside &= (xy[:, 1] >= best_y) & (xy[:, 1] <= best_y + height_m)
    return np.flatnonzero(inside)


def sensor_window(
    locations: SensorLocations,
    width_m: float,
    height_m: float,
    *,
    count: int = 0,
    center_latlon: tuple[float, float] | None = None,
) -> SensorWindow:
    """The sensors of a ``width_m`` × ``height_m`` m rectangle (x east, y north).

    With ``center_latlon`` = (latitude, longitude) degrees the rectangle is centred there
    (sensors projected about that point). Without it the rectangle holding the most sensors
    is searched in a projection about the centre of the sensors' bounding box, and then
    centred on the bounding box of the sensors it holds; those sensors' positions are
    re-projected about that centre and clipped to the rectangle (the two projections differ
    by well under 0.1 % over a city). Neither wraps across ±180° longitude.

    ``count`` is the number of sensors needed: a window holding fewer raises a one-line
    :class:`SensorWindowError` naming the file, the window size and both counts.
    """
    for name, value in (("width_m", width_m), ("height_m", height_m)):
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f"{name} = {value!r}: must be finite metres > 0")
    n = len(locations)
    if n == 0:
        raise ValueError("sensor window: no sensor locations to choose from")
    area = np.array([width_m, height_m])
    if center_latlon is not None:
        c_lat, c_lon = (float(v) for v in center_latlon)
        if not (abs(c_lat) <= 90.0 and abs(c_lon) <= 180.0):
            raise ValueError(
                f"center_latlon = ({c_lat!r}, {c_lon!r}): allowed latitude [-90, 90], "
                "longitude [-180, 180] degrees"
            )
        proj = LocalProjection(c_lat, c_lon)
        xy = proj.to_xy(locations.lat_deg, locations.lon_deg)
        inside = np.flatnonzero(np.all(np.abs(xy) <= area / 2.0, axis=-1))
        how, where = "center", f"centred on ({c_lat:.5f}, {c_lon:.5f})"
    else:
        lat, lon = locations.lat_deg, locations.lon_deg
        mid = LocalProjection(
            float(lat.min() + lat.max()) / 2.0, float(lon.min() + lon.max()) / 2.0
        )
        xy_all = mid.to_xy(lat, lon)
        inside = _densest(xy_all, width_m, height_m)
        box = xy_all[inside]
        c_lat, c_lon = (float(v) for v in mid.to_latlon((box.min(0) + box.max(0)) / 2.0))
        proj = LocalProjection(c_lat, c_lon)
        how = "densest"
        where = f"with the most sensors (centre {c_lat:.5f}, {c_lon:.5f})"
    if inside.size < count:
        source = locations.source if locations.source is not None else "sensor locations"
        raise SensorWindowError(
            f"{source}: the {width_m:g} m × {height_m:g} m window {where} holds "
            f"{inside.size} of the {n} sensors, fewer than the {count} needed"
        )
    chosen = locations.select(inside)
    local = proj.to_xy(chosen.lat_deg, chosen.lon_deg) + area / 2.0
    return SensorWindow(
        locations=chosen,
        xy_m=np.clip(local, 0.0, area),
        center_lat_deg=c_lat,
        center_lon_deg=c_lon,
        width_m=float(width_m),
        height_m=float(height_m),
        how=how,
        n_in_file=n,
    )
