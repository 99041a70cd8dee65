"""What every batched env shares: the protocol, per-copy seeds, action checks, finished
copies, and the single-copy (``B = 1``) Gymnasium and PettingZoo views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, SupportsFloat, TypeVar, runtime_checkable

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike, NDArray
from pettingzoo import ParallelEnv

from vtwin.arrays import BoolArray
from vtwin.config import VTwinConfig, load_config

__all__ = [
    "BatchedEnv",
    "EpisodeEnds",
    "SingleCopyEnv",
    "SingleCopyParallelEnv",
    "action_array",
    "check_actions",
    "check_agent_action",
    "check_batch",
    "copy_seeds",
    "episode_servers",
    "episode_terms",
    "squeeze_info",
    "view_config",
]

ObsT = TypeVar("ObsT")
ActT = TypeVar("ActT")

Seeds = int | Sequence[int] | None
"""One int (copy b gets seed + b), one seed per copy, or None (fresh entropy)."""


@runtime_checkable
class BatchedEnv(Protocol):
    """``B`` independent copies of an env stepped together on numpy arrays ``[B, V, …]``.

    Copy ``b`` draws all its randomness from its own seed, so copy ``b`` of a batch equals
    a single env reset with that seed. ``reset`` returns (observation, info); ``step`` takes
    actions ``[B, V]`` (indices in ``[0, n_actions)``) and returns (observation, reward
    ``[B, V]``, terminated ``[B]``, truncated ``[B]``, info).
    """

    config: VTwinConfig
    B: int
    V: int
    horizon: int
    n_actions: int

    def reset(self, seed: Seeds = None) -> tuple[Any, dict[str, Any]]:
        """Start new episodes in every copy."""
        ...

    def step(
        self, actions: ArrayLike
    ) -> tuple[Any, NDArray[np.float64], BoolArray, BoolArray, dict[str, Any]]:
        """Advance every copy one slot."""
        ...


def check_batch(config: VTwinConfig, paper: str, env: str, example: str, batch_size: int) -> int:
    """``batch_size`` as an int after checking that ``config`` is a paper ``paper`` preset
    (``env`` names the env and ``example`` a fitting preset in the message)."""
    if config.paper != paper:
        raise ValueError(
            f"config '{config.name}' is for paper {config.paper}; the {env} env needs a "
            f"paper {paper} preset (e.g. {example})"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size}: must be ≥ 1")
    return int(batch_size)


def copy_seeds(seed: Seeds, B: int) -> list[int]:
    """One seed per copy: fresh entropy (None), ``seed + b`` (an int) or the given list."""
    if seed is None:
        fresh = np.random.SeedSequence().generate_state(B, dtype=np.uint32)
        return [int(s) for s in fresh]
    if isinstance(seed, int | np.integer):
        if seed < 0:
            raise ValueError(f"seed = {seed}: must be ≥ 0")
        return [int(seed) + b for b in range(B)]
    seeds = [int(s) for s in seed]
    if len(seeds) != B or min(seeds) < 0:
        raise ValueError(
            f"seed list has {len(seeds)} entries (min {min(seeds, default=None)}); "
            f"need {B} non-negative seeds, one per copy"
        )
    return seeds


def action_array(value: Any, what: str, allowed: str) -> NDArray[Any]:
    """``value`` as a numpy array of real numbers (integers or floats), else a ValueError
    naming ``what`` (e.g. "actions", "action of vehicle_0") and what is ``allowed``.

    Refuses what ``np.asarray`` cannot make rectangular (ragged lists), and arrays of bools,
    complex numbers, strings or objects, before any value is looked at.
    """
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{what} {_short(value)} is not a rectangular array of numbers; allowed: {allowed}"
        ) from None
    kind = arr.dtype.kind
    if kind not in "iuf":
        got = {"b": "bools", "c": "complex numbers", "U": "strings", "S": "bytes"}.get(
            kind, f"dtype {arr.dtype}"
        )
        raise ValueError(f"{what} {_short(value)} holds {got}; allowed: {allowed}")
    return arr


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters (for error messages)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_actions(actions: ArrayLike, B: int, V: int, n: int, meaning: str) -> NDArray[np.int64]:
    """``actions`` as int64 [B, V] in [0, n), else a ValueError naming value, copy and range.

    ``[B]`` is accepted when ``V = 1``; whole-valued floats are accepted; ``meaning`` explains
    the range in the message (e.g. "18 servers × 5 alpha levels").
    """
    act = action_array(actions, "actions", f"integer indices in [0, {n}) of shape ({B}, {V})")
    if act.shape == (B,) and V == 1:
        act = act[:, None]
    if act.shape != (B, V):
        raise ValueError(f"actions have shape {act.shape}; expected ({B}, {V}) (copies × vehicles)")
    if not np.issubdtype(act.dtype, np.integer):
        with np.errstate(invalid="ignore"):
            fractional = ~np.isfinite(act) | (np.mod(act, 1) != 0)
        if fractional.any():
            b, v = np.argwhere(fractional)[0]
            raise ValueError(
                f"action {act[b, v].item()!r} (copy {b}, vehicle {v}) is not one of the integer "
                f"indices 0..{n - 1}: {meaning}"
            )
    bad = (act < 0) | (act >= n)
    if bad.any():
        b, v = np.argwhere(bad)[0]
        raise ValueError(
            f"action {act[b, v].item()!r} (copy {b}, vehicle {v}) is outside [0, {n}): {meaning}"
        )
    return act.astype(np.int64)


def check_agent_action(agent: str, value: Any, n: int) -> int:
    """One agent's action as an int in [0, n), or a ValueError naming agent, value and range."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError):  # ragged
        a = np.asarray(None, dtype=object)
    ok = a.size == 1 and (
        np.issubdtype(a.dtype, np.integer)
        or (
            np.issubdtype(a.dtype, np.floating)
            and np.isfinite(a).all()
            and float(a.reshape(())) % 1 == 0
        )
    )
    if not ok or a.dtype == np.bool_:
        raise ValueError(f"action {_short(value)} of {agent} must be one integer index in [0, {n})")
    idx = int(a.reshape(()))
    if not 0 <= idx < n:
        raise ValueError(f"action {idx} of {agent} is outside [0, {n})")
    return idx


class EpisodeEnds:
    """Sticky per-copy terminated / truncated flags: a finished copy stays finished until
    the next reset (no auto-reset)."""

    def __init__(self, terminated: BoolArray) -> None:
        """Start episodes; copies already ``terminated`` (e.g. nobody to drive) are done."""
        self.terminated = np.asarray(terminated, dtype=bool).copy()
        self.truncated = np.zeros_like(self.terminated)

    @property
    def live(self) -> BoolArray:
        """Copies still running [B]."""
        return ~(self.terminated | self.truncated)

    def update(self, terminated: BoolArray, truncated: BoolArray) -> None:
        """Mark copies that terminated or were truncated this slot."""
        self.terminated |= terminated
        self.truncated |= truncated

    def flags(self) -> tuple[BoolArray, BoolArray]:
        """Copies of (terminated, truncated) [B] for a step's result."""
        return self.terminated.copy(), self.truncated.copy()


def view_config(preset: str, config: VTwinConfig | None, overrides: Sequence[str]) -> VTwinConfig:
    """A single-copy view's config: ``config`` when given, else ``preset`` plus overrides."""
    return config if config is not None else load_config(preset, list(overrides))


def squeeze_info(info: dict[str, Any]) -> dict[str, Any]:
    """Drop the batch axis (B = 1) from every array in a (nested) info dict."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = squeeze_info(value)
        elif isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == 1:
            out[key] = value[0]
        else:
            out[key] = value
    return out


class SingleCopyEnv(gym.Env[ObsT, ActT]):
    """A Gymnasium ``Env`` that is a ``B = 1`` view of a batched env (``self.batched``), so
    the two cannot disagree. Subclasses build ``batched`` and the spaces."""

    batched: BatchedEnv

    def _reset_copy(self, seed: int | None) -> tuple[Any, dict[str, Any], int]:
        """Reset the copy; a given seed makes it reproducible, None draws one from np_random.
        Returns the batched observation, the squeezed info and the copy's seed."""
        gym.Env.reset(self, seed=seed)
        copy_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        obs, info = self.batched.reset([copy_seed])
        return obs, squeeze_info(info), copy_seed

    def _step_copy(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the copy with one action per vehicle; reward is the mean over vehicles.
        Returns the batched observation, then the single-copy reward, flags and info."""
        V = self.batched.V
        act = action_array(
            action, "action", f"{V} integer index(es) in [0, {self.batched.n_actions})"
        )
        if act.size != V or act.ndim > 1:
            raise ValueError(
                f"action of shape {act.shape}: expected {V} action index(es), one per vehicle"
                + (" (a scalar or shape (1,))" if V == 1 else f" (shape ({V},))")
            )
        obs, reward, term, trunc, info = self.batched.step(act.reshape(1, V))
        return obs, float(reward.mean()), bool(term[0]), bool(trunc[0]), squeeze_info(info)


class SingleCopyParallelEnv(ParallelEnv[str, ObsT, ActT]):
    """A PettingZoo ``ParallelEnv`` that is a ``B = 1`` view of a batched env: one agent per
    vehicle, spaces per agent, seeding, no rendering. Subclasses build ``batched``,
    ``possible_agents`` and the space dicts."""

    batched: BatchedEnv
    observation_spaces: dict[str, gym.spaces.Space[Any]]
    action_spaces: dict[str, gym.spaces.Space[Any]]
    _np_random: np.random.Generator | None = None

    def observation_space(self, agent: str) -> gym.spaces.Space[Any]:
        """The (same) observation space object of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gym.spaces.Space[Any]:
        """The (same) action space object of ``agent``."""
        return self.action_spaces[agent]

    def _copy_seed(self, seed: int | None) -> int:
        """The copy's seed: a given one (which also seeds the env's generator), else one
        drawn from the env's generator (seeded by the last given seed, else from entropy)."""
        if seed is not None:
            self._np_random = np.random.default_rng(seed)
            return int(seed)
        if self._np_random is None:
            self._np_random = np.random.default_rng()
        return int(self._np_random.integers(0, 2**31 - 1))

    def render(self) -> None:
        """No rendering (``render_modes`` is empty)."""
        return None

    def close(self) -> None:
        """Nothing to release."""
        return None


def episode_terms(
    info: dict[str, Any], names: Sequence[str], b: int, active: BoolArray | None = None
) -> dict[str, float]:
    """Copy ``b``'s per-slot means of ``info[name]`` (each ``[B, V]``) over the entities in
    ``active`` (all when None), and of the reward components as ``reward_<component>``: the
    ``terms`` of an episode frame (:mod:`vtwin.episode`). An empty ``active`` gives NaN."""
    out: dict[str, float] = {}
    components = {f"reward_{k}": v for k, v in info.get("reward_components", {}).items()}
    for name, value in [*((n, info[n]) for n in names), *components.items()]:
        row = np.asarray(value, dtype=np.float64)[b].reshape(-1)
        if active is not None:
            row = row[np.asarray(active, dtype=bool).reshape(-1)]
        out[name] = float(row.mean()) if row.size else float("nan")
    return out


def episode_servers(
    kinds: Sequence[str], xy: NDArray[np.float64], coverage_m: NDArray[np.float64]
) -> dict[str, Any]:
    """The ``servers`` part of an episode record's static part: kind names, x, y (m) and
    coverage (m, ``inf`` where unbounded) per server in action order."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return {
        "kind": list(kinds),
        "x": xy[:, 0].copy(),
        "y": xy[:, 1].copy(),
        "coverage_m": np.asarray(coverage_m, dtype=np.float64).reshape(-1).copy(),
    }
