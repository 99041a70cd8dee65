"""The replay page: one self-contained HTML file that animates an episode record.

:func:`write_replay` draws a :class:`vtwin.episode.EpisodeRecord` (any paper) with plotly:
a map (km from the area's south-west corner) with the servers by kind and their coverage,
the vehicles or sensors, the UAVs with a trail of their last slots and a faint line of their
whole path, a line from each entity to the server hosting its twin (or, paper D, the UAV its
task goes to), the serving or connected server as a dotted line, and, paper C, the reported
(perturbed) position beside the true one; below it the per-slot latency (or delay) and
reward with a marker at the shown slot. Play and pause buttons and a time slider drive the
animation (plotly frames). plotly.js is written into the file (``include_plotlyjs=True``),
so the page opens without a network.

plotly is the optional extra ``viz`` (``pip install 'vtwin[viz]'``) and is imported only
when a page is drawn.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from vtwin.episode import EpisodeRecord

__all__ = ["DIV_ID", "MissingExtraError", "replay_figure", "write_replay"]

DIV_ID = "vtwin-replay"
"""The id of the plot's ``div`` in the page (tests find the plot through it)."""
TRAIL_SLOTS = 12
"""Slots of a UAV's recent path drawn as its trail."""
_KIND_COLOUR = {"RSU": "#1f77b4", "UAV": "#ff7f0e", "SAT": "#9467bd"}
_KIND_SYMBOL = {"RSU": "square", "UAV": "triangle-up", "SAT": "star"}
_ENTITY_COLOUR = "#2ca02c"
_IDLE_COLOUR = "#bbbbbb"
_REPORTED_COLOUR = "#d62728"
_QUIET_INTERRUPTS = """
window.addEventListener('unhandledrejection', function (event) {
  // Plotly.animate rejects with no reason when a newer animation interrupts it (pause, a
  // slider move while playing); the buttons do not catch that, so the console would show
  // 'Uncaught (in promise)' for a pause. Real errors carry a reason and still surface.
  if (event.reason === undefined) { event.preventDefault(); }
});
"""
_PAPER_TITLE = {
    "A": "paper A · UAV-assisted twin pre-migration",
    "B": "paper B · multi-vehicle twin migration routing",
    "C": "paper C · cross-reality location privacy",
    "D": "paper D · UAV offloading of diffusion-inference tasks",
}


class MissingExtraError(RuntimeError):
    """An optional dependency is not installed (the message says how to install it)."""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise MissingExtraError(
            "the replay page needs plotly, which is not installed: pip install 'vtwin[viz]'"
        ) from exc
    return go


def _km(v: float | None) -> float | None:
    return None if v is None else round(v / 1000.0, 3)


def _circle(x: float, y: float, r: float, n: int) -> tuple[list[float | None], list[float | None]]:
    """A closed n-gon of radius ``r`` around (x, y), in km, followed by a None break."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for k in range(n + 1):
        a = 2.0 * math.pi * k / n
        xs.append(round((x + r * math.cos(a)) / 1000.0, 3))
        ys.append(round((y + r * math.sin(a)) / 1000.0, 3))
    return [*xs, None], [*ys, None]


def _segments(
    pairs: list[tuple[list[float], list[float]]],
) -> tuple[list[float | None], list[float | None]]:
    """Line segments (a → b, metres) as one km polyline broken by None."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for a, b in pairs:
        xs += [_km(a[0]), _km(b[0]), None]
        ys += [_km(a[1]), _km(b[1]), None]
    return xs, ys


class _Page:
    """The static geometry of a record and one frame's dynamic traces."""

    def __init__(self, record: EpisodeRecord) -> None:
        self.record = record
        st = record.static
        self.static = st
        sv = st["servers"]
        self.kind: list[str] = list(sv["kind"])
        self.xy: list[list[float]] = [[x, y] for x, y in zip(sv["x"], sv["y"], strict=True)]
        self.cover: list[float | None] = list(sv["coverage_m"])
        self.uavs: list[int] = list(st["uav_servers"])
        self.entity = str(st["entity"])
        count: dict[str, int] = {}
        self.label: list[str] = []
        for k in self.kind:
            self.label.append(k if k == "SAT" else f"{k} {count.get(k, 0)}")
            count[k] = count.get(k, 0) + 1
        frames = record.frames
        self.has_serving = any("serving" in f for f in frames)
        self.has_perturbed = any("perturbed" in f for f in frames)
        self.uav_cover = [self.cover[i] for i in self.uavs]

    def server_xy(self, frame: dict[str, Any], s: int) -> list[float]:
        """Where server ``s`` is during ``frame`` (UAVs move)."""
        if s in self.uavs and frame["uavs"]:
            return list(frame["uavs"][self.uavs.index(s)])
        return self.xy[s]

    def links(self, frame: dict[str, Any], key: str) -> tuple[list[Any], list[Any]]:
        pairs = [
            (pos, self.server_xy(frame, s))
            for pos, s, on in zip(
                frame["entities"], frame.get(key, []), frame["active"], strict=False
            )
            if s >= 0 and on
        ]
        return _segments(pairs)

    def dynamic(self, go: Any, index: int) -> list[Any]:
        """The traces that change from slot to slot, for frame ``index``."""
        frames = self.record.frames
        f = frames[index]
        out = []
        xs: list[Any]
        ys: list[Any]
        if self.uavs and any(c is not None for c in self.uav_cover):
            xs, ys = [], []
            for (x, y), r in zip(f["uavs"], self.uav_cover, strict=True):
                if r is not None:
                    cx, cy = _circle(x, y, r, 24)
                    xs += cx
                    ys += cy
            out.append(go.Scatter(x=xs, y=ys, uid="uav-coverage"))
        if self.has_serving:
            xs, ys = self.links(f, "serving")
            out.append(go.Scatter(x=xs, y=ys, uid="serving-links"))
        xs, ys = self.links(f, "host")
        out.append(go.Scatter(x=xs, y=ys, uid="host-links"))
        if self.uavs:
            tx: list[Any] = []
            ty: list[Any] = []
            recent = frames[max(0, index - TRAIL_SLOTS) : index + 1]
            for u in range(len(self.uavs)):
                tx += [_km(g["uavs"][u][0]) for g in recent] + [None]
                ty += [_km(g["uavs"][u][1]) for g in recent] + [None]
            out.append(go.Scatter(x=tx, y=ty, uid="uav-trails"))
            out.append(
                go.Scatter(
                    x=[_km(p[0]) for p in f["uavs"]],
                    y=[_km(p[1]) for p in f["uavs"]],
                    text=[self.label[s] for s in self.uavs],
                    uid="uavs",
                )
            )
        if self.has_perturbed:
            pairs = [(a, b) for a, b in zip(f["entities"], f.get("perturbed", []), strict=False)]
            px, py = _segments(pairs)
            out.append(go.Scatter(x=px, y=py, uid="perturbation"))
            rep = f.get("perturbed", [])
            out.append(
                go.Scatter(
                    x=[_km(p[0]) for p in rep],
                    y=[_km(p[1]) for p in rep],
                    text=[f"reported position of {self.entity} {i}" for i in range(len(rep))],
                    uid="reported",
                )
            )
        hover = []
        for i, (h, on) in enumerate(zip(f["host"], f["active"], strict=True)):
            where = self.label[h] if h >= 0 else "none"
            hover.append(
                f"{self.entity} {i}<br>{self.static['host_label']}: {where}"
                + ("" if on else "<br>(not in the episode now)")
            )
        out.append(
            go.Scatter(
                x=[_km(p[0]) for p in f["entities"]],
                y=[_km(p[1]) for p in f["entities"]],
                text=hover,
                marker={"color": [_ENTITY_COLOUR if on else _IDLE_COLOUR for on in f["active"]]},
                uid="entities",
            )
        )
        out.append(go.Scatter(x=[f["t"]], y=[f["latency_s"]], uid="latency-now"))
        out.append(go.Scatter(x=[f["t"]], y=[f["reward"]], uid="reward-now"))
        return out


def _style(go: Any, page: _Page, traces: list[Any]) -> list[Any]:
    """Give the first frame's dynamic traces their names, styles and axes (frames then only
    carry the data)."""
    e = page.entity
    styles: dict[str, dict[str, Any]] = {
        "uav-coverage": {
            "mode": "lines",
            "line": {"color": _KIND_COLOUR["UAV"], "width": 1},
            "fill": "toself",
            "fillcolor": "rgba(255,127,14,0.08)",
            "name": "UAV coverage",
            "hoverinfo": "skip",
        },
        "serving-links": {
            "mode": "lines",
            "line": {"color": "#888888", "width": 1, "dash": "dot"},
            "name": str(page.static.get("serving_label") or "serving"),
            "hoverinfo": "skip",
        },
        "host-links": {
            "mode": "lines",
            "line": {"color": "#2ca02c", "width": 2},
            "name": str(page.static["host_label"]),
            "hoverinfo": "skip",
        },
        "uav-trails": {
            "mode": "lines",
            "line": {"color": _KIND_COLOUR["UAV"], "width": 3},
            "name": f"UAV trail ({TRAIL_SLOTS} slots)",
            "hoverinfo": "skip",
        },
        "uavs": {
            "mode": "markers",
            "marker": {"symbol": "triangle-up", "size": 13, "color": _KIND_COLOUR["UAV"]},
            "name": "UAV",
            "hovertemplate": "%{text}<extra></extra>",
        },
        "perturbation": {
            "mode": "lines",
            "line": {"color": _REPORTED_COLOUR, "width": 1, "dash": "dash"},
            "name": "true → reported",
            "hoverinfo": "skip",
        },
        "reported": {
            "mode": "markers",
            "marker": {"symbol": "x", "size": 9, "color": _REPORTED_COLOUR},
            "name": "reported position",
            "hovertemplate": "%{text}<extra></extra>",
        },
        "entities": {
            "mode": "markers",
            "marker": {"size": 10, "line": {"width": 1, "color": "#1b5e20"}},
            "name": f"{e} (true position)" if page.has_perturbed else e,
            "hovertemplate": "%{text}<extra></extra>",
        },
        "latency-now": {
            "mode": "markers",
            "marker": {"size": 10, "color": "#1f77b4"},
            "showlegend": False,
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": "slot %{x}: %{y:.4g}<extra></extra>",
        },
        "reward-now": {
            "mode": "markers",
            "marker": {"size": 10, "color": "#d62728"},
            "showlegend": False,
            "xaxis": "x2",
            "yaxis": "y3",
            "hovertemplate": "slot %{x}: reward %{y:.4g}<extra></extra>",
        },
    }
    for trace in traces:
        trace.update(styles[trace.uid])
    return traces


def _static(go: Any, page: _Page) -> list[Any]:
    """Traces that stay: coverage discs and markers of fixed servers, whole UAV paths, the
    latency and reward curves."""
    out = []
    fixed = [s for s in range(len(page.kind)) if s not in page.uavs]
    for kind in ("RSU", "SAT"):
        idx = [s for s in fixed if page.kind[s] == kind]
        if not idx:
            continue
        covered = [s for s in idx if page.cover[s] is not None]
        if covered:
            xs: list[Any] = []
            ys: list[Any] = []
            for s in covered:
                cx, cy = _circle(page.xy[s][0], page.xy[s][1], float(page.cover[s] or 0.0), 32)
                xs += cx
                ys += cy
            out.append(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    fill="toself",
                    fillcolor="rgba(31,119,180,0.03)",
                    line={"color": "rgba(31,119,180,0.3)", "width": 1},
                    name=f"{kind} coverage",
                    hoverinfo="skip",
                    uid=f"{kind.lower()}-coverage",
                )
            )
        name = "LEO satellite (nadir point, covers the area)" if kind == "SAT" else "RSU"
        out.append(
            go.Scatter(
                x=[_km(page.xy[s][0]) for s in idx],
                y=[_km(page.xy[s][1]) for s in idx],
                mode="markers",
                marker={
                    "symbol": _KIND_SYMBOL[kind],
                    "size": 14 if kind == "SAT" else 8,
                    "color": _KIND_COLOUR[kind],
                },
                text=[page.label[s] for s in idx],
                hovertemplate="%{text}<extra></extra>",
                name=name,
                uid=f"{kind.lower()}-servers",
            )
        )
    frames = page.record.frames
    if page.uavs:
        xs = []
        ys = []
        for u in range(len(page.uavs)):
            xs += [_km(f["uavs"][u][0]) for f in frames] + [None]
            ys += [_km(f["uavs"][u][1]) for f in frames] + [None]
        out.append(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": "rgba(255,127,14,0.3)", "width": 1},
                name="UAV path (episode)",
                hoverinfo="skip",
                uid="uav-paths",
            )
        )
    t = [f["t"] for f in frames]
    out.append(
        go.Scatter(
            x=t,
            y=[f["latency_s"] for f in frames],
            mode="lines",
            line={"color": "#1f77b4"},
            name=str(page.static["latency_label"]),
            xaxis="x2",
            yaxis="y2",
            uid="latency",
        )
    )
    out.append(
        go.Scatter(
            x=t,
            y=[f["reward"] for f in frames],
            mode="lines",
            line={"color": "#d62728"},
            name="reward (mean per entity)",
            xaxis="x2",
            yaxis="y3",
            uid="reward",
        )
    )
    return out


def _title(record: EpisodeRecord) -> str:
    meta, st = record.meta, record.static
    head = _PAPER_TITLE.get(str(st["paper"]), f"paper {st['paper']}")
    parts = [
        f"preset {meta.get('preset', '?')}",
        f"agent {meta.get('algo', '?')}",
        f"episode seed {meta.get('episode_seed', '?')}",
        f"{len(record.frames)} slots of {st['slot_s']:g} s",
    ]
    origin = st.get("origin_latlon")
    if origin:
        parts.append(f"origin {origin[0]:.4f}°N {origin[1]:.4f}°E")
    return f"<b>{head}</b><br><span style='font-size:12px'>{' · '.join(parts)}</span>"


def replay_figure(record: EpisodeRecord, *, max_frames: int = 300) -> Any:
    """The animated plotly figure of ``record`` (at most ``max_frames`` animation frames:
    longer episodes show every n-th slot; the curves keep every slot)."""
    if max_frames < 2:
        raise ValueError(f"max_frames = {max_frames}: must be ≥ 2")
    go = _plotly()
    record.validate()
    page = _Page(record)
    n = len(record.frames)
    stride = max(1, math.ceil(n / max_frames))
    shown = list(range(0, n, stride))
    if shown[-1] != n - 1:
        shown.append(n - 1)

    static = _static(go, page)
    first = _style(go, page, page.dynamic(go, shown[0]))
    dyn_index = list(range(len(static), len(static) + len(first)))
    frames = [
        go.Frame(data=page.dynamic(go, i), traces=dyn_index, name=str(record.frames[i]["t"]))
        for i in shown
    ]
    fig = go.Figure(data=[*static, *first], frames=frames)

    w, h = record.static["area_m"]
    pad = 0.04 * max(w, h) / 1000.0
    still = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
             "transition": {"duration": 0}}  # fmt: skip
    steps = [
        {
            "method": "animate",
            "label": str(record.frames[i]["t"]),
            "args": [[str(record.frames[i]["t"])], still],
        }
        for i in shown
    ]
    fig.update_layout(
        title={"text": _title(record), "x": 0.01, "xanchor": "left"},
        height=980,
        margin={"l": 60, "r": 60, "t": 90, "b": 130},
        template="plotly_white",
        legend={"orientation": "v", "x": 1.02, "y": 1.0, "font": {"size": 11}},
        xaxis={
            "domain": [0.0, 1.0],
            "anchor": "y",
            "title": "x east (km)",
            "range": [-pad, w / 1000.0 + pad],
            "constrain": "domain",
        },
        yaxis={
            "domain": [0.37, 1.0],
            "anchor": "x",
            "title": "y north (km)",
            "range": [-pad, h / 1000.0 + pad],
            "scaleanchor": "x",
            "scaleratio": 1,
            "constrain": "domain",
        },
        xaxis2={"domain": [0.0, 1.0], "anchor": "y2", "title": "slot"},
        yaxis2={
            "domain": [0.0, 0.25],
            "anchor": "x2",
            "title": {"text": str(record.static["latency_label"]), "font": {"color": "#1f77b4"}},
        },
        yaxis3={
            "overlaying": "y2",
            "side": "right",
            "anchor": "x2",
            "title": {"text": "reward", "font": {"color": "#d62728"}},
            "showgrid": False,
        },
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.07,
                "xanchor": "left",
                "yanchor": "top",
                "showactive": False,
                "buttons": [
                    {
                        "label": "▶ play",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 120, "redraw": False},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {"label": "❚❚ pause", "method": "animate", "args": [[None], still]},
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.2,
                "len": 0.8,
                "y": -0.04,
                "yanchor": "top",
                "currentvalue": {"prefix": "slot ", "font": {"size": 13, "color": "#333333"}},
                # past ~40 steps the tick labels overlap: hide them, the current value stays
                "font": {"color": "#333333" if len(steps) <= 40 else "rgba(0,0,0,0)"},
                "pad": {"t": 10, "b": 0},
                "steps": steps,
            }
        ],
    )
    return fig


def write_replay(record: EpisodeRecord, path: str | Path, *, max_frames: int = 300) -> Path:
    """Write the replay page of ``record`` to ``path`` (one HTML file with plotly.js inside,
    written atomically) and return the path."""
    fig = replay_figure(record, max_frames=max_frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    html = fig.to_html(
        include_plotlyjs=True,
        full_html=True,
        auto_play=False,
        div_id=DIV_ID,
        config={"displaylogo": False, "responsive": True},
        post_script=_QUIET_INTERRUPTS,
    )
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
