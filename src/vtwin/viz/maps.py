"""Scenario map: edge servers with coverage, backhaul links, hotspots and sample trajectories."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed (or present on servers/CI)

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Rectangle

from vtwin.world.scenario import Scenario
from vtwin.world.servers import ServerKind

_STYLE = {
    ServerKind.RSU: {"color": "tab:blue", "marker": "s", "label": "RSU"},
    ServerKind.UAV: {"color": "tab:orange", "marker": "^", "label": "UAV (start)"},
}


def plot_scenario(
    scenario: Scenario, path: str | Path, *, n_trajectories: int = 5, dpi: int = 120
) -> Path:
    """Draw the scenario map to a PNG file and return its path (axes in km from the origin)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = scenario.area_m
    fig, ax = plt.subplots(figsize=(7.5, 7.5 * h / w if w >= h else 7.5), dpi=dpi)
    km = 1e-3
    ax.add_patch(Rectangle((0, 0), w * km, h * km, fill=False, ls="--", lw=0.8, color="grey"))
    servers = scenario.servers

    for k, spot in enumerate(scenario.config.servers.hotspots):
        ax.add_patch(
            Circle(
                (spot.x_m * km, spot.y_m * km),
                spot.radius_m * km,
                color="red",
                alpha=0.08,
                lw=0,
                label="load hotspot" if k == 0 else None,
            )
        )
    for i, j in scenario.backhaul.edges:
        a, b = servers.xy_m[i] * km, servers.xy_m[j] * km
        ax.plot([a[0], b[0]], [a[1], b[1]], color="0.75", lw=0.6, zorder=1)
    for kind, style in _STYLE.items():
        idx = servers.of_kind(kind)
        if idx.size == 0:
            continue
        xy = servers.xy_m[idx] * km
        for (x, y), r in zip(xy, servers.coverage_m[idx], strict=True):
            if np.isfinite(r):
                ax.add_patch(Circle((x, y), r * km, color=style["color"], alpha=0.07, lw=0))
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            c=style["color"],
            marker=style["marker"],
            s=28,
            zorder=3,
            label=f"{style['label']} ×{idx.size}",
        )
    if scenario.sensors.n:
        sxy = scenario.sensors.xy_m * km
        ax.scatter(
            sxy[:, 0],
            sxy[:, 1],
            c="tab:green",
            marker=".",
            s=30,
            zorder=3,
            label=f"sensor ×{scenario.sensors.n}",
        )
    n_show = min(n_trajectories, scenario.vehicles.n)
    if n_show:
        traj = scenario.vehicles.mobility.trajectory(scenario.config.horizon_slots)[:, :n_show]
        for v in range(n_show):
            line = ax.plot(traj[:, v, 0] * km, traj[:, v, 1] * km, lw=1.2, alpha=0.85, zorder=2)
            ax.scatter(
                traj[0, v, 0] * km,
                traj[0, v, 1] * km,
                color=line[0].get_color(),
                marker="o",
                s=18,
                zorder=4,
            )
        ax.plot([], [], color="k", lw=1.2, label=f"vehicle trajectories ({n_show} shown)")
    n_sat = servers.count(ServerKind.SAT)
    if n_sat:
        ax.plot([], [], " ", label="LEO satellite: covers the whole area")
    ax.set_xlim(-0.03 * w * km, 1.03 * w * km)
    ax.set_ylim(-0.03 * h * km, 1.03 * h * km)
    ax.set_aspect("equal")
    ax.set_xlabel("x east (km)")
    ax.set_ylabel("y north (km)")
    title = f"{scenario.config.name} (seed {scenario.seed})"
    if scenario.projection is not None:
        title += (
            f"\norigin {scenario.projection.origin_lat_deg:.4f}°N, "
            f"{scenario.projection.origin_lon_deg:.4f}°E"
        )
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path
