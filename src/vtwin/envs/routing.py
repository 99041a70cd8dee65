"""Paper B: multi-vehicle VT migration routing over RSUs, UAVs and a satellite (SPEC §B).

Two classes share one implementation:

* :class:`BatchedMigrationRouting` steps ``B`` independent copies at once on numpy arrays
  (shape ``[B, V, …]`` for ``V`` vehicles = agents); training and experiments use it.
* :class:`MigrationRoutingEnv` is the PettingZoo ``ParallelEnv`` view: a ``B = 1`` batched
  env, so the two can never disagree.

Copy ``b`` draws all its randomness (trip lengths or which traces it replays, generated data
sizes, the traffic day of its background load, UAV start RSUs and patrol choices) from streams
spawned from its own seed, so copy ``b`` of a batch reset with seeds ``[s0, s1, …]`` is
identical to a single env reset with seed ``s_b``. The server layout is the scenario's (drawn
once from ``config.seed``), the same for every copy and episode.

Units inside are SI (metres, seconds, bits, Hz, watts); loads are bits. Names ending in
``_mb`` (info, :meth:`BatchedMigrationRouting.set_state`) are megabytes (10⁶ bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray
from pettingzoo import ParallelEnv

from vtwin.config import VTwinConfig, load_config
from vtwin.data.traffic import synthetic_traffic
from vtwin.envs._batch import check_actions, copy_seeds
from vtwin.physics import unchecked
from vtwin.physics.channel import dbm_to_w, noise_power_w, path_gain, shannon_rate_bps
from vtwin.physics.geo import EARTH_RADIUS_M, LocalProjection, slant_distance_m
from vtwin.physics.latency import (
    cache_carryover_bits,
    compute_latency_s,
    failure_indicator,
    migration_latency_s,
    routing_total_latency_s,
    transmission_latency_s,
    workload_variance,
)
from vtwin.seeding import GeneratorPool
from vtwin.world.scenario import MB_TO_BITS, Scenario, grid_mobility, hotspot_gain
from vtwin.world.servers import ServerKind

if TYPE_CHECKING:
    from vtwin.forecast.predictor import Predictor

__all__ = ["BatchedMigrationRouting", "MigrationRoutingEnv", "reference_moments"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

ENV_ID = "vtwin/MigrationRouting-v0"

_STREAMS = ("mobility", "episode")
"""Per-copy random streams: vehicle trips; everything else drawn at reset (in a fixed order)."""

_CHORD_EXACT_M = 64_000.0
"""Chords longer than this (metres) are turned into arcs by asin (see :func:`_arc_from_chord`)."""

_Z_FLOOR = {"latency": 1e-6, "load": 1e-6}
"""Smallest standard deviation (s, MB) a z-score divides by: equal values give z = 0."""

_TRAFFIC_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Day 0 of the synthetic traffic pool (a Monday)."""


def _unit_vectors(latlon_deg: FloatArray) -> FloatArray:
    """Points on the unit sphere [..., 3] of (lat, lon) degrees [..., 2]."""
    phi = np.radians(latlon_deg[..., 0])
    lam = np.radians(latlon_deg[..., 1])
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)


def _squared_chords(
    ev: NDArray[np.float32], cols: tuple[NDArray[np.float32], ...], out: NDArray[np.float32]
) -> None:
    """out = |e_v − e_m|²: ``ev`` [B, V, 3] offsets, ``cols`` the server offsets' x, y, z
    (each broadcasting to ``out`` [B, V, n] against [B, V, 1])."""
    np.subtract(ev[..., 0:1], cols[0], out=out)
    out *= out
    tmp = ev[..., 1:2] - cols[1]
    tmp *= tmp
    out += tmp
    np.subtract(ev[..., 2:3], cols[2], out=tmp)
    tmp *= tmp
    out += tmp


def _arc_from_chord(q: NDArray[np.float32]) -> NDArray[np.float32]:
    """Great-circle distance in metres from squared chords q = |P − Q|² (m²), in place.

    P, Q are points on the sphere of radius R. This is the standard haversine (paper B
    eq. (1) as corrected in SPEC §0): hav(η) = sin²(η/2) = (c / 2R)² with c = |P − Q|, so
    d = 2R asin(√hav) = 2R asin(c / 2R) = c (1 + c²/24R² + …). Up to ``_CHORD_EXACT_M``
    (64 km) d = c is used (relative error < 5·10⁻⁶, under 2 mm at 12 km); beyond, asin.
    """
    far = None
    if q.size and q.max() > _CHORD_EXACT_M**2:
        far = np.flatnonzero(q > _CHORD_EXACT_M**2)
        c = np.sqrt(q.ravel()[far].astype(np.float64))
        exact = 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(c / (2.0 * EARTH_RADIUS_M), 1.0))
    np.sqrt(q, out=q)
    if far is not None:
        q.ravel()[far] = exact
    return q


class BatchedMigrationRouting:
    """``B`` copies of the paper B migration-routing world, stepped together.

    **World.** ``N`` RSUs, ``U`` UAVs and one LEO satellite; server indices ``[0, N)`` are
    RSUs, ``[N, N+U)`` UAVs and ``M − 1`` the satellite (``M = N + U + 1``). With
    ``servers.sat.count = 0`` (paper B Fig. 8, "without the satellite") there is none:
    ``M = N + U``, ``has_sat`` is False and ``sat`` is −1; more than one satellite is an
    error. ``G = N + U`` counts the ground servers (RSUs and UAVs). ``V`` vehicles,
    each with its VT, drive for 30 s slots: synthetic street-grid trips that end at a
    destination within the horizon (``routing.trip_fraction``), or replayed T-Drive traces
    (``vehicles.mobility.kind = trace``; a trace's last fix is its destination). UAVs patrol
    among RSUs at ``servers.uav.speed_mps``: each flies straight to a random backhaul
    neighbour of the RSU it is at and picks the next on arrival.

    **Action.** Per vehicle, the server that hosts its VT this slot (``0 … M−1``).

    **Slot physics** (paper B Sec. III, SPEC §B). Distances are great-circle (haversine)
    between lat/lon points, slant ``√(d² + h_u²)`` for UAVs (eqs. (1)–(2)). Vehicle v sends
    ``S_v`` bits up and gets ``S_v`` back: Shannon rates over the free-space gain with the
    vehicle's / server's power (eqs. (3)–(5)); the satellite has fixed Starlink-like rates
    (eqs. (6)–(7)). Server load ``S'_m = cache_m + S_m + Σ_v g_vm S_v`` with ``S_m`` the
    background load (eq. (8)); compute ``T_cul = e_v S'_m / C_m``, on the satellite's CPU
    ``C_s`` when ``S'_m > L_max`` (eq. (9); without a satellite the overflowing host computes
    everything on its own CPU, ``e_v S'_m / C_m``, and ξ = 1 all the same); migration
    ``T_mig = J S_mig / R_mig`` when the host changes (eqs. (10)–(12)), ``R_mig`` by Shannon
    over the server-to-server distance with the source's power and
    ``routing.migration_bandwidth_mhz``, or the satellite's fixed uplink (to it) / downlink
    (from it); ``T_sum`` is the sum (eq. (13)). Failure ``ξ = 1`` when the vehicle is beyond
    the host's ``D_max`` or ``S'_m > L_max`` (eq. (14)). Each server then processes
    ``C_m τ / e_v`` bits; the rest, at most ``L_max`` (data above it was computed on the
    satellite, or on the host's CPU without one, or lost), stays in its cache for the next
    slot.

    **Background load.** A traffic-flow series per RSU/UAV (``synthetic_traffic`` at the slot
    length; a pool of ``routing.traffic_pool_days`` days drawn once from ``config.seed``; each
    copy replays one day, drawn from its own seed, from ``workload.start_hour``) mapped to
    ``S_m = flow · routing.background_mb_per_vehicle`` MB (× the hotspot gain of an RSU's
    position), only on the kinds in ``workload.servers``. Agents see it through the
    predictor: ``predict_next`` of the last ``predictor.window`` slots of background load in
    MB (no predictor: the last measured value). Being exogenous, all predictions of an
    episode are computed once at reset (paper B Algorithm 2, lines 4–5).

    **Observation** ``[B, V, obs_dim]`` float32, per vehicle (``obs_slices`` names them):

    ======================  =========  ========================================================
    entries                 count      value
    ======================  =========  ========================================================
    ``[0, G)``              G          D_{v,m} of RSUs then UAVs (the non-satellite servers),
                                       km / ``routing.distance_scale_km``
    ``[G, G+M)``            M          loads as seen through the predictor, (predicted
                                       background + cache) / L_max of each server (satellite
                                       last)
    ``[G+M, G+M+2)``        2          own position (x, y) / area size, clipped to [0, 1]
    ``G+M+2``               1          time t / horizon
    ``[G+M+3, G+2M+3)``     M          one-hot of the current host (``routing.observe_serving``)
    ======================  =========  ========================================================

    With the satellite ``G = M − 1`` (distances ``[0, M−1)``, ``obs_dim = 3M + 2``); without
    it ``G = M`` (distances to all M servers, ``obs_dim = 3M + 3``).

    **State** ``[B, state_dim]`` float32 for centralised critics (``state_slices``):
    vehicle positions / area (2V, vehicle-major), one-hot current hosts (V·M), active flags
    (V), generated data S_v / L_max of an RSU (V), the M loads as in the observation, UAV
    positions / area (2U), time t / horizon (1).

    **Mask** ``[B, V, M]`` (eqs. (23)–(24)): server m is infeasible for vehicle v when its
    predicted background + cache + ``S_v`` exceed ``L_max`` or ``D_{v,m} > D_max``; the
    satellite is never masked. A masked action is still executed (``info["infeasible"]``).
    Without a satellite a vehicle may have no feasible server: its mask row is then all
    False, which agents must read as all True (:func:`vtwin.agents.mappo.effective_mask`,
    :meth:`greedy_actions`); whatever it picks is flagged ``infeasible``.

    **Reward** (eq. (22)) per active vehicle ``−(w_T z(T_sum) + w_s z(S'_m) + w_d ξ)``; z
    is a z-score over time, ``z = (x − mean) / max(std, 10⁻⁶)`` (latency in s, load in MB).
    By default (``routing.zscore_scope = reference``) mean and std are fixed: those of one
    episode of a uniformly random policy on the same config (:func:`reference_moments`), so
    rewards are comparable across methods and episodes. ``episode``: running statistics per
    copy, reset with the episode (each slot the active vehicles' values join the running
    count/mean/variance, Chan's parallel update); ``env``: running on across episodes.
    ``info["reward_components"]`` holds the three weighted terms (they sum to −reward);
    raw values are ``info["latency_s"]``, ``info["load_mb"]`` and ``info["failure"]``.

    **Info** of :meth:`step`, per vehicle [B, V]: ``reward_components``; ``latency_s``
    (T_sum) and its parts ``uplink_s``, ``downlink_s``, ``compute_s``, ``migration_s``;
    ``load_mb`` (S'_m of the host); ``failure`` (ξ); ``migrated`` (J); ``infeasible``;
    ``server`` (the host, −1 when not driving); ``packet_loss_rate`` (eq. (15) as a fraction,
    over the slots driven so far); ``arrived`` (destination reached); ``action_mask`` and
    ``active`` of the next observation (without a satellite an ``action_mask`` row may be all
    False: no server is feasible, read it as all True). Per copy [B]: ``workload_variance``
    (population variance of S'_m over the M servers, MB²) and ``zscore`` (running means and
    stds).
    Per-vehicle values are 0 (False) for vehicles that did not drive this slot.

    **Episode.** A copy terminates when every vehicle has reached its destination and is
    truncated after ``horizon`` slots. There is no auto-reset: a finished copy returns its
    final observation again, zero rewards and per-slot info, inactive vehicles, and its
    (sticky) terminated/truncated flags until :meth:`reset`. Returned arrays are fresh each
    slot; the env keeps references to the observation and state (do not modify them in place).
    """

    episode_metrics: ClassVar[dict[str, tuple[str, ...]]] = {
        "latency_s": ("steps", "latency_s"),
        "latency_ok_s": ("steps", "latency_s", "failure"),  # over steps without failure
        "packet_loss": ("steps", "failure"),  # mean ξ, paper B eq. (14)
        "packet_loss_per_vehicle": ("agents", "failure"),  # q_v of eq. (15), averaged
        "workload_variance": ("copies", "workload_variance"),
        "infeasible_share": ("steps", "infeasible"),
    }
    """What the training loops report per episode from ``info`` (``vtwin.training.metrics``)."""

    def __init__(
        self,
        config: VTwinConfig,
        batch_size: int = 1,
        *,
        predictor: Predictor | None = None,
        reference: VTwinConfig | None = None,
    ) -> None:
        """Build the static layout from ``config`` (a paper B preset) for ``batch_size`` copies.

        ``reference``: with ``zscore_scope = reference``, take the reward's z-score moments
        from this config instead (e.g. the full system when ``config`` removes the UAVs, so
        that the ablation's rewards share the full system's scale).
        """
        if config.paper != "B" or config.routing is None:
            raise ValueError(
                f"config '{config.name}' is for paper {config.paper}; the migration-routing env "
                "needs a paper B preset (e.g. paper-b-city)"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size}: must be ≥ 1")
        self.config = config
        self.B = int(batch_size)
        rc = config.routing
        self.horizon = config.horizon_slots
        self.slot_s = config.slot_s

        # ---- servers: the scenario's layout (its own vehicles are not used here) -----------
        mob = config.vehicles.mobility
        layout_cfg = config.model_copy(
            update={
                "vehicles": config.vehicles.model_copy(
                    update={
                        "count": 0,
                        "mobility": mob.model_copy(update={"kind": "grid", "path": None}),
                    }
                )
            }
        )
        scenario = Scenario.from_config(layout_cfg, seed=config.seed)
        servers = scenario.servers
        rsu = servers.of_kind(ServerKind.RSU)
        uav = servers.of_kind(ServerKind.UAV)
        n_sat = servers.count(ServerKind.SAT)
        if n_sat > 1:
            raise ValueError(
                f"servers.sat.count = {n_sat}: the routing env models at most 1 satellite "
                "(0 for paper B's 'without satellite' ablation)"
            )
        self.N, self.U = int(rsu.size), int(uav.size)
        self.has_sat = n_sat == 1
        self.G = self.N + self.U  # ground servers (RSUs and UAVs): distance/background columns
        self.M = servers.n
        if self.M < 1:
            raise ValueError("no servers (servers.*.count are all 0): the routing env needs ≥ 1")
        self.sat = self.M - 1 if self.has_sat else -1
        if self.U and not self.N:
            raise ValueError(f"servers.uav.count = {self.U} with no RSUs: UAVs patrol among RSUs")
        self.V = config.vehicles.count
        if self.V < 1:
            raise ValueError("vehicles.count = 0: the routing env needs ≥ 1 vehicle")

        self.compute_hz = servers.compute_hz.copy()
        self.capacity_bits = servers.capacity_bits.copy()  # L_max
        self.coverage_m = servers.coverage_m.copy()  # D_max (satellite: inf)
        self.bandwidth_hz = servers.bandwidth_hz.copy()  # B_up = B_down
        self.tx_power_w = servers.tx_power_w.copy()
        # paper B eq. (2): RSUs are ground points, UAVs fly at h_u
        self.altitude_m = np.zeros(self.M)
        self.altitude_m[uav] = servers.altitude_m[uav]
        if self.has_sat:
            self.sat_uplink_bps = float(servers.uplink_bps[self.sat])
            self.sat_downlink_bps = float(servers.downlink_bps[self.sat])
            self.sat_compute_hz = float(servers.compute_hz[self.sat])
        else:  # never used: no action is the satellite, overflow computes on the host's CPU
            self.sat_uplink_bps = self.sat_downlink_bps = self.sat_compute_hz = float("nan")
        self.vehicle_power_w = float(dbm_to_w(config.vehicles.power_dbm))
        ch = config.channel
        self._gain_args = (ch.carrier_ghz * 1e9, ch.antenna_gain, ch.path_loss_exponent)
        self.migration_bandwidth_hz = rc.migration_bandwidth_mhz * 1e6
        if ch.noise_dbm is not None:
            self.noise_w = np.full(self.M, float(dbm_to_w(ch.noise_dbm)))
            self.migration_noise_w = float(dbm_to_w(ch.noise_dbm))
        else:
            assert ch.noise_density_dbm_per_hz is not None
            self.noise_w = noise_power_w(ch.noise_density_dbm_per_hz, self.bandwidth_hz)
            self.migration_noise_w = float(
                noise_power_w(ch.noise_density_dbm_per_hz, self.migration_bandwidth_hz)
            )
        self.cycles_per_bit = rc.cycles_per_bit  # e_v
        self.migration_bits = rc.migration_mb * MB_TO_BITS  # S_mig
        gen = rc.generated_mbps
        lo, hi = gen if isinstance(gen, tuple) else (gen, gen)  # a scalar: exactly that rate
        self._data_range_bits = (lo * self.slot_s * MB_TO_BITS, hi * self.slot_s * MB_TO_BITS)
        self.reward_weights = tuple(float(w) for w in rc.reward_weights)
        self.trip_fraction = rc.trip_fraction
        self.zscore_scope = rc.zscore_scope
        self._reference = (
            reference_moments(reference or config) if rc.zscore_scope == "reference" else None
        )
        self._drain_bits = self.compute_hz * self.slot_s / self.cycles_per_bit

        # ---- geography: lat/lon of fixed points, local metres for motion -------------------
        geo = config.geography
        self.projection = scenario.projection or LocalProjection(
            geo.origin_lat_deg, geo.origin_lon_deg
        )
        self.area_m = np.array([geo.width_m, geo.height_m])
        self.rsu_xy = servers.xy_m[rsu].copy()
        self.rsu_latlon = self.projection.to_latlon(self.rsu_xy)
        self.sat_latlon = self.projection.to_latlon(self.area_m / 2.0)
        # points on the Earth's sphere as offsets (m) from the area centre: float32 keeps
        # ~1 mm there and halves the memory traffic of the [B, V, M] distance block
        self._centre_unit = _unit_vectors(self.sat_latlon)
        self._centre_latlon = self.sat_latlon.copy()
        phi0, lam0 = np.radians(self.sat_latlon)
        self._centre_trig = (np.cos(phi0), np.sin(phi0), np.cos(lam0), np.sin(lam0))
        self._rsu_off64 = self._offsets(self.rsu_latlon)
        self._rsu_off = tuple(self._rsu_off64[:, k].astype(np.float32) for k in range(3))
        self._coverage32 = self.coverage_m[: self.G].astype(np.float32)
        self.uav_altitude_m = self.altitude_m[self.N : self.N + self.U].copy()
        self._uav_h2 = (self.uav_altitude_m**2).astype(np.float32)
        self.uav_speed_mps = config.servers.uav.speed_mps
        # UAV patrol graph: each RSU's backhaul neighbours (padded)
        nbrs = [sorted(scenario.backhaul.neighbors(i)) for i in range(self.N)]
        self._deg = np.array([len(n) for n in nbrs], dtype=np.int64)
        width = max(1, int(self._deg.max(initial=0)))
        self._nbr = np.array(
            [n + [i] * (width - len(n)) for i, n in enumerate(nbrs)], dtype=np.int64
        ).reshape(self.N, width)

        # ---- background load: traffic-flow pool and the predictor ---------------------------
        self.predictor = predictor
        self.window = int(predictor.window) if predictor is not None else 1
        if self.window < 1:
            raise ValueError(f"predictor.window = {self.window}: must be ≥ 1")
        w = config.workload
        carries = np.zeros(self.G, dtype=bool)
        carries[: self.N] = "rsu" in w.servers
        carries[self.N :] = "uav" in w.servers
        gain = np.ones(self.G)
        gain[: self.N] = hotspot_gain(config, self.rsu_xy)
        self.background_mb_per_flow = np.where(carries, rc.background_mb_per_vehicle * gain, 0.0)
        pool_flow = self._traffic_pool(rc.traffic_pool_days, w.start_hour)
        self._pool_bits = pool_flow * (self.background_mb_per_flow * MB_TO_BITS)
        self._pred_pool = np.zeros((rc.traffic_pool_days, self.horizon + 1, self.G))
        self._predicted = np.zeros(rc.traffic_pool_days, dtype=bool)

        # ---- vehicles from traces ------------------------------------------------------------
        self.mobility_kind = mob.kind
        if mob.kind == "trace":
            self._load_traces()

        # ---- observation / state layout -------------------------------------------------------
        M, V, U, G = self.M, self.V, self.U, self.G
        self.distance_scale_m = rc.distance_scale_km * 1e3
        self.observe_serving = rc.observe_serving
        self.obs_slices: dict[str, slice] = {
            "distance": slice(0, G),
            "load": slice(G, G + M),
            "position": slice(G + M, G + M + 2),
            "time": slice(G + M + 2, G + M + 3),
        }
        if self.observe_serving:
            self.obs_slices["serving"] = slice(G + M + 3, G + 2 * M + 3)
        self.obs_dim = self.obs_slices["serving" if self.observe_serving else "time"].stop
        sizes = [
            ("position", 2 * V),
            ("serving", V * M),
            ("active", V),
            ("data", V),
            ("load", M),
            ("uav_position", 2 * U),
            ("time", 1),
        ]
        self.state_slices: dict[str, slice] = {}
        start = 0
        for name, size in sizes:
            self.state_slices[name] = slice(start, start + size)
            start += size
        self.state_dim = start
        self._data_ref_bits = float(config.servers.rsu.capacity_mb * MB_TO_BITS)
        self._obs: dict[str, np.ndarray] = {}
        self._out_buffers: dict[str, np.ndarray] = {}  # see set_observation_buffers
        self._copy_rngs, self._turn_rngs = GeneratorPool(), GeneratorPool()  # re-seeded per reset
        self._mask = np.ones((self.B, self.V, self.M), dtype=bool)
        self._dist = np.zeros((self.B, self.V, self.G), dtype=np.float32)
        self._started = False

    # ------------------------------------------------------------------ construction helpers
    def _traffic_pool(self, days: int, start_hour: float) -> FloatArray:
        """Flows [days, window + horizon + 1, N + U]: slots −window … horizon of each day."""
        n_steps = self.window + self.horizon + 1
        n_series = self.G
        pool = np.zeros((days, n_steps, n_series))
        if n_series == 0:
            return pool
        seeds = np.random.SeedSequence(self.config.seed).generate_state(days, dtype=np.uint32)
        for d in range(days):
            start = (
                _TRAFFIC_EPOCH
                + timedelta(days=d, hours=start_hour)
                - timedelta(seconds=self.window * self.slot_s)
            )
            series = synthetic_traffic(
                n_series,
                days=n_steps * self.slot_s / 86400.0,
                interval_s=self.slot_s,
                seed=int(seeds[d]),
                start=start.strftime("%Y-%m-%d %H:%M:%S"),
            )
            pool[d] = series.values[:n_steps]
        return pool

    def _load_traces(self) -> None:
        """Read the trace pool; tabulate positions, activity and arrival per slot."""
        from vtwin.data.traces import read_tdrive
        from vtwin.world.mobility import TraceReplayMobility

        mob = self.config.vehicles.mobility
        if self.config.geography.coordinates != "latlon":
            raise ValueError(
                "vehicles.mobility.kind = 'trace' needs geography.coordinates = 'latlon' "
                "(an origin to project the GPS fixes)"
            )
        assert mob.path is not None  # checked by the config model
        path = Path(mob.path)
        if not path.exists():
            raise ValueError(f"vehicles.mobility.path = '{mob.path}': no such file or folder")
        traces = read_tdrive(path)
        if len(traces) < self.V:
            raise ValueError(
                f"vehicles.count = {self.V} but '{mob.path}' holds {len(traces)} trace(s)"
            )
        replay = TraceReplayMobility(
            traces, projection=self.projection, slot_s=self.slot_s, start_time_s=mob.start_time_s
        )
        n = self.horizon + 1
        self.trace_ids = replay.vehicle_ids
        self._trace_latlon = replay.trajectory_latlon(n)  # [H+1, P, 2]
        self._trace_xy = replay.trajectory(n)
        last = np.array([float(np.max(tr.time_s)) - replay.start_time_s for tr in traces])
        times = np.arange(n)[:, None] * self.slot_s
        self._trace_arrived = times > last[None, :] + 1e-6  # past the last fix: destination
        self._trace_active = replay.active_matrix(n) & ~self._trace_arrived

    # ------------------------------------------------------------------ reset / step
    def reset(
        self, seed: int | Sequence[int] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start new episodes; ``seed`` is one int (copy b gets seed + b) or one per copy."""
        seeds = self._copy_seeds(seed)
        B, V, H, U = self.B, self.V, self.horizon, self.U
        mob_rngs: list[np.random.Generator] = []
        lo, hi = self._data_range_bits
        days = self._pool_bits.shape[0]
        self.data_bits = np.empty((B, V))
        self.traffic_day = np.empty(B, dtype=np.int64)
        self._uav_tape = np.empty((B, U, H + 1))
        start = np.zeros((B, U), dtype=np.int64)
        # per copy: default_rng(c) for c in SeedSequence(seed).spawn(2), built all at once
        for b, (mob, ep) in enumerate(self._copy_rngs.spawn(seeds, len(_STREAMS))):
            mob_rngs.append(mob)
            self.data_bits[b] = ep.uniform(lo, hi, V)  # S_v per slot
            self.traffic_day[b] = ep.integers(days)  # the background's traffic day
            self._uav_tape[b] = ep.random((U, H + 1))  # patrol choices
            if U:  # UAVs start above random RSUs (distinct when possible)
                start[b] = ep.choice(self.N, size=U, replace=U > self.N)
        self.seeds = seeds

        # vehicles: trips (synthetic) or traces
        tt = np.arange(H + 1)[:, None, None]
        if self.mobility_kind == "trace":
            P = self._trace_xy.shape[1]
            pick = np.stack(
                [np.arange(V) if P == V else g.choice(P, size=V, replace=False) for g in mob_rngs]
            )  # [B, V]
            self.trace_index = pick
            xy = self._trace_xy[:, pick]  # [H+1, B, V, 2]
            latlon = self._trace_latlon[:, pick]
            self._active_tab = self._trace_active[:, pick]
            self._arrived_tab = self._trace_arrived[:, pick]
        else:
            flo, fhi = self.trip_fraction
            frac = np.stack([g.uniform(flo, fhi, V) for g in mob_rngs])
            self.trip_end = np.clip(np.rint(frac * H), 1, H).astype(np.int64)  # t_v^end
            mobility = grid_mobility(self.config, B * V, mob_rngs, self._turn_rngs.from_ints)
            raw = mobility.trajectory(H + 1).reshape(H + 1, B, V, 2)
            # a vehicle stays at its destination once it arrived
            when = np.minimum(tt, self.trip_end[None])
            rows = when * (B * V) + np.arange(B * V).reshape(B, V)  # rows of raw as [·, 2]
            xy = raw.reshape(-1, 2).take(rows.ravel(), axis=0).reshape(H + 1, B, V, 2)
            latlon = self.projection.to_latlon(xy)
            self._active_tab = tt < self.trip_end[None]
            self._arrived_tab = ~self._active_tab
        self._veh_xy = xy
        self._veh_latlon = latlon
        self._predict_days(self.traffic_day)

        self._uav_node = start.astype(np.int64)
        self._set_uavs(self.rsu_xy[self._uav_node].reshape(B, U, 2))
        self._uav_k = np.zeros((B, U), dtype=np.int64)  # next unused tape column per UAV
        self._uav_target = self._next_rsu(self._uav_node)

        # servers and episode bookkeeping
        self.cache_bits = np.zeros((B, self.M))
        self.t = 0
        self._load_slot()
        self._terminated = self._arrived_tab[0].all(axis=1)  # nobody left to drive
        self._truncated = np.zeros(B, dtype=bool)
        if self.zscore_scope == "episode" or not hasattr(self, "_stats"):
            self._stats = {k: np.zeros((3, B)) for k in ("latency", "load")}  # count, mean, M2
        self._failures = np.zeros((B, V))
        self._slots = np.zeros((B, V))
        self.serving = np.full((B, V), max(self.sat, 0), dtype=np.int64)  # placeholder
        self._started = True
        self._observe()
        # each VT starts on the nearest feasible server (none: the satellite, else the nearest)
        self.serving = self._nearest_feasible()
        obs = self._observe()
        info = {
            "seeds": np.asarray(seeds),
            "action_mask": obs["action_mask"],
            "active": obs["active"],
        }
        return obs, info

    def step(
        self, actions: ArrayLike
    ) -> tuple[dict[str, np.ndarray], FloatArray, BoolArray, BoolArray, dict[str, Any]]:
        """Advance every copy one slot; ``actions`` [B, V] server indices (or [B] when V = 1)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        act = self._check_actions(actions)
        B, M = self.B, self.M
        live = ~(self._terminated | self._truncated)
        if not live.any():  # every copy finished: nothing moves
            return self._finished_step()
        t = self.t
        active = self._active_tab[t] & live[:, None]
        chosen = np.where(active, act, self.serving)
        feasible = self._mask[np.arange(B)[:, None], np.arange(self.V), chosen]
        infeasible = active & ~feasible
        data = np.where(active, self.data_bits, 0.0)

        # paper B eq. (8): S'_m = S_m (cache + background) + Σ_v g_vm S_v
        flat = (np.arange(B)[:, None] * M + chosen).ravel()
        joined = np.bincount(flat, weights=data.ravel(), minlength=B * M).reshape(B, M)
        load = self.cache_bits + joined
        load[:, : self.G] += self._bg_now
        with unchecked():  # every argument is valid by construction (config checked at load)
            terms = self._slot_terms(chosen, data, load)

        # running z-scores over time, per copy (eq. (22) normalisation)
        z_lat = self._zscore("latency", terms["latency_s"], active)
        load_mb = terms["load_bits"] / MB_TO_BITS
        z_load = self._zscore("load", load_mb, active)
        w_t, w_s, w_d = self.reward_weights
        r_lat = np.where(active, w_t * z_lat, 0.0)
        r_load = np.where(active, w_s * z_load, 0.0)
        xi = np.where(active, terms["failure"], 0.0)
        r_fail = w_d * xi
        reward = np.where(active, -(r_lat + r_load + r_fail), 0.0)  # paper B eq. (22)

        self._failures += xi
        self._slots += active
        loss = np.divide(
            self._failures, self._slots, out=np.zeros_like(self._failures), where=self._slots > 0
        )  # paper B eq. (15), as a fraction, over the slots driven so far
        variance = np.where(live, workload_variance(load / MB_TO_BITS), 0.0)  # MB²

        # caches carry the unfinished data, at most L_max (the excess was computed on the
        # satellite, or on the host's CPU without one, or lost)
        with unchecked():
            carried = cache_carryover_bits(
                np.minimum(load, self.capacity_bits),
                self.compute_hz,
                self.slot_s,
                self.cycles_per_bit,
            )
        self.cache_bits = np.where(live[:, None], carried, self.cache_bits)
        self.serving = np.where(active, chosen, self.serving)
        self._move_uavs(live)
        self.t = t + 1
        self._load_slot()

        arrived = self._arrived_tab[self.t] & live[:, None]
        term_now = live & self._arrived_tab[self.t].all(axis=1)
        trunc_now = live & ~term_now & (self.t >= self.horizon)
        self._terminated |= term_now
        self._truncated |= trunc_now
        obs = self._observe(freeze=~live)

        def act_only(x: FloatArray) -> FloatArray:
            return np.where(active, x, 0.0)

        info: dict[str, Any] = {
            "reward_components": {"latency": r_lat, "load": r_load, "failure": r_fail},
            "latency_s": act_only(terms["latency_s"]),
            "uplink_s": act_only(terms["uplink_s"]),
            "downlink_s": act_only(terms["downlink_s"]),
            "compute_s": act_only(terms["compute_s"]),
            "migration_s": act_only(terms["migration_s"]),
            "load_mb": act_only(load_mb),
            "failure": xi,
            "migrated": active & terms["migrated"],
            "infeasible": infeasible,
            "server": np.where(active, chosen, -1),
            "packet_loss_rate": loss,
            "workload_variance": variance,
            "zscore": {
                f"{k}_{s}": v
                for k in ("latency", "load")
                for s, v in zip(("mean", "std"), self._moments(k), strict=True)
            },
            "arrived": arrived,
            "action_mask": obs["action_mask"],
            "active": obs["active"],
        }
        return obs, reward, self._terminated.copy(), self._truncated.copy(), info

    # ------------------------------------------------------------------ physics
    def _slot_terms(self, chosen: IntArray, data: FloatArray, load: FloatArray) -> dict[str, Any]:
        """Latency parts (s), host load (bits), failure and migration flags, all [B, V]."""
        B, V = self.B, self.V
        bidx = np.arange(B)[:, None]
        vidx = np.arange(V)[None, :]
        sat = chosen == self.sat
        col = np.minimum(chosen, self.G - 1)
        dist = self._dist[bidx, vidx, col] if self.G > 0 else np.zeros((B, V))
        gain = path_gain(dist, *self._gain_args)  # paper B eq. (3)
        up_bps = np.where(  # paper B eq. (4); satellite: fixed rate, eq. (6)
            sat,
            self.sat_uplink_bps,
            shannon_rate_bps(
                self.bandwidth_hz[chosen], self.vehicle_power_w, gain, self.noise_w[chosen]
            ),
        )
        down_bps = np.where(  # paper B eq. (5); satellite: fixed rate, eq. (7)
            sat,
            self.sat_downlink_bps,
            shannon_rate_bps(
                self.bandwidth_hz[chosen], self.tx_power_w[chosen], gain, self.noise_w[chosen]
            ),
        )
        t_up = transmission_latency_s(data, up_bps)  # paper B eq. (6)
        t_down = transmission_latency_s(data, down_bps)  # paper B eq. (7)
        host_load = load[bidx, chosen]
        host_hz = self.compute_hz[chosen]
        t_cul = compute_latency_s(  # paper B eq. (9); no satellite: all on the host's own CPU
            host_load,
            self.cycles_per_bit,
            host_hz,
            self.capacity_bits[chosen],
            self.sat_compute_hz if self.has_sat else host_hz,
        )
        moved = chosen != self.serving  # J, paper B eq. (10)
        mig_bps = self._migration_rate(self.serving, chosen)  # paper B eq. (11)
        t_mig = migration_latency_s(self.migration_bits, mig_bps, moved)  # paper B eq. (12)
        total = routing_total_latency_s(t_up, t_down, t_cul, t_mig)  # paper B eq. (13)
        in_range = sat | (dist <= self.coverage_m[chosen])
        overflow = host_load > self.capacity_bits[chosen]
        failure = failure_indicator(in_range, overflow)  # paper B eq. (14)
        return {
            "uplink_s": t_up,
            "downlink_s": t_down,
            "compute_s": t_cul,
            "migration_s": t_mig,
            "latency_s": total,
            "load_bits": host_load,
            "failure": failure,
            "migrated": moved,
        }

    def _migration_rate(self, src: IntArray, dst: IntArray) -> FloatArray:
        """R_mig between hosts [B, V]: Shannon between RSUs/UAVs, fixed rates via the satellite."""
        chord = np.linalg.norm(self._server_offsets(src) - self._server_offsets(dst), axis=-1)
        # paper B eq. (1) (haversine, through the chord: hav = (c / 2R)²)
        ground = 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(chord / (2 * EARTH_RADIUS_M), 1.0))
        # paper B eq. (2) between servers: slant over the altitude difference (UAVs at h_u)
        d = slant_distance_m(ground, self.altitude_m[src] - self.altitude_m[dst])
        shannon = shannon_rate_bps(  # paper B eq. (11), the source server transmits
            self.migration_bandwidth_hz,
            self.tx_power_w[src],
            path_gain(d, *self._gain_args),
            self.migration_noise_w,
        )
        # the satellite is reached over its fixed-rate links (SPEC §0), not eq. (11)
        rate = np.where(dst == self.sat, self.sat_uplink_bps, shannon)
        return np.where(src == self.sat, self.sat_downlink_bps, rate)

    def _server_offsets(self, idx: IntArray) -> FloatArray:
        """Sphere offsets (m) [B, V, 3] of RSUs/UAVs ``idx`` [B, V] (satellite: the centre)."""
        N, U, B = self.N, self.U, self.B
        uav_row = N + np.arange(B)[:, None] * U + (idx - N)
        row = np.where(idx < N, idx, np.where(idx < self.G, uav_row, N + B * U))
        return self._server_table[row]

    def _offsets(self, latlon_deg: FloatArray) -> FloatArray:
        """Points (lat, lon) [..., 2] on the sphere of radius R less the area centre, m [..., 3].

        Near the area (|Δφ|, |Δλ| ≤ 0.02 rad from its centre) cos and sin of the offsets come
        from their Taylor series to 8th order (exact in float64) and angle addition, which is
        3× cheaper than numpy's trigonometry; farther points use np.cos / np.sin.
        """
        a = np.radians(latlon_deg[..., 0] - self._centre_latlon[0])
        b = np.radians(latlon_deg[..., 1] - self._centre_latlon[1])
        if a.size and max(np.abs(a).max(), np.abs(b).max()) > 0.02:
            return (_unit_vectors(latlon_deg) - self._centre_unit) * EARTH_RADIUS_M
        cphi0, sphi0, clam0, slam0 = self._centre_trig

        def cos_sin(x: FloatArray) -> tuple[FloatArray, FloatArray]:
            x2 = x * x
            c = 1.0 - x2 * (0.5 - x2 * (1.0 / 24.0 - x2 * (1.0 / 720.0 - x2 / 40320.0)))
            s = x * (1.0 - x2 * (1.0 / 6.0 - x2 * (1.0 / 120.0 - x2 / 5040.0)))
            return c, s

        ca, sa = cos_sin(a)
        cb, sb = cos_sin(b)
        cphi = cphi0 * ca - sphi0 * sa
        out = np.empty((*a.shape, 3))
        out[..., 0] = cphi * (clam0 * cb - slam0 * sb) - self._centre_unit[0]
        out[..., 1] = cphi * (slam0 * cb + clam0 * sb) - self._centre_unit[1]
        out[..., 2] = sphi0 * ca + cphi0 * sa - self._centre_unit[2]
        out *= EARTH_RADIUS_M
        return out

    def _set_uavs(self, xy: FloatArray) -> None:
        """Move the UAVs to local metres ``xy`` [B, U, 2]; refresh their lat/lon and offsets."""
        self._uav_xy = xy
        self._uav_latlon = self.projection.to_latlon(xy)
        self._uav_off64 = self._offsets(self._uav_latlon)
        # rows: RSUs, then copy b's UAVs at N + b·U + u, then the satellite (the centre)
        self._server_table = np.concatenate(
            [self._rsu_off64, self._uav_off64.reshape(-1, 3), np.zeros((1, 3))]
        )
        cols = np.moveaxis(self._uav_off64, -1, 0).astype(np.float32)  # [3, B, U]
        self._uav_cols = tuple(cols[k][:, None, :] for k in range(3))  # each [B, 1, U]

    def _geometry(self) -> None:
        """Vehicle → RSU/UAV distances D_{v,m} [B, V, M−1] at the current slot (eqs. (1)–(2)).

        float32 metres, via :func:`_arc_from_chord` (haversine).
        """
        B, V, N, U = self.B, self.V, self.N, self.U
        ev = self._offsets(self._veh_latlon[self.t]).astype(np.float32)  # [B, V, 3]
        rsu = np.empty((B, V, N), dtype=np.float32)  # contiguous blocks: strided is 2× slower
        _squared_chords(ev, self._rsu_off, rsu)
        _arc_from_chord(rsu)
        if not U:
            self._dist = rsu
            return
        uav = np.empty((B, V, U), dtype=np.float32)
        _squared_chords(ev, self._uav_cols, uav)
        _arc_from_chord(uav)
        uav *= uav  # paper B eq. (2): UAVs at altitude h_u
        uav += self._uav_h2
        np.sqrt(uav, out=uav)
        self._dist = np.concatenate([rsu, uav], axis=-1)

    def _next_rsu(self, node: IntArray) -> IntArray:
        """Next patrol RSU of every UAV, standing at RSUs ``node`` [B, U]."""
        if not self.U:
            return node.copy()
        rows, cols = np.indices((self.B, self.U))
        return self._next_rsu_of(rows.ravel(), cols.ravel(), node.ravel()).reshape(node.shape)

    def _next_rsu_of(self, b: IntArray, u: IntArray, node: IntArray) -> IntArray:
        """Next patrol RSU of UAVs (``b``, ``u``) at RSUs ``node`` (1-D each): a random backhaul
        neighbour drawn from each UAV's own tape of uniforms (one use per choice)."""
        width = self._uav_tape.shape[2]  # tape[b, u, k] at flat index (b·U + u)·width + k
        k = self._uav_k[b, u]
        draw = self._uav_tape.reshape(-1)[(b * self.U + u) * width + k]
        self._uav_k[b, u] = k + 1
        deg = self._deg[node]
        j = np.minimum((draw * deg).astype(np.int64), np.maximum(deg - 1, 0))
        return np.where(deg > 0, self._nbr[node, j], node)

    def _move_uavs(self, live: BoolArray) -> None:
        """Fly every live copy's UAVs one slot toward their targets; re-pick on arrival."""
        if not self.U:
            return
        goal = self.rsu_xy[self._uav_target]
        delta = goal - self._uav_xy
        dist = np.hypot(delta[..., 0], delta[..., 1])
        reach = self.uav_speed_mps * self.slot_s
        arrive = (dist <= reach) & live[:, None]
        flying = (dist > reach) & live[:, None]
        scale = np.divide(reach, dist, out=np.zeros_like(dist), where=flying)
        self._set_uavs(np.where(arrive[..., None], goal, self._uav_xy + delta * scale[..., None]))
        if arrive.any():  # the UAVs that arrived pick their next RSU
            b, u = np.nonzero(arrive)
            node = self._uav_target[b, u]
            self._uav_node[b, u] = node
            self._uav_target[b, u] = self._next_rsu_of(b, u, node)

    def background_forecast_error(self) -> dict[str, float]:
        """How well the agents' view of the background load matches the truth, over every
        slot of every pool day and every server that carries background.

        Returns ``error_pct`` (Σ|predicted − true| / Σ true, %), ``mae_mb`` and
        ``mae_capacity_pct`` (mean |error| in % of the server's L_max): the predictor's (or,
        without one, the last measured value's) one-slot-ahead error. Predicts any pool day
        not predicted yet.
        """
        self._predict_days(np.arange(self._pool_bits.shape[0]))
        carries = self.background_mb_per_flow > 0
        W, n = self.window, self.horizon + 1
        true = self._pool_bits[:, W : W + n][..., carries]
        err = np.abs(self._pred_pool[..., carries] - true)
        total = float(true.sum())
        return {
            "error_pct": 100.0 * float(err.sum()) / total if total > 0 else float("nan"),
            "mae_mb": float(err.mean() / MB_TO_BITS) if err.size else float("nan"),
            "mae_capacity_pct": (
                100.0 * float((err / self.capacity_bits[: self.G][carries]).mean())
                if err.size
                else float("nan")
            ),
        }

    def _predict_days(self, days: IntArray) -> None:
        """Predict the background (bits) of slots 0 … horizon of the pool days not done yet.

        The predictor sees the last ``window`` slots of background load in MB and returns the
        next slot's; all (day, slot) windows go through it in one batched call.
        """
        missing = sorted({int(d) for d in days if not self._predicted[d]})
        if not missing:
            return
        mb = self._pool_bits[missing] / MB_TO_BITS  # [k, W+H+1, M−1]
        W, n = self.window, self.horizon + 1
        if self.predictor is None:  # no forecasting: the last measured value
            preds = mb[:, W - 1 : W - 1 + n]
        else:
            windows = np.lib.stride_tricks.sliding_window_view(mb, W, axis=1)
            hist = windows[:, :n].transpose(0, 1, 3, 2).reshape(len(missing) * n, W, -1)
            out = np.asarray(self.predictor.predict_next(hist), dtype=np.float64)
            preds = out.reshape(len(missing), n, -1)
        self._pred_pool[missing] = np.maximum(preds, 0.0) * MB_TO_BITS
        self._predicted[missing] = True

    def _load_slot(self) -> None:
        """True and predicted background (bits) of the current slot, [B, M−1] each."""
        t = min(self.t, self.horizon)
        self._bg_now = self._pool_bits[self.traffic_day, self.window + t]
        self._pred_now = self._pred_pool[self.traffic_day, t]

    # ------------------------------------------------------------------ observation
    def _observe(self, freeze: BoolArray | None = None) -> dict[str, np.ndarray]:
        """Observation dict of the current slot; copies in ``freeze`` keep their last one.

        Also caches this slot's distances and mask for :meth:`step` and :meth:`greedy_actions`
        (nothing moves between an observation and the next step).
        """
        B, V, M, t = self.B, self.V, self.M, self.t
        old = None
        if freeze is not None and freeze.any():  # rows copied now: the buffers may be reused
            old = (self._dist, {k: self._obs[k][freeze] for k in ("observation", "state")})
        self._geometry()
        seen = self.cache_bits.copy()  # loads as the agents see them (predicted background)
        seen[:, : self.G] += self._pred_now
        headroom = self.capacity_bits - seen
        # paper B eqs. (23)–(24): predicted load + cache + S_v ≤ L_max and D ≤ D_max
        mask = np.empty((B, V, M), dtype=bool)
        np.greater_equal(headroom[:, None, :], self.data_bits[:, :, None], out=mask)  # float64
        near = mask[..., : self.G]
        np.logical_and(near, self._dist <= self._coverage32, out=near)
        if self.has_sat:
            mask[..., M - 1] = True
        load_frac = (seen / self.capacity_bits).astype(np.float32)
        pos = np.clip(self._veh_xy[t] / self.area_m, 0.0, 1.0)
        ended = self._terminated | self._truncated
        active = self._active_tab[t] & ~ended[:, None]
        time = t / self.horizon

        # every column is written below (np.empty saves a pass over ~5 MB at B = 1024)
        obs = self._buffer("observation", (B, V, self.obs_dim), np.float32)
        sl = self.obs_slices
        np.divide(self._dist, np.float32(self.distance_scale_m), out=obs[..., sl["distance"]])
        obs[..., sl["load"]] = load_frac[:, None, :]
        obs[..., sl["position"]] = pos
        obs[..., sl["time"]] = time
        if self.observe_serving:
            obs[..., sl["serving"]] = 0.0
            rows = obs.reshape(B * V, self.obs_dim)
            rows[np.arange(B * V), sl["serving"].start + self.serving.ravel()] = 1.0

        state = self._buffer("state", (B, self.state_dim), np.float32)
        ss = self.state_slices
        state[:, ss["position"]] = pos.reshape(B, 2 * V)
        state[:, ss["serving"]] = 0.0
        hot_col = ss["serving"].start + np.arange(V) * M + self.serving  # [B, V]
        state[np.arange(B)[:, None], hot_col] = 1.0
        state[:, ss["active"]] = active
        state[:, ss["data"]] = self.data_bits / self._data_ref_bits
        state[:, ss["load"]] = load_frac
        if self.U:
            uav = np.clip(self._uav_xy / self.area_m, 0.0, 1.0)
            state[:, ss["uav_position"]] = uav.reshape(B, 2 * self.U)
        state[:, ss["time"]] = time

        if old is not None:
            assert freeze is not None
            self._dist[freeze] = old[0][freeze]
            mask[freeze] = self._mask[freeze]
            obs[freeze] = old[1]["observation"]
            state[freeze] = old[1]["state"]
        self._mask = mask  # the env keeps its own mask
        shown = self._buffer("action_mask", mask.shape, np.bool_)
        np.copyto(shown, mask)
        self._obs = {"observation": obs, "action_mask": mask, "state": state, "active": active}
        # fresh arrays every slot (or the caller's buffers, see set_observation_buffers)
        return {**self._obs, "action_mask": shown}

    def set_observation_buffers(self, buffers: dict[str, np.ndarray]) -> None:
        """Write the ``observation``, ``action_mask`` and ``state`` of later observations into
        ``buffers`` instead of fresh arrays (a buffer of another shape or dtype than the
        observation's is not used; ``{}`` goes back to fresh arrays).

        Meant for transports that pass results between processes in shared memory:
        :class:`vtwin.envs.vector.SubprocBatchedEnv` hands its workers' envs views of its
        blocks, so observations are written once, straight where the parent reads them.
        The arrays returned are then these buffers, overwritten by the next reset or step.
        """
        self._out_buffers = dict(buffers)

    def _buffer(self, key: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """The caller's buffer for observation entry ``key`` if it fits, else a fresh array."""
        buf = self._out_buffers.get(key)
        if buf is not None and buf.shape == shape and buf.dtype == dtype:
            return buf
        return np.empty(shape, dtype=dtype)

    def _nearest_feasible(self) -> IntArray:
        """Per vehicle the nearest feasible RSU/UAV, else the satellite (without one: the
        nearest RSU/UAV): [B, V]."""
        if self.G == 0:
            return np.zeros((self.B, self.V), dtype=np.int64)
        d = np.where(self._mask[..., : self.G], self._dist, np.inf)
        near = np.argmin(d, axis=-1)
        fallback = self.sat if self.has_sat else np.argmin(self._dist, axis=-1)
        return np.where(np.isfinite(d.min(axis=-1)), near, fallback).astype(np.int64)

    def greedy_actions(self, rng: np.random.Generator, epsilon: float = 0.1) -> IntArray:
        """Greedy baseline (paper B Sec. VII-A): the nearest feasible server per vehicle; with
        probability ``epsilon`` a uniformly random feasible one instead. Returns [B, V].

        "Feasible" is the current action mask, so the satellite is chosen when no RSU or UAV
        is; without a satellite (``servers.sat.count = 0``) the nearest server then, and the
        random pick is among all ``M`` (an all-False mask row counts as all-True). Two arrays
        of uniforms are drawn from ``rng`` per call whatever ``epsilon`` is.
        """
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon = {epsilon}: must be in [0, 1]")
        if not self._started:
            raise RuntimeError("call reset() before greedy_actions()")
        explore = rng.random((self.B, self.V)) < epsilon
        u = rng.random((self.B, self.V))
        mask = self._mask
        if not self.has_sat:  # no feasible server at all: every server is as good
            mask = mask | ~mask.any(axis=-1, keepdims=True)
        k = np.minimum((u * mask.sum(axis=-1)).astype(np.int64), mask.sum(axis=-1) - 1)
        random_pick = np.argmax(np.cumsum(mask, axis=-1) > k[..., None], axis=-1)
        return np.where(explore, random_pick, self._nearest_feasible()).astype(np.int64)

    # ------------------------------------------------------------------ testing / replay hook
    def set_state(
        self,
        *,
        vehicle_xy_m: ArrayLike | None = None,
        uav_xy_m: ArrayLike | None = None,
        cache_mb: ArrayLike | None = None,
        background_mb: ArrayLike | None = None,
        predicted_mb: ArrayLike | None = None,
        data_mb: ArrayLike | None = None,
        serving: ArrayLike | None = None,
    ) -> dict[str, np.ndarray]:
        """Overwrite parts of the current slot's state and return the new observation dict.

        For hand-built situations (tests, what-if replays). Shapes: ``vehicle_xy_m`` [B, V, 2]
        local metres, ``uav_xy_m`` [B, U, 2], ``cache_mb`` [B, M], ``background_mb`` and
        ``predicted_mb`` [B, M−1] (true and predicted background of this slot), ``data_mb``
        [B, V] (S_v per slot), ``serving`` [B, V] current hosts. Later slots are unchanged.
        """
        if not self._started:
            raise RuntimeError("call reset() before set_state()")
        B, V, M, t = self.B, self.V, self.M, self.t

        def arr(value: ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
            a = np.asarray(value, dtype=np.float64)
            if a.shape != shape:
                raise ValueError(f"{name} has shape {a.shape}; expected {shape}")
            return a

        if vehicle_xy_m is not None:
            xy = arr(vehicle_xy_m, (B, V, 2), "vehicle_xy_m")
            self._veh_xy[t] = xy
            self._veh_latlon[t] = self.projection.to_latlon(xy)
        if uav_xy_m is not None:
            self._set_uavs(arr(uav_xy_m, (B, self.U, 2), "uav_xy_m").copy())
        if cache_mb is not None:
            self.cache_bits = arr(cache_mb, (B, M), "cache_mb") * MB_TO_BITS
        if background_mb is not None:
            self._bg_now = arr(background_mb, (B, self.G), "background_mb") * MB_TO_BITS
        if predicted_mb is not None:
            self._pred_now = arr(predicted_mb, (B, self.G), "predicted_mb") * MB_TO_BITS
        if data_mb is not None:
            self.data_bits = arr(data_mb, (B, V), "data_mb") * MB_TO_BITS
        if serving is not None:
            self.serving = self._check_actions(serving).copy()
        return self._observe()

    # ------------------------------------------------------------------ internals
    def _zscore(self, key: str, x: FloatArray, active: BoolArray) -> FloatArray:
        """Fold this slot's active values into the running stats of ``key``; z-score ``x``.

        With the ``reference`` scope the fixed reference moments are used instead.
        """
        if self._reference is not None:
            mu_ref, sd_ref = self._reference[key]
            return (x - mu_ref) / max(sd_ref, _Z_FLOOR[key])
        st = self._stats[key]
        n_b = active.sum(axis=1).astype(np.float64)
        safe = np.maximum(n_b, 1.0)
        mean_b = np.where(active, x, 0.0).sum(axis=1) / safe
        dev = np.where(active, x - mean_b[:, None], 0.0)
        m2_b = (dev * dev).sum(axis=1)
        n, mean, m2 = st
        total = n + n_b
        frac = np.divide(n_b, total, out=np.zeros_like(total), where=total > 0)
        delta = mean_b - mean
        st[1] = np.where(n_b > 0, mean + delta * frac, mean)  # Chan et al. parallel update
        st[2] = np.where(n_b > 0, m2 + m2_b + delta * delta * n * frac, m2)
        st[0] = total
        mu, sd = self._moments(key)
        return (x - mu[:, None]) / np.maximum(sd, _Z_FLOOR[key])[:, None]

    def _moments(self, key: str) -> tuple[FloatArray, FloatArray]:
        """Running mean and standard deviation [B] of ``key`` (0 before any value)."""
        if self._reference is not None:
            mu_ref, sd_ref = self._reference[key]
            return np.full(self.B, mu_ref), np.full(self.B, sd_ref)
        n, mean, m2 = self._stats[key]
        var = np.divide(m2, n, out=np.zeros_like(m2), where=n > 0)
        return mean.copy(), np.sqrt(var)

    def _finished_step(
        self,
    ) -> tuple[dict[str, np.ndarray], FloatArray, BoolArray, BoolArray, dict[str, Any]]:
        """What stepping returns once every copy has finished: frozen observation, zeros."""
        B, V = self.B, self.V
        obs = {k: v.copy() for k, v in self._obs.items()}
        zeros = np.zeros((B, V))
        no = np.zeros((B, V), dtype=bool)
        info: dict[str, Any] = {
            "reward_components": {"latency": zeros, "load": zeros.copy(), "failure": zeros.copy()},
            "latency_s": zeros.copy(),
            "uplink_s": zeros.copy(),
            "downlink_s": zeros.copy(),
            "compute_s": zeros.copy(),
            "migration_s": zeros.copy(),
            "load_mb": zeros.copy(),
            "failure": zeros.copy(),
            "migrated": no,
            "infeasible": no.copy(),
            "server": np.full((B, V), -1, dtype=np.int64),
            "packet_loss_rate": np.divide(
                self._failures,
                self._slots,
                out=np.zeros_like(self._failures),
                where=self._slots > 0,
            ),
            "workload_variance": np.zeros(B),
            "zscore": {
                f"{k}_{s}": v
                for k in ("latency", "load")
                for s, v in zip(("mean", "std"), self._moments(k), strict=True)
            },
            "arrived": no.copy(),
            "action_mask": obs["action_mask"],
            "active": obs["active"],
        }
        return obs, zeros.copy(), self._terminated.copy(), self._truncated.copy(), info

    def _copy_seeds(self, seed: int | Sequence[int] | None) -> list[int]:
        return copy_seeds(seed, self.B)

    def _check_actions(self, actions: ArrayLike) -> IntArray:
        return check_actions(
            actions,
            self.B,
            self.V,
            self.M,
            f"{self.N} RSUs, {self.U} UAVs and the satellite ({self.sat})"
            if self.has_sat
            else f"{self.N} RSUs and {self.U} UAVs (no satellite)",
        )


def _agent_action(agent: str, value: Any, n: int) -> int:
    """One agent's action as an int in [0, n), or a ValueError naming agent, value and range."""
    a = np.asarray(value)
    ok = a.size == 1 and (
        np.issubdtype(a.dtype, np.integer)
        or (np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all() and float(a) % 1 == 0)
    )
    if not ok or a.dtype == np.bool_:
        raise ValueError(f"action {value!r} of {agent} must be one integer server index")
    idx = int(a.reshape(()))
    if not 0 <= idx < n:
        raise ValueError(f"action {idx} of {agent} is outside [0, {n}) (M servers)")
    return idx


_REFERENCE_CACHE: dict[str, dict[str, tuple[float, float]]] = {}
_REFERENCE_COPIES = 8
_REFERENCE_SEED = 987_654_321  # reference episodes use seeds no training or test run uses


def reference_moments(config: VTwinConfig) -> dict[str, tuple[float, float]]:
    """Mean and std over time of latency (s) and host load (MB) under a random policy.

    One episode of :data:`_REFERENCE_COPIES` copies with uniformly random servers, on
    ``config`` with running z-scores (so nothing recurses); deterministic per config and
    cached per config. These fixed moments z-score the rewards of the default ``reference``
    scope (paper B eq. (22) normalises "in the time dimension"; fixing the statistics keeps
    the reward stationary and comparable between methods, which running statistics are not:
    a constant policy scores about 0 against its own running mean).
    """
    key = config.model_dump_json()
    if key not in _REFERENCE_CACHE:
        rc = config.routing
        assert rc is not None
        calib = config.model_copy(
            update={"routing": rc.model_copy(update={"zscore_scope": "episode"})}
        )
        env = BatchedMigrationRouting(calib, _REFERENCE_COPIES)
        obs, _ = env.reset([_REFERENCE_SEED + b for b in range(_REFERENCE_COPIES)])
        rng = np.random.default_rng(_REFERENCE_SEED)
        lat: list[FloatArray] = []
        load: list[FloatArray] = []
        for _ in range(env.horizon):
            active = obs["active"]
            obs, _, term, trunc, info = env.step(rng.integers(0, env.M, (env.B, env.V)))
            lat.append(info["latency_s"][active])
            load.append(info["load_mb"][active])
            if (term | trunc).all():
                break
        lat_all, load_all = np.concatenate(lat), np.concatenate(load)
        if lat_all.size == 0:
            raise ValueError(f"config '{config.name}': no vehicle drove in the reference episode")
        _REFERENCE_CACHE[key] = {
            "latency": (float(lat_all.mean()), float(lat_all.std())),
            "load": (float(load_all.mean()), float(load_all.std())),
        }
    return _REFERENCE_CACHE[key]


class MigrationRoutingEnv(ParallelEnv[str, dict[str, np.ndarray], int]):
    """vtwin/MigrationRouting-v0 — paper B's VT migration routing as a PettingZoo ParallelEnv.

    A ``B = 1`` view of :class:`BatchedMigrationRouting` (see it for the dynamics). One agent
    per vehicle, ``vehicle_0 … vehicle_{V−1}``; each slot (30 s) every driving vehicle picks
    the edge server that hosts its vehicle twin.

    ## Action space
    ``Discrete(M)`` per agent: RSUs ``0 … N−1``, UAVs ``N … N+U−1``, the satellite ``M−1``
    (with ``servers.sat.count = 0`` there is none and ``M = N + U``). Masked (infeasible)
    actions are allowed and executed; ``info["infeasible"]`` says so.

    ## Observation space
    ``Dict({"observation": Box(0, inf, (obs_dim,), float32), "action_mask": Box(0, 1, (M,),
    int8)})``. ``observation``: distances to the G non-satellite servers (RSUs/UAVs: M−1 of
    them, all M without a satellite) in km (/ ``routing.distance_scale_km``), the loads of all
    M servers as seen through the predictor / L_max, own position / area, t / horizon, and
    (``routing.observe_serving``) a one-hot of the current host — layout in
    :attr:`BatchedMigrationRouting.obs_slices`.
    ``action_mask``: 1 = feasible (paper B eqs. (23)–(24)); the satellite is always 1. Without
    a satellite a row may be all 0 (no feasible server): read it as all 1.
    ``state()`` / ``state_space``: the global state ``Box(0, inf, (state_dim,), float32)``.

    ## Rewards
    Paper B eq. (22): ``−(w_T z(T_sum) + w_s z(S'_m) + w_d ξ)`` with z-scores over time
    (``routing.zscore_scope``); ``info["reward_components"]`` holds the three weighted terms
    (``latency``, ``load``, ``failure``), which sum to −reward.

    ## Starting state
    Synthetic trips on a street grid (or T-Drive traces), a traffic day of background load and
    UAV start RSUs drawn from the seed; each VT starts on its vehicle's nearest feasible server
    (none feasible: the satellite, or without one the nearest server).

    ## Episode end
    An agent terminates when its vehicle reaches its destination and is removed from
    ``agents``; every remaining agent is truncated after ``horizon_slots`` slots.

    ## Arguments
    ``preset`` (default ``"paper-b-city"``) or ``config`` (a validated :class:`VTwinConfig`),
    ``overrides`` (dotted ``key=value`` strings), ``predictor`` (a
    :class:`vtwin.forecast.predictor.Predictor`; default: the last measured load).

    ## Version history
    * v0: first version (SPEC §B).
    """

    metadata = {  # noqa: RUF012 (pettingzoo convention)
        "name": ENV_ID,
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str = "paper-b-city",
        overrides: Sequence[str] = (),
        config: VTwinConfig | None = None,
        predictor: Predictor | None = None,
    ) -> None:
        """Build the env from a preset name (or a config) plus dotted overrides."""
        cfg = config if config is not None else load_config(preset, list(overrides))
        self.batched = BatchedMigrationRouting(cfg, 1, predictor=predictor)
        b = self.batched
        self.render_mode = None
        self.possible_agents = [f"vehicle_{v}" for v in range(b.V)]
        self.agents: list[str] = []
        self._index = {a: v for v, a in enumerate(self.possible_agents)}
        self.observation_spaces = {
            a: spaces.Dict(
                {
                    "observation": spaces.Box(0.0, np.inf, (b.obs_dim,), dtype=np.float32),
                    "action_mask": spaces.Box(0, 1, (b.M,), dtype=np.int8),
                }
            )
            for a in self.possible_agents
        }
        self.action_spaces = {a: spaces.Discrete(b.M) for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, np.inf, (b.state_dim,), dtype=np.float32)
        self._np_random: np.random.Generator | None = None
        self._state = np.zeros(b.state_dim, dtype=np.float32)

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        """The (same) observation space object of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        """The (same) action space object of ``agent``."""
        return self.action_spaces[agent]

    def state(self) -> np.ndarray:
        """Global state of the current slot, ``[state_dim]`` float32."""
        return self._state.copy()

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
        """Start an episode; a given seed makes it reproducible, None draws one from the env's
        generator (seeded by the last given seed, else from entropy)."""
        if seed is not None:
            self._np_random = np.random.default_rng(seed)
            copy_seed = int(seed)
        else:
            if self._np_random is None:
                self._np_random = np.random.default_rng()
            copy_seed = int(self._np_random.integers(0, 2**31 - 1))
        obs, _ = self.batched.reset([copy_seed])
        arrived = self.batched._arrived_tab[0, 0]
        self.agents = [a for a in self.possible_agents if not arrived[self._index[a]]]
        self._state = obs["state"][0]
        observations = {a: self._agent_obs(obs, a) for a in self.agents}
        infos = {
            a: {"action_mask": observations[a]["action_mask"], "seed": copy_seed}
            for a in self.agents
        }
        return observations, infos

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, dict[str, np.ndarray]],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """One slot for every live agent; agents that arrive (or time out) are removed."""
        b = self.batched
        act = np.full((1, b.V), max(b.sat, 0), dtype=np.int64)  # ignored: not driving
        for agent, a in actions.items():
            if agent not in self._index:
                raise ValueError(f"unknown agent {agent!r}; agents are {self.possible_agents}")
            if agent not in self.agents:
                raise ValueError(f"agent {agent!r} is done; live agents are {self.agents}")
            act[0, self._index[agent]] = _agent_action(agent, a, b.M)
        moving = b._active_tab[b.t, 0]
        missing = [a for a in self.agents if a not in actions and moving[self._index[a]]]
        if missing:
            raise ValueError(f"no action for live agent(s) {missing}")
        obs, reward, term, trunc, info = b.step(act)
        self._state = obs["state"][0]
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for a in self.agents:
            v = self._index[a]
            observations[a] = self._agent_obs(obs, a)
            rewards[a] = float(reward[0, v])
            done_here = bool(b._arrived_tab[b.t, 0, v])
            terminations[a] = done_here or bool(term[0])
            truncations[a] = bool(trunc[0]) and not terminations[a]
            infos[a] = {
                "action_mask": observations[a]["action_mask"],
                "reward_components": {
                    k: float(x[0, v]) for k, x in info["reward_components"].items()
                },
                "latency_s": float(info["latency_s"][0, v]),
                "load_mb": float(info["load_mb"][0, v]),
                "failure": float(info["failure"][0, v]),
                "migrated": bool(info["migrated"][0, v]),
                "infeasible": bool(info["infeasible"][0, v]),
                "server": int(info["server"][0, v]),
                "packet_loss_rate": float(info["packet_loss_rate"][0, v]),
                "workload_variance": float(info["workload_variance"][0]),
            }
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def _agent_obs(self, obs: dict[str, np.ndarray], agent: str) -> dict[str, np.ndarray]:
        v = self._index[agent]
        return {
            "observation": obs["observation"][0, v].copy(),
            "action_mask": obs["action_mask"][0, v].astype(np.int8),
        }

    def render(self) -> None:
        """No rendering (``render_modes`` is empty)."""
        return None

    def close(self) -> None:
        """Nothing to release."""
        return None
