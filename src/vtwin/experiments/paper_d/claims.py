"""Paper D Figs. 3–6: the paper's claims, its numbers and how each is checked on our runs.

Each ``claim_*`` function takes the summary table of an experiment's runs (one row per run:
``method``, ``sweep_value`` when the experiment sweeps, ``seed`` and the summary metrics of
:func:`vtwin.experiments.paper_d.learners.run_learner`) and returns ``(our value, agrees)``;
``agrees`` is None when the runs it needs were not made. Fig. 3 is about the reward
(eqs. (19)–(20): utility minus the violation penalty), Figs. 4–5 about the system utility
eq. (12) and its two terms, all per slot of a deterministic evaluation. The tuples of
:class:`~vtwin.experiments.spec.Claim` at the end declare each experiment's claims.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pandas as pd

from vtwin.experiments.common import gain_pct, method_means, sweep_means
from vtwin.experiments.spec import Claim

__all__ = [
    "COMPUTE_CLAIMS",
    "LEARNER_CLAIMS",
    "LR_CLAIMS",
    "PAPER_METHODS",
    "SCALE_CLAIMS",
    "SENSOR_CLAIMS",
    "UAV_CLAIMS",
    "claim_all_learners_rise",
    "claim_beat_random",
    "claim_compute_best",
    "claim_highest_fidelity",
    "claim_highest_reward",
    "claim_lowest_delay",
    "claim_lr_best",
    "claim_not_below_rule",
    "claim_scale_sensors",
    "claim_scale_uavs",
    "claim_sensors_best",
    "claim_su_hatd3_rises",
    "claim_uavs_best",
    "claim_uavs_toward_sensors",
    "parse_scale",
]

_HERE = __name__
PROPOSED = "su_hatd3"
PAPER_METHODS = ("su_hatd3", "haddpg", "matd3", "maddpg")
"""The four algorithms of paper D's Figs. 3–5 (the references are ours and judged apart)."""
BASELINES = ("maddpg", "matd3", "haddpg")

FIG3A_GAINS = {"maddpg": 39.0, "matd3": 12.56, "haddpg": 11.8}
"""Paper D Fig. 3(a): SU-HATD3's reward above each baseline's, %."""
FIG4A_GAINS = {"maddpg": 145.0, "matd3": 54.0, "haddpg": 12.5}
"""Paper D Fig. 4(a) at 10 UAVs, % — read off its text: SU-HATD3 ≈ 2700 against HADDPG,
MATD3 and MADDPG at "over 2400, 1750 and 1100" (the text names HADDPG "close to 2700" first;
SU-HATD3 ≈ 2700 is the reading that agrees with "SU-HATD3 outperforms" them)."""
FIG4C_GAINS = {"maddpg": 150.0, "matd3": 33.0, "haddpg": 8.0}
"""Paper D Fig. 4(c) at UAV compute 2000: SU-HATD3's utility above each baseline's, %."""
LR_BEST = 0.005
"""Paper D Fig. 3(b): the best of the learning rates {0.05, 0.005, 0.0005}."""


def _learner_means(table: pd.DataFrame, metric: str, **where: object) -> dict[str, float]:
    """{learner: mean ``metric``} over the paper's four learners present in ``table``."""
    if metric not in table.columns:
        return {}
    return {m: v for m, v in method_means(table, metric, **where).items() if m in PAPER_METHODS}


def _gains_text(means: dict[str, float], paper: dict[str, float]) -> str:
    """ "vs maddpg +12.3 % (paper +39 %), …" for the baselines present in ``means``."""
    parts = [
        f"vs {m} {gain_pct(means[PROPOSED], means[m]):+.1f} % (paper +{paper[m]:g} %)"
        for m in BASELINES
        if m in means
    ]
    return ", ".join(parts)


# ----------------------------------------------------------------------------- Fig. 3(a), 5
def claim_highest_reward(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 3(a): SU-HATD3 has the highest reward of the four learners (the measured gains
    printed beside the paper's 39 %, 12.56 %, 11.8 %)."""
    means = _learner_means(table, "reward")
    if PROPOSED not in means or len(means) < 2:
        return "needs su_hatd3 and another learner", None
    order = sorted(means, key=lambda m: -means[m])
    ranking = " > ".join(f"{m} {means[m]:.1f}" for m in order)
    return f"{ranking}; {_gains_text(means, FIG3A_GAINS)}", order[0] == PROPOSED


def claim_beat_random(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Ours, the bar before a paper claim means anything: every learner's utility above
    random acting's."""
    if "utility" not in table.columns:
        return "needs utility", None
    means = method_means(table, "utility")
    learners = [m for m in PAPER_METHODS if m in means]
    if "random" not in means or not learners:
        return "needs random and a learner", None
    bar = means["random"]
    text = f"random {bar:.1f}; " + ", ".join(f"{m} {means[m] - bar:+.1f}" for m in learners)
    return text, all(means[m] > bar for m in learners)


def claim_not_below_rule(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Ours: SU-HATD3's utility at least the rule's (nearest UAV with room, even split, fly
    to the queue)."""
    if "utility" not in table.columns:
        return "needs utility", None
    means = method_means(table, "utility")
    if not {PROPOSED, "rule"} <= set(means):
        return "needs su_hatd3 and rule", None
    text = f"su_hatd3 {means[PROPOSED]:.1f}, rule {means['rule']:.1f}"
    if "greedy_steps" in means:
        text += f" (greedy_steps {means['greedy_steps']:.1f})"
    return text, bool(means[PROPOSED] >= means["rule"])


def _extreme(table: pd.DataFrame, metric: str, unit: str, lowest: bool) -> tuple[str, bool | None]:
    means = _learner_means(table, metric)
    if PROPOSED not in means or len(means) < 2:
        return "needs su_hatd3 and another learner", None
    order = sorted(means, key=lambda m: means[m] if lowest else -means[m])
    return ", ".join(f"{m} {means[m]:.2f}{unit}" for m in order), order[0] == PROPOSED


def claim_highest_fidelity(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 5: SU-HATD3's fidelity Σ F per slot the highest of the four learners."""
    return _extreme(table, "fidelity_sum", "", lowest=False)


def claim_lowest_delay(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 5: SU-HATD3's system delay T per slot (eq. (11), s) the lowest of the four."""
    return _extreme(table, "delay_s", " s", lowest=True)


def claim_uavs_toward_sensors(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 6: SU-HATD3's UAVs move toward the sensors they serve — the mean horizontal
    distance from an offloading sensor to its UAV (the upload distance of eqs. (7)–(9)) is
    lower over the last tenth of a deterministic evaluation episode than over the first.
    The mean distance from each UAV to its ⌈K/U⌉ nearest sensors (dense regions) and the
    rule's upload distance (it flies to its queue) are printed for comparison."""
    needed = {"upload_m_first", "upload_m_last"}
    if not needed <= set(table.columns):
        return "needs upload_m_first and upload_m_last", None
    first, last = method_means(table, "upload_m_first"), method_means(table, "upload_m_last")
    if PROPOSED not in first or not all(map(math.isfinite, (first[PROPOSED], last[PROPOSED]))):
        return "needs su_hatd3 with offloaded tasks", None
    text = f"su_hatd3 upload distance {first[PROPOSED]:.0f} → {last[PROPOSED]:.0f} m"
    if {"near_m_first", "near_m_last"} <= set(table.columns):
        near0, near1 = method_means(table, "near_m_first"), method_means(table, "near_m_last")
        text += f"; to its nearest sensors {near0[PROPOSED]:.0f} → {near1[PROPOSED]:.0f} m"
    if "rule" in first:
        text += f" (rule {first['rule']:.0f} → {last['rule']:.0f} m)"
    return text, bool(last[PROPOSED] < first[PROPOSED])


# ----------------------------------------------------------------------------- Fig. 3(b)–(c)
def claim_lr_best(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 3(b): SU-HATD3's reward is highest at learning rate 0.005."""
    rewards = sweep_means(table, "reward", PROPOSED)
    values = {float(str(k)): v for k, v in rewards.items()}
    if len(values) < 2 or not any(math.isclose(k, LR_BEST) for k in values):
        return "needs su_hatd3 at 0.005 and another learning rate", None
    best = max(values, key=lambda k: values[k])
    text = ", ".join(f"lr {k:g}: {values[k]:.1f}" for k in sorted(values, reverse=True))
    return text, math.isclose(best, LR_BEST)


def parse_scale(value: object) -> tuple[int, int]:
    """A Fig. 3(c) scale ``"KxU"`` → (sensors K, UAVs U)."""
    sensors, sep, uavs = str(value).partition("x")
    if not sep or not sensors.isdigit() or not uavs.isdigit():
        raise ValueError(f"scale = {value!r}: write sensors x UAVs, e.g. '30x5'")
    return int(sensors), int(uavs)


def _scale_trend(table: pd.DataFrame, grow: int) -> tuple[str, bool | None]:
    """Whether SU-HATD3's reward grows along axis ``grow`` (0: sensors, 1: UAVs) of the
    scales, the other held equal; every consecutive pair must rise."""
    rewards = {parse_scale(k): v for k, v in sweep_means(table, "reward", PROPOSED).items()}
    hold = 1 - grow
    parts, rises = [], []
    for fixed in sorted({s[hold] for s in rewards}):
        line = sorted((s for s in rewards if s[hold] == fixed), key=lambda s: s[grow])
        if len(line) < 2:
            continue
        rises += [rewards[a] < rewards[b] for a, b in itertools.pairwise(line)]
        held = f"{fixed} {'UAVs' if grow == 0 else 'sensors'}"
        steps = " → ".join(f"{s[grow]}: {rewards[s]:.1f}" for s in line)
        parts.append(f"{held}: {steps}")
    if not parts:
        return "needs two scales that differ in one count only", None
    return "; ".join(parts), all(rises)


def claim_scale_sensors(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 3(c): at equal UAVs, SU-HATD3's reward grows with the number of sensors."""
    return _scale_trend(table, grow=0)


def claim_scale_uavs(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 3(c): at equal sensors, SU-HATD3's reward grows with the number of UAVs."""
    return _scale_trend(table, grow=1)


# ----------------------------------------------------------------------------- Fig. 4
def _rises(table: pd.DataFrame, methods: Sequence[str]) -> tuple[str, bool | None]:
    """Whether each of ``methods``' utility rises at every step up the sweep (≥ 2 values)."""
    parts, verdicts = [], []
    for method in methods:
        means = sweep_means(table, "utility", method)
        if len(means) < 2:
            continue
        keys = sorted(means, key=float)
        values = [means[k] for k in keys]
        verdicts.append(all(a < b for a, b in itertools.pairwise(values)))
        parts.append(f"{method} " + " → ".join(f"{v:.1f}" for v in values))
    if not parts:
        return "needs a learner at two sweep values", None
    return "; ".join(parts), all(verdicts)


def claim_su_hatd3_rises(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 4: SU-HATD3's system utility rises with the swept value (UAVs, sensors or
    compute), at every step of the sweep."""
    return _rises(table, (PROPOSED,))


def claim_all_learners_rise(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 4(a)–(c): "the system utility improves for all algorithms" as the value grows."""
    return _rises(table, PAPER_METHODS)


def _best_at_largest(
    table: pd.DataFrame, paper: dict[str, float] | None
) -> tuple[str, bool | None]:
    """Whether SU-HATD3 has the highest utility of the four learners at the largest swept
    value (its gains printed beside the paper's, when it gives some)."""
    if "sweep_value" not in table.columns or table.empty:
        return "needs a sweep", None
    top = max(table["sweep_value"].unique(), key=float)
    means = _learner_means(table, "utility", sweep_value=top)
    if PROPOSED not in means or len(means) < 2:
        return f"needs su_hatd3 and another learner at {top}", None
    order = sorted(means, key=lambda m: -means[m])
    text = f"at {top}: " + " > ".join(f"{m} {means[m]:.1f}" for m in order)
    if paper:
        text += f"; {_gains_text(means, paper)}"
    return text, order[0] == PROPOSED


def claim_uavs_best(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 4(a): SU-HATD3 highest at the most UAVs (paper: 10)."""
    return _best_at_largest(table, FIG4A_GAINS)


def claim_sensors_best(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 4(b): SU-HATD3 highest at the most sensors (paper: 80; no numbers printed)."""
    return _best_at_largest(table, None)


def claim_compute_best(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 4(c): SU-HATD3 highest at the largest compute (paper: 2000)."""
    return _best_at_largest(table, FIG4C_GAINS)


# ----------------------------------------------------------------------------- declarations
LEARNER_CLAIMS = (
    Claim(
        "SU-HATD3 has the highest reward of the four learners (Fig. 3(a))",
        "+39 % over MADDPG, +12.56 % over MATD3, +11.8 % over HADDPG",
        f"{_HERE}:claim_highest_reward",
    ),
    Claim(
        "Every learner's utility above random acting's (ours)",
        "not in the paper",
        f"{_HERE}:claim_beat_random",
    ),
    Claim(
        "SU-HATD3's utility at least the rule's (ours)",
        "not in the paper",
        f"{_HERE}:claim_not_below_rule",
    ),
    Claim(
        "SU-HATD3 has the highest fidelity Σ F of the four learners (Fig. 5)",
        "highest (bars, no numbers in the text)",
        f"{_HERE}:claim_highest_fidelity",
    ),
    Claim(
        "SU-HATD3 has the lowest delay T of the four learners (Fig. 5)",
        "lowest (bars, no numbers in the text)",
        f"{_HERE}:claim_lowest_delay",
    ),
    Claim(
        "SU-HATD3's UAVs move toward the sensors they serve: upload distance lower in the "
        "last tenth of the episode than in the first (Fig. 6)",
        "UAVs start away from the sensors and move toward dense sensor regions",
        f"{_HERE}:claim_uavs_toward_sensors",
    ),
)
LR_CLAIMS = (
    Claim(
        "SU-HATD3's reward is highest at learning rate 0.005 (Fig. 3(b))",
        "0.005 best of {0.05, 0.005, 0.0005}",
        f"{_HERE}:claim_lr_best",
    ),
)
SCALE_CLAIMS = (
    Claim(
        "At equal UAVs, SU-HATD3's reward grows with the sensors (Fig. 3(c))",
        "grows",
        f"{_HERE}:claim_scale_sensors",
    ),
    Claim(
        "At equal sensors, SU-HATD3's reward grows with the UAVs (Fig. 3(c))",
        "grows",
        f"{_HERE}:claim_scale_uavs",
    ),
)


def _sweep_claims(
    fig: str, what: str, largest: str, best: str, paper_best: str
) -> tuple[Claim, ...]:
    return (
        Claim(
            f"SU-HATD3's utility rises with {what} ({fig})",
            "rises",
            f"{_HERE}:claim_su_hatd3_rises",
        ),
        Claim(
            f"Every learner's utility rises with {what} ({fig})",
            "improves for all algorithms",
            f"{_HERE}:claim_all_learners_rise",
        ),
        Claim(
            f"SU-HATD3 has the highest utility of the four learners {largest} ({fig})",
            paper_best,
            f"{_HERE}:{best}",
        ),
    )


UAV_CLAIMS = _sweep_claims(
    "Fig. 4(a)",
    "the number of UAVs",
    "at the most UAVs",
    "claim_uavs_best",
    "at 10 UAVs ≈ 2700 vs > 2400 (HADDPG), 1750 (MATD3), 1100 (MADDPG) as printed — the text "
    "also calls HADDPG's value 'close to 2700'; read as SU-HATD3 +12.5 %, +54 %, +145 %",
)
SENSOR_CLAIMS = _sweep_claims(
    "Fig. 4(b)",
    "the number of sensors",
    "at the most sensors",
    "claim_sensors_best",
    "highest from 20 to 80 sensors (no numbers in the text)",
)
COMPUTE_CLAIMS = _sweep_claims(
    "Fig. 4(c)",
    "the UAVs' compute",
    "at the largest compute",
    "claim_compute_best",
    "at compute 2000: +150 % over MADDPG, +33 % over MATD3, +8 % over HADDPG",
)
