"""Gymnasium views of vtwin's envs that Stable-Baselines3 (SB3) and sb3-contrib train on.

SB3 learns one agent on a Gymnasium env with a ``Box``, ``Discrete`` or ``MultiDiscrete``
action; sb3-contrib's ``MaskablePPO`` also calls the env's ``action_masks()`` before each
action (one flat boolean row: for ``MultiDiscrete([n1, n2, …])`` the masks of every
dimension side by side, ``n1 + n2 + …`` entries). This module only needs Gymnasium: it
never imports SB3, which stays an optional extra (``pip install 'vtwin[sb3]'``).

=====================  ==========================  =============================================
view                   env                         what the learner is
=====================  ==========================  =============================================
``premigration``       :func:`premigration_env`    paper A (``vtwin/PreMigration-v1``) with
                                                   ``action_masks()`` (all ones: paper A allows
                                                   every server and share)
``routing-vehicle``    :class:`RoutingVehicleEnv`  one vehicle of paper B; the others follow a
                                                   fixed policy (greedy, random or a callable)
``routing-joint``      :class:`RoutingJointEnv`    every vehicle of paper B at once:
                                                   concatenated observations, ``MultiDiscrete``
                                                   joint action, flattened masks
``privacy``            :class:`PrivacyBoxEnv`      paper C's hybrid action as one ``Box`` in
                                                   [−1, 1] (radius, angle, server bins)
``twin-update``        :class:`TwinUpdateCentralEnv`  paper D as one centralised agent over
                                                   the global state, ``Box`` actions
=====================  ==========================  =============================================

:func:`make_sb3_env` builds any of them by view name. Every view is a ``B = 1`` copy of the
batched env it wraps (``env.batched`` or ``env.unwrapped.batched``), so its dynamics are the
batched env's; ``reset(seed=s)`` plays the same episode as the batched env reset with ``s``,
and ``reset()`` without a seed draws the next episode seed from the env's generator (seeded
by the last given seed). Example::

    from sb3_contrib import MaskablePPO
    from vtwin.interop.sb3 import RoutingVehicleEnv

    env = RoutingVehicleEnv("paper-b-tiny", vehicle=0, others="greedy")
    model = MaskablePPO("MlpPolicy", env, seed=0).learn(5_000)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from vtwin.arrays import BoolArray
from vtwin.config import VTwinConfig
from vtwin.envs.base import SingleCopyEnv, check_agent_action, view_config
from vtwin.envs.privacy import TWO_PI, CrossRealityPrivacyEnv
from vtwin.envs.routing import BatchedMigrationRouting
from vtwin.envs.twin_update import BatchedTwinUpdate

if TYPE_CHECKING:
    from vtwin.forecast.predictor import Predictor
    from vtwin.rewards import Reward, RewardFn

__all__ = [
    "OTHER_POLICIES",
    "TWIN_VIEWS",
    "VIEWS",
    "InfoActionMasks",
    "OthersPolicy",
    "PrivacyBoxEnv",
    "RoutingJointEnv",
    "RoutingVehicleEnv",
    "TwinUpdateCentralEnv",
    "effective_mask",
    "make_sb3_env",
    "premigration_env",
    "twin_action_width",
    "twin_split_action",
]

OTHER_POLICIES = ("greedy", "random")
"""Names of the fixed policies :class:`RoutingVehicleEnv` can drive the other vehicles with
(``vtwin.training.make_agent``'s paper B rules: nearest feasible server with ε-random
exploration; uniformly random server)."""

OthersPolicy = Callable[[dict[str, np.ndarray]], ArrayLike]
"""A policy for the other vehicles: the batched observation dict of the one copy
(``"observation"`` ``[1, V, obs_dim]``, ``"action_mask"`` ``[1, V, M]``, ``"active"``
``[1, V]``, ``"state"`` ``[1, state_dim]``) → server indices ``[V]`` or ``[1, V]`` (the
learner's entry is ignored). A trained vtwin agent fits as
``lambda obs: agent.act(obs, deterministic=True)``."""

TWIN_VIEWS = ("joint", "uav")
"""Paper D views: the whole joint action, or the UAVs' part with the sensors by the rule."""


def effective_mask(mask: ArrayLike) -> BoolArray:
    """The mask (last axis = actions) with every all-False row made all-True.

    Paper B without a satellite can leave a vehicle no feasible server; every action is then
    as good as any, and sb3-contrib needs at least one allowed action per dimension.
    """
    m = np.asarray(mask, dtype=bool)
    return m | ~m.any(axis=-1, keepdims=True)


def _mask_width(space: spaces.Space[Any]) -> int:
    """Entries of a flat sb3-contrib mask for ``space`` (Discrete or MultiDiscrete)."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    raise ValueError(
        f"action space {space} has no action mask: only Discrete and MultiDiscrete actions do"
    )


# ---------------------------------------------------------------------------- paper A
class InfoActionMasks(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Gives an env that reports ``info["action_mask"]`` the ``action_masks()`` method of
    sb3-contrib: the mask of the last ``reset``/``step``, flattened (one row per vehicle
    side by side for a ``MultiDiscrete`` action), all-False rows read as all-True."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        """Wrap ``env`` (its action space must be Discrete or MultiDiscrete)."""
        gym.utils.RecordConstructorArgs.__init__(self)  # so env.spec can rebuild the stack
        gym.Wrapper.__init__(self, env)
        self._width = _mask_width(env.action_space)
        self._mask: BoolArray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and keep its mask."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._mask = self._read(info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and keep its mask."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._mask = self._read(info)
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> BoolArray:
        """The current mask, ``[n]`` for ``Discrete(n)``, ``[Σ nvec]`` for ``MultiDiscrete``."""
        if self._mask is None:
            raise RuntimeError("call reset() before action_masks()")
        return self._mask.copy()

    def _read(self, info: dict[str, Any]) -> BoolArray:
        if "action_mask" not in info:
            raise ValueError(
                f"{self.env.spec.id if self.env.spec else type(self.env).__name__} reports no "
                "info['action_mask']; InfoActionMasks needs an env that does"
            )
        mask = effective_mask(info["action_mask"]).reshape(-1)
        if mask.size != self._width:
            raise ValueError(
                f"info['action_mask'] has {mask.size} entries; the action space "
                f"{self.env.action_space} needs {self._width}"
            )
        return mask


def premigration_env(
    preset: str = "paper-a",
    *,
    config: VTwinConfig | None = None,
    overrides: Sequence[str] = (),
    planner: str | None = None,
    reward: Reward | RewardFn | None = None,
) -> InfoActionMasks:
    """Paper A's ``vtwin/PreMigration-v1`` (``gym.make``) with ``action_masks()``.

    The action is ``Discrete(M·K)`` for one vehicle (``MultiDiscrete`` for several), the
    observation a ``Box`` in [0, 1] — both as the env defines them; PPO trains on the bare
    env as well. Paper A allows every (server, share) pair, so the mask is all ones and
    MaskablePPO behaves as PPO; the wrapper keeps the two learners on one env.
    """
    env = gym.make(
        "vtwin/PreMigration-v1",
        preset=preset,
        config=config,
        overrides=tuple(overrides),
        planner=planner,
        reward=reward,
    )
    return InfoActionMasks(env)


# ---------------------------------------------------------------------------- paper B
def _routing(
    preset: str,
    config: VTwinConfig | None,
    overrides: Sequence[str],
    predictor: Predictor | None,
    reward: Reward | RewardFn | None,
) -> BatchedMigrationRouting:
    cfg = view_config(preset, config, overrides)
    return BatchedMigrationRouting(cfg, 1, predictor=predictor, reward=reward)


def _routing_obs_space(b: BatchedMigrationRouting, vehicles: int) -> spaces.Box:
    """Per vehicle its observation row and its ``active`` flag (loads over L_max are not
    capped, hence no finite upper bound)."""
    return spaces.Box(0.0, np.inf, (vehicles * (b.obs_dim + 1),), dtype=np.float32)


class RoutingVehicleEnv(SingleCopyEnv[NDArray[np.float32], int]):
    """Paper B with one vehicle (``vehicle``) as the learner and the others driven by a
    fixed policy (``others``).

    **Observation** ``Box(0, ∞, (obs_dim + 1,), float32)``: the vehicle's row of the routing
    observation (:class:`vtwin.envs.routing.BatchedMigrationRouting`: distances, loads as
    predicted, position, time, current host) and 1.0 while it drives (0.0 before a trace
    starts or after arrival).

    **Action** ``Discrete(M)``: the server hosting the vehicle's twin this slot. Masked
    (infeasible) servers are still executed, as in the env; ``action_masks()`` gives the
    vehicle's mask (paper B eqs. (23)–(24); an all-False row, possible without a satellite,
    as all-True) and ``info["action_mask"]`` the same.

    **Reward** the vehicle's own reward of the configured reward (paper B eq. (22) by
    default; 0 in slots it does not drive). **Episode**: terminated when the vehicle reaches
    its destination (or every vehicle has), truncated after ``horizon_slots``.

    **Others**: ``"greedy"`` (nearest feasible server, ε-random with ``others_params``'
    ``epsilon``, default 0.1) or ``"random"`` (uniform over all servers), re-seeded from the
    episode seed at every reset, or an :data:`OthersPolicy` callable. ``info`` holds the
    learner's per-slot terms (``latency_s``, ``load_mb``, ``failure``, ``migrated``,
    ``infeasible``, ``server``, ``reward_components``) and ``others`` (all vehicles' actions).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium convention)
    batched: BatchedMigrationRouting

    def __init__(
        self,
        preset: str = "paper-b-city",
        *,
        config: VTwinConfig | None = None,
        overrides: Sequence[str] = (),
        vehicle: int = 0,
        others: str | OthersPolicy = "greedy",
        others_params: Mapping[str, Any] | None = None,
        predictor: Predictor | None = None,
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the routing env from a preset (or config) plus overrides, the learner
        ``vehicle`` (index in ``[0, vehicles.count)``) and the others' policy."""
        self.batched = _routing(preset, config, overrides, predictor, reward)
        b = self.batched
        if (
            isinstance(vehicle, bool)
            or not isinstance(vehicle, int | np.integer)
            or not 0 <= vehicle < b.V
        ):
            raise ValueError(
                f"vehicle = {vehicle!r}: must be an integer in [0, {b.V}) (vehicles.count = {b.V})"
            )
        self.vehicle = int(vehicle)
        self.others = others
        self.others_params = dict(others_params or {})
        if isinstance(others, str):
            if others not in OTHER_POLICIES:
                raise ValueError(
                    f"others = {others!r}: allowed are {', '.join(OTHER_POLICIES)} "
                    "or a callable (observation dict → actions [V])"
                )
            self._build_others(0)  # unknown or bad parameters fail now
        elif callable(others):
            if self.others_params:
                raise ValueError(
                    f"others_params = {self.others_params}: only the named policies "
                    f"({', '.join(OTHER_POLICIES)}) take parameters"
                )
        else:
            raise ValueError(
                f"others = {others!r}: allowed are {', '.join(OTHER_POLICIES)} or a callable"
            )
        self._policy: OthersPolicy | None = None if isinstance(others, str) else others
        self.observation_space: spaces.Space[Any] = _routing_obs_space(b, 1)
        self.action_space: spaces.Space[Any] = spaces.Discrete(b.M)
        self._obs: dict[str, np.ndarray] = {}

    def _build_others(self, seed: int) -> OthersPolicy:
        from vtwin.training import make_agent

        assert isinstance(self.others, str)
        agent = make_agent(
            self.others, self.batched, seed=seed, device="cpu", params=self.others_params
        )
        return lambda obs: agent.act(obs, deterministic=True)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode; a given seed makes it reproducible, None draws one."""
        self._obs, _, copy_seed = self._reset_copy(seed)
        if isinstance(self.others, str):  # the others' draws follow the episode seed
            sub = np.random.SeedSequence([copy_seed, 1]).generate_state(1)[0]
            self._policy = self._build_others(int(sub))
        info = {
            "seed": copy_seed,
            "action_mask": self.action_masks(),
            "active": bool(self._obs["active"][0, self.vehicle]),
        }
        return self._observe(), info

    def step(
        self, action: Any
    ) -> tuple[NDArray[np.float32], SupportsFloat, bool, bool, dict[str, Any]]:
        """One slot: the learner's server, the others' by their policy."""
        if not self._obs or self._policy is None:
            raise RuntimeError("call reset() before step()")
        b, v = self.batched, self.vehicle
        own = check_agent_action(f"vehicle {v}", action, b.M)
        actions = self._others_actions(self._policy(self._obs))
        actions[0, v] = own
        self._obs, reward, term, trunc, info = b.step(actions)
        terminated = bool(info["arrived"][0, v]) or bool(term[0])
        truncated = bool(trunc[0]) and not terminated
        out: dict[str, Any] = {
            key: info[key][0, v].item()
            for key in ("latency_s", "load_mb", "failure", "migrated", "infeasible", "server")
        }
        out["reward_components"] = {k: float(x[0, v]) for k, x in info["reward_components"].items()}
        out["others"] = actions[0].copy()
        out["action_mask"] = self.action_masks()
        out["active"] = bool(self._obs["active"][0, v])
        return self._observe(), float(reward[0, v]), terminated, truncated, out

    def action_masks(self) -> BoolArray:
        """The learner's feasible servers ``[M]`` (an all-False row as all-True)."""
        if not self._obs:
            raise RuntimeError("call reset() before action_masks()")
        return effective_mask(self._obs["action_mask"][0, self.vehicle])

    def _others_actions(self, raw: ArrayLike) -> NDArray[np.int64]:
        V = self.batched.V
        a = np.asarray(raw)
        if a.shape not in ((V,), (1, V)):
            raise ValueError(
                f"the others' policy returned actions of shape {a.shape}; expected ({V},) "
                f"or (1, {V})"
            )
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(
                f"the others' policy returned actions of dtype {a.dtype}; expected integer "
                "server indices"
            )
        return np.array(a, dtype=np.int64).reshape(1, V)

    def _observe(self) -> NDArray[np.float32]:
        v = self.vehicle
        row = self._obs["observation"][0, v]
        active = np.float32(self._obs["active"][0, v])
        return np.append(row, active).astype(np.float32)


class RoutingJointEnv(SingleCopyEnv[NDArray[np.float32], NDArray[np.int64]]):
    """Paper B with every vehicle as one learner (a flattened multi-agent view).

    **Observation** ``Box(0, ∞, (V·(obs_dim + 1),), float32)``: per vehicle (vehicle-major)
    its observation row, then its ``active`` flag. **Action** ``MultiDiscrete([M]·V)``: each
    vehicle's host (ignored for vehicles not driving). ``action_masks()``: the V mask rows
    side by side (``V·M`` entries, sb3-contrib's layout for ``MultiDiscrete``; all-False rows
    as all-True). **Reward** the mean over the V vehicles of the configured reward (0 for a
    vehicle not driving), as :class:`vtwin.envs.base.SingleCopyEnv` reduces it.
    **Episode**: terminated when every vehicle has arrived, truncated after
    ``horizon_slots``. ``info`` is the batched env's step info for the copy (per-vehicle
    arrays ``[V]``).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium convention)
    batched: BatchedMigrationRouting

    def __init__(
        self,
        preset: str = "paper-b-city",
        *,
        config: VTwinConfig | None = None,
        overrides: Sequence[str] = (),
        predictor: Predictor | None = None,
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the routing env from a preset (or config) plus overrides."""
        self.batched = _routing(preset, config, overrides, predictor, reward)
        b = self.batched
        self.observation_space: spaces.Space[Any] = _routing_obs_space(b, b.V)
        self.action_space = spaces.MultiDiscrete(np.full(b.V, b.M))
        self._obs: dict[str, np.ndarray] = {}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode; a given seed makes it reproducible, None draws one."""
        self._obs, info, copy_seed = self._reset_copy(seed)
        return self._observe(), info | {"seed": copy_seed}

    def step(
        self, action: Any
    ) -> tuple[NDArray[np.float32], SupportsFloat, bool, bool, dict[str, Any]]:
        """One slot for every vehicle; returns obs, mean reward, terminated, truncated, info."""
        if not self._obs:
            raise RuntimeError("call reset() before step()")
        self._obs, reward, terminated, truncated, info = self._step_copy(action)
        return self._observe(), reward, terminated, truncated, info

    def action_masks(self) -> BoolArray:
        """Every vehicle's feasible servers, side by side ``[V·M]``."""
        if not self._obs:
            raise RuntimeError("call reset() before action_masks()")
        return effective_mask(self._obs["action_mask"][0]).reshape(-1)

    def _observe(self) -> NDArray[np.float32]:
        rows = self._obs["observation"][0]
        active = self._obs["active"][0].astype(np.float32)[:, None]
        return np.concatenate([rows, active], axis=1).reshape(-1).astype(np.float32)


# ---------------------------------------------------------------------------- paper C
class PrivacyBoxEnv(CrossRealityPrivacyEnv):
    """Paper C (``vtwin/CrossRealityPrivacy-v0``) with its hybrid action as one ``Box``.

    Action ``Box(−1, 1, (3M,), float32)`` for the M AVs, three blocks of M: radius, angle,
    server. Each value ``x`` maps through ``u = (x + 1)/2`` (clipped to [0, 1]) to a radius
    ``u · r_max`` (degrees), an angle ``u · 2π`` and the server of bin ``⌊u · S⌋`` among
    ``S = N + 1`` equal bins (RSUs, then the satellite) — the binning paper D's eq. (21)
    uses for its sensors' choice. Observation, reward (mean over AVs), episode and ``info``
    are those of :class:`vtwin.envs.privacy.CrossRealityPrivacyEnv`.
    """

    def __init__(
        self,
        preset: str = "paper-c-synth",
        *,
        config: VTwinConfig | None = None,
        overrides: Sequence[str] = (),
        reward: Reward | RewardFn | None = None,
    ) -> None:
        """Build the privacy env from a preset (or config) plus overrides; a Box action."""
        super().__init__(preset, config=config, overrides=overrides, reward=reward)
        M = self.batched.M
        self.action_space = spaces.Box(-1.0, 1.0, (3 * M,), dtype=np.float32)  # type: ignore[assignment]

    def step(  # type: ignore[override]  # a Box action instead of the dict
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], SupportsFloat, bool, bool, dict[str, Any]]:
        """One slot for all AVs; returns obs, mean reward over AVs, terminated, truncated, info."""
        return super().step(self.decode(action))

    def decode(self, action: ArrayLike) -> dict[str, np.ndarray]:
        """The Box action → per AV ``radius_deg``, ``angle_rad`` and ``server`` ``[M]``."""
        b = self.batched
        a = np.asarray(action, dtype=np.float64)
        if a.size != 3 * b.M:
            raise ValueError(f"action has {a.size} values; expected {3 * b.M} (3 per AV)")
        if not np.isfinite(a).all():
            raise ValueError(f"action {a.tolist()} has non-finite values; give values in [-1, 1]")
        u = np.clip((a.reshape(3, b.M) + 1.0) / 2.0, 0.0, 1.0)
        return {
            "radius_deg": u[0] * b.r_max_deg,
            "angle_rad": u[1] * TWO_PI,
            "server": np.minimum(np.floor(u[2] * b.S), b.S - 1).astype(np.int64),
        }


# ---------------------------------------------------------------------------- paper D
def twin_action_width(env: BatchedTwinUpdate, view: str) -> int:
    """The centralised agent's action size in ``view`` (``joint``: ``K + U(2 + K_max)``)."""
    return (env.K if view == "joint" else 0) + env.U * env.uav_action_dim


def twin_split_action(env: BatchedTwinUpdate, flat: ArrayLike, view: str) -> dict[str, np.ndarray]:
    """Flat actions ``[B, n]`` → the env's ``{"sensor", "uav"}``, clipped to [−1, 1]
    (``uav`` view: no ``"sensor"`` entry, for the caller to fill)."""
    a = np.clip(np.asarray(flat, dtype=np.float64), -1.0, 1.0)
    B = a.shape[0]
    k = env.K if view == "joint" else 0
    out = {"uav": a[:, k:].reshape(B, env.U, env.uav_action_dim)}
    if view == "joint":
        out["sensor"] = a[:, :k]
    return out


class TwinUpdateCentralEnv(gym.Env[NDArray[np.float32], NDArray[np.float32]]):
    """Paper D (``vtwin/TwinUpdate-v0``) as one centralised agent over
    ``BatchedTwinUpdate(config, 1)``.

    Observation the global ``"state"`` row (``Box(0, 1, (state_dim,))``); action in
    [−1, 1]: ``view="joint"`` the whole joint action ``K + U(2 + K_max)`` (sensors first,
    as ``HATD3Agent.joint_action`` lays it out), ``view="uav"`` the UAVs' part only with the
    sensors following vtwin's rule reference (nearest UAV with room); reward the shared
    per-slot reward × ``reward_scale``; truncated at the horizon, never terminal.

    Episode seeds: ``reset(seed=s)`` plays seed ``s`` and the following resets ``s +
    stride``, ``s + 2·stride``, …; before any seed, the first is ``first_seed`` (so ``n``
    vector copies with ``first_seed = i`` and ``stride = n`` never share an episode).
    ``info`` holds the slot's unscaled ``reward``, ``utility``, ``served`` and ``c1_dropped``.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium convention)

    def __init__(
        self,
        preset: str = "paper-d",
        *,
        config: VTwinConfig | None = None,
        overrides: Sequence[str] = (),
        view: str = "joint",
        reward_scale: float = 0.01,
        first_seed: int = 0,
        stride: int = 1,
    ) -> None:
        """One copy of the preset's (or ``config``'s) world; the rule is built only for the
        ``uav`` view."""
        if view not in TWIN_VIEWS:
            raise ValueError(f"view = {view!r}: allowed are {', '.join(TWIN_VIEWS)}")
        if not np.isfinite(reward_scale) or reward_scale <= 0:
            raise ValueError(f"reward_scale = {reward_scale}: must be a finite number > 0")
        if first_seed < 0 or stride < 1:
            raise ValueError(
                f"first_seed = {first_seed}, stride = {stride}: need first_seed ≥ 0, stride ≥ 1"
            )
        self.batched = BatchedTwinUpdate(view_config(preset, config, overrides), 1)
        self.view, self.reward_scale = view, float(reward_scale)
        self.next_seed, self.stride = int(first_seed), int(stride)
        b = self.batched
        self.rule: Any = None
        if view == "uav":
            from vtwin.training import make_agent

            self.rule = make_agent("rule", b, seed=0, device="cpu", params={})
        self.observation_space = spaces.Box(0.0, 1.0, (b.state_dim,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (twin_action_width(b, view),), dtype=np.float32)
        self._obs: dict[str, np.ndarray] = {}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start the next episode (class docstring for its seed)."""
        super().reset(seed=seed)
        if seed is not None:
            self.next_seed = int(seed)
        episode_seed, self.next_seed = self.next_seed, self.next_seed + self.stride
        self._obs, _ = self.batched.reset([episode_seed])
        return self._obs["state"][0].astype(np.float32), {"seed": episode_seed}

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """One slot of the world."""
        if not self._obs:
            raise RuntimeError("call reset() before step()")
        actions = twin_split_action(self.batched, np.asarray(action).reshape(1, -1), self.view)
        if self.rule is not None:
            actions["sensor"] = self.rule.act(self._obs, deterministic=True)["sensor"]
        self._obs, reward, _, truncated, info = self.batched.step(actions)
        r = float(reward[0, 0])
        out = {k: float(info[k][0, 0]) for k in ("utility", "served", "c1_dropped")}
        return (
            self._obs["state"][0].astype(np.float32),
            r * self.reward_scale,
            False,
            bool(truncated[0]),
            out | {"reward": r},
        )


# ---------------------------------------------------------------------------- by name
VIEWS: dict[str, Callable[..., gym.Env[Any, Any]]] = {
    "premigration": premigration_env,
    "routing-vehicle": RoutingVehicleEnv,
    "routing-joint": RoutingJointEnv,
    "privacy": PrivacyBoxEnv,
    "twin-update": TwinUpdateCentralEnv,
}
"""View name → its constructor (module docstring)."""


def make_sb3_env(view: str, preset: str | None = None, **options: Any) -> gym.Env[Any, Any]:
    """The Gymnasium view ``view`` (a key of :data:`VIEWS`) of ``preset`` (default: the
    view's), ``options`` going to its constructor (e.g. ``vehicle=1, others="random"``)."""
    build = VIEWS.get(view)
    if build is None:
        raise ValueError(f"view = {view!r}: allowed are {', '.join(VIEWS)}")
    return build(**options) if preset is None else build(preset, **options)
