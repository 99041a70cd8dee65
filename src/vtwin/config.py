"""Validated configuration: pydantic models, YAML presets and dotted overrides.

A preset is a YAML file in ``configs/`` (shipped inside the package as ``vtwin.presets``).
Loading one goes: read YAML → follow ``extends:`` (deep merge onto the parent preset) → apply
``--set a.b.c=value`` overrides → validate with :class:`VTwinConfig`. Every model forbids
unknown keys, so a misspelled key is an error that names it and suggests the closest valid
key. Field names carry their unit when it is not SI (``compute_ghz``, ``size_mb``,
``power_dbm``); :mod:`vtwin.world.scenario` converts to SI once.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "BUILTIN_REWARDS",
    "MAX_ENTITIES",
    "MAX_SLOTS",
    "PAPER_REWARDS",
    "ConfigError",
    "RewardConfig",
    "SumoConfig",
    "VTwinConfig",
    "apply_overrides",
    "config_to_yaml",
    "list_presets",
    "load_config",
    "preset_path",
]


class ConfigError(ValueError):
    """A configuration could not be loaded or validated; the message names field and value."""


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------

# Integers are strict: `count: true` or `count: 2.5` is an error, not 1 or 2.
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]

MAX_ENTITIES = 100_000
"""Most servers of one kind, vehicles or sensors a config may ask for: a sanity bound (the
papers use at most a few hundred); a larger world would not fit a workstation's memory."""
MAX_SLOTS = 10_000_000
"""Most slots in one episode (``horizon_slots``): a sanity bound, as :data:`MAX_ENTITIES`."""
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_ENTITIES)]


class StrictModel(BaseModel):
    """Base model: unknown keys are errors, assignments are validated, values are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )


def _ordered_pair(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if low > high:
        raise ValueError(f"interval low {low} is above high {high}; write [low, high]")
    return value


Interval = Annotated[tuple[NonNegativeFloat, NonNegativeFloat], AfterValidator(_ordered_pair)]
"""A closed range ``[low, high]`` with 0 ≤ low ≤ high, written as a two-element YAML list."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]

ServerKindName = Literal["rsu", "uav", "sat"]

TraceFormatName = Literal["auto", "tdrive", "suvnet", "csv"]
"""Formats of ``vehicles.mobility.format`` (see :func:`vtwin.data.traces.read_traces`)."""

StationFormatName = Literal["auto", "shanghai-telecom", "beijing-cellocation", "csv"]
"""Formats of ``servers.rsu.stations_format`` (see :func:`vtwin.data.stations.read_stations`)."""


class GeographyConfig(StrictModel):
    """Where the scenario lies: an origin and a rectangular area in local metres."""

    coordinates: Literal["local", "latlon"] = Field(
        "local",
        description="'local': positions are metres from the origin; 'latlon': the scenario is "
        "anchored at (origin_lat_deg, origin_lon_deg) and distances use haversine.",
    )
    origin_lat_deg: float = Field(0.0, ge=-90.0, le=90.0)
    origin_lon_deg: float = Field(0.0, ge=-180.0, le=180.0)
    width_m: PositiveFloat = 2000.0
    height_m: PositiveFloat = 2000.0


class ChannelConfig(StrictModel):
    """Radio channel: path gain A·(c/(4π f d))^ξ and Shannon rate (SPEC §0, channel)."""

    carrier_ghz: PositiveFloat = 2.4
    antenna_gain: PositiveFloat = 1.0
    path_loss_exponent: PositiveFloat = 2.0
    noise_dbm: float | None = Field(
        -100.0, description="Noise power over the band (papers A, B, D). Null to use density."
    )
    noise_density_dbm_per_hz: float | None = Field(
        None, description="Noise power spectral density N0 (paper C: -174 dBm/Hz)."
    )

    @model_validator(mode="after")
    def _one_noise_model(self) -> Self:
        if (self.noise_dbm is None) == (self.noise_density_dbm_per_hz is None):
            raise ValueError(
                "set exactly one of noise_dbm (a power) and noise_density_dbm_per_hz (N0); "
                f"got noise_dbm={self.noise_dbm}, "
                f"noise_density_dbm_per_hz={self.noise_density_dbm_per_hz}"
            )
        return self


class HotspotConfig(StrictModel):
    """A downtown hotspot: servers near it carry more background load."""

    x_m: float
    y_m: float
    radius_m: PositiveFloat = 500.0
    gain: Annotated[float, Field(ge=1.0)] = 2.0


class ServerKindConfig(StrictModel):
    """Fields every edge-server kind has (RSU, UAV, SAT)."""

    count: Count = 0
    compute_ghz: PositiveFloat | Interval = Field(
        10.0, description="CPU/GPU frequency; an interval [low, high] draws one per server."
    )
    capacity_mb: PositiveFloat = Field(300.0, description="Maximum cache/load L_max.")
    coverage_m: PositiveFloat | None = Field(500.0, description="Null means unlimited.")
    bandwidth_mhz: PositiveFloat = 20.0
    power_dbm: float = 30.0


class RsuConfig(ServerKindConfig):
    """Roadside units: fixed ground edge servers."""

    placement: Literal["grid", "random", "clustered", "stations"] = Field(
        "grid",
        description="grid: rows × cols lattice; random: uniform in the area with a minimum "
        "separation; clustered: denser toward the hotspots (a city); stations: real base "
        "stations of stations_path inside the geography box, thinned to min_separation_m, "
        "`count` of them drawn (needs geography.coordinates = 'latlon').",
    )
    grid_cols: PositiveInt | None = Field(
        None, description="Columns of the grid placement (default: ⌈√count⌉)."
    )
    min_separation_m: NonNegativeFloat = 0.0
    height_m: NonNegativeFloat = 10.0
    stations_path: str | None = Field(
        None,
        description="Base-station CSV of placement 'stations'; 'data:<relative path>' is "
        "resolved under the shared data folder (VTWIN_DATA_DIR or ../shared/data).",
    )
    stations_format: StationFormatName = Field(
        "auto",
        description="Format of stations_path: auto (recognised by its header), "
        "shanghai-telecom, beijing-cellocation or csv (named latitude/longitude columns).",
    )

    @model_validator(mode="after")
    def _stations(self) -> Self:
        if self.placement == "stations" and not self.stations_path:
            raise ValueError(
                "servers.rsu.placement = 'stations' needs servers.rsu.stations_path "
                "(a base-station CSV, e.g. 'data:base-stations/<file>.csv')"
            )
        if self.placement != "stations" and self.stations_path:
            raise ValueError(
                f"servers.rsu.stations_path = {self.stations_path!r} is only read with "
                f"placement 'stations' (placement is {self.placement!r}); set placement to "
                "'stations' or remove stations_path"
            )
        return self


class UavConfig(ServerKindConfig):
    """UAV edge servers flying at a fixed altitude."""

    placement: Literal["over_rsus", "random"] = Field(
        "over_rsus", description="Start above distinct random RSUs, or uniform in the area."
    )
    altitude_m: PositiveFloat = 50.0
    speed_mps: PositiveFloat = 10.0
    battery_kj: PositiveFloat = 500.0


class SatelliteConfig(ServerKindConfig):
    """LEO satellite(s): unlimited coverage, fixed-rate links (paper B eqs. (6)–(7))."""

    coverage_m: PositiveFloat | None = None
    uplink_mbps: PositiveFloat = 20.0
    downlink_mbps: PositiveFloat = 100.0
    altitude_km: PositiveFloat = 550.0

    @model_validator(mode="after")
    def _at_most_one(self) -> Self:
        if self.count > 1:
            raise ValueError(f"count = {self.count}: at most 1 satellite is modelled")
        return self


class ServersConfig(StrictModel):
    """All edge servers of a scenario, by kind."""

    rsu: RsuConfig = RsuConfig()
    uav: UavConfig = UavConfig()
    sat: SatelliteConfig = SatelliteConfig()
    hotspots: list[HotspotConfig] = Field(default_factory=list)


class TraceWindowsConfig(StrictModel):
    """Vehicles cut from one long trace: ``count`` non-overlapping windows of ``length_h``
    hours, ``gap_h`` hours apart, each re-timed to start at 0 s."""

    count: PositiveInt
    length_h: PositiveFloat
    gap_h: NonNegativeFloat = 0.0


class SumoConfig(StrictModel):
    """SUMO traffic simulation (``vehicles.mobility.kind = sumo``, extra ``vtwin[sumo]``).

    Without ``sumocfg`` and ``net_file`` the net is a street grid made by ``netgenerate``
    over the geography area (street spacing ``vehicles.mobility.block_m``, speed limit the
    upper end of ``vehicles.mobility.speed_mps``) with seeded random trips
    (``randomTrips.py``). See :mod:`vtwin.world.sumo`.
    """

    sumocfg: str | None = Field(
        None,
        description="A SUMO configuration (.sumocfg) naming its own net and routes; "
        "'data:<relative path>' is resolved under the shared data folder.",
    )
    net_file: str | None = Field(
        None, description="A SUMO road net (.net.xml or .net.xml.gz) instead of the grid."
    )
    route_files: list[str] = Field(
        default_factory=list,
        description="Route/trip files for net_file; empty: seeded random trips on the net.",
    )
    step_length_s: PositiveFloat = Field(
        1.0, description="SUMO's step length (s); slot_s must be a whole number of steps."
    )
    trip_period_s: PositiveFloat = Field(
        2.0, description="Random trips: seconds between two departures."
    )
    lanes: PositiveInt = Field(1, description="Generated grid: lanes per street and direction.")
    pool: PositiveInt | None = Field(
        None,
        description="SUMO vehicles tabulated (the first inserted); every env copy draws "
        "vehicles.count of them. Default: 4 × vehicles.count.",
    )
    warmup_s: NonNegativeFloat = Field(
        0.0,
        description="Seconds simulated after the pool's last vehicle is inserted, before slot 0.",
    )
    keep_driving: bool = Field(
        True,
        description="Give a tracked vehicle a new random destination when it enters the last "
        "edge of its route, so it drives the whole episode; false: it leaves at its "
        "destination and is inactive from then on (position held).",
    )
    seed: NonNegativeInt | None = Field(
        None,
        description="SUMO's --seed and the trips' seed; unset: drawn from the scenario's "
        "mobility stream (the same scenario seed gives the same positions).",
    )
    cache: bool = Field(
        True,
        description="Keep simulated positions on disk under $VTWIN_CACHE_DIR/sumo "
        "(default ~/.cache/vtwin), keyed by the settings and the input files' contents.",
    )

    @model_validator(mode="after")
    def _sources(self) -> Self:
        if self.sumocfg and (self.net_file or self.route_files):
            raise ValueError(
                f"sumocfg = {self.sumocfg!r} names its own net and routes; remove net_file "
                "and route_files (or remove sumocfg)"
            )
        if self.route_files and not self.net_file:
            raise ValueError(
                f"route_files = {self.route_files} need net_file (the generated grid has "
                "its own random trips)"
            )
        return self


class MobilityConfig(StrictModel):
    """How vehicles move: a synthetic Manhattan grid, replayed GPS traces or SUMO."""

    kind: Literal["grid", "trace", "sumo"] = "grid"
    block_m: PositiveFloat = 250.0
    speed_mps: Interval = (8.0, 15.0)
    turn_probs: tuple[Probability, Probability, Probability] = (0.5, 0.25, 0.25)
    path: str | None = Field(
        None,
        description="Trace file or folder (kind = trace); 'data:<relative path>' is resolved "
        "under the shared data folder (VTWIN_DATA_DIR or ../shared/data).",
    )
    format: TraceFormatName = Field(
        "auto",
        description="Trace format: tdrive (T-Drive file or folder of per-taxi files), suvnet "
        "(SJTU Shanghai taxi lines, 10 fields, no header), csv (header naming id, time, lat, "
        "lon) or auto: a folder or a header-less 4-field file is tdrive, a header-less "
        "10-field file suvnet, a file with a header csv.",
    )
    vehicle_ids: list[str] | None = Field(
        None,
        description="Keep only these traces, in this order (ids as in the file, e.g. T-Drive "
        "taxi ids); unset: all traces in file order.",
    )
    windows: TraceWindowsConfig | None = Field(
        None,
        description="Cut the first trace into windows.count non-overlapping windows of "
        "windows.length_h hours, windows.gap_h hours apart; each window is one vehicle, "
        "re-timed to start at 0 s (start_time_s counts on that clock).",
    )
    start_time_s: float | None = Field(
        None,
        description="Trace time of slot 0 in seconds (timestamps read as UTC seconds since "
        "1970); unset: the earliest fix.",
    )
    sumo: SumoConfig | None = Field(
        None,
        description="SUMO settings of kind 'sumo' (unset: a generated street grid with the "
        "defaults of SumoConfig).",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if abs(sum(self.turn_probs) - 1.0) > 1e-9:
            raise ValueError(
                f"turn_probs = {list(self.turn_probs)} must sum to 1 (straight, left, right)"
            )
        if self.kind == "trace" and not self.path:
            raise ValueError("kind = 'trace' needs path: a CSV of (vehicle id, time, lat, lon)")
        for name in ("windows", "vehicle_ids"):
            if self.kind != "trace" and getattr(self, name) is not None:
                raise ValueError(
                    f"vehicles.mobility.{name} is only used with kind 'trace' (kind is "
                    f"{self.kind!r}); remove it or set kind to 'trace'"
                )
        if self.kind != "sumo" and self.sumo is not None:
            raise ValueError(
                f"vehicles.mobility.sumo is only used with kind 'sumo' (kind is {self.kind!r}); "
                "remove it or set kind to 'sumo'"
            )
        ids = self.vehicle_ids
        if ids is not None and (not ids or len(set(ids)) != len(ids)):
            raise ValueError(
                f"vehicles.mobility.vehicle_ids = {ids}: must be a non-empty list of distinct ids"
            )
        if self.windows is not None and ids is not None and len(ids) != 1:
            raise ValueError(
                f"vehicles.mobility.windows cut one trace, but vehicle_ids names {len(ids)}; "
                "give one id (the trace to cut) or none (the first trace)"
            )
        return self


class VehiclesConfig(StrictModel):
    """Vehicles (one VT each)."""

    count: Count = 1
    power_dbm: float = 23.0
    mobility: MobilityConfig = MobilityConfig()

    @model_validator(mode="after")
    def _count(self) -> Self:
        windows, ids = self.mobility.windows, self.mobility.vehicle_ids
        if windows is not None and self.count != windows.count:
            raise ValueError(
                f"vehicles.count = {self.count} must equal vehicles.mobility.windows.count = "
                f"{windows.count} (each window is one vehicle)"
            )
        sumo = self.mobility.sumo
        if sumo is not None and sumo.pool is not None and sumo.pool < self.count:
            raise ValueError(
                f"vehicles.mobility.sumo.pool = {sumo.pool} is below vehicles.count = "
                f"{self.count}: each env copy draws vehicles.count of the pool"
            )
        if windows is None and ids is not None and self.count > len(ids):
            raise ValueError(
                f"vehicles.count = {self.count} exceeds the {len(ids)} trace(s) of "
                "vehicles.mobility.vehicle_ids"
            )
        return self


Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
"""Degrees north, [-90, 90]."""

Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
"""Degrees east, [-180, 180]."""


class SensorsConfig(StrictModel):
    """Roadside sensors (paper D): fixed, offloading inference tasks; placed uniformly in the
    area or on real road-sensor positions read from a file."""

    count: Count = 0
    power_w: PositiveFloat = 0.1
    data_kb: Interval = (0.0, 24.0)
    placement: Literal["uniform", "file"] = Field(
        "uniform",
        description="uniform: positions uniform in the geography area, drawn per copy from "
        "its seed; file: real sensor positions from locations_file inside a "
        "geography.width_m x geography.height_m window (centred on center_latlon, or the "
        "window holding the most sensors of the file), placed relative to the window's "
        "south-west corner; the window is the same for every copy and `count` of its "
        "sensors are drawn per copy from the copy's seed (all of them, the same in every "
        "copy, when the window holds exactly `count`).",
    )
    locations_file: str | None = Field(
        None,
        description="Sensor-location CSV of placement 'file': METR-LA / PEMS-BAY "
        "graph_sensor_locations*.csv, the PeMSD7(M) station list or any CSV with a header "
        "naming latitude and longitude columns; 'data:<relative path>' is resolved under "
        "the shared data folder (VTWIN_DATA_DIR or ../shared/data).",
    )
    center_latlon: tuple[Latitude, Longitude] | None = Field(
        None,
        description="Centre (latitude, longitude) in degrees of the window of placement "
        "'file'; unset: the window holding the most sensors.",
    )

    @model_validator(mode="after")
    def _file(self) -> Self:
        if self.placement == "file" and not self.locations_file:
            raise ValueError(
                "sensors.placement = 'file' needs sensors.locations_file (a sensor-location "
                "CSV, e.g. 'data:pems/pems-bay_sensors/graph_sensor_locations_bay.csv')"
            )
        if self.placement != "file":
            for name in ("locations_file", "center_latlon"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"sensors.{name} = {getattr(self, name)!r} is only used with placement "
                        f"'file' (placement is {self.placement!r}); set placement to 'file' or "
                        f"remove {name}"
                    )
        return self


class WorkloadConfig(StrictModel):
    """Background load of edge servers: synthetic diurnal shape × hotspots × noise."""

    kind: Literal["synthetic"] = "synthetic"
    mean_fraction: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        0.4,
        description="Base background load as a fraction of each server's capacity, "
        "before the hotspot gain and the daily shape multiply it.",
    )
    diurnal_amplitude: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    noise_std: NonNegativeFloat = 0.1
    noise_corr: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="Slot-to-slot correlation of the log-normal noise (AR(1)); 0 = white."
    )
    start_hour: Annotated[float, Field(ge=0.0, lt=24.0)] = 8.0
    servers: tuple[ServerKindName, ...] = Field(
        ("rsu",), description="Server kinds that carry background load."
    )


class BackhaulConfig(StrictModel):
    """Wired backhaul between RSUs: a k-nearest-neighbour graph (paper C, Sec. 3)."""

    topology: Literal["knn", "grid"] = "knn"
    k_neighbours: PositiveInt = 4
    rate_mbps: PositiveFloat = 1000.0


BUILTIN_REWARDS: dict[str, dict[str, float]] = {
    "paper-a": {"latency": 1.0, "overload": 1.0},
    "paper-b": {"latency": 1.0, "load": 1.0, "failure": 1.0},
    # paper C eq. (20) = the utility of eq. (17), weights of paper C's Fig. 3 table
    "paper-c": {"entropy": 1.0, "latency": 0.02, "qos": 0.2},
    # paper C eq. (21); the paper prints no ω1–ω5, these are ours (vtwin.rewards.paper_c)
    "paper-c-llm": {"entropy": 1.0, "latency": 0.5, "qos": 0.2, "distance": 0.1, "angle": 0.1},
    # paper D eqs. (19)-(20): w1 Σ F − w2 T − penalty × violated C2/C4/C5 (penalty: ours)
    "paper-d": {"fidelity": 1.0, "delay": 1.0, "violation": 20.0},
}
"""Built-in reward kinds (:mod:`vtwin.rewards`) and their named weights, with defaults."""

PAPER_REWARDS = {"A": "paper-a", "B": "paper-b", "C": "paper-c", "D": "paper-d"}
"""The reward kind a paper's presets get when ``reward.kind`` is not set."""

_USER_REWARD = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class RewardConfig(StrictModel):
    """The reward an env computes from its named per-slot terms (see :mod:`vtwin.rewards`)."""

    kind: str | None = Field(
        None,
        description="A built-in reward ('paper-a': paper A's latency and overload penalty; "
        "'paper-b': paper B eq. (22); 'paper-c': paper C eq. (20); 'paper-c-llm': paper C "
        "eq. (21); 'paper-d': paper D eqs. (19)-(20)), a user reward "
        "'package.module:function' (trusted, imported), or "
        "'sandbox:PATH' for untrusted code run in a sandbox worker (a .py file defining "
        "reward(terms), a reward-design run folder, or a name saved in the reward library). "
        "Unset: the preset's paper's own reward.",
    )
    weights: dict[str, NonNegativeFloat] = Field(
        default_factory=dict,
        description="Named weights. Built-in kinds: paper-a {latency (per s), overload}, "
        "paper-b {latency: w_T, load: w_s, failure: w_d}, paper-c {entropy, latency, qos}, "
        "paper-c-llm {entropy, latency, qos, distance, angle}, paper-d {fidelity, delay (per "
        "s), violation (per violated constraint)}; unset ones keep their "
        "default. A user reward gets them as its 'weights' argument.",
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str | None) -> str | None:
        if kind is not None and kind.startswith("sandbox:"):
            if not kind[len("sandbox:") :].strip():
                raise ValueError("'sandbox:' needs a reward file, run folder or saved name")
            return kind
        if kind is not None and kind not in BUILTIN_REWARDS and not _USER_REWARD.match(kind):
            raise ValueError(
                f"must be a built-in reward ({', '.join(BUILTIN_REWARDS)}), a user reward "
                "'package.module:function' or untrusted code 'sandbox:FILE|RUN_DIR|NAME'"
            )
        return kind

    @field_validator("weights", mode="before")
    @classmethod
    def _weights(cls, weights: Any, info: ValidationInfo) -> Any:
        """A built-in kind's weights: its names only, unset ones at their defaults."""
        defaults = BUILTIN_REWARDS.get(info.data.get("kind") or "")
        if defaults is None or not isinstance(weights, dict):
            return weights
        unknown = sorted(set(weights) - set(defaults))
        if unknown:
            raise ValueError(
                f"unknown weight(s) {', '.join(map(str, unknown))} for reward kind "
                f"'{info.data['kind']}'; valid weights: {', '.join(sorted(defaults))}"
            )
        return {**defaults, **weights}


# --------------------------------------------------------------------------------------------
# Paper-specific parameters (their envs read them; later issues extend them)
# --------------------------------------------------------------------------------------------


class PremigrationConfig(StrictModel):
    """Paper A: VT task of one vehicle, split α between serving RSU and pre-migration target."""

    task_mb: PositiveFloat = 2.0
    result_mb: PositiveFloat = 1.0
    upload_mb: PositiveFloat = 1.0
    cycles_per_bit: PositiveFloat = 1000.0
    alpha_levels: list[Probability] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    premigration_mbps: PositiveFloat = 200.0
    background_utilisation: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        0.7,
        description="Mean background work arriving per slot as a fraction of a server's "
        "compute per slot (c·τ), before the hotspot gain and the daily shape.",
    )
    uav_planner: Literal["durp", "greedy", "random_walk", "patrol", "hover"] = Field(
        "durp", description="How UAVs choose their next RSU (paper A Sec. IV and baselines)."
    )
    durp_weights: tuple[NonNegativeFloat, NonNegativeFloat, NonNegativeFloat] = Field(
        (1.0, 0.5, 1.0), description="alpha, beta, gamma of the DURP heuristic h(n)."
    )

    @model_validator(mode="after")
    def _levels(self) -> Self:
        if len(self.alpha_levels) < 1 or sorted(self.alpha_levels) != list(self.alpha_levels):
            raise ValueError(
                f"alpha_levels = {self.alpha_levels} must be a non-empty increasing list in [0, 1]"
            )
        return self


class RoutingConfig(StrictModel):
    """Paper B (Table I): migration routing of several VTs."""

    migration_mb: PositiveFloat = 60.0
    generated_mbps: NonNegativeFloat | Interval = Field(
        (1.0, 3.0),
        description="Data a vehicle generates, MB per second (Table I): an interval [low, high] "
        "draws each vehicle's rate per episode; a number x means every vehicle generates x.",
    )
    cycles_per_bit: PositiveFloat = 1000.0
    migration_bandwidth_mhz: PositiveFloat = 300.0
    trip_fraction: Interval = Field(
        (0.5, 1.0),
        description="Synthetic trips (vehicles.mobility.kind = grid): each vehicle drives for a "
        "uniform draw of this fraction of horizon_slots, then has reached its destination "
        "(ours: the paper gives no trip lengths). Values in (0, 1].",
    )
    background_mb_per_vehicle: NonNegativeFloat = Field(
        1.0,
        description="Background workload of an RSU/UAV per vehicle of traffic flow in a slot, "
        "MB (paper B Sec. V maps S_m = S_v·c_m; ours: S_v itself would flood every server).",
    )
    traffic_pool_days: PositiveInt = Field(
        28,
        description="Days of synthetic traffic flow drawn once per env (seeded by `seed`); "
        "each episode replays one of them, drawn per copy, from workload.start_hour.",
    )
    distance_scale_km: PositiveFloat = Field(
        1.0, description="Observed vehicle-server distances are D_{v,m} in km divided by this."
    )
    observe_serving: bool = Field(
        True,
        description="Append a one-hot of the vehicle's current server to its observation "
        "(ours: eq. (19) omits it, but the migration cost J depends on it).",
    )
    zscore_scope: Literal["reference", "episode", "env"] = Field(
        "reference",
        description="Z-score statistics of the reward (eq. (22)): 'reference' = mean and std "
        "over time of one episode of a uniformly random policy on this config (fixed, so "
        "rewards are comparable across methods and episodes); 'episode' = running statistics "
        "restarted every episode; 'env' = running statistics over all episodes of a copy.",
    )

    @model_validator(mode="after")
    def _trip(self) -> Self:
        low, high = self.trip_fraction
        if low <= 0.0 or high > 1.0:
            raise ValueError(
                f"trip_fraction = {list(self.trip_fraction)} must lie in (0, 1] "
                "(a fraction of horizon_slots)"
            )
        return self


class PrivacyConfig(StrictModel):
    """Paper C: location perturbation, the adversary, agent servers, latency and utility."""

    r_max_deg: PositiveFloat = Field(
        0.001,
        description="Largest perturbation radius r_max in degrees (eq. (2) adds r(cos θ, "
        "sin θ) to (lon, lat)); the adversary's grid and σ use it as r_max·(metres per "
        "degree of latitude).",
    )
    candidate_grid: PositiveInt = Field(11, description="Candidates per axis K of the grid P.")
    candidate_span: PositiveFloat = Field(
        3.0, description="The grid spans ±candidate_span·r_max around the perturbed position."
    )
    adversary_sigma: Literal["radius", "r_max"] = Field(
        "radius",
        description="Std σ of the adversary's Gaussian likelihood of the reported position: "
        "'radius' = sigma_scale × the radius the AV used this slot (the adversary knows the "
        "mechanism and its parameter; ours, see docs/reproductions/paper-c.md), 'r_max' = "
        "sigma_scale × r_max (SPEC §C; the entropy then hardly depends on the action).",
    )
    sigma_scale: PositiveFloat = Field(
        1.0, description="σ in units of the radius (or of r_max, see adversary_sigma)."
    )
    sigma_floor_m: PositiveFloat = Field(
        10.0,
        description="Smallest σ, metres: the adversary's error model of an unperturbed GPS "
        "fix (ours).",
    )
    adversary_distance_m: PositiveFloat = Field(
        1000.0,
        description="d_T of the adversary's server softmax exp(−d/d_T), metres (ours: the "
        "paper gives no value; an RSU's coverage radius: agents are expected within about "
        "one cell of their AV).",
    )
    prior_bandwidth_scale: PositiveFloat = Field(
        1.0, description="Kernel width of the adversary's prior, in units of r_max (ours)."
    )
    prior_dead_reckoning: bool = Field(
        True,
        description="Carry the adversary's past points forward by the AV's mean velocity "
        "before the kernel density (ours): its prior predicts where the AV is now.",
    )
    adversary_history_slots: NonNegativeInt = Field(
        30,
        description="Past true positions per AV the adversary knows (its prior; ours: "
        "paper C says 'partial historical trajectories'). 0: uniform prior.",
    )
    geo_i_epsilon_per_km: PositiveFloat = Field(
        40.0,
        description="Privacy budget ε of the Geo-I baseline's planar Laplace noise, 1/km "
        "(ours: mean radius 2/ε = 50 m, r_max ≈ 111 m; draws beyond r_max are cut to it).",
    )
    upload_mb: Interval = (10.0, 20.0)
    download_mb: Interval = (10.0, 20.0)
    twin_mb: Interval = (5.0, 50.0)
    cycles_per_bit: Interval = (100.0, 500.0)
    compute_fraction: Probability = 0.1
    backhaul_per_hop_s: Interval = (1.0, 3.0)
    migration_per_hop_s: NonNegativeFloat = 0.02
    utility_weights: tuple[float, float, float] = (1.0, 0.02, 0.2)
    observation: Literal["paper", "servers"] = Field(
        "paper",
        description="What each AV's observation row holds: 'paper' = the state of eq. (19) "
        "(positions of the AV, its connected and previous agent server); 'servers' = that "
        "plus, per server, whether it is the connected one, the previous agent server, the "
        "satellite, its distance, backhaul hops, compute speed and last slot's latency "
        "(ours; learners can then score every server with one shared net).",
    )


class TwinUpdateConfig(StrictModel):
    """Paper D (Table I): diffusion-inference offloading from sensors to UAVs."""

    z_min: NonNegativeInt = 0
    z_max: Interval = (400.0, 600.0)
    fidelity_max: Interval = (50.0, 150.0)
    fidelity_min: NonNegativeFloat = 0.0
    steps_per_s: Interval = (100.0, 400.0)
    step_budget: PositiveInt = 600
    uav_speed_mps: Interval = (70.0, 150.0)
    beta0_db: float = 1.0
    deadline_s: PositiveFloat = 5.0
    utility_weights: tuple[NonNegativeFloat, NonNegativeFloat] = (1.0, 1.0)
    max_tasks_per_uav: PositiveInt = Field(
        10,
        description="K_max: offloaded tasks a UAV observes and serves per slot; tasks past it "
        "are dropped and counted as C1 violations (ours: paper D pads to a fixed K_max).",
    )
    fidelity_shape: Literal["linear", "concave"] = Field(
        "linear", description="Eq. (1): linear in the steps, or the concave (log) option."
    )
    delay_aggregate: Literal["sum", "max_per_uav"] = Field(
        "sum", description="Eq. (11): sum of task delays, or each UAV's slowest task summed."
    )

    @model_validator(mode="after")
    def _usable_ranges(self) -> Self:
        # eq. (1) divides by z_max − z_min, eq. (10) by f_u, observations by the upper bounds
        if self.steps_per_s[0] <= 0.0:
            raise ValueError(
                f"steps_per_s = {list(self.steps_per_s)}: a UAV's inference speed must be > 0 "
                "(write [low, high] with low > 0)"
            )
        if self.z_max[0] <= self.z_min:
            raise ValueError(
                f"z_max = {list(self.z_max)} with z_min = {self.z_min}: every task's z_max must "
                "exceed z_min (low of z_max > z_min)"
            )
        if self.fidelity_max[1] <= 0.0:
            raise ValueError(
                f"fidelity_max = {list(self.fidelity_max)}: the largest fidelity must be > 0"
            )
        return self


class VTwinConfig(StrictModel):
    """A complete scenario configuration (one preset after overrides)."""

    name: str = Field(min_length=1)
    paper: Literal["A", "B", "C", "D"]
    description: str = ""
    seed: NonNegativeInt = 0
    slot_s: Annotated[float, Field(ge=1e-3, le=86_400.0)] = Field(
        1.0, description="Slot length (s): from 1 ms to one day."
    )
    horizon_slots: Annotated[int, Strict(), Field(gt=0, le=MAX_SLOTS)] = 100
    geography: GeographyConfig = GeographyConfig()
    channel: ChannelConfig = ChannelConfig()
    servers: ServersConfig = ServersConfig()
    vehicles: VehiclesConfig = VehiclesConfig()
    sensors: SensorsConfig = SensorsConfig()
    workload: WorkloadConfig = WorkloadConfig()
    backhaul: BackhaulConfig = BackhaulConfig()
    premigration: PremigrationConfig | None = None
    routing: RoutingConfig | None = None
    privacy: PrivacyConfig | None = None
    twin_update: TwinUpdateConfig | None = None
    reward: RewardConfig = RewardConfig()

    @model_validator(mode="before")
    @classmethod
    def _paper_reward(cls, data: Any) -> Any:
        """An unset ``reward.kind`` becomes the paper's own reward (``PAPER_REWARDS``)."""
        if not isinstance(data, dict) or data.get("paper") not in PAPER_REWARDS:
            return data
        reward = data.get("reward")
        if isinstance(reward, RewardConfig):
            reward = reward.model_dump()
        if reward is None:
            reward = {}
        if isinstance(reward, dict) and reward.get("kind") is None:
            data = {**data, "reward": {**reward, "kind": PAPER_REWARDS[data["paper"]]}}
        return data

    @model_validator(mode="after")
    def _stations_need_latlon(self) -> Self:
        if self.servers.rsu.placement == "stations" and self.geography.coordinates != "latlon":
            raise ValueError(
                "servers.rsu.placement = 'stations' needs geography.coordinates = 'latlon' "
                f"(got {self.geography.coordinates!r}): stations are projected about the origin"
            )
        return self

    @model_validator(mode="after")
    def _sumo_steps(self) -> Self:
        mob = self.vehicles.mobility
        if mob.kind != "sumo":
            return self
        step = (mob.sumo or SumoConfig()).step_length_s
        steps = self.slot_s / step
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
            raise ValueError(
                f"slot_s = {self.slot_s:g} must be a whole number of SUMO steps "
                f"(vehicles.mobility.sumo.step_length_s = {step:g}); choose a step length "
                "that divides the slot"
            )
        return self

    @model_validator(mode="after")
    def _paper_section(self) -> Self:
        section = {"A": "premigration", "B": "routing", "C": "privacy", "D": "twin_update"}
        wanted = section[self.paper]
        if getattr(self, wanted) is None:
            raise ValueError(f"paper {self.paper} presets need a '{wanted}:' section")
        return self


# --------------------------------------------------------------------------------------------
# Presets, overrides and error messages
# --------------------------------------------------------------------------------------------


def _preset_dir() -> Path:
    """Folder of shipped presets (``src/vtwin/presets``; ``configs/`` links to it)."""
    return Path(str(importlib.resources.files("vtwin") / "presets"))


def list_presets() -> list[str]:
    """Names of the presets shipped with vtwin (YAML files in ``configs/``)."""
    return sorted(p.stem for p in _preset_dir().glob("*.yaml"))


def preset_path(name_or_path: str | Path) -> Path:
    """Resolve a preset name (``paper-a``) or a YAML file path to an existing file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} and candidate.is_file():
        return candidate
    shipped = _preset_dir() / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    names = list_presets()
    close = difflib.get_close_matches(str(name_or_path), names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ConfigError(
        f"unknown preset '{name_or_path}'.{hint} Valid presets: {', '.join(names)} "
        "(or a path to a .yaml file)"
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a YAML text file (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start} is not UTF-8)"
        ) from None
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML: {first}") from None
    if data is None:
        raise ConfigError(f"{path}: the preset is empty; it needs at least 'name' and 'paper'")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _load_raw(name_or_path: str | Path, chain: tuple[str, ...] = ()) -> dict[str, Any]:
    path = preset_path(name_or_path)
    key = str(path.resolve())
    if key in chain:
        raise ConfigError(f"{path}: 'extends' forms a cycle: {' -> '.join((*chain, key))}")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends = {parent!r} must be a preset name or file path")
    return _deep_merge(_load_raw(parent, (*chain, key)), data)


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict, returning a copy."""
    out = _deep_merge({}, data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key.sub=value")
        dotted, raw_value = item.split("=", 1)
        keys = [k.strip() for k in dotted.strip().split(".")]
        if not all(keys):
            raise ConfigError(f"override '{item}': empty key in '{dotted}'")
        try:
            value = yaml.safe_load(raw_value) if raw_value.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override '{item}': value is not valid YAML: {exc}") from exc
        node = out
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(
                    f"override '{item}': '{where}' is a value ({child!r}), not a section"
                )
            else:
                child = dict(child)
            node[key] = child
            node = child
        node[keys[-1]] = value
    return out


def _model_at(path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at ``path`` (for listing valid keys)."""
    model: Any = VTwinConfig
    for part in path:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for cand in candidates:
            inner = [cand, *getattr(cand, "__args__", ())]
            found = next(
                (c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)), None
            )
            if found is not None:
                model = found
                break
        else:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE_TAGS = frozenset({"int", "float", "str", "bool", "list", "tuple", "dict"})


def _field_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without pydantic's union-branch tags (``constrained-float``,
    ``function-after[...]``): only field names and list indices."""
    return tuple(
        p
        for p in loc
        if isinstance(p, int) or (_FIELD_NAME.match(str(p)) and str(p) not in _TYPE_TAGS)
    )


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Turn a pydantic error into lines naming each field path, its value and what is allowed.

    A field whose type is a union (a number or an interval) fails once per branch; those
    errors become one line, the branches' messages joined by "or"."""
    lines: list[str] = []
    seen: dict[tuple[Any, ...], int] = {}
    for err in exc.errors():
        loc = _field_path(tuple(err["loc"]))
        where = ".".join(str(p) for p in loc) or "(top level)"
        if loc in seen and err["type"] != "extra_forbidden":
            index = seen[loc]
            msg = str(err["msg"]).removeprefix("Value error, ")
            if msg not in lines[index]:
                lines[index] += f", or {msg[:1].lower()}{msg[1:]}"
            continue
        seen[loc] = len(lines)
        if err["type"] == "extra_forbidden":
            owner = _model_at(loc[:-1])
            valid = sorted(owner.model_fields) if owner is not None else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            lines.append(
                f"{where}: unknown key.{hint} Valid keys here: {', '.join(valid)}"
                if valid
                else f"{where}: unknown key"
            )
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            lines.append(f"{where}: required field is missing")
        elif isinstance(err.get("input"), dict) and _model_at(loc) is not None:
            # a whole section's check: its message names the fields, the section dump is noise
            lines.append(f"{where}: {msg}")
        else:
            lines.append(f"{where} = {err.get('input')!r}: {msg}")
    return f"invalid config ({source}):\n  " + "\n  ".join(lines)


def validate_config(data: dict[str, Any], source: str = "config") -> VTwinConfig:
    """Validate a nested dict as a :class:`VTwinConfig`, raising :class:`ConfigError`."""
    try:
        return VTwinConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(
    name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()
) -> VTwinConfig:
    """Load a preset by name or path, apply dotted overrides and validate it."""
    data = apply_overrides(_load_raw(name_or_path), overrides)
    return validate_config(data, source=str(name_or_path))


def config_to_yaml(config: VTwinConfig) -> str:
    """The resolved configuration as YAML (every field, defaults included)."""
    data = config.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
