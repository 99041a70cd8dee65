"""Base-station (cell tower) lists: reading, cropping to a region, thinning to a minimum spacing.

:func:`read_stations` reads

* the Shanghai Telecom CSV (``,index,latitude,longitude,address,id``: an unnamed pandas
  index column first; station id from ``id``),
* the Beijing cellocation CSV (``row,lat,lon,radius_m,address,errcode``; station id from
  ``row``),
* any CSV whose header names a latitude and a longitude column, with the spellings the trace
  reader knows (:data:`vtwin.data.traces.COLUMN_ALIASES`: ``lat``/``latitude``/``lat_deg``,
  ``lon``/``long``/``lng``/``longitude``/``lon_deg``); a station id is taken from a
  ``station_id``/``cell_id``/``site_id`` column or the trace reader's id spellings, if any.

Exact duplicate coordinates are dropped (the first kept, the number dropped recorded). A
malformed row raises :class:`StationFormatError` naming the file, line, field and value.
:func:`in_region` keeps the stations inside a latitude/longitude box and :func:`thin` keeps a
deterministic greedy subset in which no two stations are closer than a minimum spacing
(great-circle distance, :func:`vtwin.physics.geo.haversine_m`): RSUs of a real-data scenario.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from vtwin.arrays import FloatArray
from vtwin.data.textfile import check_text_file, names_undecodable
from vtwin.data.traces import COLUMN_ALIASES, degrees
from vtwin.physics.geo import EARTH_RADIUS_M

__all__ = [
    "StationFormat",
    "StationFormatError",
    "Stations",
    "globe_degrees",
    "in_region",
    "read_stations",
    "thin",
]

StationFormat = Literal["auto", "shanghai-telecom", "beijing-cellocation", "csv"]
"""``read_stations`` formats: ``auto`` recognises the two named ones by their header and
reads anything else as a generic latitude/longitude CSV (``csv``)."""

_ID_ALIASES = ("station_id", "cell_id", "site_id", "bs_id", *COLUMN_ALIASES["id"])
"""Header spellings of an optional station id column of a generic CSV (first found wins)."""

_KNOWN: dict[str, tuple[str, str, str]] = {
    "shanghai-telecom": ("latitude", "longitude", "id"),
    "beijing-cellocation": ("lat", "lon", "row"),
}
"""Latitude, longitude and station id columns of the named formats."""


def globe_degrees(owner: str, lat: object, lon: object) -> tuple[FloatArray, FloatArray]:
    """``lat`` and ``lon`` as 1-D float64 arrays of degrees on the globe ([−90, 90] and
    [−180, 180], finite), else a ValueError naming ``owner``, the field, the first bad index,
    its value and the range."""
    arrays = []
    for name, values, bound in (("lat_deg", lat, 90.0), ("lon_deg", lon, 180.0)):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{owner}: {name} must be numeric degrees") from exc
        if arr.ndim != 1:
            raise ValueError(f"{owner}: {name} must be 1-D, got shape {arr.shape}")
        bad = ~(np.abs(arr) <= bound)  # also catches nan
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{owner}: {name}[{i}] = {float(arr[i])!r}, allowed [{-bound:g}, {bound:g}] degrees"
            )
        arrays.append(arr)
    return arrays[0], arrays[1]


@dataclass(frozen=True)
class Stations:
    """Base-station positions: latitude and longitude in degrees, optional ids, their source.

    ``duplicates_dropped`` counts the rows of the source file that repeated an earlier
    station's exact coordinates and were left out.
    """

    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    station_id: tuple[str, ...] | None = None
    source: Path | None = None
    duplicates_dropped: int = field(default=0)

    def __post_init__(self) -> None:
        """Coerce the coordinates to finite 1-D float64 arrays of equal length, in range."""
        arrays = globe_degrees("stations", self.lat_deg, self.lon_deg)
        object.__setattr__(self, "lat_deg", arrays[0])
        object.__setattr__(self, "lon_deg", arrays[1])
        if arrays[0].size != arrays[1].size:
            raise ValueError(
                f"stations: lat_deg and lon_deg must have equal lengths, got "
                f"{arrays[0].size} and {arrays[1].size}"
            )
        if self.station_id is not None:
            ids = tuple(str(s) for s in self.station_id)
            if len(ids) != arrays[0].size:
                raise ValueError(
                    f"stations: station_id has {len(ids)} entries, expected {arrays[0].size}"
                )
            object.__setattr__(self, "station_id", ids)
        if self.source is not None:
            object.__setattr__(self, "source", Path(self.source))

    def __len__(self) -> int:
        """Number of stations."""
        return int(self.lat_deg.size)

    @property
    def latlon_deg(self) -> NDArray[np.float64]:
        """Positions ``[n, 2]`` as (latitude, longitude) degrees."""
        return np.stack([self.lat_deg, self.lon_deg], axis=-1)

    def select(self, index: ArrayLike) -> Stations:
        """The stations picked by a boolean mask ``[n]`` or an integer index array, in that
        order (same ``source``; ``duplicates_dropped`` carried over)."""
        idx = np.asarray(index)
        if idx.dtype == np.bool_:
            if idx.shape != (len(self),):
                raise ValueError(f"stations: mask of shape {idx.shape}, expected ({len(self)},)")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).ravel()
        ids = None if self.station_id is None else tuple(self.station_id[i] for i in idx)
        return Stations(
            lat_deg=self.lat_deg[idx],
            lon_deg=self.lon_deg[idx],
            station_id=ids,
            source=self.source,
            duplicates_dropped=self.duplicates_dropped,
        )


class StationFormatError(ValueError):
    """A station file is malformed; the message names the file, the line, field and value."""


def _find(names: list[str], aliases: tuple[str, ...]) -> int | None:
    for alias in aliases:
        if alias in names:
            return names.index(alias)
    return None


def _detect(names: list[str]) -> str:
    """The named format a header belongs to, else ``csv``."""
    if names[:1] == [""] and {"latitude", "longitude", "id"} <= set(names):
        return "shanghai-telecom"
    if {"row", "lat", "lon", "radius_m", "errcode"} <= set(names):
        return "beijing-cellocation"
    return "csv"


def _columns(
    names: list[str], header: list[str], fmt: str, path: Path
) -> tuple[int, int, int | None]:
    """Indices of the latitude, longitude and (optional) station id columns."""
    if fmt in _KNOWN:
        wanted = _KNOWN[fmt]
        missing = [w for w in wanted if w not in names]
        if missing:
            raise StationFormatError(
                f"{path}, line 1: header {header} lacks column(s) {missing} of the {fmt} "
                f"format, which has {list(wanted)}"
            )
        return names.index(wanted[0]), names.index(wanted[1]), names.index(wanted[2])
    lat = _find(names, COLUMN_ALIASES["lat"])
    lon = _find(names, COLUMN_ALIASES["lon"])
    if lat is None or lon is None:
        raise StationFormatError(
            f"{path}, line 1: header {header} names no "
            f"{'latitude' if lat is None else 'longitude'} column; allowed names: "
            f"{'/'.join(COLUMN_ALIASES['lat'])} and {'/'.join(COLUMN_ALIASES['lon'])}"
        )
    return lat, lon, _find(names, _ID_ALIASES)


@names_undecodable(StationFormatError, "station file")
def read_stations(path: str | Path, *, format: StationFormat = "auto") -> Stations:
    """Read a base-station CSV (header required) into :class:`Stations`, in file order.

    ``format`` is ``"auto"`` (recognise the Shanghai Telecom and Beijing cellocation headers,
    else generic), ``"shanghai-telecom"``, ``"beijing-cellocation"`` or ``"csv"`` (generic:
    latitude and longitude columns named as in :data:`vtwin.data.traces.COLUMN_ALIASES`,
    station id optional). Coordinates are degrees; a row repeating an earlier row's exact
    (latitude, longitude) is dropped and counted in ``duplicates_dropped``. Empty lines are
    skipped. A row too short for the columns, a non-numeric coordinate or one outside
    [-90, 90] / [-180, 180] raises :class:`StationFormatError` with file, line, field, value.
    """
    path = Path(path)
    if format not in ("auto", *_KNOWN, "csv"):
        raise ValueError(
            f"format = {format!r}: allowed 'auto', 'shanghai-telecom', 'beijing-cellocation', 'csv'"
        )
    check_text_file(path, StationFormatError, "station file")
    lats: list[float] = []
    lons: list[float] = []
    ids: list[str] = []
    seen: set[tuple[float, float]] = set()
    dropped = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise StationFormatError(f"{path}: the file is empty") from None
            names = [h.strip().lower() for h in header]
            fmt = _detect(names) if format == "auto" else format
            i_lat, i_lon, i_id = _columns(names, header, fmt, path)
            width = max(i for i in (i_lat, i_lon, i_id) if i is not None) + 1
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                where = f"{path}, line {reader.line_num}"
                if len(row) < width:
                    raise StationFormatError(
                        f"{where}: {len(row)} fields, expected at least {width} ({fmt} format)"
                    )
                coords = [
                    degrees(
                        row[i], f"{where}: field {header[i].strip()!r}", bound, StationFormatError
                    )
                    for i, bound in ((i_lat, 90.0), (i_lon, 180.0))
                ]
                key = (coords[0], coords[1])
                if key in seen:
                    dropped += 1
                    continue
                seen.add(key)
                lats.append(coords[0])
                lons.append(coords[1])
                if i_id is not None:
                    ids.append(row[i_id].strip())
    except UnicodeDecodeError as exc:
        raise StationFormatError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); convert it first"
        ) from None
    if not lats:
        raise StationFormatError(f"{path}: no data rows")
    return Stations(
        lat_deg=np.asarray(lats, dtype=np.float64),
        lon_deg=np.asarray(lons, dtype=np.float64),
        station_id=tuple(ids) if i_id is not None else None,
        source=path,
        duplicates_dropped=dropped,
    )


def in_region(
    stations: Stations,
    lat_min_deg: float,
    lat_max_deg: float,
    lon_min_deg: float,
    lon_max_deg: float,
) -> Stations:
    """The stations inside the box ``[lat_min_deg, lat_max_deg] × [lon_min_deg, lon_max_deg]``
    (degrees, bounds included), in their order. The box does not wrap across ±180°."""
    for name, lo, hi in (
        ("lat", lat_min_deg, lat_max_deg),
        ("lon", lon_min_deg, lon_max_deg),
    ):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(
                f"{name}_min_deg = {lo!r}, {name}_max_deg = {hi!r}: must be finite degrees "
                f"with {name}_min_deg <= {name}_max_deg"
            )
    lat, lon = stations.lat_deg, stations.lon_deg
    inside = (lat >= lat_min_deg) & (lat <= lat_max_deg) & (lon >= lon_min_deg)
    inside &= lon <= lon_max_deg
    return stations.select(inside)


def thin(stations: Stations, min_spacing_m: float, *, seed: int | None = None) -> Stations:
    """Greedy thinning: a subset in which every two stations are at least ``min_spacing_m``
    metres apart (great-circle distance on a sphere of radius ``EARTH_RADIUS_M``, as
    :func:`vtwin.physics.geo.haversine_m`).

    Stations are visited in file order (``seed=None``) or in the order of a permutation drawn
    from ``numpy.random.default_rng(seed)``; each is kept when it is at least
    ``min_spacing_m`` from every station kept before it. Both are deterministic. The kept
    stations are returned in their original order. Neighbours come from a KD-tree
    (``scipy.spatial.cKDTree``) over unit vectors, where a great-circle distance d is the
    chord 2 sin(d / 2R).
    """
    if not (math.isfinite(min_spacing_m) and min_spacing_m >= 0.0):
        raise ValueError(f"min_spacing_m = {min_spacing_m!r}: must be finite metres >= 0")
    n = len(stations)
    if n == 0 or min_spacing_m == 0.0:
        return stations.select(np.arange(n))
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    lat, lon = np.radians(stations.lat_deg), np.radians(stations.lon_deg)
    xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
    ang = min(min_spacing_m / EARTH_RADIUS_M, math.pi)
    # strictly closer than the spacing: shrink the chord by a relative 1e-12 (float rounding)
    chord = 2.0 * math.sin(ang / 2.0) * (1.0 - 1e-12)
    neighbours = cKDTree(xyz).query_ball_point(xyz, r=chord)
    kept = np.zeros(n, dtype=np.bool_)
    for i in order:
        if not kept[neighbours[i]].any():
            kept[i] = True
    return stations.select(np.flatnonzero(kept))
