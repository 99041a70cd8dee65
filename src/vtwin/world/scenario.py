"""Build a :class:`Scenario` (servers, vehicles, sensors, workload, backhaul) from a config.

This is the one place that turns config units (``compute_ghz``, ``capacity_mb``,
``power_dbm``…) into SI. Randomness comes from independent streams spawned from one
:class:`numpy.random.SeedSequence`, so the same seed gives the same scenario bit for bit and
changing, say, the vehicle count does not move the RSU layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import FloatArray
from vtwin.config import TraceWindowsConfig, VTwinConfig
from vtwin.data.samples import resolve_data_path
from vtwin.data.sensor_locations import (
    SensorWindow,
    SensorWindowError,
    read_sensor_locations,
    sensor_window,
)
from vtwin.data.stations import in_region, read_stations, thin
from vtwin.data.traces import Trace, read_traces, split_windows
from vtwin.physics.channel import dbm_to_w
from vtwin.physics.geo import LocalProjection, euclidean_m, haversine_m
from vtwin.world.background import DiurnalArrivals, load_weights
from vtwin.world.mobility import (
    ManhattanGridMobility,
    Mobility,
    StaticMobility,
    TraceReplayMobility,
)
from vtwin.world.placement import clustered_positions, grid_positions, random_positions
from vtwin.world.servers import EdgeServers, ServerKind
from vtwin.world.sumo import SumoMobility, SumoTrack, sumo_track
from vtwin.world.topology import grid_graph, hop_matrix, knn_graph

MB_TO_BITS = 8e6
"""1 MB = 10⁶ bytes = 8·10⁶ bits (decimal megabytes, as the papers use)."""
KB_TO_BITS = 8e3

_STREAMS = ("layout", "uav", "mobility", "workload", "sensors", "compute")


@dataclass(frozen=True)
class Vehicles:
    """Vehicles of a scenario: how they move and how loudly they transmit."""

    mobility: Mobility
    tx_power_w: float

    @property
    def n(self) -> int:
        """Number of vehicles."""
        return self.mobility.n


@dataclass(frozen=True)
class Sensors:
    """Fixed roadside sensors (paper D): positions, transmit power, per-slot data-size range."""

    xy_m: FloatArray
    tx_power_w: float
    data_bits_range: tuple[float, float]

    @property
    def n(self) -> int:
        """Number of sensors."""
        return int(self.xy_m.shape[0])


@dataclass(frozen=True, eq=False)
class Scenario:
    """Everything that exists in one scenario, in SI units and local metres.

    Attributes:
        config: the validated configuration it was built from.
        seed: the seed that drew every random part.
        projection: local metres ↔ (lat, lon); ``None`` for purely local scenarios.
        servers: edge servers (RSUs, then UAVs at their start positions, then the satellite).
        vehicles: mobility source and transmit power.
        sensors: roadside sensors (paper D); empty elsewhere.
        background_load_bits: [horizon_slots, servers.n] background load per slot and server
            (zero for kinds that carry none).
        backhaul: networkx graph over RSU indices with ``distance_m`` on its edges.
        rsu_hops: [n_rsu, n_rsu] backhaul hop counts (−1 when unreachable).
        extras: what building counted on the way; ``rsu_stations`` (placement 'stations'):
            the station file, its station count, how many lie in the area and remain after
            thinning, the spacing, and the ids of the stations that became RSUs.
    """

    config: VTwinConfig
    seed: int
    projection: LocalProjection | None
    servers: EdgeServers
    vehicles: Vehicles
    sensors: Sensors
    background_load_bits: FloatArray
    backhaul: nx.Graph
    rsu_hops: NDArray[np.int64]
    extras: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- geometry helpers
    @property
    def area_m(self) -> tuple[float, float]:
        """(width, height) of the scenario area in metres."""
        geo = self.config.geography
        return (geo.width_m, geo.height_m)

    def to_latlon(self, xy_m: ArrayLike) -> FloatArray:
        """Local metres → (lat, lon) degrees; needs a lat/lon-anchored scenario."""
        if self.projection is None:
            raise ValueError(f"scenario '{self.config.name}' uses local coordinates only")
        return self.projection.to_latlon(xy_m)

    def distance_m(self, xy_a: ArrayLike, xy_b: ArrayLike) -> FloatArray:
        """Ground distance: haversine for lat/lon scenarios (SPEC §0), Euclidean otherwise."""
        if self.projection is None:
            return euclidean_m(xy_a, xy_b)
        a = self.projection.to_latlon(xy_a)
        b = self.projection.to_latlon(xy_b)
        return haversine_m(a[..., 0], a[..., 1], b[..., 0], b[..., 1])

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, config: VTwinConfig, seed: int | None = None) -> Scenario:
        """Build the scenario; ``seed`` defaults to ``config.seed``."""
        seed = config.seed if seed is None else int(seed)
        if seed < 0:
            raise ValueError(f"seed = {seed}: must be ≥ 0")
        rng = _scenario_rngs(seed)

        geo = config.geography
        projection = (
            LocalProjection(geo.origin_lat_deg, geo.origin_lon_deg)
            if geo.coordinates == "latlon"
            else None
        )
        extras: dict[str, Any] = {}
        if config.servers.rsu.placement == "stations":
            assert projection is not None  # checked by the config model
            rsu_xy, extras["rsu_stations"] = station_rsus(config, projection, rng["layout"])
        else:
            rsu_xy = _rsu_positions(config, rng["layout"])
        servers = _build_servers(config, rsu_xy, rng)
        vehicles = _build_vehicles(config, rng["mobility"])
        sensors = _build_sensors(config, rng["sensors"])
        load = _background_load(config, servers, rng["workload"])
        backhaul = _backhaul_graph(config, rsu_xy)
        hops = hop_matrix(backhaul) if rsu_xy.shape[0] else np.zeros((0, 0), dtype=np.int64)
        return cls(
            config=config,
            seed=seed,
            projection=projection,
            servers=servers,
            vehicles=vehicles,
            sensors=sensors,
            background_load_bits=load,
            backhaul=backhaul,
            rsu_hops=hops,
            extras=extras,
        )

    # ---------------------------------------------------------------- reporting
    def summary(self) -> dict[str, Any]:
        """Headline numbers for ``vtwin scenario show`` (plain Python types)."""
        cfg = self.config
        s = self.servers
        rows: dict[str, Any] = {
            "preset": cfg.name,
            "paper": cfg.paper,
            "seed": self.seed,
            "area_km": f"{cfg.geography.width_m / 1e3:g} × {cfg.geography.height_m / 1e3:g}",
            "slot_s": cfg.slot_s,
            "horizon_slots": cfg.horizon_slots,
        }
        if self.projection is not None:
            rows["origin_latlon"] = (
                f"{self.projection.origin_lat_deg:.4f}, {self.projection.origin_lon_deg:.4f}"
            )
        stations = self.extras.get("rsu_stations")
        if stations is not None:
            rows["rsu_stations"] = (
                f"{Path(stations['file']).name}: {stations['in_area']} in the area, "
                f"{stations['after_thinning']} at ≥ {stations['min_separation_m']:g} m, "
                f"{s.count(ServerKind.RSU)} drawn"
            )
        for kind in ServerKind:
            idx = s.of_kind(kind)
            if idx.size == 0:
                continue
            label = kind.name.lower()
            rows[f"{label}_count"] = int(idx.size)
            rows[f"{label}_compute_ghz"] = _span(s.compute_hz[idx] / 1e9)
            rows[f"{label}_capacity_mb"] = _span(s.capacity_bits[idx] / MB_TO_BITS)
            cov = s.coverage_m[idx]
            rows[f"{label}_coverage_m"] = "unlimited" if np.isinf(cov).all() else _span(cov)
            load = self.background_load_bits[:, idx]
            if load.any():
                frac = load / s.capacity_bits[idx][None, :]
                rows[f"{label}_mean_load_pct"] = round(float(frac.mean() * 100), 1)
                rows[f"{label}_peak_load_pct"] = round(float(frac.max() * 100), 1)
        n_rsu = s.count(ServerKind.RSU)
        if n_rsu:
            ground = self.coverage_share()
            rows["rsu_area_covered_pct"] = round(100 * ground, 1)
            rows["backhaul_edges"] = self.backhaul.number_of_edges()
            if n_rsu > 1:
                off = self.rsu_hops[~np.eye(n_rsu, dtype=bool)]
                rows["backhaul_mean_hops"] = round(float(off[off >= 0].mean()), 2)
                rows["backhaul_max_hops"] = int(off.max())
        rows["vehicles"] = self.vehicles.n
        if self.vehicles.n:
            traj = self.vehicles.mobility.trajectory(cfg.horizon_slots)
            step = np.linalg.norm(np.diff(traj, axis=0), axis=-1)
            rows["vehicle_mobility"] = cfg.vehicles.mobility.kind
            rows["vehicle_mean_speed_mps"] = round(float(step.mean() / cfg.slot_s), 2)
            mobility = self.vehicles.mobility
            if isinstance(mobility, SumoMobility):
                track = mobility.track
                rows["sumo_net_km"] = (
                    f"{track.net_size_m[0] / 1e3:g} × {track.net_size_m[1] / 1e3:g}"
                )
                rows["sumo_pool"] = track.pool
                rows["sumo_start_s"] = track.start_time_s
                rows["vehicle_active_pct"] = round(
                    float(mobility.active_matrix(cfg.horizon_slots).mean() * 100), 1
                )
            if isinstance(mobility, TraceReplayMobility):
                ids = mobility.vehicle_ids
                rows["vehicle_traces"] = ", ".join(ids[:6]) + (" …" if len(ids) > 6 else "")
                active = mobility.active_matrix(cfg.horizon_slots)
                rows["vehicles_active_slot0"] = int(active[0].sum())
                rows["vehicle_active_pct"] = round(float(active.mean() * 100), 1)
        if self.sensors.n:
            rows["sensors"] = self.sensors.n
        return rows

    def coverage_share(self, resolution: int = 100) -> float:
        """Fraction of the area within range of at least one RSU (sampled on a grid)."""
        w, h = self.area_m
        gx, gy = np.meshgrid(
            (np.arange(resolution) + 0.5) * w / resolution,
            (np.arange(resolution) + 0.5) * h / resolution,
        )
        pts = np.stack([gx.ravel(), gy.ravel()], axis=-1)
        rsu = self.servers.subset(self.servers.kind == ServerKind.RSU)
        return float(rsu.in_coverage(pts).any(axis=1).mean())


def _scenario_rngs(seed: int) -> dict[str, np.random.Generator]:
    """The scenario's independent generators, one per part (``_STREAMS``), from ``seed``."""
    streams = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, streams, strict=True)}


def _span(values: FloatArray) -> str | float:
    lo, hi = float(np.min(values)), float(np.max(values))
    return round(lo, 3) if np.isclose(lo, hi) else f"{lo:.3g}–{hi:.3g}"


def _rsu_positions(config: VTwinConfig, rng: np.random.Generator) -> FloatArray:
    rsu = config.servers.rsu
    w, h = config.geography.width_m, config.geography.height_m
    if rsu.placement == "grid":
        return grid_positions(rsu.count, w, h, rsu.grid_cols)
    if rsu.placement == "random":
        return random_positions(rsu.count, w, h, rng, min_separation_m=rsu.min_separation_m)
    spots = config.servers.hotspots
    return clustered_positions(
        rsu.count,
        w,
        h,
        rng,
        centres_xy=[(hs.x_m, hs.y_m) for hs in spots],
        spread_m=[hs.radius_m / 2.0 for hs in spots],
    )


def _compute_hz(value: float | tuple[float, float], n: int, rng: np.random.Generator) -> FloatArray:
    if isinstance(value, tuple):
        return rng.uniform(value[0], value[1], size=n) * 1e9
    return np.full(n, value * 1e9)


def _build_servers(
    config: VTwinConfig, rsu_xy: FloatArray, rng: dict[str, np.random.Generator]
) -> EdgeServers:
    cfg = config.servers
    w, h = config.geography.width_m, config.geography.height_m
    parts = []

    def group(kind: ServerKind, kcfg: Any, xy: FloatArray, altitude: float, **extra: Any) -> None:
        n = xy.shape[0]
        parts.append(
            EdgeServers.build(
                kind,
                xy,
                altitude_m=altitude,
                compute_hz=_compute_hz(kcfg.compute_ghz, n, rng["compute"]),
                capacity_bits=kcfg.capacity_mb * MB_TO_BITS,
                coverage_m=np.inf if kcfg.coverage_m is None else kcfg.coverage_m,
                bandwidth_hz=kcfg.bandwidth_mhz * 1e6,
                tx_power_w=float(dbm_to_w(kcfg.power_dbm)),
                **extra,
            )
        )

    group(ServerKind.RSU, cfg.rsu, rsu_xy, cfg.rsu.height_m)
    n_uav = cfg.uav.count
    if cfg.uav.placement == "over_rsus" and rsu_xy.shape[0] >= n_uav > 0:
        uav_xy = rsu_xy[rng["uav"].choice(rsu_xy.shape[0], size=n_uav, replace=False)]
    elif cfg.uav.placement == "over_rsus" and n_uav > 0:
        raise ValueError(
            f"servers.uav.placement = 'over_rsus' needs at least {n_uav} RSUs "
            f"(servers.rsu.count = {rsu_xy.shape[0]}); use placement 'random' instead"
        )
    else:
        uav_xy = rng["uav"].uniform((0.0, 0.0), (w, h), size=(n_uav, 2))
    group(ServerKind.UAV, cfg.uav, uav_xy, cfg.uav.altitude_m)
    sat_xy = np.tile([[w / 2.0, h / 2.0]], (cfg.sat.count, 1))
    group(
        ServerKind.SAT,
        cfg.sat,
        sat_xy,
        cfg.sat.altitude_km * 1e3,
        uplink_bps=cfg.sat.uplink_mbps * 1e6,
        downlink_bps=cfg.sat.downlink_mbps * 1e6,
    )
    return EdgeServers.concat(parts)


def _build_vehicles(config: VTwinConfig, rng: np.random.Generator) -> Vehicles:
    vcfg = config.vehicles
    mcfg = vcfg.mobility
    mobility: Mobility
    if mcfg.kind == "grid":
        mobility = grid_mobility(config, vcfg.count, rng)
    elif mcfg.kind == "sumo":
        track = sumo_track(config, sumo_seed(rng)) if vcfg.count else None
        mobility = (
            SumoMobility(track, n=vcfg.count)
            if track is not None
            else StaticMobility(np.zeros((0, 2)), slot_s=config.slot_s)
        )
    else:
        mobility = trace_mobility(config, max_vehicles=vcfg.count or None)
    return Vehicles(mobility=mobility, tx_power_w=float(dbm_to_w(vcfg.power_dbm)))


def sumo_seed(rng: np.random.Generator) -> int:
    """SUMO's seed drawn from a scenario's mobility generator (one draw)."""
    return int(rng.integers(2**31 - 1))


def scenario_sumo_track(config: VTwinConfig, seed: int | None = None) -> SumoTrack:
    """The SUMO track :meth:`Scenario.from_config` builds for ``config`` and ``seed``
    (default ``config.seed``): for envs that build their vehicles apart from the scenario."""
    seed = config.seed if seed is None else int(seed)
    return sumo_track(config, sumo_seed(_scenario_rngs(seed)["mobility"]))


def trace_mobility(config: VTwinConfig, max_vehicles: int | None = None) -> TraceReplayMobility:
    """Replay of the GPS traces at ``vehicles.mobility.path`` projected about the origin.

    The traces are read in ``vehicles.mobility.format`` (:func:`vtwin.data.traces.read_traces`;
    a ``data:`` path lies under the shared data folder), narrowed to ``vehicle_ids`` when
    given, then either cut into ``windows`` (the first trace only; one vehicle per window,
    each re-timed to start at 0 s) or cut to the first ``max_vehicles`` (None: all).
    """
    geo = config.geography
    mcfg = config.vehicles.mobility
    if geo.coordinates != "latlon":
        raise ValueError(
            "vehicles.mobility.kind = 'trace' needs geography.coordinates = 'latlon' "
            "(an origin to project the GPS fixes)"
        )
    assert mcfg.path is not None  # checked by the config model
    path = _existing(mcfg.path, "vehicles.mobility.path", "file or folder")
    ids, windows = mcfg.vehicle_ids, mcfg.windows
    limit = None if ids is not None else 1 if windows is not None else max_vehicles
    traces = read_traces(path, format=mcfg.format, max_vehicles=limit)
    if ids is not None:
        by_id = {tr.vehicle_id: tr for tr in traces}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ValueError(
                f"vehicles.mobility.vehicle_ids: {', '.join(missing)} not among the "
                f"{len(traces)} trace(s) of '{mcfg.path}' (its first ids: "
                f"{', '.join(list(by_id)[:5])})"
            )
        traces = [by_id[i] for i in ids]
    if windows is not None:
        traces = _trace_windows(traces[0], windows, mcfg.path)
    elif max_vehicles is not None:
        traces = traces[:max_vehicles]
    projection = LocalProjection(geo.origin_lat_deg, geo.origin_lon_deg)
    _check_inside(traces, projection, geo.width_m, geo.height_m, mcfg.path)
    return TraceReplayMobility(
        traces,
        projection=projection,
        slot_s=config.slot_s,
        start_time_s=mcfg.start_time_s,
    )


def _check_inside(
    traces: list[Trace], projection: LocalProjection, width_m: float, height_m: float, source: str
) -> None:
    """Refuse traces none of which ever enters the area: a wrong origin or a wrong file,
    which would otherwise replay vehicles no server ever covers. (Some taxis of a folder
    driving elsewhere is normal; all of them is not.)"""
    spans = []
    for trace in traces:
        xy = projection.to_xy(trace.lat_deg, trace.lon_deg)
        x, y = xy[..., 0], xy[..., 1]
        if x.size and ((x >= 0) & (x <= width_m) & (y >= 0) & (y <= height_m)).any():
            return
        if x.size:
            spans.append((x.min(), x.max(), y.min(), y.max()))
    if not spans:
        return
    x0, x1 = min(s[0] for s in spans) / 1e3, max(s[1] for s in spans) / 1e3
    y0, y1 = min(s[2] for s in spans) / 1e3, max(s[3] for s in spans) / 1e3
    raise ValueError(
        f"vehicles.mobility.path = '{source}': every trace lies wholly outside the area (the "
        f"fixes span x {x0:.1f}…{x1:.1f} km, y {y0:.1f}…{y1:.1f} km; the area is 0…"
        f"{width_m / 1e3:g} km × 0…{height_m / 1e3:g} km east and north of "
        f"geography.origin_lat_deg/lon_deg = {projection.origin_lat_deg:g}, "
        f"{projection.origin_lon_deg:g})"
    )


def _existing(value: str, field: str, what: str) -> Path:
    """The path a config field names (``data:`` resolved), which must exist."""
    path = resolve_data_path(value, field)
    if not path.exists():
        shown = f" ({path})" if str(path) != value else ""
        raise ValueError(f"{field} = '{value}'{shown}: no such {what}")
    return path


def _trace_windows(trace: Trace, windows: TraceWindowsConfig, source: str) -> list[Trace]:
    """``windows.count`` windows of one trace (:func:`vtwin.data.traces.split_windows`)."""
    n, length_s, gap_s = windows.count, windows.length_h * 3600.0, windows.gap_h * 3600.0
    span_s = float(np.ptp(trace.time_s)) if trace.time_s.size else 0.0
    needed_s = n * length_s + (n - 1) * gap_s
    if needed_s > span_s:
        raise ValueError(
            f"vehicles.mobility.windows: count {n} × length_h {windows.length_h:g} + {n - 1} × "
            f"gap_h {windows.gap_h:g} = {needed_s / 3600:g} h, more than the "
            f"{span_s / 3600:.2f} h of trace '{trace.vehicle_id}' in '{source}'; lower "
            "windows.count, windows.length_h or windows.gap_h"
        )
    try:
        return split_windows(trace, n, length_s, gap_s=gap_s)
    except ValueError as exc:
        raise ValueError(f"vehicles.mobility.windows: {exc}") from None


def station_rsus(
    config: VTwinConfig, projection: LocalProjection, rng: np.random.Generator
) -> tuple[FloatArray, dict[str, Any]]:
    """RSU positions (local metres) of placement ``stations`` and what was counted on the way.

    The stations of ``servers.rsu.stations_path`` inside the geography box (south-west
    corner at the origin, ``width_m`` east, ``height_m`` north) are thinned to
    ``min_separation_m`` (:func:`vtwin.data.stations.thin`, its visiting order seeded from
    ``rng``); when more than ``servers.rsu.count`` remain, that many are drawn with ``rng``
    and kept in file order. Fewer than ``count`` is a one-line ``ValueError``.
    """
    rsu, geo = config.servers.rsu, config.geography
    assert rsu.stations_path is not None  # checked by the config model
    path = _existing(rsu.stations_path, "servers.rsu.stations_path", "file")
    stations = read_stations(path, format=rsu.stations_format)
    lat_max, lon_max = projection.to_latlon([geo.width_m, geo.height_m])
    box = in_region(
        stations, geo.origin_lat_deg, float(lat_max), geo.origin_lon_deg, float(lon_max)
    )
    kept = thin(box, rsu.min_separation_m, seed=int(rng.integers(2**32)))
    if len(kept) < rsu.count:
        raise ValueError(
            f"servers.rsu.count = {rsu.count} but only {len(kept)} stations are available: "
            f"{len(box)} of '{rsu.stations_path}' lie in the geography box, {len(kept)} remain "
            f"at servers.rsu.min_separation_m = {rsu.min_separation_m:g} m; lower the count "
            "or the spacing"
        )
    if len(kept) > rsu.count:
        chosen = kept.select(np.sort(rng.choice(len(kept), size=rsu.count, replace=False)))
    else:
        chosen = kept
    xy = projection.to_xy(chosen.lat_deg, chosen.lon_deg)
    xy = np.clip(xy, 0.0, [geo.width_m, geo.height_m])  # the box edge, up to rounding
    info = {
        "file": str(path),
        "stations": len(stations),
        "in_area": len(box),
        "after_thinning": len(kept),
        "min_separation_m": rsu.min_separation_m,
        "station_ids": chosen.station_id,
    }
    return xy, info


def grid_mobility(
    config: VTwinConfig,
    n_vehicles: int,
    rng: np.random.Generator | Sequence[np.random.Generator],
    turn_generators: Callable[[list[int]], list[np.random.Generator]] | None = None,
) -> ManhattanGridMobility:
    """Street-grid driving over the config's area (``vehicles.mobility`` settings).

    ``rng`` may be one generator per group of vehicles, ``turn_generators`` builds their
    child generators (see :class:`ManhattanGridMobility`).
    """
    geo = config.geography
    mcfg = config.vehicles.mobility
    return ManhattanGridMobility(
        n_vehicles,
        block_m=mcfg.block_m,
        n_blocks_x=max(1, int(geo.width_m // mcfg.block_m)),
        n_blocks_y=max(1, int(geo.height_m // mcfg.block_m)),
        speed_mps=mcfg.speed_mps,
        slot_s=config.slot_s,
        rng=rng,
        turn_probs=mcfg.turn_probs,
        turn_generators=turn_generators,
    )


def file_sensor_window(config: VTwinConfig) -> SensorWindow:
    """The window of real sensor positions of ``sensors.placement = 'file'``.

    Reads ``sensors.locations_file`` (``data:`` paths resolved,
    :func:`vtwin.data.sensor_locations.read_sensor_locations`) and takes the
    ``geography.width_m`` × ``geography.height_m`` window centred on ``sensors.center_latlon``
    or holding the most sensors (:func:`vtwin.data.sensor_locations.sensor_window`). A
    missing or malformed file, or a window holding fewer than ``sensors.count`` sensors, is a
    one-line ``ValueError`` naming the config field.
    """
    scfg, geo = config.sensors, config.geography
    if scfg.placement != "file" or scfg.locations_file is None:
        raise ValueError(
            f"sensors.placement = {scfg.placement!r}: a sensor window needs placement 'file' "
            "and sensors.locations_file"
        )
    field_name = "sensors.locations_file"
    path = _existing(scfg.locations_file, field_name, "sensor location file")
    try:
        locations = read_sensor_locations(path)
        return sensor_window(
            locations,
            geo.width_m,
            geo.height_m,
            count=scfg.count,
            center_latlon=scfg.center_latlon,
        )
    except SensorWindowError as exc:
        raise ValueError(
            f"{field_name} = '{scfg.locations_file}': {exc}; enlarge geography.width_m / "
            "geography.height_m, move sensors.center_latlon or lower sensors.count"
        ) from None
    except ValueError as exc:
        raise ValueError(f"{field_name} = '{scfg.locations_file}': {exc}") from None


def _build_sensors(config: VTwinConfig, rng: np.random.Generator) -> Sensors:
    scfg = config.sensors
    xy = rng.uniform(
        (0.0, 0.0), (config.geography.width_m, config.geography.height_m), size=(scfg.count, 2)
    )
    if scfg.placement == "file":
        window = file_sensor_window(config)
        xy = window.xy_m[window.choose(scfg.count, rng)]
    lo, hi = scfg.data_kb
    return Sensors(
        xy_m=xy, tx_power_w=scfg.power_w, data_bits_range=(lo * KB_TO_BITS, hi * KB_TO_BITS)
    )


def _background_load(
    config: VTwinConfig, servers: EdgeServers, rng: np.random.Generator
) -> FloatArray:
    """Background bits [horizon, servers]: paper A's diurnal arrivals (one copy), with mean
    ``workload.mean_fraction`` of each server's capacity × its load weight."""
    wcfg = config.workload
    mean = (
        wcfg.mean_fraction
        * servers.capacity_bits
        * load_weights(config, servers.kind, servers.xy_m)
    )
    background = DiurnalArrivals(
        mean,
        slot_s=config.slot_s,
        workload=wcfg,
    )
    background.reset([rng])
    return background.series(config.horizon_slots)


def _backhaul_graph(config: VTwinConfig, rsu_xy: FloatArray) -> nx.Graph:
    n = rsu_xy.shape[0]
    if n == 0:
        return nx.Graph()
    if n == 1:
        g = nx.Graph()
        g.add_node(0, pos=tuple(rsu_xy[0]))
        return g
    bcfg = config.backhaul
    if bcfg.topology == "grid" and config.servers.rsu.placement == "grid":
        cols = config.servers.rsu.grid_cols or int(np.ceil(np.sqrt(n)))
        rows = int(np.ceil(n / cols))
        if rows * cols == n:
            graph, _ = grid_graph(cols, rows, config.geography.width_m / cols)
            for i in graph.nodes:
                graph.nodes[i]["pos"] = tuple(rsu_xy[i])
            for i, j in graph.edges:
                graph.edges[i, j]["distance_m"] = float(np.hypot(*(rsu_xy[i] - rsu_xy[j])))
            return graph
    if bcfg.topology == "grid":
        raise ValueError(
            f"backhaul.topology = 'grid' needs a full RSU grid (servers.rsu.placement = 'grid' "
            f"and count a multiple of grid_cols); got placement "
            f"'{config.servers.rsu.placement}', count {n}. Use topology 'knn'."
        )
    return knn_graph(rsu_xy, min(bcfg.k_neighbours, n - 1))


def build_scenario(config: VTwinConfig, seed: int | None = None) -> Scenario:
    """Shorthand for :meth:`Scenario.from_config`."""
    return Scenario.from_config(config, seed)


__all__ = [
    "MB_TO_BITS",
    "Scenario",
    "Sensors",
    "Vehicles",
    "build_scenario",
    "file_sensor_window",
    "grid_mobility",
    "scenario_sumo_track",
    "station_rsus",
    "sumo_seed",
    "trace_mobility",
]
