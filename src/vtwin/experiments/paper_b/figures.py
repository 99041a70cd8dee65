"""Paper B Figs. 6–11: what the routing experiments draw.

Figs. 6–9 are one figure per summary metric (:func:`metric_figures`: bars per method, or lines
against the swept value) and the training curve; Figs. 10–11 are drawn from the replay that
:func:`vtwin.experiments.paper_b.routing.run_replay` records: the kind of server (RSU, UAV,
satellite) hosting each vehicle's twin per slot, as a timeline and on the map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vtwin.experiments.spec import Figure, RunResult, RunSpec

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["REPLAY_FIGURES", "TRAINING_CURVE", "draw_fig10", "draw_fig11", "metric_figures"]

METRIC_LABELS: tuple[tuple[str, str], ...] = (
    ("reward_per_step", "test reward per vehicle-slot"),
    ("latency_s", "latency per vehicle-slot (s)"),
    ("packet_loss_pct", "packet loss (%)"),
    ("workload_variance", "workload variance (MB²)"),
)
"""The summary metrics of Figs. 6–9 and their axis labels."""


def metric_figures(prefix: str, title: str, xlabel: str = "") -> tuple[Figure, ...]:
    """One figure per metric: bars per method, or lines against the sweep (``xlabel`` set)."""
    kind = Figure.line if xlabel else Figure.bar
    return tuple(
        kind(f"{prefix}_{metric}", metric, f"{title}: {label}", label, xlabel)
        for metric, label in METRIC_LABELS
    )


TRAINING_CURVE = Figure.curve(
    "training_reward",
    "reward_per_step",
    "Reward per vehicle-slot during training",
    "reward per vehicle-slot",
    "agent-steps",
)

REPLAY_FIGURES = (
    Figure.custom(
        "fig10_timeline",
        f"{__name__}:draw_fig10",
        "Fig. 10: host kind per vehicle and slot (DM-MAPPO)",
        "vehicle",
    ),
    Figure.custom(
        "fig11_map",
        f"{__name__}:draw_fig11",
        "Fig. 11: vehicle tracks coloured by host kind (DM-MAPPO)",
        "latitude (°)",
    ),
)

_KIND_COLOURS = {"rsu": "tab:blue", "uav": "tab:orange", "sat": "tab:red", "none": "0.85"}


def _replay(runs: list[tuple[RunSpec, RunResult]]) -> dict[str, Any]:
    for _, result in sorted(runs, key=lambda sr: sr[0].seed):
        if "replay" in result.artifacts:
            replay: dict[str, Any] = result.artifacts["replay"]
            return replay
    raise ValueError("no run recorded a replay")


def draw_fig10(runs: list[tuple[RunSpec, RunResult]], ax: Axes) -> pd.DataFrame:
    """Fig. 10: host kind (RSU / UAV / satellite) of each vehicle's twin per slot."""
    replay = _replay(runs)
    rows = []
    for v, hosts in enumerate(replay["hosts"]):
        for t, kind in enumerate(hosts):
            rows.append({"vehicle": v, "slot": t, "host": kind})
            ax.barh(v, 1, left=t, color=_KIND_COLOURS[kind], edgecolor="none")
    for kind, colour in _KIND_COLOURS.items():
        ax.bar(0, 0, color=colour, label=kind)
    ax.set_yticks(range(len(replay["hosts"])))
    ax.set_xlabel(f"slot ({replay['slot_s']:g} s each)")
    ax.legend(fontsize=7, ncol=4)
    return pd.DataFrame(rows)


def draw_fig11(runs: list[tuple[RunSpec, RunResult]], ax: Axes) -> pd.DataFrame:
    """Fig. 11: vehicle tracks on the map, each point coloured by the host kind."""
    replay = _replay(runs)
    rsu = np.asarray(replay["rsu_latlon"])
    ax.scatter(rsu[:, 1], rsu[:, 0], marker="^", s=12, color="0.5", label="RSU")
    rows = []
    for v, (track, hosts) in enumerate(zip(replay["tracks"], replay["hosts"], strict=True)):
        pts = np.asarray(track)
        ax.plot(pts[:, 1], pts[:, 0], color="0.7", lw=0.8)
        colours = [_KIND_COLOURS[k] for k in hosts]
        ax.scatter(pts[:, 1], pts[:, 0], c=colours, s=6)
        rows += [
            {"vehicle": v, "lat": p[0], "lon": p[1], "host": k}
            for p, k in zip(track, hosts, strict=True)
        ]
    for kind in ("rsu", "uav", "sat"):
        ax.scatter([], [], color=_KIND_COLOURS[kind], s=12, label=f"hosted by {kind}")
    ax.set_xlabel("longitude (°)")
    ax.legend(fontsize=7)
    return pd.DataFrame(rows)
