"""Paper A's reward: latency of the VT task plus a penalty when a queue would overflow."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vtwin.rewards.base import RewardOutput, RewardTerms, builtin_weights

__all__ = ["PaperAReward"]


class PaperAReward:
    """``−w_latency · T_total − w_overload · [constraint (5b) or (5c) broken]`` per vehicle.

    Paper A minimises the total latency T = T_u + T_p + T_d (eqs. (1)–(4)) subject to the
    queue limits (5b)/(5c); a broken limit costs ``overload`` (SPEC §A). Terms: ``latency_s``
    (T_total, s) and ``violated`` (bool). Stateless, so any trailing axes broadcast (the
    greedy baseline scores every action at once with ``[B, V, A]`` terms).
    """

    names: tuple[str, ...] = ("latency_s", "violated")
    components: tuple[str, ...] = ("latency", "overload")

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        """Weights ``latency`` (per second) and ``overload``; unset ones default to 1."""
        w = builtin_weights("paper-a", weights)
        self.weights = w
        self.latency_weight = w["latency"]
        self.overload_penalty = w["overload"]

    def reset(self, B: int) -> None:
        """Nothing to reset (stateless)."""

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """Reward and its ``latency`` and ``overload`` parts (they sum to the reward)."""
        r_latency = -self.latency_weight * terms["latency_s"]
        r_overload = -self.overload_penalty * np.asarray(terms["violated"]).astype(np.float64)
        return r_latency + r_overload, {"latency": r_latency, "overload": r_overload}
