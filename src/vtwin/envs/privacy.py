"""Paper C: cross-reality location privacy of agentic-AI vehicles (SPEC §C).

Two classes share one implementation:

* :class:`BatchedCrossRealityPrivacy` steps ``B`` independent copies at once on numpy arrays
  (``[B, M, …]`` for ``M`` AVs); experiments and learners use it.
* :class:`CrossRealityPrivacyEnv` is the Gymnasium view (``vtwin/CrossRealityPrivacy-v0``):
  a ``B = 1`` batched env with one learner acting for all M AVs.

Every slot each AV takes a hybrid action: a continuous perturbation (radius r in degrees,
angle θ) of the location it reports in reality (eq. (2)), and a discrete agent server e (an
RSU or the satellite) that hosts its AI agent in virtuality. A Bayesian adversary
(:class:`vtwin.world.adversary.BayesianAdversary`) sees both and infers the true position;
the entropy of its posterior is the privacy level (eq. (5)). Latency follows eqs. (8)–(15),
the QoS loss eq. (16), the utility eq. (17); the reward is the configured one
(``paper-c``: eq. (20); ``paper-c-llm``: eq. (21)).

Copy ``b`` draws all its randomness (which stretch of the traces it replays or how its
vehicles drive, task sizes, the backhaul coefficient) from its own seed, so copy ``b`` of a
batch reset with seeds ``[s0, s1, …]`` equals a single env reset with seed ``s_b``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, SupportsFloat

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import BoolArray, FloatArray, IntArray
from vtwin.config import VTwinConfig
from vtwin.envs.base import (
    EpisodeEnds,
    SingleCopyEnv,
    action_array,
    check_batch,
    copy_seeds,
    episode_servers,
    episode_terms,
    squeeze_info,
    view_config,
)
from vtwin.layout import EntityLayout
from vtwin.physics.channel import dbm_to_w, noise_power_w, path_gain, shannon_rate_bps
from vtwin.physics.geo import EARTH_RADIUS_M, haversine_m
from vtwin.physics.latency import (
    agent_compute_latency_s,
    agent_migration_latency_s,
    backhaul_latency_s,
    qos_loss,
    response_latency_s,
    transmission_latency_s,
    utility,
)
from vtwin.rewards import Reward, RewardFn, make_reward
from vtwin.seeding import GeneratorPool
from vtwin.world.adversary import LATTICE_MIN_SERVERS, AdversaryView, BayesianAdversary
from vtwin.world.scenario import MB_TO_BITS, Scenario, grid_mobility, trace_mobility
from vtwin.world.servers import ServerKind
from vtwin.world.sumo import SumoMobility, pick_vehicles

__all__ = [
    "REWARD_TERMS",
    "BatchedCrossRealityPrivacy",
    "CrossRealityPrivacyEnv",
    "HybridAction",
]

_STREAMS = ("mobility", "task")

TWO_PI = 2.0 * np.pi
_ANGLE_TOL = 1e-6
"""Angles up to 2π + this are accepted (a float32 2π rounds up) and taken modulo 2π."""
_RADIUS_RTOL = 1e-6
"""Radii up to r_max·(1 + this) are accepted (a float32 r_max rounds up) and cut to r_max."""
LATTICE_MAX_CELLS = 4_000_000
"""Largest lattice of the adversary's server normaliser (32 MB); beyond it the normaliser is
computed exactly every slot (slower, never out of memory)."""
LATENCY_SCALE_S = 10.0
"""The ``servers`` observation shows a latency L (s) as L / (L + this), in [0, 1) (ours)."""
GAP_SCALE_S = 1.0
"""… and a latency's excess G (s) over the best server's as G / (G + this) (ours)."""

PAPER_COLUMNS: dict[str, slice] = {
    "position": slice(0, 2),
    "heading": slice(2, 4),
    "connected": slice(4, 6),
    "connected_is_sat": slice(6, 7),
    "agent": slice(7, 9),
    "agent_is_sat": slice(9, 10),
}
"""Columns of eq. (19)'s per-AV state (the ``paper`` observation; the first columns of the
``servers`` one)."""
SERVER_FEATURES: tuple[str, ...] = (
    "server_connected",
    "server_previous",
    "server_is_sat",
    "server_distance",
    "server_hops",
    "server_compute",
    "server_latency",
    "server_latency_gap",
)
"""Per-server blocks of the ``servers`` observation, each S columns in server order:
is the AV's connected server (0/1); is its previous agent server (0/1); is the satellite
(0/1); ground distance AV → server / the area's diagonal (the satellite at its nadir point;
clipped to 1); backhaul hops from the connected RSU / the graph's largest hop count (0 for
the satellite, for the connected RSU itself and when the AV is on the satellite); compute
speed / the fastest server's; the latency (eq. (15)) the server would have given last slot
as L / (L + 10 s) and its excess over last slot's best server, G = L − min L, as
G / (G + 1 s) (both 0 before the first slot)."""

REWARD_TERMS: dict[str, type] = {
    "entropy_bits": float,
    "latency_s": float,
    "qos_loss": float,
    "qos_loss_norm": float,
    "server_distance_km": float,
    "included_angle_rad": float,
    "confidence": float,
    "uplink_s": float,
    "downlink_s": float,
    "backhaul_s": float,
    "migration_s": float,
    "compute_s": float,
    "migrated": bool,
}
"""Per-slot terms [B, M] the env hands its reward."""

HybridAction = Mapping[str, ArrayLike]
"""``{"radius_deg": [B, M], "angle_rad": [B, M], "server": [B, M]}``."""


class BatchedCrossRealityPrivacy:
    """``B`` copies of the paper C world, stepped together.

    World: M AVs driving replayed GPS traces (``vehicles.mobility.kind = trace``) or a
    street grid; N RSUs and one LEO satellite (servers ``0..N−1`` are the RSUs, ``N`` the
    satellite). An AV's connected server is the RSU with the strongest signal among those
    whose coverage holds it (the nearest, as all RSUs send with the same power), else the
    satellite. The RSU backhaul is the scenario's k-nearest-neighbour graph with BFS hop
    counts; RSUs it cannot reach count as its diameter + 1 hops (ours).

    Latency per AV and slot (paper C, SPEC §C): uplink ``D_up/R_up`` and downlink
    ``D_down/R_down`` by Shannon to an RSU (eq. (8), noise N0·B) or at the satellite's fixed
    rates (eqs. (9)–(10)); backhaul ``(D_up + D_down)/R_N + 2 φ_back·hops`` when the agent
    server is an RSU other than the connected one (eq. (11); from the satellite the hop
    term is 0, ours); migration by eq. (13) when the agent server changes; compute
    ``c_m ι D_up / f_e`` (eq. (14)). ``D_up``, ``D_down`` and ``φ_back`` are drawn per slot,
    ``S_m`` and ``c_m`` per AV and episode, from the preset's intervals.

    ``server_distance_km`` (eq. (21)'s d) is the ground distance to the agent server; the
    satellite counts at its nadir point, the map centre (ours).
    """

    episode_metrics: ClassVar[dict[str, tuple[str, ...]]] = {
        "utility": ("steps", "utility"),
        "entropy_bits": ("steps", "entropy_bits"),
        "latency_s": ("steps", "latency_s"),
        "qos_loss": ("steps", "qos_loss"),
    }
    """What the training loops report per episode from ``info`` (``vtwin.training.metrics``)."""
    action_kind: ClassVar[str] = "hybrid"
    """Per-AV continuous and discrete actions (``vtwin.training.registry.env_kind``)."""

    def __init__(
        self,
        config: VTwinConfig,
        batch_size: int = 1,
        *,
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the static world from ``config`` (a paper C preset) for ``batch_size`` copies;
        ``reward`` replaces the config's reward (a user callable, checked at load)."""
        self.B = check_batch(config, "C", "cross-reality privacy", "paper-c-synth", batch_size)
        self.config = config
        pc = config.privacy
        assert pc is not None  # VTwinConfig requires it of paper C
        self.privacy = pc
        scenario = Scenario.from_config(config, seed=config.seed)
        self.scenario = scenario
        servers = scenario.servers
        rsu = servers.of_kind(ServerKind.RSU)
        sat = servers.of_kind(ServerKind.SAT)
        if servers.count(ServerKind.UAV):
            raise ValueError("servers.uav.count must be 0 for paper C (RSUs and a satellite)")
        if sat.size != 1:
            raise ValueError(
                f"servers.sat.count = {sat.size}: paper C needs exactly 1 satellite (the "
                "fallback server outside RSU coverage)"
            )
        self.N = int(rsu.size)
        if self.N < 1:
            raise ValueError("servers.rsu.count = 0: the privacy env needs ≥ 1 RSU")
        self.M = self.V = config.vehicles.count
        if self.M < 1:
            raise ValueError("vehicles.count = 0: the privacy env needs ≥ 1 AV")
        self.S = self.n_actions = self.N + 1
        self.SAT = self.N
        self.horizon = config.horizon_slots
        self.slot_s = config.slot_s

        # ---- geometry: metres per degree for eq. (2)'s perturbation in degrees -----------
        self.projection = scenario.projection
        m_per_deg_lat = float(np.radians(1.0) * EARTH_RADIUS_M)
        lat0 = self.projection.origin_lat_deg if self.projection is not None else 0.0
        self.m_per_deg = np.array([m_per_deg_lat * np.cos(np.radians(lat0)), m_per_deg_lat])
        """Metres per degree of (longitude, latitude) at the scenario origin."""
        self.r_max_deg = pc.r_max_deg
        self.r_max_m = pc.r_max_deg * m_per_deg_lat
        geo = config.geography
        self.area_m = np.array([geo.width_m, geo.height_m])

        # ---- servers (RSUs, then the satellite at its nadir point) -----------------------
        idx = np.concatenate([rsu, sat])
        self.server_xy = servers.xy_m[idx].copy()
        self.rsu_xy = self.server_xy[: self.N]
        self.coverage_m = servers.coverage_m[rsu].copy()
        self.compute_hz = servers.compute_hz[idx].copy()
        self.rsu_bandwidth_hz = servers.bandwidth_hz[rsu].copy()
        self.rsu_power_w = servers.tx_power_w[rsu].copy()
        self.sat_up_bps = float(servers.uplink_bps[sat][0])
        self.sat_down_bps = float(servers.downlink_bps[sat][0])
        self.av_power_w = float(dbm_to_w(config.vehicles.power_dbm))
        ch = config.channel
        self._gain_args = (ch.carrier_ghz * 1e9, ch.antenna_gain, ch.path_loss_exponent)
        if ch.noise_density_dbm_per_hz is not None:  # paper C: N0·B
            self.rsu_noise_w = noise_power_w(ch.noise_density_dbm_per_hz, self.rsu_bandwidth_hz)
        else:
            assert ch.noise_dbm is not None
            self.rsu_noise_w = np.full(self.N, float(dbm_to_w(ch.noise_dbm)))
        hops = scenario.rsu_hops.copy()
        if (hops < 0).any():
            hops[hops < 0] = int(hops.max()) + 1
        self.rsu_hops = hops
        self.backhaul_bps = config.backhaul.rate_mbps * 1e6

        # ---- the adversary, the reward -----------------------------------------------------
        self.adversary = BayesianAdversary(
            self.server_xy,
            r_max_m=self.r_max_m,
            grid=pc.candidate_grid,
            span=pc.candidate_span,
            sigma_m=max(pc.sigma_scale * self.r_max_m, pc.sigma_floor_m),
            d_t_m=pc.adversary_distance_m,
            bandwidth_m=pc.prior_bandwidth_scale * self.r_max_m,
            history_slots=pc.adversary_history_slots,
            dead_reckoning=pc.prior_dead_reckoning,
        )
        # the map, the trace overshoot and the candidate grid's reach around it
        pad = 2.0 * pc.candidate_span * self.r_max_m + 2000.0
        spacing = pc.adversary_distance_m / 10.0
        cells = np.prod(np.ceil((self.area_m + 2.0 * pad) / spacing) + 1.0)
        if self.S >= LATTICE_MIN_SERVERS and cells <= LATTICE_MAX_CELLS:
            # (a lattice too fine for memory, from a huge r_max or a tiny d_T: exact instead)
            self.adversary.use_lattice(-pad * np.ones(2), self.area_m + pad, spacing)
        self.qos_max = float(qos_loss(self.r_max_m / 1e3))
        """Q_max of eq. (21): the QoS loss of a perturbation of r_max (northward)."""
        self.reward = make_reward(config, REWARD_TERMS, self.B, self.M, reward=reward)

        # ---- mobility ----------------------------------------------------------------------
        self.mobility_kind = config.vehicles.mobility.kind
        if self.mobility_kind == "trace":
            replay = trace_mobility(config, max_vehicles=self.M)
            if replay.n < self.M:
                raise ValueError(
                    f"vehicles.count = {self.M}, but vehicles.mobility.path holds only "
                    f"{replay.n} trace(s)"
                )
            self.trace_slots = int(replay.horizon_slots)
            if self.trace_slots < self.horizon + 1:
                raise ValueError(
                    f"horizon_slots = {self.horizon}: the traces last {self.trace_slots} slots "
                    f"of {self.slot_s:g} s; allowed at most {self.trace_slots - 1}"
                )
            self._trace_xy = replay.trajectory(self.trace_slots)[:, : self.M]  # [T, M, 2]
        # SUMO: the scenario's simulated pool; each copy drives M of it (drawn per reset)
        self._sumo = (
            scenario.vehicles.mobility.track
            if isinstance(scenario.vehicles.mobility, SumoMobility)
            else None
        )
        self._copy_rngs, self._turn_rngs = GeneratorPool(), GeneratorPool()

        # ---- observation layout ----------------------------------------------------------
        self.observation_kind = pc.observation
        self.obs_slices: dict[str, slice] = dict(PAPER_COLUMNS)
        own = max(sl.stop for sl in PAPER_COLUMNS.values())
        self.entity_layout: EntityLayout | None = None
        """``servers`` observation: one entity per (AV m, server s) in action order m·S + s,
        over the flattened row [M·obs_dim]; its columns are AV m's eq. (19) features, then
        (m, s)'s :data:`SERVER_FEATURES`. None for the ``paper`` observation."""
        if self.observation_kind == "servers":
            for k, name in enumerate(SERVER_FEATURES):
                self.obs_slices[name] = slice(own + k * self.S, own + (k + 1) * self.S)
            self.obs_dim = own + len(SERVER_FEATURES) * self.S
            F = self.obs_dim
            self.entity_layout = EntityLayout(
                tuple(
                    tuple(m * F + c for c in range(own))
                    + tuple(m * F + self.obs_slices[name].start + s for name in SERVER_FEATURES)
                    for m in range(self.M)
                    for s in range(self.S)
                ),
                (),
            )
        else:
            self.obs_dim = own
        self._diag_m = float(np.hypot(*self.area_m))
        self._hop_scale = max(int(self.rsu_hops.max()), 1)
        self._compute_scale = float(self.compute_hz.max())
        self._started = False

    # ------------------------------------------------------------------ reset / step
    def reset(self, seed: int | Sequence[int] | None = None) -> tuple[FloatArray, dict[str, Any]]:
        """Start new episodes; ``seed`` is one int (copy b gets seed + b) or one per copy."""
        seeds = copy_seeds(seed, self.B)
        B, M, H = self.B, self.M, self.horizon
        streams = self._copy_rngs.spawn(seeds, len(_STREAMS))
        mob = [st[0] for st in streams]
        task = [st[1] for st in streams]
        self.seeds = seeds
        pc = self.privacy
        if self.mobility_kind == "trace":
            self.trace_start = np.array(
                [int(g.integers(0, self.trace_slots - H)) for g in mob], dtype=np.int64
            )
            rows = self.trace_start[None, :] + np.arange(H + 1)[:, None]  # [H+1, B]
            self._xy_tab = self._trace_xy[rows]  # [H+1, B, M, 2]
        elif self._sumo is not None:
            self.sumo_index = pick_vehicles(self._sumo.pool, M, mob)  # [B, M]
            self._xy_tab = self._sumo.xy_m[: H + 1][:, self.sumo_index]  # [H+1, B, M, 2]
        else:
            mobility = grid_mobility(self.config, B * M, mob, self._turn_rngs.from_ints)
            self._xy_tab = mobility.trajectory(H + 1).reshape(H + 1, B, M, 2)

        def draw(interval: tuple[float, float], shape: tuple[int, ...]) -> FloatArray:
            return np.stack([g.uniform(interval[0], interval[1], shape) for g in task])

        self.up_bits = draw(pc.upload_mb, (H, M)) * MB_TO_BITS  # [B, H, M]
        self.down_bits = draw(pc.download_mb, (H, M)) * MB_TO_BITS
        self.phi_back = draw(pc.backhaul_per_hop_s, (H,))  # [B, H]
        self.model_bits = draw(pc.twin_mb, (M,)) * MB_TO_BITS  # [B, M]
        self.cycles_per_bit = draw(pc.cycles_per_bit, (M,))

        self.t = 0
        self._ends = EpisodeEnds(np.zeros(B, dtype=bool))  # one horizon: no termination
        self.reward.reset(B)
        self.adversary.reset(B, M)
        self._xy = self._xy_tab[0]
        self._heading = np.zeros((B, M, 2))
        self.connected = self._connected(self._xy)
        self.agent = self.connected.copy()  # the initial agent server is the connected one
        self._last_by_server = np.zeros((B, M, self.S))  # latency every server gave, s
        self._started = True
        return self._observe(), {"seeds": np.asarray(seeds)}

    def check_actions(self, actions: HybridAction) -> tuple[FloatArray, FloatArray, IntArray]:
        """(radius °, angle rad, server) as [B, M] arrays, or a ValueError naming the field,
        copy, AV, value and allowed range. Radii a float32 rounding above r_max are cut to
        it and angles up to 2π taken modulo 2π; anything else out of range is an error."""
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"actions must be a dict with radius_deg, angle_rad and server, got "
                f"{type(actions).__name__}"
            )
        missing = {"radius_deg", "angle_rad", "server"} - set(actions)
        extra = set(actions) - {"radius_deg", "angle_rad", "server"}
        if missing or extra:
            raise ValueError(
                f"action keys {sorted(actions)}: expected exactly radius_deg, angle_rad, server"
            )
        shape = (self.B, self.M)
        ranges = {
            "radius_deg": f"degrees in [0, {self.r_max_deg:g}]",
            "angle_rad": "radians in [0, 2π)",
            "server": f"integer indices in [0, {self.S})",
        }
        out = []
        for key in ("radius_deg", "angle_rad", "server"):
            a = action_array(actions[key], f"action {key}", f"{ranges[key]}, shape {shape}")
            if a.shape == (self.M,) and self.B == 1:
                a = a[None]  # one copy: [M] is accepted
            if a.shape != shape:
                raise ValueError(
                    f"action {key} has shape {a.shape}; expected {shape} (copies × AVs)"
                )
            out.append(a)
        r, theta, srv = out
        for key, a, lo, hi, allowed in (
            ("radius_deg", r, 0.0, self.r_max_deg * (1 + _RADIUS_RTOL), f"[0, {self.r_max_deg:g}]"),
            ("angle_rad", theta, 0.0, TWO_PI + _ANGLE_TOL, "[0, 2π)"),
        ):
            bad = ~((a >= lo) & (a <= hi))  # NaN is bad too
            if bad.any():
                b, m = np.argwhere(bad)[0]
                raise ValueError(
                    f"action {key} = {a[b, m].item()!r} (copy {b}, AV {m}) is outside {allowed}"
                )
        integral = np.issubdtype(srv.dtype, np.integer) or (
            np.issubdtype(srv.dtype, np.floating)
            and np.isfinite(srv).all()
            and np.all(np.mod(srv, 1) == 0)
        )
        if not integral:
            with np.errstate(invalid="ignore"):
                b, m = np.argwhere(~np.isfinite(srv) | (np.mod(srv, 1) != 0))[0]
            raise ValueError(
                f"action server = {srv[b, m].item()!r} (copy {b}, AV {m}): server must be integer "
                f"indices 0..{self.S - 1} (RSUs 0..{self.N - 1}, satellite {self.SAT})"
            )
        bad = (srv < 0) | (srv >= self.S)
        if bad.any():
            b, m = np.argwhere(bad)[0]
            raise ValueError(
                f"action server = {srv[b, m].item()!r} (copy {b}, AV {m}) is outside "
                f"[0, {self.S}): RSUs 0..{self.N - 1}, satellite {self.SAT}"
            )
        radius = np.minimum(r.astype(np.float64), self.r_max_deg)
        angle = np.mod(theta.astype(np.float64), TWO_PI)
        return radius, angle, srv.astype(np.int64)

    def adversary_sigma_m(self, radius_deg: FloatArray) -> FloatArray:
        """σ [B, M] of the adversary's Gaussian likelihood for radii ``radius_deg``
        (``privacy.adversary_sigma``; at least ``privacy.sigma_floor_m``)."""
        pc = self.privacy
        if pc.adversary_sigma == "radius":
            scale = radius_deg * self.m_per_deg[1]
        else:
            scale = np.full_like(radius_deg, self.r_max_m)
        return np.maximum(pc.sigma_scale * scale, pc.sigma_floor_m)

    def perturb(
        self, true_xy: FloatArray, radius_deg: FloatArray, angle_rad: FloatArray
    ) -> FloatArray:
        """The reported position l + r(cos θ, sin θ) of eq. (2), with (lon, lat) degrees
        turned into local metres at the scenario origin [B, M, 2]."""
        offset = np.stack([np.cos(angle_rad), np.sin(angle_rad)], axis=-1) * radius_deg[..., None]
        return true_xy + offset * self.m_per_deg

    def step(
        self, actions: HybridAction
    ) -> tuple[FloatArray, FloatArray, BoolArray, BoolArray, dict[str, Any]]:
        """Advance every copy one slot with hybrid actions (see :data:`HybridAction`)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self.t >= self.horizon:
            raise RuntimeError(f"episode over after {self.horizon} slots: call reset()")
        radius, angle, server = self.check_actions(actions)
        true_xy = self._xy
        perturbed = self.perturb(true_xy, radius, angle)
        lat = self.latency_terms(server)
        view = self.adversary.observe(true_xy, perturbed, server, self.adversary_sigma_m(radius))
        self.adversary.remember(true_xy)

        q = qos_loss(self._ground_m(true_xy, perturbed) / 1e3)
        to_server = self.server_xy[server] - true_xy
        dist_km = np.hypot(to_server[..., 0], to_server[..., 1]) / 1e3
        pert_dir = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * self.m_per_deg
        cosine = np.sum(to_server * pert_dir, axis=-1) / np.maximum(
            np.linalg.norm(to_server, axis=-1) * np.linalg.norm(pert_dir, axis=-1), 1e-12
        )
        alpha = np.arccos(np.clip(cosine, -1.0, 1.0))  # 0 when the agent sits on the AV
        w_e, w_l, w_q = self.privacy.utility_weights
        util = utility(view.entropy_bits, lat["latency_s"], q, w_e, w_l, w_q)
        terms = {
            "entropy_bits": view.entropy_bits,
            "latency_s": lat["latency_s"],
            "qos_loss": q,
            "qos_loss_norm": q / self.qos_max,
            "server_distance_km": dist_km,
            "included_angle_rad": alpha,
            "confidence": view.confidence,
            "uplink_s": lat["uplink_s"],
            "downlink_s": lat["downlink_s"],
            "backhaul_s": lat["backhaul_s"],
            "migration_s": lat["migration_s"],
            "compute_s": lat["compute_s"],
            "migrated": lat["migrated"],
        }
        reward, components = self.reward(terms)
        info: dict[str, Any] = {
            **terms,
            "utility": util,
            "reward_components": components,
            "attacker_error_m": view.error_m,
            "geo_i_entropy_bits": view.geo_i_entropy_bits,
            "migration_entropy_bits": view.migration_entropy_bits,
            "connected": self.connected.copy(),
            "agent_server": server,
            "true_xy": true_xy.copy(),
            "perturbed_xy": perturbed,
            "radius_deg": radius,
            "angle_rad": angle,
            "latency_by_server_s": lat["by_server_s"],
        }
        if self.projection is not None:
            info["true_latlon"] = self.projection.to_latlon(true_xy)
            info["perturbed_latlon"] = self.projection.to_latlon(perturbed)

        self.agent = server
        self._last_by_server = lat["by_server_s"]
        self.t += 1
        self._ends.update(np.zeros(self.B, dtype=bool), np.full(self.B, self.t >= self.horizon))
        terminated, truncated = self._ends.flags()
        new_xy = self._xy_tab[self.t]
        move = new_xy - true_xy
        norm = np.linalg.norm(move, axis=-1, keepdims=True)
        self._heading = np.where(norm > 1e-9, move / np.maximum(norm, 1e-12), self._heading)
        self._xy = new_xy
        self.connected = self._connected(new_xy)
        return self._observe(), reward, terminated, truncated, info

    # ------------------------------------------------------------------ episode record
    def episode_static(self, b: int) -> dict[str, Any]:
        """Copy ``b``'s fixed part of an episode record (:mod:`vtwin.episode`): RSUs, then the
        satellite at its nadir point, in action order."""
        origin = self.projection
        return {
            "paper": "C",
            "area_m": self.area_m,
            "slot_s": self.slot_s,
            "origin_latlon": None
            if origin is None
            else [origin.origin_lat_deg, origin.origin_lon_deg],
            "entity": "AV",
            "n_entities": self.M,
            "servers": episode_servers(
                ["RSU"] * self.N + ["SAT"],
                self.server_xy,
                np.append(self.coverage_m, np.inf),
            ),
            "uav_servers": [],
            "host_label": "agent server",
            "serving_label": "connected server",
            "latency_label": "response latency (s)",
        }

    def episode_state(self, b: int) -> dict[str, Any]:
        """Copy ``b`` at the start of the current slot: true AV positions (m) and their
        connected servers."""
        return {
            "t": self.t,
            "entities": self._xy[b].copy(),
            "active": np.ones(self.M, dtype=bool),
            "uavs": np.zeros((0, 2)),
            "serving": self.connected[b].copy(),
        }

    def episode_outcome(self, b: int, reward: FloatArray, info: dict[str, Any]) -> dict[str, Any]:
        """What copy ``b``'s slot gave, from ``step``'s reward and info: the agent server and
        the reported (perturbed) position of each AV, mean latency, reward and named terms."""
        return {
            "host": info["agent_server"][b],
            "perturbed": info["perturbed_xy"][b],
            "latency_s": float(np.mean(info["latency_s"][b])),
            "reward": float(np.mean(reward[b])),
            "terms": episode_terms(info, [*REWARD_TERMS, "utility"], b),
        }

    # ------------------------------------------------------------------ physics
    def _ground_m(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Ground distance (haversine for lat/lon scenarios, SPEC §0) [B, M]."""
        if self.projection is None:
            d = a - b
            return np.asarray(np.hypot(d[..., 0], d[..., 1]), dtype=np.float64)
        pa, pb = self.projection.to_latlon(a), self.projection.to_latlon(b)
        return np.asarray(haversine_m(pa[..., 0], pa[..., 1], pb[..., 0], pb[..., 1]))

    def _rsu_distance_m(self, xy: FloatArray) -> FloatArray:
        """Distance from every AV to every RSU [B, M, N], planar in local metres (within 0.1 %
        of the haversine distance over a city-sized area, see ``LocalProjection``)."""
        d = xy[:, :, None, :] - self.rsu_xy[None, None]
        return np.asarray(np.hypot(d[..., 0], d[..., 1]), dtype=np.float64)

    def _connected(self, xy: FloatArray) -> IntArray:
        """The connected server of every AV [B, M]: the nearest RSU covering it, else the
        satellite (index N)."""
        d = self._rsu_distance_m(xy)
        covered = d <= self.coverage_m
        nearest = np.argmin(np.where(covered, d, np.inf), axis=-1)
        return np.where(covered.any(axis=-1), nearest, self.SAT).astype(np.int64)

    def latency_terms(self, server: IntArray) -> dict[str, Any]:
        """Response latency and its parts [B, M] for agent servers ``server`` [B, M] in the
        current slot (eqs. (8)–(15)); ``by_server_s`` [B, M, S] is the latency every server
        would have given instead."""
        B, M, t = self.B, self.M, self.t
        c = self.connected
        on_sat = c == self.SAT
        rsu = np.where(on_sat, 0, c)
        d = np.take_along_axis(self._rsu_distance_m(self._xy), rsu[..., None], axis=-1)[..., 0]
        gain = path_gain(d, *self._gain_args)
        bw, noise = self.rsu_bandwidth_hz[rsu], self.rsu_noise_w[rsu]
        up_bps = shannon_rate_bps(bw, self.av_power_w, gain, noise)  # eq. (8)
        down_bps = shannon_rate_bps(bw, self.rsu_power_w[rsu], gain, noise)
        up, down = self.up_bits[:, t], self.down_bits[:, t]
        uplink = transmission_latency_s(up, np.where(on_sat, self.sat_up_bps, up_bps))  # (9)
        downlink = transmission_latency_s(down, np.where(on_sat, self.sat_down_bps, down_bps))

        # every candidate agent server at once: [B, M, S]
        cand = np.broadcast_to(np.arange(self.S), (B, M, self.S))
        cand_rsu = cand < self.N
        cand_i = np.where(cand_rsu, cand, 0)
        hops_cc = np.where(on_sat[..., None], 0, self.rsu_hops[rsu[..., None], cand_i])
        need = cand_rsu & (cand != c[..., None])
        backhaul = backhaul_latency_s(
            up[..., None],
            down[..., None],
            self.backhaul_bps,
            self.phi_back[:, t, None, None],
            hops_cc,
            need,
        )  # eq. (11)
        prev = self.agent
        prev_sat = prev == self.SAT
        prev_i = np.where(prev_sat, 0, prev)
        hops_mig = np.where(
            prev_sat[..., None] | ~cand_rsu, 0, self.rsu_hops[prev_i[..., None], cand_i]
        )
        migration = agent_migration_latency_s(
            self.model_bits[..., None],
            cand != prev[..., None],
            prev_sat[..., None],
            ~cand_rsu,
            self.backhaul_bps,
            self.privacy.migration_per_hop_s,
            hops_mig,
            self.sat_up_bps,
            self.sat_down_bps,
        )  # eq. (13)
        compute = agent_compute_latency_s(
            self.cycles_per_bit[..., None],
            self.privacy.compute_fraction,
            up[..., None],
            self.compute_hz[cand],
        )  # eq. (14)
        by_server = response_latency_s(
            uplink[..., None], downlink[..., None], backhaul, migration, compute
        )  # eq. (15)
        pick = server[..., None]

        def at(x: FloatArray) -> FloatArray:
            return np.take_along_axis(x, pick, axis=-1)[..., 0]

        return {
            "latency_s": at(by_server),
            "uplink_s": uplink,
            "downlink_s": downlink,
            "backhaul_s": at(backhaul),
            "migration_s": at(migration),
            "compute_s": at(compute),
            "migrated": server != prev,
            "by_server_s": by_server,
        }

    def _observe(self) -> FloatArray:
        """Observation [B, M, obs_dim] (columns named by ``obs_slices``), state eq. (19).

        Per AV: its position / area size; its heading (unit vector of the last move; zeros
        before the first); its connected server's position and whether that is the
        satellite; the position of its previous agent server and whether that is the
        satellite. Positions are clipped to the area; the satellite sits at its nadir point.
        The ``servers`` observation appends the per-server blocks of :data:`SERVER_FEATURES`.
        """
        area = self.area_m
        pos = np.clip(self._xy / area, 0.0, 1.0)
        conn = np.clip(self.server_xy[self.connected] / area, 0.0, 1.0)
        agent = np.clip(self.server_xy[self.agent] / area, 0.0, 1.0)
        parts = [
            pos,
            self._heading,
            conn,
            (self.connected == self.SAT)[..., None].astype(np.float64),
            agent,
            (self.agent == self.SAT)[..., None].astype(np.float64),
        ]
        if self.observation_kind == "servers":
            parts += self._server_features()
        return np.concatenate(parts, axis=-1)

    def _server_features(self) -> list[FloatArray]:
        """The per-server blocks [B, M, S] of the ``servers`` observation, in
        :data:`SERVER_FEATURES` order."""
        B, M, S = self.B, self.M, self.S
        cand = np.arange(S)
        c, prev = self.connected, self.agent
        to_server = self.server_xy[None, None] - self._xy[:, :, None, :]  # [B, M, S, 2]
        dist = np.minimum(np.hypot(to_server[..., 0], to_server[..., 1]) / self._diag_m, 1.0)
        on_sat = c == self.SAT
        rsu = np.where(on_sat, 0, c)
        cand_i = np.where(cand < self.N, cand, 0)
        hops = np.where(
            on_sat[..., None] | (cand >= self.N), 0, self.rsu_hops[rsu[..., None], cand_i]
        )
        shape = (B, M, S)
        gap = self._last_by_server - self._last_by_server.min(axis=-1, keepdims=True)
        return [
            (cand == c[..., None]).astype(np.float64),
            (cand == prev[..., None]).astype(np.float64),
            np.broadcast_to((cand == self.SAT).astype(np.float64), shape),
            dist,
            hops / self._hop_scale,
            np.broadcast_to(self.compute_hz / self._compute_scale, shape),
            self._last_by_server / (self._last_by_server + LATENCY_SCALE_S),
            gap / (gap + GAP_SCALE_S),
        ]

    def adversary_view(
        self,
        true_xy: FloatArray,
        perturbed_xy: FloatArray,
        server: IntArray,
        radius_deg: FloatArray,
    ) -> AdversaryView:
        """The adversary's view of hypothetical observations without touching its history
        (figures probe the entropy surface with it)."""
        return self.adversary.observe(
            true_xy, perturbed_xy, server, self.adversary_sigma_m(radius_deg)
        )


class CrossRealityPrivacyEnv(SingleCopyEnv[NDArray[np.float32], dict[str, Any]]):
    """vtwin/CrossRealityPrivacy-v0 — paper C's cross-reality location privacy as a Gymnasium env.

    A ``B = 1`` view of :class:`BatchedCrossRealityPrivacy` (see it for the dynamics); one
    learner acts for all M AVs (paper C Sec. 5.1).

    ## Action space
    ``Dict(radius_deg=Box(0, r_max, (M,)), angle_rad=Box(0, 2π, (M,)),
    server=MultiDiscrete([N + 1]·M))``: per AV the perturbation radius in degrees and its
    angle (eq. (2)), and the agent server (RSUs ``0..N−1``, the satellite ``N``). Values
    outside the bounds are errors, not clipped (only float32 rounding at r_max and 2π is
    absorbed).

    ## Observation space
    ``Box(−1, 1, (F·M,), float32)``, per AV (``batched.obs_slices`` names the columns). With
    ``privacy.observation = paper`` (the default) F = 10, eq. (19): position / area size (2),
    heading unit vector (2), connected server position / area size (2), connected is the
    satellite (1), previous agent server position / area size (2), previous agent is the
    satellite (1). With ``servers`` F = 10 + 8·S: those, then per server s (S columns each,
    see ``vtwin.envs.privacy.SERVER_FEATURES``) is-connected, is-previous-agent,
    is-satellite, distance, backhaul hops, compute speed, last slot's latency and its
    excess over the best server's (all in [0, 1]); ``batched.entity_layout`` groups the row
    by (AV, server).

    ## Rewards
    Mean over AVs of the configured reward (``reward:``; default ``paper-c``, eq. (20): the
    utility ω_E E − ω_L L − ω_Q Q; ``paper-c-llm``: eq. (21)); the named parts are in
    ``info["reward_components"]``, every raw term (entropy, latency parts, QoS loss,
    included angle, attacker confidence and error, …) in ``info``.

    ## Episode end
    No terminal state; truncated after ``horizon_slots`` slots.

    ## Arguments
    ``preset`` (default ``"paper-c-synth"``, which needs no data files; ``"paper-c"`` replays
    the Shanghai taxi) or ``config``, ``overrides`` (dotted ``key=value`` strings), ``reward``
    (a user reward callable, see :mod:`vtwin.rewards`).

    ## Version history
    * v0: first version (SPEC §C); the optional ``servers`` observation
      (``privacy.observation``) added later, the default unchanged.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium convention)
    batched: BatchedCrossRealityPrivacy  # type: ignore[assignment]  # steps on dicts, not [B, V]

    def __init__(
        self,
        preset: str = "paper-c-synth",
        *,
        config: VTwinConfig | None = None,
        overrides: Sequence[str] = (),
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the env from a preset name (or a config) plus dotted overrides."""
        cfg = view_config(preset, config, overrides)
        self.batched = BatchedCrossRealityPrivacy(cfg, 1, reward=reward)
        b = self.batched
        self.observation_space = spaces.Box(-1.0, 1.0, (b.M * b.obs_dim,), dtype=np.float32)
        self.action_space = spaces.Dict(
            {
                "radius_deg": spaces.Box(0.0, b.r_max_deg, (b.M,), dtype=np.float32),
                "angle_rad": spaces.Box(0.0, TWO_PI, (b.M,), dtype=np.float32),
                "server": spaces.MultiDiscrete(np.full(b.M, b.S)),
            }
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode; a given seed makes it reproducible, None draws one from np_random."""
        obs, _, copy_seed = self._reset_copy(seed)
        return self._flat(obs), {"seed": copy_seed}

    def step(
        self, action: dict[str, Any]
    ) -> tuple[NDArray[np.float32], SupportsFloat, bool, bool, dict[str, Any]]:
        """One slot for all AVs; returns obs, mean reward over AVs, terminated, truncated, info."""
        if not isinstance(action, Mapping):
            raise ValueError(
                f"action must be a dict with radius_deg, angle_rad and server, got "
                f"{type(action).__name__}"
            )
        M = self.batched.M
        batched: dict[str, ArrayLike] = {}
        for key, value in action.items():
            a = action_array(value, f"action {key}", f"{M} number(s), one per AV")
            if a.size != M or a.ndim > 1:
                raise ValueError(
                    f"action {key} has shape {a.shape}; expected ({M},) (one value per AV)"
                )
            batched[key] = a.reshape(1, M)
        obs, reward, term, trunc, info = self.batched.step(batched)
        return (
            self._flat(obs),
            float(reward.mean()),
            bool(term[0]),
            bool(trunc[0]),
            squeeze_info(info),
        )

    def _flat(self, obs: FloatArray) -> NDArray[np.float32]:
        return obs[0].reshape(-1).astype(np.float32)
