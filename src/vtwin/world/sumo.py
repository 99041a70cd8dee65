"""Vehicle positions from the SUMO traffic simulator (``vehicles.mobility.kind = sumo``).

SUMO runs through ``libsumo`` (extra ``vtwin[sumo]``: the ``eclipse-sumo`` and ``libsumo``
wheels, which ship the ``sumo``/``netgenerate``/``duarouter`` binaries and the
``randomTrips.py`` tool). Nothing here imports them until a simulation is asked for.

What is simulated:

* **The net.** A user's ``sumocfg`` (with its own net and routes), or a user's ``net_file``
  (with ``route_files``, or seeded random trips), or by default a street grid made by
  ``netgenerate --grid`` over the geography area: ``⌊width / block_m⌋ × ⌊height / block_m⌋``
  blocks from the south-west corner (as :class:`~vtwin.world.mobility.ManhattanGridMobility`
  lays its streets), speed limit the upper end of ``vehicles.mobility.speed_mps``.
* **The vehicles.** Random trips come from ``randomTrips.py --seed`` (one departure every
  ``trip_period_s``, a few more trips than needed since unroutable ones are dropped). The
  first ``pool`` vehicles SUMO inserts (by departure step, then SUMO's order) are tracked;
  slot 0 is ``warmup_s`` after the last of them is inserted. With ``keep_driving`` (the
  default) a tracked vehicle that enters the last edge of its route gets a new destination
  edge drawn from a generator seeded with ``seed`` (``vehicle.changeTarget``), so it drives
  the whole episode; otherwise it leaves at its destination. A vehicle outside the net
  (arrived, or teleported by SUMO's jam resolution) is inactive and keeps its last position.
* **Slots.** SUMO advances ``slot_s / step_length_s`` steps per slot (the config refuses a
  slot that is not a whole number of steps) and positions are read after each slot's steps.
* **Coordinates.** vtwin's local metres are x east, y north from the area's south-west
  corner. A net without a geo-reference is placed with the south-west corner of its
  boundary there (the generated grid starts at 0, 0 anyway). A geo-referenced net in a
  scenario with ``geography.coordinates = latlon`` goes through longitude/latitude
  (``simulation.convertGeo``) and the scenario's projection, so the net lands where it lies
  on the Earth; lat/lon then come from SUMO itself. A net larger than the area is refused.

libsumo is one simulation per process, so the whole episode is simulated once when the
mobility is built (under a lock) and kept as arrays: :class:`SumoTrack`. Tracks are cached
in memory and, unless ``cache: false``, on disk under ``$VTWIN_CACHE_DIR/sumo`` (default
``~/.cache/vtwin``; ``off`` disables it), keyed by the settings, the SUMO version and the
contents of the input files, so env copies and worker processes share one simulation.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vtwin.arrays import BoolArray, FloatArray, IntArray
from vtwin.config import SumoConfig, VTwinConfig
from vtwin.data.samples import resolve_data_path
from vtwin.physics.geo import LocalProjection

__all__ = [
    "SUMO_INSTALL_HINT",
    "SumoMobility",
    "SumoSpec",
    "SumoTrack",
    "pick_vehicles",
    "simulate",
    "sumo_spec",
    "sumo_track",
]

SUMO_INSTALL_HINT = "pip install 'vtwin[sumo]'"
CACHE_DIR_ENV = "VTWIN_CACHE_DIR"
_CACHE_VERSION = 1
_OFF = ("", "0", "off", "none")
_MEMORY_TRACKS = 8
_MAX_INSERT_WAIT_S = 24 * 3600.0  # simulated time allowed for the pool to be inserted
_RETARGET_TRIES = 8

_LOCK = threading.Lock()
_MEMORY: OrderedDict[str, SumoTrack] = OrderedDict()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class SumoTrack:
    """Tabulated positions of the tracked SUMO vehicles, one row per slot.

    Attributes:
        xy_m: ``[slots, pool, 2]`` local metres (x east, y north from the area's corner).
        active: ``[slots, pool]`` True where the vehicle is on the net at that slot.
        latlon_deg: ``[slots, pool, 2]`` (lat, lon) degrees from the net's geo-reference,
            None for a net without one.
        vehicle_ids: SUMO ids of the tracked vehicles, in insertion order.
        slot_s: slot length (s).
        start_time_s: SUMO time of slot 0 (s).
        net_size_m: (width, height) of the net's boundary in metres.
    """

    xy_m: FloatArray
    active: BoolArray
    latlon_deg: FloatArray | None
    vehicle_ids: tuple[str, ...]
    slot_s: float
    start_time_s: float
    net_size_m: tuple[float, float]

    def __post_init__(self) -> None:
        """Freeze the arrays: one track is shared by every env copy and view."""
        for arr in (self.xy_m, self.active, self.latlon_deg):
            if arr is not None:
                arr.flags.writeable = False

    @property
    def n_slots(self) -> int:
        """Slots simulated (slot 0 included)."""
        return int(self.xy_m.shape[0])

    @property
    def pool(self) -> int:
        """Vehicles tabulated."""
        return int(self.xy_m.shape[1])


class SumoMobility:
    """The :class:`~vtwin.world.mobility.Mobility` view of chosen vehicles of a SUMO track.

    ``vehicles`` are indices into the track's pool (default: the first ``n``; repeats are
    allowed, e.g. the picks of several env copies concatenated). Lookups are array reads;
    slots beyond the simulated ones are an error naming the horizon.
    """

    def __init__(
        self, track: SumoTrack, vehicles: Sequence[int] | IntArray | None = None, n: int = 0
    ) -> None:
        """View ``vehicles`` of ``track`` (or its first ``n`` when ``vehicles`` is None)."""
        if vehicles is None:
            if not 0 <= n <= track.pool:
                raise ValueError(f"n = {n}: the SUMO track holds {track.pool} vehicles")
            idx = np.arange(n, dtype=np.int64)
        else:
            idx = np.asarray(vehicles, dtype=np.int64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= track.pool):
                raise ValueError(f"vehicles must index the SUMO pool of {track.pool}, got {idx}")
        self.track = track
        self.index = idx
        self.slot_s = track.slot_s

    @property
    def n(self) -> int:
        """Number of vehicles in this view."""
        return int(self.index.size)

    def _slot(self, t: int) -> int:
        if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 0:
            raise ValueError(f"t must be an integer slot index >= 0, got {t!r}")
        if t >= self.track.n_slots:
            raise ValueError(
                f"slot {t} is beyond the {self.track.n_slots} slots simulated by SUMO "
                "(horizon_slots + 1)"
            )
        return int(t)

    def positions(self, t: int) -> FloatArray:
        """Positions ``[n, 2]`` in local metres at slot ``t``."""
        return self.track.xy_m[self._slot(t), self.index]

    def positions_latlon(self, t: int) -> FloatArray:
        """(lat, lon) degrees ``[n, 2]`` at slot ``t``; needs a geo-referenced net."""
        if self.track.latlon_deg is None:
            raise ValueError("the SUMO net has no geo-reference (no lat/lon positions)")
        return self.track.latlon_deg[self._slot(t), self.index]

    def trajectory(self, n_slots: int) -> FloatArray:
        """Positions ``[n_slots, n, 2]`` in local metres for slots ``0 .. n_slots-1``."""
        if n_slots:
            self._slot(n_slots - 1)
        return self.track.xy_m[:n_slots, self.index]

    def active(self, t: int) -> BoolArray:
        """Mask ``[n]``: True where the vehicle is on the net at slot ``t``."""
        return self.track.active[self._slot(t), self.index]

    def active_matrix(self, n_slots: int) -> BoolArray:
        """Activity mask ``[n_slots, n]`` for slots ``0 .. n_slots-1``."""
        if n_slots:
            self._slot(n_slots - 1)
        return self.track.active[:n_slots, self.index]


def pick_vehicles(pool: int, count: int, rngs: Sequence[np.random.Generator]) -> IntArray:
    """Per generator (env copy), ``count`` distinct vehicles of ``pool`` ``[len(rngs), count]``
    (all of them in order when ``pool == count``)."""
    if count > pool:
        raise ValueError(f"vehicles.count = {count} exceeds the SUMO pool of {pool}")
    rows = [
        np.arange(count) if pool == count else np.sort(g.choice(pool, size=count, replace=False))
        for g in rngs
    ]
    return np.asarray(rows, dtype=np.int64).reshape(len(rngs), count)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SumoSpec:
    """Everything one simulation depends on (files resolved, seed fixed).

    ``grid_blocks`` and ``block_m``/``speed_mps``/``lanes`` describe the generated grid (used
    when neither ``sumocfg`` nor ``net_file`` is set).
    """

    n_slots: int
    slot_s: float
    step_length_s: float
    pool: int
    seed: int
    area_m: tuple[float, float]
    sumocfg: str | None = None
    net_file: str | None = None
    route_files: tuple[str, ...] = ()
    grid_blocks: tuple[int, int] = (1, 1)
    block_m: float = 250.0
    speed_mps: float = 14.0
    lanes: int = 1
    trip_period_s: float = 2.0
    warmup_s: float = 0.0
    keep_driving: bool = True
    origin_latlon: tuple[float, float] | None = None
    fields: dict[str, str] = field(default_factory=dict, compare=False)
    """Config field of each path (for error messages)."""

    @property
    def steps_per_slot(self) -> int:
        """SUMO steps per slot."""
        return round(self.slot_s / self.step_length_s)


def sumo_spec(config: VTwinConfig, seed: int, pool: int | None = None) -> SumoSpec:
    """The simulation a config asks for; ``seed`` is SUMO's seed unless the config fixes it.

    Input files must exist (``data:`` paths resolved); otherwise a one-line ``ValueError``
    names the field and the path.
    """
    mob = config.vehicles.mobility
    scfg = mob.sumo or SumoConfig()
    geo = config.geography
    prefix = "vehicles.mobility.sumo"
    fields: dict[str, str] = {}

    def existing(value: str, name: str) -> str:
        path = resolve_data_path(value, name)
        if not path.is_file():
            shown = f" ({path})" if str(path) != value else ""
            raise ValueError(f"{name} = '{value}'{shown}: no such file")
        fields[str(path.resolve())] = name
        return str(path.resolve())

    sumocfg = existing(scfg.sumocfg, f"{prefix}.sumocfg") if scfg.sumocfg else None
    net = existing(scfg.net_file, f"{prefix}.net_file") if scfg.net_file else None
    routes = tuple(
        existing(r, f"{prefix}.route_files[{i}]") for i, r in enumerate(scfg.route_files)
    )
    count = config.vehicles.count
    size = scfg.pool if scfg.pool is not None else max(4 * count, 1)
    if pool is not None:
        size = pool
    return SumoSpec(
        n_slots=config.horizon_slots + 1,
        slot_s=config.slot_s,
        step_length_s=scfg.step_length_s,
        pool=size,
        seed=scfg.seed if scfg.seed is not None else int(seed),
        area_m=(geo.width_m, geo.height_m),
        sumocfg=sumocfg,
        net_file=net,
        route_files=routes,
        grid_blocks=(
            max(1, int(geo.width_m // mob.block_m)),
            max(1, int(geo.height_m // mob.block_m)),
        ),
        block_m=mob.block_m,
        speed_mps=max(float(mob.speed_mps[1]), 0.1),
        lanes=scfg.lanes,
        trip_period_s=scfg.trip_period_s,
        warmup_s=scfg.warmup_s,
        keep_driving=scfg.keep_driving,
        origin_latlon=(
            (geo.origin_lat_deg, geo.origin_lon_deg) if geo.coordinates == "latlon" else None
        ),
        fields=fields,
    )


def sumo_track(config: VTwinConfig, seed: int, pool: int | None = None) -> SumoTrack:
    """The simulated track of ``config`` (memory cache, then disk cache, then SUMO)."""
    spec = sumo_spec(config, seed, pool)
    scfg = config.vehicles.mobility.sumo or SumoConfig()
    key = _cache_key(spec)
    with _LOCK:
        track = _MEMORY.get(key)
        if track is not None:
            _MEMORY.move_to_end(key)
            return track
    folder = _cache_dir() if scfg.cache else None
    file = folder / f"{key}.npz" if folder is not None else None
    track = _load(file, spec) if file is not None and file.is_file() else None
    if track is None:
        track = simulate(spec)
        if file is not None:
            _save(file, track)
    with _LOCK:
        _MEMORY[key] = track
        while len(_MEMORY) > _MEMORY_TRACKS:
            _MEMORY.popitem(last=False)
    return track


# --------------------------------------------------------------------------- simulation


def _sumo_modules() -> tuple[Any, Path]:
    """``libsumo`` and SUMO_HOME, or a one-line error with the install hint."""
    try:
        import libsumo
        import sumo
    except ImportError:
        raise ValueError(
            "vehicles.mobility.kind = 'sumo' needs SUMO (libsumo and eclipse-sumo): "
            f"{SUMO_INSTALL_HINT}"
        ) from None
    return libsumo, Path(sumo.SUMO_HOME)


def simulate(spec: SumoSpec) -> SumoTrack:
    """Run SUMO once for ``spec`` and tabulate the tracked vehicles (no caching).

    Raises a one-line ``ValueError`` for SUMO failures (naming the input and SUMO's
    message), a net larger than the area, or too few vehicles inserted.
    """
    libsumo, home = _sumo_modules()
    env = {**os.environ, "SUMO_HOME": str(home)}
    with _LOCK, tempfile.TemporaryDirectory(prefix="vtwin-sumo-") as tmp_name:
        tmp = Path(tmp_name)
        if spec.sumocfg is not None:
            inputs = ["-c", spec.sumocfg]
            source = f"vehicles.mobility.sumo.sumocfg = '{spec.sumocfg}'"
            geo_ref = _geo_referenced(_cfg_net(Path(spec.sumocfg)), source)
        else:
            if spec.net_file is None:
                net = _generate_grid(spec, home, tmp, env)
                source = "the generated grid"
            else:
                net = Path(spec.net_file)
                source = f"vehicles.mobility.sumo.net_file = '{spec.net_file}'"
                if spec.route_files:
                    source += f" with route_files {list(spec.route_files)}"
            geo_ref = _geo_referenced(net, source)
            routes = list(spec.route_files) or [str(_random_trips(spec, net, home, tmp, env))]
            inputs = ["-n", str(net), "-r", ",".join(routes)]
        err_log = tmp / "sumo-errors.log"
        args = [
            "sumo",
            *inputs,
            "--seed",
            str(spec.seed),
            "--step-length",
            repr(spec.step_length_s),
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
            "--duration-log.disable",
            "true",
            "--xml-validation",
            "never",
            "--error-log",
            str(err_log),
        ]
        try:
            libsumo.start(args, stdout=subprocess.DEVNULL)
        except Exception as exc:
            with contextlib.suppress(Exception):  # leave libsumo free for the next run
                libsumo.close()
            raise ValueError(
                f"{source}: SUMO could not load it: {_sumo_error(err_log, exc)}"
            ) from None
        try:
            return _run(libsumo, spec, geo_ref)
        except libsumo.TraCIException as exc:
            raise ValueError(f"{source}: SUMO failed: {_sumo_error(err_log, exc)}") from None
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
        finally:
            libsumo.close()


def _sumo_error(log: Path, exc: BaseException) -> str:
    """SUMO's last error line (from its error log) or the exception's message."""
    lines = []
    if log.is_file():
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error")]
    message = (errors or lines or [str(exc) or type(exc).__name__])[-1]
    return " ".join(message.split())  # one line


def _run(ls: Any, spec: SumoSpec, geo_ref: bool) -> SumoTrack:
    """The simulation loop (libsumo started): insert the pool, warm up, sample each slot."""
    (x0, y0), (x1, y1) = ls.simulation.getNetBoundary()
    width, height = spec.area_m
    projection = (
        LocalProjection(*spec.origin_latlon) if geo_ref and spec.origin_latlon is not None else None
    )

    def to_local(x: float, y: float) -> tuple[float, float]:
        if projection is None:
            return x - x0, y - y0
        lon, lat = ls.simulation.convertGeo(x, y)
        lx, ly = projection.to_xy(lat, lon)
        return float(lx), float(ly)

    corners = np.array([to_local(x, y) for x, y in ((x0, y0), (x0, y1), (x1, y0), (x1, y1))])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    tol = 1.0
    if lo[0] < -tol or lo[1] < -tol or hi[0] > width + tol or hi[1] > height + tol:
        raise ValueError(
            f"the SUMO net spans x {lo[0]:.0f}..{hi[0]:.0f} m, y {lo[1]:.0f}..{hi[1]:.0f} m "
            f"from the area's south-west corner, outside the area of {width:g} m × {height:g} m; "
            "enlarge geography.width_m / geography.height_m (or move geography.origin_*)"
        )

    rng = np.random.default_rng(spec.seed)
    targets = [e for e in ls.edge.getIDList() if not e.startswith(":")]
    tracked: list[str] = []
    where: dict[str, int] = {}
    route_len: dict[str, int] = {}
    last = np.zeros((spec.pool, 2))
    last_geo = np.zeros((spec.pool, 2))

    def note_departures() -> None:
        for vid in ls.simulation.getDepartedIDList():
            if len(tracked) < spec.pool and vid not in where:
                where[vid] = len(tracked)
                tracked.append(vid)
                route_len[vid] = len(ls.vehicle.getRoute(vid))
                i = where[vid]
                last[i], last_geo[i] = _position(ls, vid, to_local, geo_ref)

    def retarget() -> None:
        for vid in ls.vehicle.getIDList():
            if vid not in route_len or ls.vehicle.getRouteIndex(vid) < route_len[vid] - 1:
                continue
            here = ls.vehicle.getRoute(vid)[-1]
            for _ in range(_RETARGET_TRIES):
                goal = targets[int(rng.integers(len(targets)))]
                if goal == here:
                    continue
                try:
                    ls.vehicle.changeTarget(vid, goal)
                except ls.TraCIException:
                    continue
                break
            route_len[vid] = len(ls.vehicle.getRoute(vid))

    def advance(steps: int) -> None:
        for _ in range(steps):
            ls.simulation.step()
            note_departures()
            if spec.keep_driving:
                retarget()

    # insert the pool
    while len(tracked) < spec.pool:
        # vehicles still to be inserted: those expected minus those on the net
        to_come = ls.simulation.getMinExpectedNumber() - ls.vehicle.getIDCount()
        if to_come <= 0 and ls.simulation.getTime() > 0:
            raise ValueError(
                f"SUMO inserted only {len(tracked)} vehicles but the pool needs {spec.pool}; "
                "lower vehicles.mobility.sumo.pool / vehicles.count or give more routes"
            )
        if ls.simulation.getTime() > _MAX_INSERT_WAIT_S:
            raise ValueError(
                f"SUMO inserted only {len(tracked)} of {spec.pool} vehicles in "
                f"{_MAX_INSERT_WAIT_S / 3600:g} simulated hours"
            )
        advance(1)
    advance(round(spec.warmup_s / spec.step_length_s))
    start = float(ls.simulation.getTime())

    xy = np.empty((spec.n_slots, spec.pool, 2))
    geo = np.empty((spec.n_slots, spec.pool, 2)) if geo_ref else None
    active = np.zeros((spec.n_slots, spec.pool), dtype=np.bool_)
    for t in range(spec.n_slots):
        if t:
            advance(spec.steps_per_slot)
        present = set(ls.vehicle.getIDList())
        for i, vid in enumerate(tracked):
            if vid in present:
                last[i], last_geo[i] = _position(ls, vid, to_local, geo_ref)
                active[t, i] = True
        xy[t] = last
        if geo is not None:
            geo[t] = last_geo
    np.clip(xy, 0.0, [width, height], out=xy)  # the area's edge, up to projection rounding
    return SumoTrack(
        xy_m=xy,
        active=active,
        latlon_deg=geo,
        vehicle_ids=tuple(tracked),
        slot_s=spec.slot_s,
        start_time_s=start,
        net_size_m=(float(x1 - x0), float(y1 - y0)),
    )


def _position(
    ls: Any, vid: str, to_local: Any, geo_ref: bool
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(local metres, (lat, lon) or zeros) of a vehicle on the net."""
    x, y = ls.vehicle.getPosition(vid)
    if not geo_ref:
        return to_local(x, y), (0.0, 0.0)
    lon, lat = ls.simulation.convertGeo(x, y)
    return to_local(x, y), (lat, lon)


def _tool(args: list[str], env: dict[str, str], what: str, cwd: Path) -> None:
    """Run a SUMO tool in ``cwd`` (its side files stay there); a failure is a one-line error
    with the tool's last output line."""
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if done.returncode:
        out = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        raise ValueError(f"{what} failed: {out[-1] if out else f'exit status {done.returncode}'}")


def _generate_grid(spec: SumoSpec, home: Path, tmp: Path, env: dict[str, str]) -> Path:
    """``netgenerate --grid`` over the area: blocks of ``block_m`` from (0, 0)."""
    net = tmp / "grid.net.xml"
    nx, ny = spec.grid_blocks
    _tool(
        [
            str(home / "bin" / "netgenerate"),
            "--grid",
            "--grid.x-number",
            str(nx + 1),
            "--grid.y-number",
            str(ny + 1),
            "--grid.length",
            repr(spec.block_m),
            "--default.speed",
            repr(spec.speed_mps),
            "--default.lanenumber",
            str(spec.lanes),
            "--no-turnarounds.except-deadend",
            "true",
            "--xml-validation",
            "never",
            "-o",
            str(net),
        ],
        env,
        "netgenerate (the SUMO street grid)",
        tmp,
    )
    return net


def _random_trips(spec: SumoSpec, net: Path, home: Path, tmp: Path, env: dict[str, str]) -> Path:
    """Seeded random trips (``randomTrips.py``): enough departures for the pool, with room
    for unroutable trips that ``--validate`` drops."""
    trips = tmp / "trips.rou.xml"
    n_trips = math.ceil(1.5 * spec.pool) + 5
    _tool(
        [
            sys.executable,
            str(home / "tools" / "randomTrips.py"),
            "-n",
            str(net),
            "-o",
            str(trips),
            "--seed",
            str(spec.seed),
            "--begin",
            "0",
            "--end",
            repr(n_trips * spec.trip_period_s),
            "--period",
            repr(spec.trip_period_s),
            "--validate",
            "--route-file",
            str(tmp / "validated.rou.xml"),
            "--trip-attributes",
            'departLane="best" departSpeed="max" departPos="random"',
        ],
        env,
        f"randomTrips.py on '{net}'",
        tmp,
    )
    return trips


def _open_xml(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _geo_referenced(net: Path, source: str) -> bool:
    """True when the net's ``<location>`` carries a projection (``projParameter`` not '!').

    The whole file is parsed once, so a truncated or non-XML net fails here, in one line
    naming ``source``, rather than deep inside a SUMO tool.
    """
    geo = False
    root = ""
    try:
        with _open_xml(net) as fh:
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                if not root:
                    root = elem.tag
                if event == "start" and elem.tag == "location":
                    geo = elem.get("projParameter", "!") not in ("!", "")
                if event == "end":
                    elem.clear()
    except (OSError, EOFError, ET.ParseError) as exc:
        raise ValueError(f"{source}: not a readable SUMO net ({exc})") from None
    if root != "net":
        raise ValueError(f"{source}: not a SUMO net (its root element is <{root}>, not <net>)")
    return geo


def _cfg_inputs(cfg: Path) -> dict[str, list[Path]]:
    """The input files a ``.sumocfg`` names (net-file, route-files, additional-files)."""
    try:
        root = ET.parse(cfg).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ValueError(
            f"vehicles.mobility.sumo.sumocfg = '{cfg}': not a readable SUMO configuration ({exc})"
        ) from None
    out: dict[str, list[Path]] = {}
    for name in ("net-file", "route-files", "additional-files"):
        elem = root.find(f".//{name}")
        value = elem.get("value") if elem is not None else None
        if value:
            out[name] = [
                (cfg.parent / part.strip()).resolve() for part in value.split(",") if part.strip()
            ]
    return out


def _cfg_net(cfg: Path) -> Path:
    """The net file of a ``.sumocfg`` (which must name an existing one)."""
    nets = _cfg_inputs(cfg).get("net-file", [])
    if not nets or not nets[0].is_file():
        shown = f" ({nets[0]} does not exist)" if nets else ""
        raise ValueError(
            f"vehicles.mobility.sumo.sumocfg = '{cfg}': needs an existing <net-file>{shown}"
        )
    return nets[0]


# --------------------------------------------------------------------------- caching


def _cache_dir() -> Path | None:
    """``$VTWIN_CACHE_DIR/sumo`` (default ``~/.cache/vtwin/sumo``; None when off)."""
    root = os.environ.get(CACHE_DIR_ENV)
    if root is not None and root.strip().lower() in _OFF:
        return None
    return (Path(root) if root else Path.home() / ".cache" / "vtwin") / "sumo"


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def _cache_key(spec: SumoSpec) -> str:
    """SHA-256 (24 hex digits) of the settings, the SUMO version and the input contents."""
    try:
        from importlib.metadata import version

        sumo_version = version("libsumo")
    except Exception:
        sumo_version = "unknown"
    files: list[Path] = [Path(p) for p in (spec.net_file, *spec.route_files) if p]
    if spec.sumocfg is not None:
        files.append(Path(spec.sumocfg))
        for paths in _cfg_inputs(Path(spec.sumocfg)).values():
            files.extend(paths)
    settings = {k: v for k, v in asdict(spec).items() if k != "fields"}
    blob = json.dumps(
        {
            "version": _CACHE_VERSION,
            "sumo": sumo_version,
            "spec": settings,
            "files": [[str(f), _file_digest(f)] for f in files],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _save(file: Path, track: SumoTrack) -> None:
    """Write a track atomically (temporary file, then rename); failures are ignored."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                xy_m=track.xy_m,
                active=track.active,
                latlon_deg=track.latlon_deg if track.latlon_deg is not None else np.zeros(0),
                vehicle_ids=np.array(track.vehicle_ids, dtype=str),
                meta=np.array([track.slot_s, track.start_time_s, *track.net_size_m]),
            )
        os.replace(tmp, file)
    except OSError:
        pass


def _load(file: Path, spec: SumoSpec) -> SumoTrack | None:
    """A cached track, or None when the file is unreadable or does not fit ``spec``."""
    try:
        with np.load(file) as data:
            xy = data["xy_m"]
            latlon = data["latlon_deg"]
            meta = data["meta"]
            track = SumoTrack(
                xy_m=xy,
                active=data["active"],
                latlon_deg=latlon if latlon.size else None,
                vehicle_ids=tuple(str(v) for v in data["vehicle_ids"]),
                slot_s=float(meta[0]),
                start_time_s=float(meta[1]),
                net_size_m=(float(meta[2]), float(meta[3])),
            )
    except (OSError, KeyError, ValueError):
        return None
    if track.xy_m.shape != (spec.n_slots, spec.pool, 2):
        return None
    return track
