"""Per-episode summaries of an env's ``info``, named by the env, computed by the loops.

The loops know no paper's metric names. An env may declare ``episode_metrics``, a mapping
column → ``(reduction, info key)`` or ``("steps", info key, excluded key)``:

* ``steps``: mean of ``info[key]`` ``[B, V]`` over the agent-steps that acted; with an
  excluded key, over those where ``info[excluded]`` is 0 (NaN when there are none);
* ``agents``: each agent's mean over its own acting steps, averaged over the agents that
  acted (e.g. paper B's per-vehicle packet loss, eq. (15));
* ``copies``: mean of ``info[key]`` ``[B]`` over the copies still running.

An env that declares nothing gets every floating or boolean ``[B, V]`` entry of ``info`` as
``steps`` and every ``[B]`` entry as ``copies``, named by key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["EpisodeMetrics", "MetricSpec", "SlotMetrics", "combine_episodes", "metric_spec"]

MetricSpec = Mapping[str, tuple[str, ...]]
REDUCTIONS = ("steps", "agents", "copies")


def metric_spec(env: Any) -> MetricSpec | None:
    """The env's declared ``episode_metrics``, checked (None: the env declares none)."""
    spec = getattr(env, "episode_metrics", None)
    if spec is None:
        return None
    for col, entry in spec.items():
        how = entry[0] if entry else None
        if (
            how not in REDUCTIONS
            or len(entry) not in (2, 3)
            or (len(entry) == 3 and how != "steps")
        ):
            raise ValueError(
                f"episode_metrics[{col!r}] = {entry!r}: expected (reduction, key) with "
                f"reduction in {REDUCTIONS}, or ('steps', key, excluded key)"
            )
    return dict(spec)


def generic_spec(info: dict[str, Any], B: int, V: int) -> MetricSpec:
    """Every floating/boolean ``[B, V]`` entry as ``steps``, every ``[B]`` one as ``copies``."""
    spec: dict[str, tuple[str, ...]] = {}
    for key, value in info.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fb":
            continue
        if value.shape == (B, V):
            spec[key] = ("steps", key)
        elif value.shape == (B,):
            spec[key] = ("copies", key)
    return spec


class EpisodeMetrics:
    """Sums over one episode of a batched multi-agent env, summarised per :data:`MetricSpec`.

    Also the return (mean per-agent episode sum) and the reward per acting agent-step.
    """

    def __init__(self, B: int, V: int, spec: MetricSpec | None) -> None:
        """``spec`` None: the generic summary, fixed by the first :meth:`add`."""
        self.B, self.V = B, V
        self.reward = np.zeros((B, V))
        self.steps = np.zeros((B, V))
        self.spec: MetricSpec = {}
        self._sum: dict[str, float] = {}
        self._weight: dict[str, float] = {}
        self._per_agent: dict[str, NDArray[np.float64]] = {}
        self._copies: dict[str, list[float]] = {}
        if spec is not None:
            self._set_spec(spec)
        self._fixed = spec is not None

    def _set_spec(self, spec: MetricSpec) -> None:
        self.spec = spec
        for col, (how, *_) in spec.items():
            if how == "agents":
                self._per_agent[col] = np.zeros((self.B, self.V))
            elif how == "copies":
                self._copies[col] = []
            else:
                self._sum[col], self._weight[col] = 0.0, 0.0

    def add(
        self,
        active: NDArray[np.bool_],
        running: NDArray[np.bool_],
        reward: NDArray[np.floating],
        info: dict[str, Any],
    ) -> None:
        """One slot: ``active`` agents acted, ``running`` copies were not finished yet."""
        if not self._fixed:
            self._set_spec(generic_spec(info, self.B, self.V))
            self._fixed = True
        a = active.astype(np.float64)
        self.reward += np.asarray(reward) * a
        self.steps += a
        for col, (how, key, *excluded) in self.spec.items():
            if how == "copies":
                if running.any():
                    self._copies[col].extend(np.asarray(info[key])[running].tolist())
                continue
            x = np.asarray(info[key], dtype=np.float64) * a
            if how == "agents":
                self._per_agent[col] += x
            elif excluded:
                keep = 1.0 - np.asarray(info[excluded[0]], dtype=np.float64)
                self._sum[col] += float((x * keep).sum())
                self._weight[col] += float((a * keep).sum())
            else:
                self._sum[col] += float(x.sum())

    @property
    def agent_steps(self) -> float:
        """Agent-steps that acted."""
        return float(self.steps.sum())

    def weight(self, col: str) -> float:
        """The number of agent-steps a ``steps`` column averages over."""
        return self._weight[col] if len(self.spec[col]) == 3 else self.agent_steps

    def summary(self) -> dict[str, float]:
        """``return``, ``reward_per_step``, the spec's columns and ``agent_steps``."""
        n = max(self.agent_steps, 1.0)
        out = {"return": float(self.reward.mean()), "reward_per_step": float(self.reward.sum() / n)}
        for col, (how, *_rest) in self.spec.items():
            if how == "copies":
                out[col] = float(np.mean(self._copies[col])) if self._copies[col] else 0.0
            elif how == "agents":
                drove = self.steps > 0
                per_agent = self._per_agent[col][drove] / self.steps[drove]
                out[col] = float(per_agent.mean()) if per_agent.size else 0.0
            elif len(self.spec[col]) == 3:
                w = self._weight[col]
                out[col] = self._sum[col] / w if w > 0 else float("nan")
            else:
                out[col] = self._sum[col] / n
        out["agent_steps"] = self.agent_steps
        return out


def combine_episodes(episodes: Sequence[EpisodeMetrics]) -> dict[str, float]:
    """Several episodes' summaries as one: ``steps`` columns and ``reward_per_step`` weighted
    by their agent-steps, the others (``return``, ``agents``, ``copies``) averaged."""
    if not episodes:
        raise ValueError("combine_episodes needs at least one episode")
    summaries = [e.summary() for e in episodes]
    steps = np.array([e.agent_steps for e in episodes])
    out = {"episodes": float(len(episodes)), "agent_steps": float(steps.sum())}
    out["reward_per_step"] = float(
        np.average([s["reward_per_step"] for s in summaries], weights=np.maximum(steps, 1e-12))
    )
    out["return"] = float(np.mean([s["return"] for s in summaries]))
    for col, entry in episodes[0].spec.items():
        values = np.array([s[col] for s in summaries])
        if entry[0] != "steps":
            out[col] = float(values.mean())
        elif len(entry) == 2:
            out[col] = float(np.average(values, weights=np.maximum(steps, 1e-12)))
        else:
            w = np.array([e.weight(col) for e in episodes])
            out[col] = (
                float((np.nan_to_num(values) * w).sum() / w.sum()) if w.sum() > 0 else float("nan")
            )
    return out


class SlotMetrics:
    """Single-agent envs (every agent acts every slot): each column is the mean over the
    episode's slots of the slot's mean of ``info[key]`` over copies and agents."""

    def __init__(self, B: int, V: int, spec: MetricSpec | None) -> None:
        """``spec`` None: the generic summary, fixed by the first :meth:`add`."""
        self.B, self.V = B, V
        self.spec = spec
        self.values: dict[str, list[float]] = {}
        if spec is not None:
            self._check(spec)

    def _check(self, spec: MetricSpec) -> None:
        for col, entry in spec.items():
            if len(entry) != 2:
                raise ValueError(
                    f"episode_metrics[{col!r}] = {entry!r}: a single-agent env's metrics "
                    "cannot exclude steps"
                )
            self.values[col] = []

    def add(self, info: dict[str, Any]) -> None:
        """One slot of every copy."""
        if self.spec is None:
            self.spec = generic_spec(info, self.B, self.V)
            self._check(self.spec)
        for col, (_, key) in self.spec.items():
            self.values[col].append(float(np.asarray(info[key]).mean()))

    def summary(self) -> dict[str, float]:
        """The mean of each column over the slots seen."""
        return {col: float(np.mean(v)) for col, v in self.values.items()}
