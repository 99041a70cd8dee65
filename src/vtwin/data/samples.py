"""The small real traffic samples of the shared data folder (``<data dir>/pems/``).

They are not shipped with the package; see ``pems/README.md`` in the data folder for provenance:

* ``pems-detector``: PeMS 5-min flow of one detector lane (``single_detector_flow/train.csv`` +
  ``test.csv``), weekdays of Jan–Mar 2016, ``DD/MM/YYYY H:MM`` stamps, veh/5min;
* ``metr-la``: METR-LA LOS-loop speeds (``metr-la_los-loop/los_speed.csv``), 207 sensors,
  2,016 five-minute steps from 2012-03-01 00:00, mph, no time column.
"""

from __future__ import annotations

import os
from pathlib import Path

from vtwin.data.traffic import TrafficSeries, read_pems_detector_csv, read_wide_csv

__all__ = [
    "DATA_PREFIX",
    "available_samples",
    "metr_la_sample",
    "pems_detector_sample",
    "resolve_data_path",
    "shared_data_dir",
]

ENV_VAR = "VTWIN_DATA_DIR"
DATA_PREFIX = "data:"
"""A config path starting with this is relative to the shared data folder."""
_DETECTOR = ("pems", "single_detector_flow")
_METR_LA = ("pems", "metr-la_los-loop", "los_speed.csv")


def shared_data_dir() -> Path | None:
    """The shared data folder: ``$VTWIN_DATA_DIR`` if set (it must exist, else ``ValueError``),
    else the first existing of ``<cwd>/../shared/data`` and ``<repo root>/../shared/data``,
    else ``None``."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise ValueError(f"{ENV_VAR}={env!r} is not an existing directory")
        return path.resolve()
    repo_root = Path(__file__).resolve().parents[3]
    for base in (Path.cwd(), repo_root):
        candidate = base / ".." / "shared" / "data"
        if candidate.is_dir():
            return candidate.resolve()
    return None


def resolve_data_path(value: str, field: str) -> Path:
    """The file a config path names: ``data:<relative path>`` lies under
    :func:`shared_data_dir`, anything else is an ordinary path (returned unchanged).

    ``field`` is the config field (e.g. ``vehicles.mobility.path``) the errors name: a
    ``data:`` path without a data folder, with nothing after the prefix, leaving the folder
    (``..``, an absolute path) or a ``$VTWIN_DATA_DIR`` that is not a folder raises a one-line
    ``ValueError``. Whether the file exists is left to the reader.
    """
    if not value.startswith(DATA_PREFIX):
        return Path(value)
    relative = value[len(DATA_PREFIX) :].strip()
    rel = Path(relative)
    if not relative or rel.is_absolute() or ".." in rel.parts:
        raise ValueError(
            f"{field} = {value!r}: after '{DATA_PREFIX}' write a path inside the shared data "
            "folder, e.g. 'data:shanghai-taxi/<file>'"
        )
    try:
        root = shared_data_dir()
    except ValueError as exc:
        raise ValueError(f"{field} = {value!r}: {exc}") from None
    if root is None:
        raise ValueError(
            f"{field} = {value!r}: no shared data folder to resolve '{DATA_PREFIX}' against; "
            f"set {ENV_VAR} to it or place it at ../shared/data (relative to the working "
            "directory or the repository)"
        )
    return root / rel


def _data_dir(data_dir: Path | None, what: str) -> Path:
    found = Path(data_dir) if data_dir is not None else shared_data_dir()
    if found is None:
        raise FileNotFoundError(
            f"no shared data folder for the {what} sample: set {ENV_VAR} or place it at "
            "../shared/data relative to the working directory or the repository"
        )
    return found


def pems_detector_sample(data_dir: Path | None = None) -> TrafficSeries:
    """PeMS single-detector flow (veh/5min): ``train.csv`` and ``test.csv`` joined in time order
    (12,096 weekday steps, 2016-01-04 to 2016-03-31; weekends absent, see ``.regular()``)."""
    folder = _data_dir(data_dir, "PeMS detector").joinpath(*_DETECTOR)
    files = [folder / "train.csv", folder / "test.csv"]
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        raise FileNotFoundError(f"PeMS detector sample file(s) not found: {', '.join(absent)}")
    return TrafficSeries.concat([read_pems_detector_csv(f, dayfirst=True) for f in files])


def metr_la_sample(data_dir: Path | None = None, *, max_series: int | None = None) -> TrafficSeries:
    """METR-LA LOS-loop speeds (mph), 2,016 × 207, from 2012-03-01 00:00 every 300 s; the first
    ``max_series`` sensors when given."""
    path = _data_dir(data_dir, "METR-LA").joinpath(*_METR_LA)
    if not path.is_file():
        raise FileNotFoundError(f"METR-LA sample file not found: {path}")
    series = read_wide_csv(
        path, start="2012-03-01 00:00", interval_s=300.0, quantity="speed", unit="mph"
    )
    return series if max_series is None else series.select(max_series)


def available_samples(data_dir: Path | None = None) -> dict[str, bool]:
    """Which samples are present: ``{"pems-detector": …, "metr-la": …}`` (all False without a
    data folder; a bad ``$VTWIN_DATA_DIR`` still raises ``ValueError``)."""
    found = Path(data_dir) if data_dir is not None else shared_data_dir()
    if found is None:
        return {"pems-detector": False, "metr-la": False}
    detector = found.joinpath(*_DETECTOR)
    return {
        "pems-detector": all((detector / f).is_file() for f in ("train.csv", "test.csv")),
        "metr-la": found.joinpath(*_METR_LA).is_file(),
    }
