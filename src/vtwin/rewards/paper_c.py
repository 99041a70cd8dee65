"""Paper C's two rewards: the manual utility reward (eq. (20)) and the LLM-designed one (eq. (21)).

Both are per AV ``[B, M]``; an env's single-agent view takes their mean over the M AVs, which
is the 1/M Σ_m of both equations. Weights are named, so an ablation is a config change
(``reward.weights.angle=0``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vtwin.rewards.base import RewardOutput, RewardTerms, builtin_weights

__all__ = ["PaperCLLMReward", "PaperCReward"]


class PaperCReward:
    """Paper C eq. (20): the AV's utility u = ω_E E − ω_L L − ω_Q Q (eq. (17)).

    Terms: ``entropy_bits`` (E, eq. (5)), ``latency_s`` (L, eq. (15)) and ``qos_loss``
    (Q = ln(1 + d_km), eq. (16)). Weights ``entropy``, ``latency`` (per s) and ``qos``;
    defaults (1, 0.02, 0.2) are paper C's Fig. 3 table. Components ``entropy``,
    ``latency`` and ``qos`` sum to the reward.
    """

    names: tuple[str, ...] = ("entropy_bits", "latency_s", "qos_loss")
    components: tuple[str, ...] = ("entropy", "latency", "qos")

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        """Weights by name; unset ones take their defaults."""
        self.weights = builtin_weights("paper-c", weights)

    def reset(self, B: int) -> None:
        """Nothing to reset (stateless)."""

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """Reward [B, M] and its three named parts."""
        w = self.weights
        parts = {
            "entropy": w["entropy"] * np.asarray(terms["entropy_bits"], dtype=np.float64),
            "latency": -w["latency"] * np.asarray(terms["latency_s"], dtype=np.float64),
            "qos": -w["qos"] * np.asarray(terms["qos_loss"], dtype=np.float64),
        }
        return parts["entropy"] + parts["latency"] + parts["qos"], parts


class PaperCLLMReward:
    """Paper C eq. (21), the reward its LLM loop settled on:
    ``ω1 E − ω2 ln(1 + L) − ω3 Q/Q_max − ω4 ln(1 + d) + ω5 α``.

    Terms: ``entropy_bits`` (E), ``latency_s`` (L), ``qos_loss_norm`` (Q/Q_max, Q_max the
    QoS loss of a perturbation of r_max), ``server_distance_km`` (d, AV to agent server) and
    ``included_angle_rad`` (α ∈ [0, π], between the AV→agent-server direction and the
    perturbation direction). Weights ``entropy``, ``latency``, ``qos``, ``distance``,
    ``angle``. Paper C prints no values for ω1–ω5; the defaults (1, 0.5, 0.2, 0.1, 0.1) are
    ours: entropy first as in eq. (17), the log-latency weighted so that its typical range
    (ln(1 + 1…10 s)) matches the entropy's, the two shaping terms small.
    """

    names: tuple[str, ...] = (
        "entropy_bits",
        "latency_s",
        "qos_loss_norm",
        "server_distance_km",
        "included_angle_rad",
    )
    components: tuple[str, ...] = ("entropy", "latency", "qos", "distance", "angle")

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        """Weights by name; unset ones take their defaults."""
        self.weights = builtin_weights("paper-c-llm", weights)

    def reset(self, B: int) -> None:
        """Nothing to reset (stateless)."""

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """Reward [B, M] and its five named parts."""
        w = self.weights

        def term(name: str) -> np.ndarray:
            return np.asarray(terms[name], dtype=np.float64)

        parts = {
            "entropy": w["entropy"] * term("entropy_bits"),
            "latency": -w["latency"] * np.log1p(term("latency_s")),
            "qos": -w["qos"] * term("qos_loss_norm"),
            "distance": -w["distance"] * np.log1p(term("server_distance_km")),
            "angle": w["angle"] * term("included_angle_rad"),
        }
        total = parts["entropy"] + parts["latency"] + parts["qos"]
        return total + parts["distance"] + parts["angle"], parts
