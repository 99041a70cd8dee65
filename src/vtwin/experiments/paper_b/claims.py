"""Paper B Figs. 6–9: the paper's claims, its values and how each is checked on our runs.

Each ``claim_*`` function takes the summary table of an experiment's runs (see
:mod:`vtwin.experiments.common`) and returns ``(our value, agrees)``; ``agrees`` is None when
the runs needed were not made. The tuples of :class:`Claim` declare, per experiment, the
claim's wording and paper value beside the function that checks it.
"""

from __future__ import annotations

import pandas as pd

from vtwin.experiments.common import gain_pct, lowest_everywhere, method_means, paired_gains
from vtwin.experiments.spec import Claim

__all__ = [
    "DATA_CLAIMS",
    "MASK_CLAIMS",
    "PREDICTION_CLAIMS",
    "REFERENCES",
    "SIZE_CLAIMS",
    "ablation_claims",
    "claim_forecast_better",
    "claim_headline",
    "claim_loss_below_10",
    "claim_lowest_latency",
    "claim_lowest_loss",
    "claim_mask_gain",
    "claim_no_sat",
    "claim_no_uav",
    "claim_prediction_gain",
    "claim_prediction_loss",
    "claim_variance_falls",
]

_HERE = __name__
REFERENCES = ("greedy_feasible",)
"""Methods we add as references (not the paper's baselines): left out of the Fig. 7 claims,
which are about the paper's methods."""
_PREDICTED = (("dm_mappo", "MAPPO"), ("masac", "MASAC"))  # methods run with and without (_last)


# ---------------------------------------------------------------------------- Fig. 6
def claim_prediction_gain(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 6: prediction raises the test reward of MAPPO (35.99 %) and MASAC (17.08 %)."""
    r = method_means(table, "reward_per_step")
    pairs = [(label, algo, f"{algo}_last") for algo, label in _PREDICTED]
    found = paired_gains(r, pairs)
    if not found:
        return "needs a method with and without prediction", None
    text = "; ".join(f"{label}: {g:+.1f} % ({v:.3f} vs {b:.3f})" for label, g, v, b in found)
    return text, all(g > 0 for _, g, _, _ in found)


def claim_forecast_better(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 6's premise: the agents' forecast of the env's background load beats the last
    measured value (paper B Table II: LSTM-Transformer error 6.814 % vs 8.7–9.8 %)."""
    if "background_error_pct" not in table:
        return "runs predate the background_error_pct metric", None
    e = method_means(table, "background_error_pct")
    pairs = [(a, f"{a}_last") for a, _ in _PREDICTED if {a, f"{a}_last"} <= set(e)]
    if not pairs:
        return "needs a method with and without prediction", None
    model, last = pairs[0]
    return (
        f"error on the env's background: forecaster {e[model]:.2f} %, last value {e[last]:.2f} %"
    ), e[model] < e[last]


def claim_prediction_loss(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 6: MAPPO with prediction has the lowest packet loss (4.494 %)."""
    loss = method_means(table, "packet_loss_pct")
    if "dm_mappo" not in loss:
        return "dm_mappo was not run", None
    best = min(loss, key=lambda k: loss[k])
    text = ", ".join(f"{k} {v:.2f} %" for k, v in sorted(loss.items(), key=lambda kv: kv[1]))
    return text, best == "dm_mappo"


PREDICTION_CLAIMS = (
    Claim(
        "Prediction raises the test reward (Fig. 6a)",
        "MAPPO +35.99 %, MASAC +17.08 %",
        f"{_HERE}:claim_prediction_gain",
    ),
    Claim(
        "The forecaster predicts the env's background load better than the last "
        "measured value (premise of Fig. 6; Table II)",
        "6.814 % vs 8.7–9.8 % (baselines)",
        f"{_HERE}:claim_forecast_better",
    ),
    Claim(
        "MAPPO with prediction has the lowest packet loss (Fig. 6c)",
        "4.494 %",
        f"{_HERE}:claim_prediction_loss",
    ),
)
"""``paper-b-prediction``."""


# ---------------------------------------------------------------------------- Fig. 7
def _lowest_everywhere(table: pd.DataFrame, metric: str) -> tuple[str, bool | None]:
    def describe(value: float, best: str, m: dict[str, float]) -> str:
        return f"{value:g}: best {best} ({m[best]:.3g}; dm_mappo {m['dm_mappo']:.3g})"

    return lowest_everywhere(_papers(table), metric, "dm_mappo", describe)


def _papers(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the paper's own methods (without :data:`REFERENCES`)."""
    return table[~table["method"].isin(REFERENCES)]


def claim_lowest_latency(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 7: DM-MAPPO has the lowest latency at every swept value."""
    return _lowest_everywhere(table, "latency_s")


def claim_lowest_loss(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 7: DM-MAPPO has the lowest packet loss at every swept value."""
    return _lowest_everywhere(table, "packet_loss_pct")


def claim_loss_below_10(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 7: DM-MAPPO's packet loss stays below 10 % up to 100 MB."""
    rows = table[(table["method"] == "dm_mappo") & (table["sweep_value"] <= 100)]
    if rows.empty:
        return "dm_mappo was not run at ≤ 100 MB", None
    loss = rows.groupby("sweep_value")["packet_loss_pct"].mean()
    text = ", ".join(f"{k:g} MB {v:.2f} %" for k, v in loss.items())
    return text, bool((loss < 10.0).all())


def claim_variance_falls(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 7 (d): every method's workload variance falls as more data is generated
    (compared between the lowest and the highest swept value)."""
    table = _papers(table)
    values = sorted(table["sweep_value"].unique())
    if len(values) < 2:
        return "needs two or more swept values", None
    lo = method_means(table, "workload_variance", sweep_value=values[0])
    hi = method_means(table, "workload_variance", sweep_value=values[-1])
    methods = [m for m in lo if m in hi]
    if not methods:
        return "no method was run at both ends of the sweep", None
    text = ", ".join(
        f"{m} {lo[m]:.4g} → {hi[m]:.4g} MB² ({gain_pct(hi[m], lo[m]):+.1f} %)" for m in methods
    )
    return text, all(hi[m] < lo[m] for m in methods)


def _lowest_claims(every: str, paper_range: str) -> tuple[Claim, Claim]:
    """Fig. 7: DM-MAPPO's lowest latency and packet loss at ``every`` swept value."""
    return (
        Claim(
            f"DM-MAPPO has the lowest latency at every {every} (Fig. 7)",
            f"lowest from {paper_range}",
            f"{_HERE}:claim_lowest_latency",
        ),
        Claim(
            f"DM-MAPPO has the lowest packet loss at every {every} (Fig. 7)",
            f"lowest from {paper_range}",
            f"{_HERE}:claim_lowest_loss",
        ),
    )


SIZE_CLAIMS = (
    *_lowest_claims("migration size", "40 to 120 MB"),
    Claim(
        "DM-MAPPO's packet loss stays below 10 % up to 100 MB (Fig. 7)",
        "< 10 %",
        f"{_HERE}:claim_loss_below_10",
    ),
)
"""``paper-b-size``."""

DATA_CLAIMS = (
    *_lowest_claims("data rate", "1.0 to 3.0 MB/s"),
    Claim(
        "Workload variance falls as more data is generated (Fig. 7 d)",
        "decreases from 1.0 to 3.0 MB/s",
        f"{_HERE}:claim_variance_falls",
    ),
)
"""``paper-b-data``."""


# ---------------------------------------------------------------------------- Fig. 8
def _ablation(table: pd.DataFrame, variant: str) -> tuple[str, bool | None]:
    parts, agree = [], []
    for metric, label, worse in (
        ("reward_per_step", "reward", "lower"),
        ("latency_s", "latency", "higher"),
        ("packet_loss_pct", "loss", "higher"),
    ):
        m = method_means(table, metric)
        if not {"dm_mappo", variant} <= set(m):
            return f"needs dm_mappo and {variant}", None
        g = gain_pct(m[variant], m["dm_mappo"])
        parts.append(f"{label} {g:+.1f} %")
        agree.append(g < 0 if worse == "lower" else g > 0)
    return ", ".join(parts), all(agree)


def claim_no_uav(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 8: without UAVs the reward drops and latency and packet loss rise."""
    return _ablation(table, "dm_mappo_no_uav")


def claim_no_sat(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 8: without the satellite the reward drops and latency and packet loss rise."""
    return _ablation(table, "dm_mappo_no_sat")


def ablation_claims(area: str, paper_no_uav: str) -> tuple[Claim, Claim]:
    """``paper-b-ablation-<area>``; ``paper_no_uav`` is the paper's value without UAVs."""
    return (
        Claim(
            f"Without UAVs DM-MAPPO does worse ({area}, Fig. 8)",
            paper_no_uav,
            f"{_HERE}:claim_no_uav",
        ),
        Claim(
            f"Without the satellite DM-MAPPO does worse ({area}, Fig. 8)",
            "worse on every metric",
            f"{_HERE}:claim_no_sat",
        ),
    )


# ---------------------------------------------------------------------------- Fig. 9
def claim_mask_gain(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Fig. 9: the mask cuts latency and packet loss and raises MAPPO's reward (73.41 %)."""
    lat, loss = method_means(table, "latency_s"), method_means(table, "packet_loss_pct")
    reward = method_means(table, "reward_per_step")
    if not {"dm_mappo", "mappo"} <= set(reward):
        return "needs dm_mappo and mappo", None
    g_lat = gain_pct(lat["dm_mappo"], lat["mappo"])
    g_loss = gain_pct(loss["dm_mappo"], loss["mappo"])
    g_r = gain_pct(reward["dm_mappo"], reward["mappo"])
    text = f"latency {g_lat:+.1f} %, packet loss {g_loss:+.1f} %, reward {g_r:+.1f} %"
    return text, g_lat < 0 and g_loss < 0 and g_r > 0


def claim_headline(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Headline: DM-MAPPO cuts latency (20.82 %) and packet loss (75.07 %) vs DRL baselines."""
    lat, loss = method_means(table, "latency_s"), method_means(table, "packet_loss_pct")
    if "dm_mappo" not in lat:
        return "dm_mappo was not run", None
    parts, agree = [], []
    for base in ("mappo", "masac"):
        if base in lat:
            gl, gp = gain_pct(lat["dm_mappo"], lat[base]), gain_pct(loss["dm_mappo"], loss[base])
            parts.append(f"vs {base}: latency {gl:+.1f} %, loss {gp:+.1f} %")
            agree.append(gl < 0 and gp < 0)
    if not parts:
        return "needs mappo or masac", None
    return "; ".join(parts), all(agree)


MASK_CLAIMS = (
    Claim(
        "The dynamic mask cuts MAPPO's latency and packet loss, raises its reward",
        "latency −72.05 %, loss −44.60 %, reward +73.41 %",
        f"{_HERE}:claim_mask_gain",
    ),
    Claim(
        "Headline: DM-MAPPO vs traditional DRL (MAPPO, MASAC)",
        "latency −20.82 %, packet loss −75.07 %",
        f"{_HERE}:claim_headline",
    ),
)
"""``paper-b-mask``."""
