"""Paper A: UAV-assisted vehicle-twin pre-migration (SPEC §A).

Two classes share one implementation:

* :class:`BatchedPreMigration` steps ``B`` independent copies at once on numpy arrays
  (shape ``[B, V, …]`` for ``V`` vehicles); training and experiments use it.
* :class:`PreMigrationEnv` is the Gymnasium view: a ``B = 1`` batched env, so the two can
  never disagree.

Copy ``b`` draws all its randomness (vehicle routes, background-load noise, UAV start RSUs,
planner choices) from streams spawned from its own seed, so copy ``b`` of a batch reset with
seeds ``[s0, s1, …]`` is identical to a single env reset with seed ``s_b``.

Units inside are SI; loads are CPU cycles (queued bits × cycles per bit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, SupportsFloat

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import FloatArray, IntArray
from vtwin.config import VTwinConfig
from vtwin.envs.base import (
    EpisodeEnds,
    SingleCopyEnv,
    check_actions,
    check_batch,
    copy_seeds,
    episode_servers,
    episode_terms,
    view_config,
)
from vtwin.layout import EntityLayout
from vtwin.physics.channel import dbm_to_w, noise_power_w, path_gain, shannon_rate_bps
from vtwin.physics.energy import hover_power_w, rotary_wing_power_w
from vtwin.physics.geo import slant_distance_m
from vtwin.physics.latency import (
    local_processing_latency_s,
    parallel_processing_latency_s,
    premigration_latency_s,
    split_downlink_latency_s,
    target_processing_latency_s,
    total_latency_s,
    transmission_latency_s,
)
from vtwin.planning import FlightGraph, PlanningBatch, UavPlanner, make_planner
from vtwin.rewards import PaperAReward, Reward, RewardFn, make_reward
from vtwin.seeding import GeneratorPool
from vtwin.world.background import DiurnalArrivals, load_weights
from vtwin.world.mobility import Mobility
from vtwin.world.scenario import MB_TO_BITS, Scenario, grid_mobility
from vtwin.world.servers import ServerKind
from vtwin.world.sumo import SumoMobility, pick_vehicles
from vtwin.world.uav import fly_straight, slot_energy_j

_STREAMS = ("mobility", "workload", "uav", "planner")

REWARD_TERMS: dict[str, type] = {
    "latency_s": float,
    "uplink_s": float,
    "premigration_s": float,
    "processing_s": float,
    "downlink_s": float,
    "alpha": float,
    "violated": bool,
}
"""Per-slot terms [B, V] the env hands its reward (``latency_s`` is T_total)."""


class BatchedPreMigration:
    """``B`` copies of the paper A pre-migration world, stepped together.

    Per slot, each vehicle ``v`` has a VT task of ``task_mb``; its serving RSU ``e`` is the
    nearest RSU. The action picks a pre-migration target ``e_m`` among RSUs ∪ UAVs and a
    share ``α`` from ``alpha_levels``; action index ``a = m·K + k`` (``m`` server, ``k`` level).

    Latency (paper A eqs. (1)–(4), SPEC §A): uplink ``T_u = D_up/R_{v,e}``; pre-migration
    ``T_m = α D/R_{e,em}`` (RSU→RSU backhaul of ``premigration_mbps``; RSU→UAV air link by
    Shannon); processing ``T_p = max((L_e + (1−α)Df)/c_e, (L_em + αDf)/c_em + T_m)``;
    downlink ``T_d = (1−α)D_d/R_{e,v} + αD_d/R_{em,v}``; ``T = T_u + T_p + T_d``. Choosing
    the serving RSU itself as target processes the whole task there (``α`` ignored).

    Queues: each slot the agents' shares and the background arrivals join the queues; a UAV
    within coverage of its nearest RSU takes over part of that RSU's queue (SPEC §A, UAV
    assistance): as much as makes both queues finish together, ``(L_e − x)/c_e =
    (L_u + x)/c_u``, never more than the UAV's spare capacity; load above ``L_max`` is
    rejected (counted in ``info["dropped_cycles"]``); then every queue drains ``c·τ``.
    UAVs fly straight to the waypoint their planner picks at speed ``V`` and spend
    rotary-wing power ``P(V)`` flying and ``P(0)`` hovering (SPEC §0); a hover lasts one
    planning period (mean RSU spacing / speed). A UAV with an empty battery is grounded.
    """

    episode_metrics: ClassVar[dict[str, tuple[str, ...]]] = {"latency_s": ("steps", "latency_s")}
    """What the training loops report per episode from ``info`` (``vtwin.training.metrics``)."""

    def __init__(
        self,
        config: VTwinConfig,
        batch_size: int = 1,
        *,
        planner: str | None = None,
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the static layout from ``config`` (a paper A preset) for ``batch_size`` copies;
        ``reward`` replaces the config's reward (a user callable, checked at load)."""
        self.B = check_batch(config, "A", "pre-migration", "paper-a", batch_size)
        self.config = config
        pm = config.premigration
        assert pm is not None  # VTwinConfig requires it of paper A
        scenario = Scenario.from_config(config, seed=config.seed)
        self.projection = scenario.projection  # lat/lon of the local origin, when anchored
        servers = scenario.servers
        rsu = servers.of_kind(ServerKind.RSU)
        uav = servers.of_kind(ServerKind.UAV)
        self.E, self.U = int(rsu.size), int(uav.size)
        if self.E < 1:
            raise ValueError("servers.rsu.count = 0: the pre-migration env needs ≥ 1 RSU")
        if self.U > self.E:
            raise ValueError(
                f"servers.uav.count = {self.U} exceeds servers.rsu.count = {self.E}: "
                "UAVs start above distinct RSUs"
            )
        if servers.count(ServerKind.SAT):
            raise ValueError("servers.sat.count must be 0 for paper A (no satellite)")
        self.V = config.vehicles.count
        if self.V < 1:
            raise ValueError("vehicles.count = 0: the pre-migration env needs ≥ 1 vehicle")
        if config.vehicles.mobility.kind not in ("grid", "sumo"):
            raise ValueError(
                "vehicles.mobility.kind must be 'grid' or 'sumo' for the batched "
                f"pre-migration env (got '{config.vehicles.mobility.kind}')"
            )
        # SUMO: one simulated pool of vehicles; each copy drives V of them (drawn per reset)
        self._sumo = (
            scenario.vehicles.mobility.track
            if isinstance(scenario.vehicles.mobility, SumoMobility)
            else None
        )
        self.M = self.E + self.U
        self.alpha_levels = np.asarray(pm.alpha_levels, dtype=np.float64)
        self.K = int(self.alpha_levels.size)
        self.n_actions = self.M * self.K
        self.horizon = config.horizon_slots
        self.slot_s = config.slot_s

        # ---- static server description (SI; loads in cycles) -----------------------------
        idx = np.concatenate([rsu, uav])
        self.rsu_xy = servers.xy_m[rsu].copy()
        self.altitude_m = servers.altitude_m[idx].copy()
        self.compute_hz = servers.compute_hz[idx].copy()
        self.cycles_per_bit = pm.cycles_per_bit
        self.capacity_cycles = servers.capacity_bits[idx] * self.cycles_per_bit
        self.coverage_m = servers.coverage_m[idx].copy()
        self.bandwidth_hz = servers.bandwidth_hz[idx].copy()
        self.tx_power_w = servers.tx_power_w[idx].copy()
        self.vehicle_power_w = float(dbm_to_w(config.vehicles.power_dbm))
        ch = config.channel
        carrier_hz = ch.carrier_ghz * 1e9
        self._gain_args = (carrier_hz, ch.antenna_gain, ch.path_loss_exponent)
        if ch.noise_dbm is not None:
            self.noise_w = np.full(self.M, float(dbm_to_w(ch.noise_dbm)))
        else:
            assert ch.noise_density_dbm_per_hz is not None
            self.noise_w = noise_power_w(ch.noise_density_dbm_per_hz, self.bandwidth_hz)
        self.task_bits = pm.task_mb * MB_TO_BITS
        self.result_bits = pm.result_mb * MB_TO_BITS
        self.upload_bits = pm.upload_mb * MB_TO_BITS
        self.premigration_bps = pm.premigration_mbps * 1e6
        self.reward = make_reward(config, REWARD_TERMS, self.B, self.V, reward=reward)
        # the greedy baseline scores actions by paper A's reward (its weights when configured)
        self._greedy_reward = (
            self.reward if isinstance(self.reward, PaperAReward) else PaperAReward()
        )

        # ---- background workload (paper A: downtown hotspots) ----------------------------
        w = config.workload
        weights = load_weights(config, servers.kind[idx], servers.xy_m[idx])
        self.bg_mean_cycles = pm.background_utilisation * self.compute_hz * self.slot_s * weights
        self.background = DiurnalArrivals(
            self.bg_mean_cycles,
            self.B,
            slot_s=self.slot_s,
            workload=w,
        )

        # ---- UAVs and their planner ------------------------------------------------------
        ucfg = config.servers.uav
        self.uav_speed_mps = ucfg.speed_mps
        self.uav_battery_j = ucfg.battery_kj * 1e3
        self.fly_power_w = float(rotary_wing_power_w(ucfg.speed_mps))
        self.hover_power_w = float(hover_power_w())
        self.flight = FlightGraph.from_graph(scenario.backhaul, ucfg.speed_mps)
        edges = [d for _, _, d in scenario.backhaul.edges(data="distance_m")]
        mean_edge = float(np.mean(edges)) if edges else 0.0
        self.planning_period_s = max(self.slot_s, mean_edge / ucfg.speed_mps)
        self._rsu_capacity = self.capacity_cycles[: self.E].copy()
        self._battery_full = np.full(self.U, self.uav_battery_j)
        self.planner_name = planner or pm.uav_planner
        a, b, g = pm.durp_weights
        self._planner_params = (
            {"alpha": a, "beta": b, "gamma": g} if self.planner_name == "durp" else {}
        )
        make_planner(self.planner_name, **self._planner_params)  # fail early on a bad name

        # ---- observation layout ----------------------------------------------------------
        geo = config.geography
        self.area_m = np.array([geo.width_m, geo.height_m])
        self.dist_scale_m = float(np.hypot(geo.width_m, geo.height_m) + self.altitude_m.max())
        M = self.M
        self.obs_slices: dict[str, slice] = {
            "position": slice(0, 2),
            "load": slice(2, 2 + M),
            "distance": slice(2 + M, 2 + 2 * M),
            "time": slice(2 + 2 * M, 3 + 2 * M),
            "serving": slice(3 + 2 * M, 3 + 3 * M),
            "hop": slice(3 + 3 * M, 3 + 4 * M),
            "serving_load": slice(3 + 4 * M, 4 + 4 * M),
            "serving_distance": slice(4 + 4 * M, 5 + 4 * M),
        }
        self.obs_dim = 5 + 4 * M
        sl = self.obs_slices
        self.entity_layout = EntityLayout.from_slices(
            [sl["load"], sl["distance"], sl["serving"], sl["hop"]],
            [sl["position"], sl["time"], sl["serving_load"], sl["serving_distance"]],
            actions_per_entity=self.K,
        )
        """Each server's load, distance, serving flag and hop from the serving RSU are its
        features; action ``m·K + k`` is server ``m``'s (a learner may share one scorer)."""
        self._copy_rngs, self._turn_rngs = GeneratorPool(), GeneratorPool()  # re-seeded per reset
        self._started = False

    # ------------------------------------------------------------------ reset / step
    def reset(self, seed: int | Sequence[int] | None = None) -> tuple[FloatArray, dict[str, Any]]:
        """Start new episodes; ``seed`` is one int (copy b gets seed + b) or one per copy."""
        seeds = self._copy_seeds(seed)
        # per copy: default_rng(c) for c in SeedSequence(seed).spawn(4), built all at once
        streams = self._copy_rngs.spawn(seeds, 4)
        rng = {name: [st[i] for st in streams] for i, name in enumerate(_STREAMS)}
        self.seeds = seeds
        self.t = 0
        self._mobility: Mobility
        if self._sumo is not None:
            picks = pick_vehicles(self._sumo.pool, self.V, rng["mobility"])
            self._mobility = SumoMobility(self._sumo, picks.ravel())
        else:
            self._mobility = grid_mobility(
                self.config, self.B * self.V, rng["mobility"], self._turn_rngs.from_ints
            )
        # background workload: per-server clock offsets, then noise drawn in chunks per copy
        self._wl_rngs = rng["workload"]
        self.background.reset(self._wl_rngs)
        # queues start at the mean background level scaled by a random factor in [0.5, 1]
        init = np.stack([g.uniform(0.5, 1.0, self.M) for g in self._wl_rngs])
        self.load = np.minimum(init * self.bg_mean_cycles, self.capacity_cycles)
        # UAVs start above distinct random RSUs with full batteries
        start = np.stack(
            [g.choice(self.E, size=self.U, replace=False) for g in rng["uav"]]
        ).reshape(self.B, self.U)
        self.uav_node = start.astype(np.int64)
        self.uav_wp = self.uav_node.copy()
        self.uav_xy = self.rsu_xy[self.uav_node]
        self.uav_ready = np.ones((self.B, self.U), dtype=bool)
        self.uav_hover_left = np.zeros((self.B, self.U))
        self.uav_energy_j = np.full((self.B, self.U), self.uav_battery_j)
        self.uav_energy_used_j = np.zeros((self.B, self.U))
        self.planners: list[UavPlanner] = []
        for g in rng["planner"]:
            p = make_planner(self.planner_name, **self._planner_params)
            p.reset(self.flight, self.U, g)
            self.planners.append(p)
        self.reward.reset(self.B)
        self._ends = EpisodeEnds(np.zeros(self.B, dtype=bool))  # one horizon: no termination
        self._started = True
        self._vehicle_xy = self._mobility.positions(0).reshape(self.B, self.V, 2)
        return self._observe(), {"seeds": np.asarray(seeds)}

    def step(
        self, actions: ArrayLike
    ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Advance every copy one slot; ``actions`` has shape [B, V] (or [B] when V = 1)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self.t >= self.horizon:
            raise RuntimeError(f"episode over after {self.horizon} slots: call reset()")
        act = self._check_actions(actions)
        self._plan_uavs()

        target = act // self.K
        alpha = self.alpha_levels[act % self.K]
        terms = self.latency_terms(target, alpha)
        serving = terms["serving"]
        alpha_eff = terms["alpha"]

        # constraint (5b)/(5c): no queue may exceed L_max after this slot's shares
        share_bits = self.task_bits * self.cycles_per_bit
        bidx = np.arange(self.B)[:, None]
        load_e = self.load[bidx, serving] + (1.0 - alpha_eff) * share_bits
        load_m = self.load[bidx, target] + alpha_eff * share_bits
        violated = (load_e > self.capacity_cycles[serving]) | (
            load_m > self.capacity_cycles[target]
        )
        reward, components = self.reward(
            {
                "latency_s": terms["total_s"],
                "uplink_s": terms["uplink_s"],
                "premigration_s": terms["premigration_s"],
                "processing_s": terms["processing_s"],
                "downlink_s": terms["downlink_s"],
                "alpha": alpha_eff,
                "violated": violated,
            }
        )

        dropped = self._update_queues(serving, target, alpha_eff)
        fly_s, spent = self._move_uavs()

        self.t += 1
        self._ends.update(np.zeros(self.B, dtype=bool), np.full(self.B, self.t >= self.horizon))
        terminated, truncated = self._ends.flags()
        t_obs = min(self.t, self.horizon - 1)
        self._vehicle_xy = self._mobility.positions(t_obs).reshape(self.B, self.V, 2)
        info: dict[str, Any] = {
            "reward_components": components,
            "latency_s": terms["total_s"],
            "uplink_s": terms["uplink_s"],
            "premigration_s": terms["premigration_s"],
            "processing_local_s": terms["local_s"],
            "processing_target_s": terms["target_s"],
            "processing_s": terms["processing_s"],
            "downlink_s": terms["downlink_s"],
            "serving_rsu": serving,
            "target": target,
            "alpha": alpha_eff,
            "violated": violated,
            "rsu_load_frac": self.load[:, : self.E] / self.capacity_cycles[: self.E],
            "uav_load_frac": self.load[:, self.E :] / self.capacity_cycles[self.E :],
            "dropped_cycles": dropped,
            "uav_xy": self.uav_xy.copy(),
            "uav_energy_j": self.uav_energy_j.copy(),
            "uav_energy_step_j": spent,
            "uav_flight_s": fly_s,
        }
        return self._observe(), reward, terminated, truncated, info

    # ------------------------------------------------------------------ physics
    def _geometry(self, vehicle_xy: FloatArray) -> tuple[FloatArray, IntArray, FloatArray]:
        """Ground-to-server slant distances [B, V, M], serving RSU [B, V], server xy [B, M, 2]."""
        server_xy = np.concatenate(
            [np.broadcast_to(self.rsu_xy, (self.B, self.E, 2)), self.uav_xy], axis=1
        )
        dx = vehicle_xy[:, :, None, 0] - server_xy[:, None, :, 0]
        dy = vehicle_xy[:, :, None, 1] - server_xy[:, None, :, 1]
        ground = np.sqrt(dx * dx + dy * dy)
        serving = np.argmin(ground[:, :, : self.E], axis=-1)  # nearest RSU
        return slant_distance_m(ground, self.altitude_m), serving, server_xy

    def latency_terms(
        self, target: IntArray, alpha: FloatArray, vehicle_xy: FloatArray | None = None
    ) -> dict[str, Any]:
        """Latency terms (s) of eqs. (1)–(4) for the vehicles and actions broadcast to them.

        ``target`` and ``alpha`` are [B, V] or carry trailing axes (e.g. [B, V, A] to score
        every action at once). Uses the current queues and UAV positions; the vehicles are at
        ``vehicle_xy`` [B, V, 2] when given, else where the env has them now.
        """
        if vehicle_xy is None:
            link_m, serving, server_xy = self._geom
        else:
            link_m, serving, server_xy = self._geometry(vehicle_xy)
        B = self.B
        extra = target.ndim - serving.ndim
        bidx = np.arange(B).reshape((B,) + (1,) * (target.ndim - 1))
        vidx = np.arange(self.V).reshape((1, self.V) + (1,) * extra)
        s_ex = serving.reshape(serving.shape + (1,) * extra)
        same = target == s_ex
        alpha_eff = np.where(same, 0.0, alpha)

        # vehicle ↔ server links by Shannon over the path gain (paper A Sec. II-A)
        d_serving = link_m[bidx, vidx, s_ex]
        d_target = link_m[bidx, vidx, target]
        g_serving = path_gain(d_serving, *self._gain_args)
        g_target = path_gain(d_target, *self._gain_args)
        up_bps = shannon_rate_bps(
            self.bandwidth_hz[s_ex], self.vehicle_power_w, g_serving, self.noise_w[s_ex]
        )
        down_e = shannon_rate_bps(
            self.bandwidth_hz[s_ex], self.tx_power_w[s_ex], g_serving, self.noise_w[s_ex]
        )
        down_m = shannon_rate_bps(
            self.bandwidth_hz[target], self.tx_power_w[target], g_target, self.noise_w[target]
        )

        # RSU→target link: backhaul for RSUs, air link (serving RSU power, slant range) for UAVs
        hop = server_xy[bidx, s_ex] - server_xy[bidx, target]
        hop_m = slant_distance_m(
            np.hypot(hop[..., 0], hop[..., 1]), self.altitude_m[target] - self.altitude_m[s_ex]
        )
        air_bps = shannon_rate_bps(
            self.bandwidth_hz[target],
            self.tx_power_w[s_ex],
            path_gain(hop_m, *self._gain_args),
            self.noise_w[target],
        )
        mig_bps = np.where(target < self.E, self.premigration_bps, air_bps)

        uplink = transmission_latency_s(self.upload_bits, up_bps)
        t_mig = premigration_latency_s(alpha_eff, self.task_bits, mig_bps)
        task = (self.task_bits, self.cycles_per_bit)
        local = local_processing_latency_s(
            self.load[bidx, s_ex], alpha_eff, *task, self.compute_hz[s_ex]
        )
        remote = target_processing_latency_s(
            self.load[bidx, target], alpha_eff, *task, self.compute_hz[target]
        )
        remote = np.where(same, 0.0, remote)
        processing = parallel_processing_latency_s(local, remote, t_mig)
        downlink = split_downlink_latency_s(alpha_eff, self.result_bits, down_e, down_m)
        return {
            "serving": serving,
            "alpha": alpha_eff,
            "uplink_s": uplink,
            "premigration_s": t_mig,
            "local_s": local,
            "target_s": remote,
            "processing_s": processing,
            "downlink_s": downlink,
            "total_s": total_latency_s(uplink, processing, downlink),
        }

    def greedy_actions(self) -> IntArray:
        """Per vehicle, the action with the best one-slot paper A reward (lowest latency plus
        overload penalty): [B, V]."""
        target = np.repeat(np.arange(self.M), self.K)  # action a → server a // K
        alpha = np.tile(self.alpha_levels, self.M)
        shape = (self.B, self.V, self.n_actions)
        terms = self.latency_terms(np.broadcast_to(target, shape), np.broadcast_to(alpha, shape))
        share = self.task_bits * self.cycles_per_bit
        bidx = np.arange(self.B)[:, None, None]
        s = terms["serving"][..., None]
        a_eff = terms["alpha"]
        over = (self.load[bidx, s] + (1 - a_eff) * share > self.capacity_cycles[s]) | (
            self.load[bidx, target] + a_eff * share > self.capacity_cycles[target]
        )
        reward, _ = self._greedy_reward({"latency_s": terms["total_s"], "violated": over})
        return np.argmax(reward, axis=-1).astype(np.int64)

    # ------------------------------------------------------------------ episode record
    def episode_static(self, b: int) -> dict[str, Any]:
        """Copy ``b``'s fixed part of an episode record (:mod:`vtwin.episode`; call after
        ``reset``): RSUs, then UAVs at their start, in action order."""
        origin = self.projection
        return {
            "paper": "A",
            "area_m": self.area_m,
            "slot_s": self.slot_s,
            "origin_latlon": None
            if origin is None
            else [origin.origin_lat_deg, origin.origin_lon_deg],
            "entity": "vehicle",
            "n_entities": self.V,
            "servers": episode_servers(
                ["RSU"] * self.E + ["UAV"] * self.U,
                np.concatenate([self.rsu_xy, self.uav_xy[b]]),
                self.coverage_m,
            ),
            "uav_servers": list(range(self.E, self.M)),
            "host_label": "pre-migration target",
            "serving_label": "serving RSU",
            "latency_label": "latency T_total (s)",
        }

    def episode_state(self, b: int) -> dict[str, Any]:
        """Copy ``b`` at the start of the current slot: vehicles and UAVs (m)."""
        return {
            "t": self.t,
            "entities": self._vehicle_xy[b].copy(),
            "active": np.ones(self.V, dtype=bool),
            "uavs": self.uav_xy[b].copy(),
        }

    def episode_outcome(self, b: int, reward: FloatArray, info: dict[str, Any]) -> dict[str, Any]:
        """What copy ``b``'s slot gave, from ``step``'s reward and info: pre-migration target
        and serving RSU per vehicle, mean latency, reward and named terms."""
        return {
            "host": info["target"][b],
            "serving": info["serving_rsu"][b],
            "latency_s": float(np.mean(info["latency_s"][b])),
            "reward": float(np.mean(reward[b])),
            "terms": episode_terms(info, list(REWARD_TERMS), b),
        }

    # ------------------------------------------------------------------ internals
    def _copy_seeds(self, seed: int | Sequence[int] | None) -> list[int]:
        return copy_seeds(seed, self.B)

    def _check_actions(self, actions: ArrayLike) -> IntArray:
        return check_actions(
            actions, self.B, self.V, self.n_actions, f"{self.M} servers × {self.K} alpha levels"
        )

    def _update_queues(self, serving: IntArray, target: IntArray, alpha: FloatArray) -> FloatArray:
        """Add shares and arrivals, let UAVs take backlog, reject overflow, drain. Returns drops."""
        share = self.task_bits * self.cycles_per_bit
        base = (np.arange(self.B) * self.M)[:, None]
        flat = np.concatenate([(base + serving).ravel(), (base + target).ravel()])
        shares = np.concatenate([((1.0 - alpha) * share).ravel(), (alpha * share).ravel()])
        agents = np.bincount(flat, weights=shares, minlength=self.B * self.M)
        load = self.load + self.background.load(self.t) + agents.reshape(self.B, self.M)
        if self.U:
            alive = self.uav_energy_j > 0
            dx = self.uav_xy[:, :, None, 0] - self.rsu_xy[None, None, :, 0]
            dy = self.uav_xy[:, :, None, 1] - self.rsu_xy[None, None, :, 1]
            d2 = dx * dx + dy * dy  # squared ground distance UAV → RSU [B, U, E]
            near = np.argmin(d2, axis=-1)  # [B, U]
            nearest_d2 = np.take_along_axis(d2, near[..., None], axis=-1)[..., 0]
            in_cov = nearest_d2 <= self.coverage_m[self.E :] ** 2
            b_all = np.arange(self.B)
            for u in range(self.U):  # few UAVs; sequential so two UAVs share one RSU fairly
                e = near[:, u]
                c_e, c_u = self.compute_hz[e], self.compute_hz[self.E + u]
                l_e, l_u = load[b_all, e], load[:, self.E + u]
                # balance the pair so both queues finish together: (L_e − x)/c_e = (L_u + x)/c_u
                x = (c_u * l_e - c_e * l_u) / (c_e + c_u)
                spare = np.maximum(self.capacity_cycles[self.E + u] - l_u, 0.0)
                moved = np.where(alive[:, u] & in_cov[:, u], np.clip(x, 0.0, spare), 0.0)
                load[b_all, e] -= moved
                load[:, self.E + u] += moved
        dropped = np.maximum(load - self.capacity_cycles, 0.0).sum(axis=1)
        load = np.minimum(load, self.capacity_cycles)
        # each queue drains c·τ per slot (SPEC §A)
        self.load = np.maximum(load - self.compute_hz * self.slot_s, 0.0)
        return dropped

    def _plan_uavs(self) -> None:
        """Ask each copy's planner for waypoints of UAVs that reached theirs."""
        if not self.U:
            return
        alive = self.uav_energy_j > 0
        need = self.uav_ready & alive
        rows = np.flatnonzero(need.any(axis=1))
        if rows.size == 0:
            return
        planners = [self.planners[b] for b in rows]
        batch = PlanningBatch(
            loads=self.load[rows, : self.E],
            load_max=self._rsu_capacity,
            energy_j=self.uav_energy_j[rows],
            energy_max_j=self._battery_full,
            uav_node=self.uav_node[rows],
            ready=need[rows],
        )
        wp = type(planners[0]).next_waypoints_many(planners, batch)
        new = need[rows]
        self.uav_wp[rows] = np.where(new, wp, self.uav_wp[rows])
        hover = new & (wp == self.uav_node[rows])
        self.uav_hover_left[rows] = np.where(
            hover, self.planning_period_s, self.uav_hover_left[rows]
        )
        self.uav_ready[rows] = self.uav_ready[rows] & ~new

    def _move_uavs(self) -> tuple[FloatArray, FloatArray]:
        """Fly/hover every UAV for one slot; returns flight seconds and energy spent [B, U]."""
        if not self.U:
            return np.zeros((self.B, 0)), np.zeros((self.B, 0))
        alive = self.uav_energy_j > 0
        flight = fly_straight(
            self.uav_xy,
            self.rsu_xy[self.uav_wp],
            self.uav_speed_mps,
            self.slot_s,
            alive,
            hover_within_m=1e-9,
        )
        fly_s, arrive = flight.flight_s, flight.arrived
        self.uav_xy = flight.xy
        self.uav_node[arrive] = self.uav_wp[arrive]
        self.uav_ready |= arrive
        hovering = alive & ~flight.flying
        self.uav_hover_left = np.where(hovering, self.uav_hover_left - self.slot_s, 0.0)
        self.uav_ready |= hovering & (self.uav_hover_left <= 1e-9)
        spent = slot_energy_j(
            fly_s, self.slot_s, self.fly_power_w, self.hover_power_w, self.uav_energy_j
        )
        self.uav_energy_j = self.uav_energy_j - spent
        self.uav_energy_used_j += spent
        return fly_s, spent

    def _observe(self) -> FloatArray:
        """Observation [B, V, obs_dim] in [0, 1] (columns named by ``obs_slices``).

        Per vehicle: position / area size; every server's queue / L_max; every server's link
        distance, the serving RSU one-hot and every server's distance from the serving RSU
        (the pre-migration hop), distances / (area diagonal + max altitude); the elapsed
        fraction of the episode; the serving RSU's queue and link distance again. Also caches
        this slot's geometry for :meth:`latency_terms` (positions do not change between an
        observation and the next step).
        """
        B, V = self.B, self.V
        self._geom = self._geometry(self._vehicle_xy)
        link_m, serving, server_xy = self._geom
        bidx = np.arange(B)[:, None]
        dist = link_m / self.dist_scale_m
        load_frac = self.load / self.capacity_cycles
        loads = np.broadcast_to(load_frac[:, None, :], (B, V, self.M))
        pos = self._vehicle_xy / self.area_m
        time = np.full((B, V, 1), self.t / self.horizon)
        onehot = np.zeros((B, V, self.M))
        np.put_along_axis(onehot, serving[..., None], 1.0, axis=-1)
        hop_xy = server_xy[:, None, :, :] - server_xy[bidx, serving][:, :, None, :]
        hop_m = slant_distance_m(
            np.hypot(hop_xy[..., 0], hop_xy[..., 1]),
            self.altitude_m[None, None, :] - self.altitude_m[serving][..., None],
        )
        hop = hop_m / self.dist_scale_m
        s_load = load_frac[bidx, serving][..., None]
        s_dist = np.take_along_axis(dist, serving[..., None], axis=-1)
        obs = np.concatenate([pos, loads, dist, time, onehot, hop, s_load, s_dist], axis=-1)
        return np.clip(obs, 0.0, 1.0)


class PreMigrationEnv(SingleCopyEnv[NDArray[np.float32], Any]):
    """vtwin/PreMigration-v1 — paper A's UAV-assisted VT pre-migration as a Gymnasium env.

    A ``B = 1`` view of :class:`BatchedPreMigration` (see it for the dynamics).

    ## Action space
    ``Discrete(M·K)`` for one vehicle (``MultiDiscrete([M·K]·V)`` for V vehicles): action
    ``a`` pre-migrates share ``alpha_levels[a % K]`` of the VT task to server ``a // K``
    (RSUs ``0..E−1``, then UAVs). With ``servers.uav.count = 0`` only RSUs are targets.

    ## Observation space
    ``Box(0, 1, (V·(4M + 5),), float32)``, per vehicle (``batched.obs_slices`` names the
    columns): position / area size (2), every server's queue / L_max (M), every server's
    link distance (M), the elapsed fraction of the episode (1), the serving RSU as a one-hot
    (M), every server's distance from the serving RSU (M), and the serving RSU's queue and
    link distance (2); distances / (area diagonal + max altitude).
    ``batched.entity_layout`` groups the per-server columns for learners that score every
    server with one shared network.

    ## Rewards
    Mean over vehicles of the configured reward (``reward:``; default ``paper-a``:
    ``−w_latency · T_total − w_overload·[5b or 5c broken]``); the named parts are in
    ``info["reward_components"]`` (``latency``, ``overload``) so an ablation is a config
    change.

    ## Episode end
    No terminal state; truncated after ``horizon_slots`` slots.

    ## Arguments
    ``preset`` (default ``"paper-a"``) or ``config`` (a validated :class:`VTwinConfig`),
    ``overrides`` (dotted ``key=value`` strings), ``planner`` (UAV planner name; default the
    preset's ``premigration.uav_planner``), ``reward`` (a user reward callable, see
    :mod:`vtwin.rewards`; default the preset's ``reward``).

    ## Version history
    * v1: the observation adds the serving RSU (one-hot, its queue and distance) and the
      hop distances from it (issue 15: a network imitating the greedy rule closes 80 % of
      the random→greedy gap from the v0 observation, 93 % from v1's).
    * v0: first version (SPEC §A).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium convention)
    batched: BatchedPreMigration

    def __init__(
        self,
        preset: str = "paper-a",
        *,
        config: VTwinConfig | None = None,
        overrides: Sequence[str] = (),
        planner: str | None = None,
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the env from a preset name (or a config) plus dotted overrides; ``planner``
        and ``reward`` replace the preset's."""
        cfg = view_config(preset, config, overrides)
        self.batched = BatchedPreMigration(cfg, 1, planner=planner, reward=reward)
        b = self.batched
        self.observation_space = spaces.Box(0.0, 1.0, (b.V * b.obs_dim,), dtype=np.float32)
        self.action_space: spaces.Space[Any] = (
            spaces.Discrete(b.n_actions)
            if b.V == 1
            else spaces.MultiDiscrete(np.full(b.V, b.n_actions))
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode; a given seed makes it reproducible, None draws one from np_random."""
        obs, _, copy_seed = self._reset_copy(seed)
        return self._flat(obs), {"seed": copy_seed, "action_mask": self._mask()}

    def step(
        self, action: Any
    ) -> tuple[NDArray[np.float32], SupportsFloat, bool, bool, dict[str, Any]]:
        """One slot for the vehicle(s); returns obs, mean reward, terminated, truncated, info."""
        obs, reward, term, trunc, info = self._step_copy(action)
        info["action_mask"] = self._mask()
        return self._flat(obs), reward, term, trunc, info

    def _flat(self, obs: FloatArray) -> NDArray[np.float32]:
        return obs[0].reshape(-1).astype(np.float32)

    def _mask(self) -> NDArray[np.int8]:
        b = self.batched
        return np.ones((b.V, b.n_actions) if b.V > 1 else (b.n_actions,), dtype=np.int8)
