"""Paper D's reward (eqs. (19)–(20), SPEC §D): the system utility minus constraint penalties.

One global reward per slot, shared by every agent: terms are ``[B, 1]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vtwin.rewards.base import RewardOutput, RewardTerms, builtin_weights

__all__ = ["PaperDReward"]


class PaperDReward:
    """``w1 Σ_k F_k − w2 T(t) − penalty · (violated C2 + C4 + C5)`` (paper D eqs. (12), (19)–(20)).

    Terms: ``fidelity_sum`` (Σ F of the tasks served this slot, eq. (1)), ``delay_s`` (T(t),
    eq. (11)) and ``violations`` (the number of C2, C4 and C5 violations this slot). Weights
    ``fidelity`` (w1), ``delay`` (w2, per s) and ``violation`` (per violated constraint).
    Paper D prints w1 = w2 = 1 and no penalty value; ours is 20, a fifth of one task's mean
    F_max, so a violation costs about what a fifth of a task's fidelity is worth.
    """

    names: tuple[str, ...] = ("fidelity_sum", "delay_s", "violations")
    components: tuple[str, ...] = ("fidelity", "delay", "violation")

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        """Weights by name; unset ones take their defaults."""
        self.weights = builtin_weights("paper-d", weights)

    def reset(self, B: int) -> None:
        """Nothing to reset (stateless)."""

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """Reward [B, 1] and its three named parts."""
        w = self.weights
        parts = {
            "fidelity": w["fidelity"] * np.asarray(terms["fidelity_sum"], dtype=np.float64),
            "delay": -w["delay"] * np.asarray(terms["delay_s"], dtype=np.float64),
            "violation": -w["violation"] * np.asarray(terms["violations"], dtype=np.float64),
        }
        return parts["fidelity"] + parts["delay"] + parts["violation"], parts
