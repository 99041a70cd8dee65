"""Paper D: UAVs run diffusion-model inference (DMI) tasks of roadside sensors for a
transportation digital twin — heterogeneous agents (K sensors, U UAVs), batched and as a
PettingZoo ``ParallelEnv`` (SPEC §D; equations numbered as SPEC restates them).

**One slot** (τ s), for every copy:

1. *Serve.* Each UAV u runs the tasks offloaded to it in the previous slot (its queue, at
   most K_max, in sensor order). Its action's K_max weights split its step budget Z_u over
   them, ``z_k = w_k / Σ w · Z_u`` (eq. (18), w ∈ [0.01, 1], empty queue slots get nothing);
   fidelity
   ``F_k`` (eq. (1), linear or the concave option; steps past z_max add nothing), inference
   time ``z_k / f_u`` (eq. (10)), task delay ``T_k = T_tx + T_inf`` (eqs. (9)–(10), T_tx
   from the upload), system delay T(t) (eq. (11), sum or per-UAV max), utility
   ``U = w1 Σ F − w2 T`` (eq. (12)).
2. *Fly.* Heading φ and speed v from the action; ``x += vτ cos φ``, ``y += vτ sin φ``
   (eqs. (2)–(3)); a UAV that would leave the area stops at its border and violates C5.
3. *Offload.* Each sensor's action picks a UAV or "no offload" (eq. (21)); the chosen UAV
   receives the task's D_k bits at the Shannon rate of the channel ``β0 / (H² + d²)`` to its
   new position (eqs. (7)–(9)); the first K_max tasks per UAV (by sensor index) join its queue
   for the next slot, later ones are dropped (C1 violations).

Tasks are served in the slot after they are offloaded (ours): paper D's sensors choose first
and its UAVs then see the offloaded tasks (Algorithm 1); pipelining the two decisions over
consecutive slots keeps one joint step per slot — a plain Markov game for the centralised
critics — while each UAV still sees exactly the tasks its step weights apply to.

**Constraints counted per slot** (``info``): C1 tasks dropped past K_max, C2 served tasks with
F_k < F_min, C3 UAVs over their step budget (0 by construction of eq. (18)), C4 served tasks
with T_k > deadline, C5 UAVs stopped at the area's border. The reward (``paper-d``, eqs.
(19)–(20)) is the utility minus a penalty per C2/C4/C5 violation, one global value per slot
shared by every agent, computed through :mod:`vtwin.rewards` from :data:`REWARD_TERMS`.

**Sensor positions.** ``sensors.placement = 'uniform'`` (default): uniform in the W × H area,
drawn per copy from its seed. ``'file'``: real road-sensor positions (e.g. PEMS-BAY or
METR-LA loop detectors) read once, when the env is built, from ``sensors.locations_file``;
the W × H window centred on ``sensors.center_latlon`` (or the one holding the most sensors)
is the same for every copy, and each copy draws K of its sensors from its own seed through a
separate generator, ``default_rng((SENSOR_STREAM, seed))`` (all of them, identical in every
copy, when the window holds exactly K). The copy's main generator still makes the uniform
draw first, unused, so a seed gives the same UAV starts, compute and tasks under both
placements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike

from vtwin.config import VTwinConfig
from vtwin.envs.base import (
    EpisodeEnds,
    Seeds,
    SingleCopyParallelEnv,
    action_array,
    copy_seeds,
    episode_servers,
    episode_terms,
    view_config,
)
from vtwin.physics import unchecked
from vtwin.physics.channel import dbm_to_w, inverse_square_gain, shannon_rate_bps
from vtwin.physics.fidelity import allocate_steps, fidelity, system_delay_s, uav_move
from vtwin.rewards import Reward, RewardFn, make_reward
from vtwin.world.scenario import file_sensor_window

__all__ = [
    "ENV_ID",
    "REWARD_TERMS",
    "SENSOR_STREAM",
    "BatchedTwinUpdate",
    "TwinUpdateEnv",
    "sensor_choice",
]

ENV_ID = "vtwin/TwinUpdate-v0"
KB_TO_BITS = 8_000.0
REWARD_TERMS: dict[str, type] = {
    "fidelity_sum": float,
    "delay_s": float,
    "violations": float,
    "utility": float,
    "served": float,
    "offloaded": float,
    "c1_dropped": float,
    "c2_low_fidelity": float,
    "c3_over_budget": float,
    "c4_late": float,
    "c5_border": float,
}
"""Per-slot terms ``[B, 1]`` (one global value per copy) the env hands its reward."""
SENSOR_FEATURES = 4
"""Sensor observation: z_max / z_max's upper bound, own x / W, own y / H, F_max / F_max's
upper bound; then per UAV its x / W, y / H and compute f_u / f_u's upper bound. F_max is
ours, as in the UAV's queue: a task's worth per step is F_max / (z_max − z_min), and without
it neither the sensor nor a centralised critic can tell which UAV its task is worth most on
(measured in ``docs/reproductions/paper-d.md``)."""
UAV_OWN = 3
"""UAV observation: own x / W, y / H, f_u / f_u's upper bound; then per queue slot
(K_max of them) present (0/1), the sensor's x / W, y / H, D_k / D_max, z_max / z_max's bound
and F_max / F_max's bound (ours: a UAV splitting its steps needs each task's fidelity
ceiling; paper D lists the sensors' information without detail)."""
QUEUE_FEATURES = 6
SENSOR_STREAM = 0x5E5
"""First entropy word of the per-copy generator that draws which file sensors a copy gets
(``default_rng((SENSOR_STREAM, seed))``), apart from the copy's main generator."""
WEIGHT_FLOOR = 0.01
"""A queued task's weight is ``0.01 + 0.99 (a + 1) / 2`` ∈ [0.01, 1] (ours): eq. (18) is
undefined when every weight is 0, and a UAV whose actor saturates at −1 would otherwise run
nothing at all; with the floor it splits its steps evenly."""


def sensor_choice(action: ArrayLike, n_uavs: int) -> np.ndarray:
    """Eq. (21): a sensor's value in [−1, 1] → −1 (no offload) or a UAV index: U + 1 equal
    bins, the first meaning "no offload"."""
    a = np.asarray(action, dtype=np.float64)
    bins = np.floor((a + 1.0) / 2.0 * (n_uavs + 1)).astype(np.int64)
    return np.clip(bins, 0, n_uavs) - 1


class BatchedTwinUpdate:
    """``B`` copies of paper D's world, stepped together (module docstring for one slot).

    Agents: ``K = sensors.count`` sensor agents and ``U = servers.uav.count`` UAV agents.
    ``reset(seed)`` → (observation dict, info); ``step(actions)`` with ``actions =
    {"sensor": [B, K] in [−1, 1], "uav": [B, U, 2 + K_max] in [−1, 1]}`` → (observation,
    reward ``[B, 1]``, terminated ``[B]``, truncated ``[B]``, info). Observation dict:
    ``"sensor"`` ``[B, K, 4 + 3U]``, ``"uav"`` ``[B, U, 3 + 6 K_max]`` (layouts in
    :data:`SENSOR_FEATURES`, :data:`UAV_OWN`) and ``"state"`` (both flattened, for
    centralised critics). UAV action: heading (−1 → −π, 1 → π), speed (−1 → v_min, 1 →
    v_max), then K_max weights ((a + 1) / 2 ∈ [0, 1]) for its queue slots.

    Per copy, from its seed: sensor and UAV start positions (uniform in the area; sensors
    from ``sensor_window`` with ``sensors.placement = 'file'``, module docstring), each UAV's
    compute f_u, and every slot's task of every sensor (D_k, z_max, F_max uniform in their
    configured intervals), drawn at reset. ``sensor_ids[b]`` names copy b's file sensors.
    """

    def __init__(
        self, config: VTwinConfig, B: int, *, reward: Reward | RewardFn | None = None
    ) -> None:
        """Build ``B`` copies of the preset's world (a paper D config)."""
        if config.paper != "D" or config.twin_update is None:
            raise ValueError(
                f"config '{config.name}' is paper {config.paper}'s; BatchedTwinUpdate needs a "
                "paper D preset (e.g. 'paper-d') with a twin_update section"
            )
        if isinstance(B, bool) or not isinstance(B, int) or B < 1:
            raise ValueError(f"B = {B!r}: the number of copies must be an int ≥ 1")
        tw = config.twin_update
        self.config = config
        self.B = B
        self.K = config.sensors.count
        self.U = config.servers.uav.count
        if self.K < 1 or self.U < 1:
            raise ValueError(
                f"config '{config.name}': paper D needs sensors.count ≥ 1 and "
                f"servers.uav.count ≥ 1 (got {self.K} and {self.U})"
            )
        self.V = 1  # one global reward per slot
        self.action_kind = "heterogeneous"  # sensors and UAVs (vtwin.training.registry)
        self.weight_floor = WEIGHT_FLOOR
        self.K_max = tw.max_tasks_per_uav
        self.horizon = config.horizon_slots
        self.tau = config.slot_s
        self.width = config.geography.width_m
        self.height = config.geography.height_m
        self.altitude = config.servers.uav.altitude_m
        self.v_min, self.v_max = tw.uav_speed_mps
        self.z_min = float(tw.z_min)
        self.z_max_range = tw.z_max
        self.f_max_range = tw.fidelity_max
        self.f_min = tw.fidelity_min
        self.speed_range = tw.steps_per_s
        self.budget = float(tw.step_budget)
        self.deadline = tw.deadline_s
        self.w1, self.w2 = tw.utility_weights
        self.data_bits = tuple(kb * KB_TO_BITS for kb in config.sensors.data_kb)
        self.beta0 = 10.0 ** (tw.beta0_db / 10.0)
        self.bandwidth_hz = config.servers.uav.bandwidth_mhz * 1e6
        self.power_w = config.sensors.power_w
        noise_dbm = config.channel.noise_dbm
        self.noise_w = float(dbm_to_w(-100.0 if noise_dbm is None else noise_dbm))
        self.concave = tw.fidelity_shape == "concave"
        self.aggregate = tw.delay_aggregate
        self.sensor_dim = SENSOR_FEATURES + 3 * self.U
        self.uav_dim = UAV_OWN + QUEUE_FEATURES * self.K_max
        self.uav_action_dim = 2 + self.K_max
        # a UAV's observation and action end in one block / one weight per queue slot, the
        # block's first column 1 when the slot holds a task (read by structured critics)
        self.uav_slots, self.uav_slot_obs = self.K_max, QUEUE_FEATURES
        self.state_dim = self.K * self.sensor_dim + self.U * self.uav_dim
        self.n_actions = 0  # continuous actions
        self.reward = make_reward(config, REWARD_TERMS, B, 1, reward=reward)
        self.sensor_window = (
            file_sensor_window(config) if config.sensors.placement == "file" else None
        )
        self.sensor_ids: list[tuple[str, ...]] | None = None
        self.t = 0
        self._ends = EpisodeEnds(np.zeros(B, dtype=bool))
        self._allocated = False

    # ------------------------------------------------------------------ reset
    def reset(self, seed: Seeds = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Draw every copy's episode from its seed; observations of slot 0."""
        B, K, U, T = self.B, self.K, self.U, self.horizon
        seeds = copy_seeds(seed, B)
        area = np.array([self.width, self.height])
        self.sensor_xy = np.empty((B, K, 2))
        self.uav_xy = np.empty((B, U, 2))
        self.f_u = np.empty((B, U))
        self.task_bits = np.empty((B, T, K))
        self.task_zmax = np.empty((B, T, K))
        self.task_fmax = np.empty((B, T, K))
        window = self.sensor_window
        self.sensor_ids = None if window is None else []
        for b, s in enumerate(seeds):
            rng = np.random.default_rng(s)
            self.sensor_xy[b] = rng.uniform(0.0, 1.0, (K, 2)) * area
            if window is not None and self.sensor_ids is not None:
                pick = window.choose(K, np.random.default_rng((SENSOR_STREAM, s)))
                self.sensor_xy[b] = window.xy_m[pick]
                self.sensor_ids.append(tuple(window.locations.sensor_id[i] for i in pick))
            self.uav_xy[b] = rng.uniform(0.0, 1.0, (U, 2)) * area
            self.f_u[b] = rng.uniform(*self.speed_range, U)
            draws = rng.random((3, T, K))
            self.task_bits[b] = self.data_bits[0] + draws[0] * (
                self.data_bits[1] - self.data_bits[0]
            )
            self.task_zmax[b] = self.z_max_range[0] + draws[1] * np.subtract(
                *self.z_max_range[::-1]
            )
            self.task_fmax[b] = self.f_max_range[0] + draws[2] * np.subtract(
                *self.f_max_range[::-1]
            )
        # the queue: which sensor sits in slot j of UAV u (−1: empty), with its task
        self.queue = np.full((B, U, self.K_max), -1, dtype=np.int64)
        self.q_bits = np.zeros((B, U, self.K_max))
        self.q_zmax = np.zeros((B, U, self.K_max))
        self.q_fmax = np.zeros((B, U, self.K_max))
        self.q_tx_s = np.zeros((B, U, self.K_max))
        self.t = 0
        self._ends = EpisodeEnds(np.zeros(B, dtype=bool))
        self.reward.reset(B)
        return self._observe(), {"seeds": np.asarray(seeds)}

    # ------------------------------------------------------------------ step
    def check_actions(self, actions: Mapping[str, ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
        """``actions`` as float arrays ``sensor [B, K]``, ``uav [B, U, 2 + K_max]`` in
        [−1, 1], else a ValueError naming the part, the value, the agent and the range."""
        if not isinstance(actions, Mapping) or set(actions) != {"sensor", "uav"}:
            got = sorted(actions) if isinstance(actions, Mapping) else type(actions).__name__
            raise ValueError(f"actions must be a dict with keys 'sensor' and 'uav', got {got}")
        out = []
        for part, shape in (
            ("sensor", (self.B, self.K)),
            ("uav", (self.B, self.U, self.uav_action_dim)),
        ):
            a = action_array(actions[part], f"actions['{part}']", f"numbers in [-1, 1], {shape}")
            if a.shape != shape:
                raise ValueError(f"actions['{part}'] have shape {a.shape}; expected {shape}")
            a = a.astype(np.float64)
            bad = ~np.isfinite(a) | (np.abs(a) > 1.0 + 1e-6)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"actions['{part}'][{', '.join(map(str, where))}] = {float(a[where])!r} (copy "
                    f"{where[0]}, {part} {where[1]}) is outside [-1, 1]"
                )
            out.append(np.clip(a, -1.0, 1.0))
        return out[0], out[1]

    def step(
        self, actions: Mapping[str, ArrayLike]
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One slot: serve last slot's tasks, fly, offload this slot's (module docstring)."""
        if not hasattr(self, "queue"):
            raise RuntimeError("call reset() before step()")
        if self.t >= self.horizon:
            raise RuntimeError(f"episode over after {self.horizon} slots: call reset()")
        sensor_a, uav_a = self.check_actions(actions)
        B, U, t = self.B, self.U, min(self.t, self.horizon - 1)
        with unchecked():
            # 1. serve the queue: eq. (18) steps, eq. (1) fidelity, eqs. (9)-(11) delay
            present = self.queue >= 0
            share = WEIGHT_FLOOR + (1.0 - WEIGHT_FLOOR) * (uav_a[..., 2:] + 1.0) / 2.0
            weights = np.where(present, share, 0.0)
            steps = allocate_steps(weights, np.full((B, U), self.budget))
            zmax = np.where(present, self.q_zmax, self.z_min + 1.0)
            fid = np.where(
                present, fidelity(steps, self.z_min, zmax, self.q_fmax, self.concave), 0.0
            )
            t_inf = steps / self.f_u[..., None]
            task_s = np.where(present, self.q_tx_s + t_inf, 0.0)
            owner = np.where(present, np.arange(U)[None, :, None], -1)
            delay = system_delay_s(task_s.reshape(B, -1), owner.reshape(B, -1), U, self.aggregate)
            utility = self.w1 * fid.sum(axis=(1, 2)) - self.w2 * delay  # eq. (12)
            c2 = (present & (fid < self.f_min)).sum(axis=(1, 2))
            c3 = (steps.sum(axis=-1) > self.budget * (1 + 1e-9)).sum(axis=1)
            c4 = (present & (task_s > self.deadline)).sum(axis=(1, 2))
            # 2. fly: eqs. (2)-(6)
            heading = np.pi * uav_a[..., 0]
            speed = self.v_min + (uav_a[..., 1] + 1.0) / 2.0 * (self.v_max - self.v_min)
            moved = uav_move(self.uav_xy, speed, heading, self.tau)
            area = np.array([self.width, self.height])
            inside = np.clip(moved, 0.0, area)
            c5 = np.any(inside != moved, axis=-1).sum(axis=1)
            self.uav_xy = inside
            # 3. offload this slot's tasks: eq. (21) choice, eqs. (7)-(9) upload
            choice = sensor_choice(sensor_a, U)
            c1 = self._enqueue(choice, t)
        served = present.sum(axis=(1, 2))
        terms = {
            "fidelity_sum": fid.sum(axis=(1, 2))[:, None],
            "delay_s": delay[:, None],
            "violations": (c2 + c4 + c5)[:, None].astype(np.float64),
            "utility": utility[:, None],
            "served": served[:, None].astype(np.float64),
            "offloaded": (choice >= 0).sum(axis=1)[:, None].astype(np.float64),
            "c1_dropped": c1[:, None].astype(np.float64),
            "c2_low_fidelity": c2[:, None].astype(np.float64),
            "c3_over_budget": c3[:, None].astype(np.float64),
            "c4_late": c4[:, None].astype(np.float64),
            "c5_border": c5[:, None].astype(np.float64),
        }
        reward, components = self.reward(terms)
        self.t += 1
        self._ends.update(np.zeros(B, dtype=bool), np.full(B, self.t >= self.horizon))
        terminated, truncated = self._ends.flags()
        info: dict[str, Any] = {
            **terms,
            "reward_components": components,
            "steps": steps,
            "task_fidelity": fid,
            "task_delay_s": task_s,
            "choice": choice,
            "uav_xy": self.uav_xy.copy(),
            "sensor_xy": self.sensor_xy,
        }
        return self._observe(), reward, terminated, truncated, info

    def _enqueue(self, choice: np.ndarray, t: int) -> np.ndarray:
        """Queue the tasks of slot ``t`` on their UAVs (first K_max by sensor index); the
        number dropped per copy (C1)."""
        U, Km = self.U, self.K_max
        on = choice[:, None, :] == np.arange(U)[None, :, None]  # [B, U, K]
        rank = np.cumsum(on, axis=-1) - 1
        keep = on & (rank < Km)
        dropped = (on & ~keep).sum(axis=(1, 2))
        self.queue.fill(-1)
        b, u, k = np.nonzero(keep)
        j = rank[b, u, k]
        self.queue[b, u, j] = k
        bits = self.task_bits[:, t]
        d2 = ((self.sensor_xy[b, k] - self.uav_xy[b, u]) ** 2).sum(axis=-1)
        gain = inverse_square_gain(self.beta0, np.sqrt(d2), self.altitude)
        rate = shannon_rate_bps(self.bandwidth_hz, self.power_w, gain, self.noise_w)
        for arr in (self.q_bits, self.q_zmax, self.q_fmax, self.q_tx_s):
            arr.fill(0.0)
        self.q_bits[b, u, j] = bits[b, k]
        self.q_zmax[b, u, j] = self.task_zmax[b, t, k]
        self.q_fmax[b, u, j] = self.task_fmax[b, t, k]
        self.q_tx_s[b, u, j] = bits[b, k] / rate
        return dropped

    # ------------------------------------------------------------------ episode record
    def episode_static(self, b: int) -> dict[str, Any]:
        """Copy ``b``'s fixed part of an episode record (:mod:`vtwin.episode`; call after
        ``reset``): the UAVs (the only servers, at their start; no coverage limit)."""
        return {
            "paper": "D",
            "area_m": np.array([self.width, self.height]),
            "slot_s": self.tau,
            "origin_latlon": None,
            "entity": "sensor",
            "n_entities": self.K,
            "servers": episode_servers(["UAV"] * self.U, self.uav_xy[b], np.full(self.U, np.inf)),
            "uav_servers": list(range(self.U)),
            "host_label": "UAV the task is offloaded to",
            "serving_label": None,
            "latency_label": f"system delay T(t) ({self.aggregate}, s)",
        }

    def episode_state(self, b: int) -> dict[str, Any]:
        """Copy ``b`` at the start of the current slot: sensors and UAVs (m)."""
        return {
            "t": self.t,
            "entities": self.sensor_xy[b].copy(),
            "active": np.ones(self.K, dtype=bool),
            "uavs": self.uav_xy[b].copy(),
        }

    def episode_outcome(self, b: int, reward: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        """What copy ``b``'s slot gave, from ``step``'s reward and info: each sensor's UAV
        (−1: no offload), the system delay, the reward and the named terms."""
        return {
            "host": info["choice"][b],
            "latency_s": float(np.asarray(info["delay_s"])[b, 0]),
            "reward": float(np.asarray(reward)[b, 0]),
            "terms": episode_terms(info, list(REWARD_TERMS), b),
        }

    # ------------------------------------------------------------------ observation
    def _observe(self) -> dict[str, np.ndarray]:
        """Sensor and UAV observations of the coming slot and the global state (float32)."""
        B, K, U = self.B, self.K, self.U
        area = np.array([self.width, self.height])
        t = min(self.t, self.horizon - 1)
        z_hi = self.z_max_range[1]
        f_hi = self.speed_range[1]
        uav_feats = np.concatenate([self.uav_xy / area, (self.f_u / f_hi)[..., None]], axis=-1)
        sensor = np.concatenate(
            [
                (self.task_zmax[:, t] / z_hi)[..., None],
                self.sensor_xy / area,
                (self.task_fmax[:, t] / self.f_max_range[1])[..., None],
                np.broadcast_to(uav_feats.reshape(B, 1, 3 * U), (B, K, 3 * U)),
            ],
            axis=-1,
        )
        present = self.queue >= 0
        k = np.where(present, self.queue, 0)
        bidx = np.arange(B)[:, None, None]
        sxy = np.where(present[..., None], self.sensor_xy[bidx, k] / area, 0.0)
        queue = np.concatenate(
            [
                present[..., None].astype(np.float64),
                sxy,
                (self.q_bits / max(self.data_bits[1], 1.0))[..., None],
                (self.q_zmax / z_hi)[..., None],
                (self.q_fmax / self.f_max_range[1])[..., None],
            ],
            axis=-1,
        )  # [B, U, K_max, 6]
        uav = np.concatenate([uav_feats, queue.reshape(B, U, -1)], axis=-1)
        state = np.concatenate([sensor.reshape(B, -1), uav.reshape(B, -1)], axis=-1)
        return {
            "sensor": sensor.astype(np.float32),
            "uav": uav.astype(np.float32),
            "state": state.astype(np.float32),
        }

    # ------------------------------------------------------------------ random acting
    def random_actions(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Uniform actions in [−1, 1] for every agent."""
        return {
            "sensor": rng.uniform(-1.0, 1.0, (self.B, self.K)),
            "uav": rng.uniform(-1.0, 1.0, (self.B, self.U, self.uav_action_dim)),
        }


def _agent_values(agent: str, value: Any, size: int, allowed: str) -> np.ndarray:
    """One agent's action as ``size`` finite floats in [−1, 1], else a ValueError naming the
    agent, the value and what is allowed."""
    a = action_array(value, f"action of {agent}", allowed).astype(np.float64).reshape(-1)
    if a.size != size:
        raise ValueError(f"action of {agent} holds {a.size} number(s); allowed: {allowed}")
    bad = ~np.isfinite(a) | (np.abs(a) > 1.0 + 1e-6)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"action of {agent}: value {a[i]!r} (entry {i}) is outside [-1, 1]; allowed: {allowed}"
        )
    return a


class TwinUpdateEnv(SingleCopyParallelEnv[np.ndarray, np.ndarray]):
    """vtwin/TwinUpdate-v0 — paper D's DMI offloading as a PettingZoo ParallelEnv.

    A ``B = 1`` view of :class:`BatchedTwinUpdate` (see it and the module docstring for the
    dynamics). Heterogeneous agents: ``sensor_0 … sensor_{K−1}`` and ``uav_0 … uav_{U−1}``.

    ## Action space
    Sensor: ``Box(−1, 1, (1,))`` — U + 1 equal bins: "no offload", UAV 0, …, UAV U−1
    (eq. (21)). UAV: ``Box(−1, 1, (2 + K_max,))`` — heading (×π), speed (−1 → v_min,
    1 → v_max), then one weight per queue slot (eq. (18)).

    ## Observation space
    Sensor: ``Box(0, 1, (4 + 3U,))`` — its task's z_max, its position, its task's F_max
    (ours), every UAV's position and compute. UAV: ``Box(0, 1, (3 + 6 K_max,))`` — its
    position and compute, then per queue slot: present, the sensor's position, D_k, z_max,
    F_max (all scaled to [0, 1]). ``state()``: every observation flattened (centralised
    critics).

    ## Rewards
    Every agent gets the slot's global reward: ``paper-d`` (eqs. (19)–(20)), the system
    utility ``w1 Σ F − w2 T`` minus ``reward.weights.violation`` per violated C2/C4/C5; its
    parts are in ``info[agent]["reward_components"]``, every term in ``info[agent]``.

    ## Starting state
    Sensors and UAVs uniform in the area, each UAV's compute and all tasks drawn from the
    seed; UAV queues empty (the first slot serves nothing). With ``sensors.placement =
    'file'`` the sensors sit on real road positions instead: K of a fixed window's sensors,
    drawn from the seed (module docstring).

    ## Episode end
    No termination; every agent is truncated after ``horizon_slots`` slots.

    ## Arguments
    ``preset`` (default ``"paper-d"``) or ``config``, ``overrides`` (dotted ``key=value``),
    ``reward`` (a user reward callable; default the preset's ``reward``).

    ## Version history
    * v0: first version (SPEC §D, issue 19); before any release, sensors also observe their
      task's F_max (4 + 3U columns, was 3 + 3U).
    """

    metadata = {  # noqa: RUF012 (pettingzoo convention)
        "name": ENV_ID,
        "render_modes": [],
        "is_parallelizable": True,
    }
    batched: BatchedTwinUpdate  # type: ignore[assignment]  # dict actions, not [B, V] indices

    def __init__(
        self,
        preset: str = "paper-d",
        overrides: Sequence[str] = (),
        config: VTwinConfig | None = None,
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the env from a preset name (or a config) plus dotted overrides."""
        cfg = view_config(preset, config, overrides)
        self.batched = BatchedTwinUpdate(cfg, 1, reward=reward)
        b = self.batched
        self.render_mode = None
        self.sensors = [f"sensor_{k}" for k in range(b.K)]
        self.uavs = [f"uav_{u}" for u in range(b.U)]
        self.possible_agents = [*self.sensors, *self.uavs]
        self.agents: list[str] = []
        self.observation_spaces: dict[str, gym.spaces.Space[Any]] = {
            **{a: spaces.Box(0.0, 1.0, (b.sensor_dim,), dtype=np.float32) for a in self.sensors},
            **{a: spaces.Box(0.0, 1.0, (b.uav_dim,), dtype=np.float32) for a in self.uavs},
        }
        self.action_spaces: dict[str, gym.spaces.Space[Any]] = {
            **{a: spaces.Box(-1.0, 1.0, (1,), dtype=np.float32) for a in self.sensors},
            **{a: spaces.Box(-1.0, 1.0, (b.uav_action_dim,), dtype=np.float32) for a in self.uavs},
        }
        self.state_space = spaces.Box(0.0, 1.0, (b.state_dim,), dtype=np.float32)
        self._np_random = None
        self._obs: dict[str, np.ndarray] = {}

    def state(self) -> np.ndarray:
        """The global state of the current slot, ``[state_dim]`` float32."""
        return self._obs["state"][0].copy()

    def _split(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._obs = obs
        out = {a: obs["sensor"][0, k] for k, a in enumerate(self.sensors)}
        out |= {a: obs["uav"][0, u] for u, a in enumerate(self.uavs)}
        return out

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode; a given seed makes it reproducible."""
        copy_seed = self._copy_seed(seed)
        obs, _ = self.batched.reset([copy_seed])
        self.agents = list(self.possible_agents)
        return self._split(obs), {a: {"seed": copy_seed} for a in self.agents}

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """One slot with every agent's action (all agents act every slot)."""
        if not self.agents:
            raise RuntimeError("call reset() before step(): the episode has not started or is over")
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"actions must be a dict {{agent: action}} for the agents {self.agents}, got "
                f"{type(actions).__name__}"
            )
        unknown = [a for a in actions if a not in self.possible_agents]
        if unknown:
            raise ValueError(f"unknown agent(s) {unknown}; agents are {self.possible_agents}")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for agent(s) {missing}: every agent acts every slot")
        b = self.batched
        sensor = np.zeros((1, b.K))
        uav = np.zeros((1, b.U, b.uav_action_dim))
        uav_allowed = f"{b.uav_action_dim} numbers in [-1, 1] (heading, speed, {b.K_max} weights)"
        for k, a in enumerate(self.sensors):
            value = _agent_values(a, actions[a], 1, "1 number in [-1, 1]")
            sensor[0, k] = value[0]
        for u, a in enumerate(self.uavs):
            uav[0, u] = _agent_values(a, actions[a], b.uav_action_dim, uav_allowed)
        obs, reward, _, truncated, info = b.step({"sensor": sensor, "uav": uav})
        r = float(reward[0, 0])
        squeezed = {
            k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == 1 else v)
            for k, v in info.items()
            if k != "reward_components"
        }
        squeezed["reward_components"] = {
            k: float(v[0, 0]) for k, v in info["reward_components"].items()
        }
        done = bool(truncated[0])
        observations = self._split(obs)
        agents = list(self.agents)
        if done:
            self.agents = []
        return (
            observations,
            dict.fromkeys(agents, r),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, done),
            {a: dict(squeezed) for a in agents},
        )
