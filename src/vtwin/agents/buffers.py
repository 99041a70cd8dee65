"""Experience storage shared by the agents: GAE, an on-policy rollout buffer, a replay buffer.

Arrays are numpy while collecting (the envs are numpy) and become torch tensors on the
agent's device when a batch is handed to an update.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray

from vtwin.arrays import FloatArray

__all__ = ["GAERows", "ReplayBuffer", "RolloutBuffer", "Transition", "compute_gae"]


def compute_gae(
    rewards: FloatArray,
    values: FloatArray,
    terminated: NDArray[np.bool_],
    truncated: NDArray[np.bool_],
    last_value: FloatArray,
    final_values: FloatArray | None = None,
    *,
    gamma: float = 0.99,
    lam: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Generalised advantage estimates and returns for [T, N] rollouts (Schulman et al. 2016).

    ``values[t]`` is V(s_t); ``last_value`` is V of the observation after the last step.
    A terminated step bootstraps nothing. A truncated step (time limit) bootstraps from
    ``final_values[t]`` = V(true final observation) and does not carry the estimate into
    the next row, which belongs to a new episode. Returns (advantages, returns = adv + V).
    """
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma = {gamma}, lam = {lam}: both must be in [0, 1]")
    T = rewards.shape[0]
    if final_values is None:
        final_values = np.zeros_like(values)
    adv = np.zeros_like(values, dtype=np.float64)
    gae = np.zeros(values.shape[1:], dtype=np.float64)
    for t in reversed(range(T)):
        next_value = last_value if t == T - 1 else values[t + 1]
        next_value = np.where(truncated[t], final_values[t], next_value)
        alive = 1.0 - terminated[t].astype(np.float64)
        delta = rewards[t] + gamma * next_value * alive - values[t]
        carry = alive * (1.0 - truncated[t].astype(np.float64))
        gae = delta + gamma * lam * carry * gae
        adv[t] = gae
    return adv, adv + values


class GAERows:
    """What every on-policy rollout shares: zeroed rows ``[T, …]`` of rewards, values, episode ends
    and final values filled up to ``pos``, and their GAE advantages and returns."""

    pos: int
    rewards: FloatArray
    values: FloatArray
    terminated: NDArray[np.bool_]
    truncated: NDArray[np.bool_]
    final_values: FloatArray
    advantages: FloatArray
    returns: FloatArray

    def _init_rows(self, shape: tuple[int, ...]) -> None:
        """Zeroed rows of the GAE fields for a rollout of ``shape`` ([T, …]); ``pos`` = 0."""
        self.rewards = np.zeros(shape)
        self.values = np.zeros(shape)
        self.terminated = np.zeros(shape, dtype=bool)
        self.truncated = np.zeros(shape, dtype=bool)
        self.final_values = np.zeros(shape)
        self.advantages = np.zeros(shape)
        self.returns = np.zeros(shape)
        self.pos = 0

    @property
    def full(self) -> bool:
        """Whether all ``n_steps`` rows are filled."""
        return self.pos == self.rewards.shape[0]

    def compute_returns(self, last_value: FloatArray, gamma: float, lam: float) -> None:
        """Fill :attr:`advantages` and :attr:`returns` with GAE (see :func:`compute_gae`)."""
        n = self.pos  # a rollout cut short by an episode end uses its filled rows only
        self.advantages[:] = 0.0
        self.returns[:] = 0.0
        self.advantages[:n], self.returns[:n] = compute_gae(
            self.rewards[:n],
            self.values[:n],
            self.terminated[:n],
            self.truncated[:n],
            last_value,
            self.final_values[:n],
            gamma=gamma,
            lam=lam,
        )

    def reset(self) -> None:
        """Start filling from the first row again."""
        self.pos = 0


class RolloutBuffer(GAERows):
    """Fixed-length on-policy storage for ``n_steps`` × ``n_envs`` transitions (PPO)."""

    def __init__(
        self,
        n_steps: int,
        n_envs: int | tuple[int, ...],
        obs_dim: int,
        n_actions: int | None = None,
    ) -> None:
        """``n_envs`` may be a shape (e.g. copies × vehicles); ``n_actions`` given ⇒ action
        masks [n_actions] are stored as well."""
        self.n_steps, self.n_envs = n_steps, n_envs
        shape = (n_steps, *((n_envs,) if isinstance(n_envs, int) else n_envs))
        self.obs = np.zeros((*shape, obs_dim), dtype=np.float32)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.logp = np.zeros(shape)
        self._init_rows(shape)
        self.masks: NDArray[np.bool_] | None = (
            None if n_actions is None else np.ones((*shape, n_actions), dtype=bool)
        )

    def add(
        self,
        obs: NDArray[np.floating],
        actions: NDArray[np.integer],
        logp: FloatArray,
        rewards: FloatArray,
        values: FloatArray,
        terminated: NDArray[np.bool_],
        truncated: NDArray[np.bool_],
        final_values: FloatArray | None = None,
        masks: NDArray[np.bool_] | None = None,
    ) -> None:
        """Store one step of every env copy ([n_envs, …] arrays)."""
        if self.full:
            raise RuntimeError("rollout buffer is full: compute returns, use it, then reset()")
        i = self.pos
        self.obs[i], self.actions[i], self.logp[i] = obs, actions, logp
        self.rewards[i], self.values[i] = rewards, values
        self.terminated[i], self.truncated[i] = terminated, truncated
        if final_values is not None:
            self.final_values[i] = final_values
        if self.masks is not None and masks is not None:
            self.masks[i] = masks
        self.pos += 1

    def state_dict(self) -> dict[str, Any]:
        """Every array and the fill position (copies; for checkpoints)."""
        out: dict[str, Any] = {
            k: v.copy() for k, v in vars(self).items() if isinstance(v, np.ndarray)
        }
        out["pos"] = self.pos
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict` (the buffer must have the same sizes)."""
        for k, v in state.items():
            if k != "pos":
                getattr(self, k)[...] = v
        self.pos = int(state["pos"])

    def minibatches(
        self, batch_size: int, rng: np.random.Generator, device: torch.device
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Shuffled minibatches of the filled rows' transitions as tensors on ``device``."""
        rows = self.pos
        n = self.actions[:rows].size
        order = rng.permutation(n)
        flat: dict[str, np.ndarray] = {
            "obs": self.obs[:rows].reshape(n, -1),
            "actions": self.actions[:rows].reshape(n),
            "logp": self.logp[:rows].reshape(n),
            "values": self.values[:rows].reshape(n),
            "advantages": self.advantages[:rows].reshape(n),
            "returns": self.returns[:rows].reshape(n),
        }
        if self.masks is not None:
            flat["masks"] = self.masks[:rows].reshape(n, -1)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield {k: torch.as_tensor(v[idx], device=device) for k, v in flat.items()}


class Transition(NamedTuple):
    """One env step as a training loop hands it to an off-policy agent's ``store``."""

    obs: Any
    """Observations before the step: flat rows [N, obs_dim] or a multi-agent dict."""
    actions: NDArray[np.integer] | NDArray[np.floating]
    """[N] discrete actions, or [N, action_dim] continuous ones (HGDM's latents)."""
    rewards: NDArray[np.floating]
    next_obs: Any
    terminated: NDArray[np.bool_]


def _check_fits(capacity: int, obs_dim: int, n_actions: int | None, action_dim: int) -> None:
    """Refuse a replay buffer larger than the memory this machine has free, before numpy
    reserves it (zeroed pages are only touched later, so an oversized buffer would otherwise
    kill the process mid-run). Counts one observation per row: the next observation is
    usually the next row's (:class:`ReplayBuffer`)."""
    from vtwin.devices import available_memory_bytes

    row = 4 * obs_dim + 8 + (8 if action_dim == 0 else 4 * action_dim) + 8 + (n_actions or 0)
    need = capacity * row
    available = available_memory_bytes()
    if available is not None and need > available:
        raise ValueError(
            f"buffer_size = {capacity}: {need / 2**30:.3g} GiB for {capacity} transitions of "
            f"{row} bytes, more than the {available / 2**30:.3g} GiB this machine has free; "
            f"at most {available // row} fit"
        )


_PENDING = -2
"""``ReplayBuffer.succ`` of a row of the latest add: its next observation is in ``pending``."""
_OWN = -1
"""``ReplayBuffer.succ`` of a row whose next observation is stored in its own ``next_obs`` row."""


class ReplayBuffer:
    """Ring buffer of transitions for off-policy agents (DSAC, MASAC, TD3 family).

    A next observation is stored once: in a batched loop row ``r`` of one add usually goes on
    as row ``r`` of the next add, so its ``next_obs`` equals that row's ``obs`` and the buffer
    keeps only the link (``succ``). The rows of the latest add wait in ``pending`` until the
    next add shows whether their successors match (compared exactly); a row without a
    matching successor (an episode's last slot, a filtered or n-step row) keeps its own copy
    in ``next_obs``, whose untouched pages numpy never makes resident. Sampling gives the same
    arrays as storing every next observation; the memory is about half (HGDM on ``paper-c``:
    200k rows of 8090 floats, 6.5 GB instead of 13). Rows are overwritten oldest first, so a
    linked successor outlives its predecessor.
    """

    def __init__(
        self, capacity: int, obs_dim: int, n_actions: int | None = None, action_dim: int = 0
    ) -> None:
        """Discrete actions (``action_dim = 0``) are stored as int64, continuous as float32
        vectors of ``action_dim``; ``n_actions`` given ⇒ next-state action masks are kept."""
        if capacity < 1:
            raise ValueError(f"capacity = {capacity}: must be ≥ 1")
        _check_fits(capacity, obs_dim, n_actions, action_dim)
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        """Own copies of next observations (rows with ``succ == -1`` only)."""
        self.succ = np.full(capacity, _OWN, dtype=np.int64)
        """Row whose ``obs`` is this row's next observation, −1: ``next_obs``, −2: pending."""
        self.pending = np.zeros((0, obs_dim), dtype=np.float32)
        """Next observations of the latest add's rows (``pending_rows``), in add order."""
        self.pending_rows = np.zeros(0, dtype=np.int64)
        self.actions = (
            np.zeros(capacity, dtype=np.int64)
            if action_dim == 0
            else np.zeros((capacity, action_dim), dtype=np.float32)
        )
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.next_masks: NDArray[np.bool_] | None = (
            None if n_actions is None else np.ones((capacity, n_actions), dtype=bool)
        )
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, step: Transition, next_masks: NDArray[np.bool_] | None = None) -> None:
        """Append a batch of transitions (``step``'s [N, …] arrays, flat observation rows),
        overwriting the oldest when full."""
        obs = np.asarray(step.obs, dtype=np.float32)
        n = obs.shape[0]
        if n > self.capacity:
            raise ValueError(f"add of {n} rows: more than the buffer's capacity {self.capacity}")
        idx = (self.pos + np.arange(n)) % self.capacity
        self._settle_pending(obs)
        self.obs[idx] = obs
        self.succ[idx] = _PENDING
        self.pending = np.array(step.next_obs, dtype=np.float32, copy=True)
        self.pending_rows = idx
        self.actions[idx], self.rewards[idx] = step.actions, step.rewards
        self.terminated[idx] = step.terminated
        if self.next_masks is not None and next_masks is not None:
            self.next_masks[idx] = next_masks
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def _settle_pending(self, obs: NDArray[np.float32]) -> None:
        """Before an add of ``obs`` rows: link each pending row whose next observation is the
        same-position row of ``obs`` (it is written at ``pos + r``); copy the others into
        ``next_obs``. Pending rows the add is about to overwrite need neither."""
        rows, n = self.pending_rows, obs.shape[0]
        if rows.size == 0:
            return
        linked = np.zeros(rows.size, dtype=bool)
        if rows.size == n and n < self.capacity:  # a successor must not overwrite its row
            linked = (self.pending == obs).all(axis=1)
        target = (self.pos + np.arange(rows.size)) % self.capacity
        self.succ[rows[linked]] = target[linked]
        own = ~linked
        self.succ[rows[own]] = _OWN
        self.next_obs[rows[own]] = self.pending[own]
        self.pending_rows = np.zeros(0, dtype=np.int64)

    def next_observations(self, idx: NDArray[np.integer]) -> NDArray[np.float32]:
        """The next observations of rows ``idx`` [K] → [K, obs_dim]."""
        succ = self.succ[idx]
        out = self.next_obs[idx]
        linked = succ >= 0
        out[linked] = self.obs[succ[linked]]
        waiting = np.flatnonzero(succ == _PENDING)
        if waiting.size:
            where = {int(r): i for i, r in enumerate(self.pending_rows)}
            out[waiting] = self.pending[[where[int(r)] for r in idx[waiting]]]
        return out

    def _arrays(self) -> dict[str, NDArray[np.generic]]:
        arrays: dict[str, NDArray[np.generic]] = {
            "obs": self.obs,
            "actions": self.actions,
            "rewards": self.rewards,
            "terminated": self.terminated,
        }
        if self.next_masks is not None:
            arrays["next_masks"] = self.next_masks
        return arrays

    def state_dict(self) -> dict[str, Any]:
        """The stored transitions (copies of the filled rows, every next observation written
        out), position and size."""
        n = self.size
        out: dict[str, Any] = {k: v[:n].copy() for k, v in self._arrays().items()}
        out["next_obs"] = self.next_observations(np.arange(n))
        out |= {"pos": self.pos, "size": n}
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict` (the buffer must have the same sizes); every next
        observation comes back as the row's own copy."""
        n = int(state["size"])
        for k, v in self._arrays().items():
            v[:n] = state[k]
        self.next_obs[:n] = state["next_obs"]
        self.succ[:] = _OWN
        self.pending_rows = np.zeros(0, dtype=np.int64)
        self.pos, self.size = int(state["pos"]), n

    def sample(
        self, batch_size: int, rng: np.random.Generator, device: torch.device
    ) -> dict[str, torch.Tensor]:
        """A uniform random batch (with replacement) as tensors on ``device``."""
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, size=batch_size)
        out: dict[str, np.ndarray] = {
            "obs": self.obs[idx],
            "actions": self.actions[idx],
            "rewards": self.rewards[idx],
            "next_obs": self.next_observations(idx),
            "terminated": self.terminated[idx],
        }
        if self.next_masks is not None:
            out["next_masks"] = self.next_masks[idx]
        return {k: torch.as_tensor(v, device=device) for k, v in out.items()}
