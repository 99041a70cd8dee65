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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike

from vtwin.arrays import BoolArray, FloatArray, IntArray
from vtwin.config import VTwinConfig
from vtwin.envs.base import (
    EpisodeEnds,
    SingleCopyParallelEnv,
    check_actions,
    check_agent_action,
    check_batch,
    copy_seeds,
    episode_servers,
    episode_terms,
    view_config,
)
from vtwin.physics import unchecked
from vtwin.physics.channel import dbm_to_w, noise_power_w, path_gain, shannon_rate_bps
from vtwin.physics.geo import (
    LocalProjection,
    SphereOffsets,
    arc_from_squared_chord,
    chord_to_arc_m,
    slant_distance_m,
    squared_chords,
)
from vtwin.physics.latency import (
    cache_carryover_bits,
    compute_latency_s,
    failure_indicator,
    migration_latency_s,
    routing_total_latency_s,
    transmission_latency_s,
    workload_variance,
)
from vtwin.rewards import Reward, RewardFn, make_reward, reward_info
from vtwin.seeding import GeneratorPool
from vtwin.world.background import TrafficDays, load_weights
from vtwin.world.scenario import (
    MB_TO_BITS,
    Scenario,
    grid_mobility,
    scenario_sumo_track,
    trace_mobility,
)
from vtwin.world.servers import ServerKind
from vtwin.world.sumo import pick_vehicles
from vtwin.world.uav import PatrolGraph, fly_straight

if TYPE_CHECKING:
    from vtwin.forecast.predictor import Predictor

__all__ = ["REWARD_TERMS", "BatchedMigrationRouting", "MigrationRoutingEnv"]


ENV_ID = "vtwin/MigrationRouting-v0"

_STREAMS = ("mobility", "episode")
"""Per-copy random streams: vehicle trips; everything else drawn at reset (in a fixed order)."""

REWARD_TERMS: dict[str, type] = {
    "latency_s": float,
    "uplink_s": float,
    "downlink_s": float,
    "compute_s": float,
    "migration_s": float,
    "load_mb": float,
    "failure": float,
    "migrated": bool,
    "infeasible": bool,
    "active": bool,
}
"""Per-slot terms [B, V] the env hands its reward: T_sum and its parts (s), S'_m of the host
(MB), ξ, J, a masked action taken, and which vehicles drive (raw: not zeroed when inactive)."""


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

    **Reward**: the configured one (``reward:``), given the terms of :data:`REWARD_TERMS`;
    by default paper B eq. (22) (:class:`vtwin.rewards.PaperBReward`) per active vehicle
    ``−(w_T z(T_sum) + w_s z(S'_m) + w_d ξ)``, z a z-score over time
    (``routing.zscore_scope``: fixed moments of a random policy by default, see
    :func:`vtwin.rewards.reference_moments`, or running per episode / across episodes).
    ``info["reward_components"]`` holds the reward's named parts (eq. (22): the three
    weighted terms, which sum to −reward); raw values are ``info["latency_s"]``,
    ``info["load_mb"]`` and ``info["failure"]``.

    **Info** of :meth:`step`, per vehicle [B, V]: ``reward_components``; ``latency_s``
    (T_sum) and its parts ``uplink_s``, ``downlink_s``, ``compute_s``, ``migration_s``;
    ``load_mb`` (S'_m of the host); ``failure`` (ξ); ``migrated`` (J); ``infeasible``;
    ``server`` (the host, −1 when not driving); ``packet_loss_rate`` (eq. (15) as a fraction,
    over the slots driven so far); ``arrived`` (destination reached); ``action_mask`` and
    ``active`` of the next observation (without a satellite an ``action_mask`` row may be all
    False: no server is feasible, read it as all True). Per copy [B]: ``workload_variance``
    (population variance of S'_m over the M servers, MB²) and what the reward adds (eq. (22):
    ``zscore``, the means and stds in use).
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
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the static layout from ``config`` (a paper B preset) for ``batch_size`` copies.

        ``reference``: with ``zscore_scope = reference``, take the reward's z-score moments
        from this config instead (e.g. the full system when ``config`` removes the UAVs, so
        that the ablation's rewards share the full system's scale). ``reward`` replaces the
        config's reward (a user callable, checked at load).
        """
        self.B = check_batch(config, "B", "migration-routing", "paper-b-city", batch_size)
        self.config = config
        rc = config.routing
        assert rc is not None  # VTwinConfig requires it of paper B
        self.horizon = config.horizon_slots
        self.slot_s = config.slot_s

        # ---- servers: the scenario's layout (its own vehicles are not used here) -----------
        mob = config.vehicles.mobility
        layout_cfg = config.model_copy(
            update={
                "vehicles": config.vehicles.model_copy(
                    update={
                        "count": 0,
                        "mobility": mob.model_copy(
                            update={"kind": "grid", "path": None, "sumo": None}
                        ),
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
        self.trip_fraction = rc.trip_fraction
        self.n_actions = self.M
        self.reward = make_reward(
            config,
            REWARD_TERMS,
            self.B,
            self.V,
            reward=reward,
            env_factory=BatchedMigrationRouting,
            reference=reference,
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
        self._sphere = SphereOffsets(self.sat_latlon)
        self._rsu_off64 = self._sphere.offsets(self.rsu_latlon)
        self._rsu_off = tuple(self._rsu_off64[:, k].astype(np.float32) for k in range(3))
        self._coverage32 = self.coverage_m[: self.G].astype(np.float32)
        self.uav_altitude_m = self.altitude_m[self.N : self.N + self.U].copy()
        self._uav_h2 = (self.uav_altitude_m**2).astype(np.float32)
        self.uav_speed_mps = config.servers.uav.speed_mps
        self._patrol = PatrolGraph.from_graph(scenario.backhaul, self.N)  # UAV patrol legs

        # ---- background load: traffic-flow pool and the predictor ---------------------------
        self.predictor = predictor
        self.window = int(predictor.window) if predictor is not None else 1
        if self.window < 1:
            raise ValueError(f"predictor.window = {self.window}: must be ≥ 1")
        ground = slice(0, self.G)
        weights = load_weights(config, servers.kind[ground], servers.xy_m[ground])
        self.background_mb_per_flow = rc.background_mb_per_vehicle * weights
        self.background = TrafficDays(
            self.background_mb_per_flow * MB_TO_BITS,
            self.B,
            days=rc.traffic_pool_days,
            slot_s=self.slot_s,
            horizon=self.horizon,
            window=self.window,
            start_hour=config.workload.start_hour,
            seed=config.seed,
        )
        self._pool_bits = self.background.pool
        self._pred_pool = np.zeros((rc.traffic_pool_days, self.horizon + 1, self.G))
        self._predicted = np.zeros(rc.traffic_pool_days, dtype=bool)

        # ---- vehicles from traces ------------------------------------------------------------
        self.mobility_kind = mob.kind
        if mob.kind == "trace":
            self._load_traces()
        # SUMO: one simulated pool (the scenario's); each copy drives V of it per reset
        self._sumo = scenario_sumo_track(config) if mob.kind == "sumo" else None

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
    def _load_traces(self) -> None:
        """Read the trace pool; tabulate positions, activity and arrival per slot."""
        replay = trace_mobility(self.config)
        if replay.n < self.V:
            raise ValueError(
                f"vehicles.count = {self.V} but '{self.config.vehicles.mobility.path}' holds "
                f"{replay.n} trace(s)"
            )
        n = self.horizon + 1
        self.trace_ids = replay.vehicle_ids
        self._trace_latlon = replay.trajectory_latlon(n)  # [H+1, P, 2]
        self._trace_xy = replay.trajectory(n)
        last = replay.last_fix_s
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
        self.data_bits = np.empty((B, V))
        self._uav_tape = np.empty((B, U, H + 1))
        start = np.zeros((B, U), dtype=np.int64)
        # per copy: default_rng(c) for c in SeedSequence(seed).spawn(2), built all at once
        for b, (mob, ep) in enumerate(self._copy_rngs.spawn(seeds, len(_STREAMS))):
            mob_rngs.append(mob)
            self.data_bits[b] = ep.uniform(lo, hi, V)  # S_v per slot
            self.background.reset_copy(b, ep)  # the background's traffic day
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
            if self._sumo is not None:
                self.sumo_index = pick_vehicles(self._sumo.pool, V, mob_rngs)  # [B, V]
                raw = self._sumo.xy_m[: H + 1][:, self.sumo_index]
                on_net = self._sumo.active[: H + 1][:, self.sumo_index]  # [H+1, B, V]
            else:
                mobility = grid_mobility(self.config, B * V, mob_rngs, self._turn_rngs.from_ints)
                raw = mobility.trajectory(H + 1).reshape(H + 1, B, V, 2)
                on_net = np.ones((H + 1, B, V), dtype=bool)
            # a vehicle stays at its destination once it arrived
            when = np.minimum(tt, self.trip_end[None])
            rows = when * (B * V) + np.arange(B * V).reshape(B, V)  # rows of raw as [·, 2]
            xy = raw.reshape(-1, 2).take(rows.ravel(), axis=0).reshape(H + 1, B, V, 2)
            latlon = self.projection.to_latlon(xy)
            # SUMO may take a vehicle off the net (arrival, teleport): inactive there, and
            # arrived once it never comes back
            back_later = np.flip(np.logical_or.accumulate(np.flip(on_net, 0), axis=0), 0)
            self._active_tab = (tt < self.trip_end[None]) & on_net
            self._arrived_tab = (tt >= self.trip_end[None]) | ~back_later
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
        self._ends = EpisodeEnds(self._arrived_tab[0].all(axis=1))  # nobody left to drive
        self.reward.reset(B)
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
        live = self._ends.live
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

        load_mb = terms["load_bits"] / MB_TO_BITS
        reward, components = self.reward(
            {
                "latency_s": terms["latency_s"],
                "uplink_s": terms["uplink_s"],
                "downlink_s": terms["downlink_s"],
                "compute_s": terms["compute_s"],
                "migration_s": terms["migration_s"],
                "load_mb": load_mb,
                "failure": terms["failure"],
                "migrated": terms["migrated"],
                "infeasible": infeasible,
                "active": active,
            }
        )
        xi = np.where(active, terms["failure"], 0.0)

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
        self._ends.update(term_now, trunc_now)
        obs = self._observe(freeze=~live)

        def act_only(x: FloatArray) -> FloatArray:
            return np.where(active, x, 0.0)

        info: dict[str, Any] = {
            "reward_components": components,
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
            **reward_info(self.reward),
            "arrived": arrived,
            "action_mask": obs["action_mask"],
            "active": obs["active"],
        }
        return obs, reward, *self._ends.flags(), info

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
        ground = chord_to_arc_m(chord)  # paper B eq. (1) (haversine, through the chord)
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

    def _set_uavs(self, xy: FloatArray) -> None:
        """Move the UAVs to local metres ``xy`` [B, U, 2]; refresh their lat/lon and offsets."""
        self._uav_xy = xy
        self._uav_latlon = self.projection.to_latlon(xy)
        self._uav_off64 = self._sphere.offsets(self._uav_latlon)
        # rows: RSUs, then copy b's UAVs at N + b·U + u, then the satellite (the centre)
        self._server_table = np.concatenate(
            [self._rsu_off64, self._uav_off64.reshape(-1, 3), np.zeros((1, 3))]
        )
        cols = np.moveaxis(self._uav_off64, -1, 0).astype(np.float32)  # [3, B, U]
        self._uav_cols = tuple(cols[k][:, None, :] for k in range(3))  # each [B, 1, U]

    def _geometry(self) -> None:
        """Vehicle → RSU/UAV distances D_{v,m} [B, V, M−1] at the current slot (eqs. (1)–(2)).

        float32 metres, via :func:`vtwin.physics.geo.arc_from_squared_chord` (haversine).
        """
        B, V, N, U = self.B, self.V, self.N, self.U
        ev = self._sphere.offsets(self._veh_latlon[self.t]).astype(np.float32)  # [B, V, 3]
        rsu = np.empty((B, V, N), dtype=np.float32)  # contiguous blocks: strided is 2× slower
        squared_chords(ev, self._rsu_off, rsu)
        arc_from_squared_chord(rsu)
        if not U:
            self._dist = rsu
            return
        uav = np.empty((B, V, U), dtype=np.float32)
        squared_chords(ev, self._uav_cols, uav)
        arc_from_squared_chord(uav)
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
        return self._patrol.next_rsu(node, draw)

    def _move_uavs(self, live: BoolArray) -> None:
        """Fly every live copy's UAVs one slot toward their targets; re-pick on arrival."""
        if not self.U:
            return
        flight = fly_straight(
            self._uav_xy,
            self.rsu_xy[self._uav_target],
            self.uav_speed_mps,
            self.slot_s,
            np.broadcast_to(live[:, None], self._uav_target.shape),
            rounding="fraction",
        )
        self._set_uavs(flight.xy)
        arrive = flight.arrived
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

    @property
    def traffic_day(self) -> IntArray:
        """The pool day whose background each copy replays, [B]."""
        return self.background.day

    def _load_slot(self) -> None:
        """True and predicted background (bits) of the current slot, [B, M−1] each."""
        t = min(self.t, self.horizon)
        self._bg_now = self.background.load(t)
        self._pred_now = self._pred_pool[self.traffic_day, t]

    # ------------------------------------------------------------------ episode record
    def episode_static(self, b: int) -> dict[str, Any]:
        """Copy ``b``'s fixed part of an episode record (:mod:`vtwin.episode`; call after
        ``reset``): RSUs, UAVs at their start and the satellite (at the area centre), in
        action order."""
        kinds = ["RSU"] * self.N + ["UAV"] * self.U + ["SAT"] * int(self.has_sat)
        xy = [self.rsu_xy, self._uav_xy[b]]
        if self.has_sat:
            xy.append(self.area_m[None] / 2.0)
        return {
            "paper": "B",
            "area_m": self.area_m,
            "slot_s": self.slot_s,
            "origin_latlon": [self.projection.origin_lat_deg, self.projection.origin_lon_deg],
            "entity": "vehicle",
            "n_entities": self.V,
            "servers": episode_servers(kinds, np.concatenate(xy), self.coverage_m),
            "uav_servers": list(range(self.N, self.G)),
            "host_label": "twin host",
            "serving_label": None,
            "latency_label": "latency T_sum (s)",
        }

    def episode_state(self, b: int) -> dict[str, Any]:
        """Copy ``b`` at the start of the current slot: vehicles (still driving or not) and
        UAVs (m)."""
        return {
            "t": self.t,
            "entities": self._veh_xy[self.t, b].copy(),
            "active": self._active_tab[self.t, b] & self._ends.live[b],
            "uavs": self._uav_xy[b].copy(),
        }

    def episode_outcome(self, b: int, reward: FloatArray, info: dict[str, Any]) -> dict[str, Any]:
        """What copy ``b``'s slot gave, from ``step``'s reward and info: the host chosen for
        each driving vehicle (−1: none), means over driving vehicles of latency, reward and
        the named terms."""
        acting = info["server"][b] >= 0
        names = [n for n in REWARD_TERMS if n != "active"]
        row = np.asarray(reward[b], dtype=np.float64)[acting]
        lat = np.asarray(info["latency_s"][b], dtype=np.float64)[acting]
        return {
            "host": info["server"][b],
            "latency_s": float(lat.mean()) if lat.size else float("nan"),
            "reward": float(row.mean()) if row.size else float("nan"),
            "terms": episode_terms(info, names, b, acting),
        }

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
        active = self._active_tab[t] & self._ends.live[:, None]
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
    def _finished_step(
        self,
    ) -> tuple[dict[str, np.ndarray], FloatArray, BoolArray, BoolArray, dict[str, Any]]:
        """What stepping returns once every copy has finished: frozen observation, zeros."""
        B, V = self.B, self.V
        obs = {k: v.copy() for k, v in self._obs.items()}
        zeros = np.zeros((B, V))
        no = np.zeros((B, V), dtype=bool)
        info: dict[str, Any] = {
            "reward_components": {k: zeros.copy() for k in self.reward.components},
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
            **reward_info(self.reward),
            "arrived": no.copy(),
            "action_mask": obs["action_mask"],
            "active": obs["active"],
        }
        return obs, zeros, *self._ends.flags(), info

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


class MigrationRoutingEnv(SingleCopyParallelEnv[dict[str, np.ndarray], int]):
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
    (``routing.zscore_scope``), or the configured ``reward:``; ``info["reward_components"]``
    holds its named parts (eq. (22): ``latency``, ``load``, ``failure``, summing to −reward).

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
    :class:`vtwin.forecast.predictor.Predictor`; default: the last measured load), ``reward``
    (a user reward callable, see :mod:`vtwin.rewards`; default the preset's ``reward``).

    ## Version history
    * v0: first version (SPEC §B).
    """

    metadata = {  # noqa: RUF012 (pettingzoo convention)
        "name": ENV_ID,
        "render_modes": [],
        "is_parallelizable": True,
    }
    batched: BatchedMigrationRouting

    def __init__(
        self,
        preset: str = "paper-b-city",
        overrides: Sequence[str] = (),
        config: VTwinConfig | None = None,
        predictor: Predictor | None = None,
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the env from a preset name (or a config) plus dotted overrides."""
        cfg = view_config(preset, config, overrides)
        self.batched = BatchedMigrationRouting(cfg, 1, predictor=predictor, reward=reward)
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
        self._np_random = None
        self._state = np.zeros(b.state_dim, dtype=np.float32)

    def state(self) -> np.ndarray:
        """Global state of the current slot, ``[state_dim]`` float32."""
        return self._state.copy()

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
        """Start an episode; a given seed makes it reproducible, None draws one from the env's
        generator (seeded by the last given seed, else from entropy)."""
        copy_seed = self._copy_seed(seed)
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
        if not self.agents:
            raise RuntimeError("call reset() before step(): the episode has not started or is over")
        b = self.batched
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"actions must be a dict {{agent: server index}} for the live agents "
                f"{self.agents}, got {type(actions).__name__}"
            )
        act = np.full((1, b.V), max(b.sat, 0), dtype=np.int64)  # ignored: not driving
        for agent, a in actions.items():
            if agent not in self._index:
                raise ValueError(f"unknown agent {agent!r}; agents are {self.possible_agents}")
            if agent not in self.agents:
                raise ValueError(f"agent {agent!r} is done; live agents are {self.agents}")
            act[0, self._index[agent]] = check_agent_action(agent, a, b.M)
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
