"""The episode record: one env copy's episode as plain JSON, shared by all four papers.

A leaf module (no vtwin imports): the batched envs describe themselves in its terms
(``episode_static``, ``episode_state``, ``episode_outcome``), ``vtwin.training.record`` plays
an agent and writes the record, and ``vtwin.viz.replay`` draws it, without any of them
importing the others.

Format (``"format": "vtwin.episode"``, ``"version": 1``), coordinates in local metres (x east,
y north from the area's south-west corner), times in seconds:

``meta``
    Where the episode came from: ``paper``, ``preset``, ``algo``, ``episode_seed``,
    ``deterministic``, ``slots`` (frames recorded), ``run_dir`` and ``checkpoint_sha256``
    when recorded from a run folder, ``vtwin_version``.
``static`` (what does not change during the episode)
    ``paper`` (A–D); ``area_m`` [W, H]; ``slot_s``; ``origin_latlon`` [lat, lon] of the
    local origin for geo-referenced scenarios, else null; ``entity`` (what moves or senses:
    ``vehicle``, ``AV`` or ``sensor``) and ``n_entities``; ``servers``: ``kind`` (``RSU``,
    ``UAV``, ``SAT``), ``x``, ``y`` (a UAV's start, the satellite's nadir point) and
    ``coverage_m`` (null where unbounded), one entry per server in the env's action order;
    ``uav_servers``: the server index of each UAV in the frames' ``uavs`` order;
    ``host_label`` (what ``host`` means, e.g. ``twin host``), ``serving_label`` (what
    ``serving`` means, or null), ``latency_label`` (what ``latency_s`` is) and ``terms`` (the
    names in every frame's ``terms``; the recorder fills it in from the first frame, so a
    user reward's components are listed whatever they are).
``frames`` (one per slot played, in order)
    ``t`` (slot index); ``entities`` [[x, y] × n_entities] where they are when the slot's
    decisions are taken; ``active`` [bool × n_entities] (still driving / in the episode);
    ``uavs`` [[x, y] × len(uav_servers)] at the same moment; ``host`` [server index or −1 ×
    n_entities], the server that the slot's decision puts each entity's twin (or task) on;
    ``serving`` [server index or −1] (optional: the server an entity is attached to
    physically, e.g. paper A's serving RSU, paper C's connected server); ``perturbed``
    [[x, y] × n_entities] (paper C: the reported, perturbed positions; absent elsewhere);
    ``latency_s`` (the slot's mean latency or delay over active entities), ``reward`` (mean
    reward over entities) and ``terms`` {name: mean over active entities} (the env's named
    per-slot terms and its reward's components).

Positions are rounded to 0.1 m and other numbers to 5 significant digits when a record is
built (:func:`compact_frame`), which keeps ``episode.json`` small; non-finite numbers become
null.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FORMAT",
    "FRAME_KEYS",
    "SERVER_KINDS",
    "STATIC_KEYS",
    "VERSION",
    "EpisodeRecord",
    "RecordError",
    "compact_frame",
    "compact_static",
]

FORMAT = "vtwin.episode"
VERSION = 1
SERVER_KINDS = ("RSU", "UAV", "SAT")
STATIC_KEYS = (
    "paper",
    "area_m",
    "slot_s",
    "origin_latlon",
    "entity",
    "n_entities",
    "servers",
    "uav_servers",
    "host_label",
    "serving_label",
    "latency_label",
    "terms",
)
"""Keys every record's ``static`` part has."""
FRAME_KEYS = ("t", "entities", "active", "uavs", "host", "latency_s", "reward", "terms")
"""Keys every frame has (``serving`` and ``perturbed`` are optional)."""
_POSITION_KEYS = ("entities", "uavs", "perturbed")
_INDEX_KEYS = ("host", "serving")


class RecordError(ValueError):
    """An episode record that does not follow the format (the message names the part)."""


def _number(x: Any, digits: int = 5) -> float | None:
    """``x`` as a float with ``digits`` significant digits; None when not finite."""
    v = float(x)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def _positions(xy: Any) -> list[list[float]]:
    a = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return [[round(float(x), 1), round(float(y), 1)] for x, y in a]


def compact_frame(frame: Mapping[str, Any]) -> dict[str, Any]:
    """A frame with numpy values turned into JSON values: positions to 0.1 m, indices to
    ints, flags to bools, numbers to 5 significant digits (non-finite: None)."""
    out: dict[str, Any] = {}
    for key, value in frame.items():
        if key in _POSITION_KEYS:
            out[key] = _positions(value)
        elif key in _INDEX_KEYS:
            out[key] = [int(v) for v in np.asarray(value).reshape(-1)]
        elif key == "active":
            out[key] = [bool(v) for v in np.asarray(value).reshape(-1)]
        elif key == "t":
            out[key] = int(value)
        elif key == "terms":
            out[key] = {str(k): _number(v) for k, v in value.items()}
        else:
            out[key] = _number(value)
    return out


def compact_static(static: Mapping[str, Any]) -> dict[str, Any]:
    """The static part with numpy values turned into JSON values (positions to 0.1 m)."""
    servers = static["servers"]
    cover = np.asarray(servers["coverage_m"], dtype=np.float64).reshape(-1)
    out = dict(static)
    out["area_m"] = [float(v) for v in np.asarray(static["area_m"]).reshape(-1)]
    out["slot_s"] = float(static["slot_s"])
    origin = static.get("origin_latlon")
    out["origin_latlon"] = None if origin is None else [float(v) for v in np.asarray(origin)]
    out["n_entities"] = int(static["n_entities"])
    xy = np.stack([np.asarray(servers["x"]), np.asarray(servers["y"])], axis=-1)
    pos = _positions(xy)
    out["servers"] = {
        "kind": [str(k) for k in servers["kind"]],
        "x": [p[0] for p in pos],
        "y": [p[1] for p in pos],
        "coverage_m": [round(float(c), 1) if np.isfinite(c) else None for c in cover],
    }
    out["uav_servers"] = [int(i) for i in np.asarray(static["uav_servers"]).reshape(-1)]
    out["terms"] = [str(t) for t in static["terms"]]
    return out


@dataclass
class EpisodeRecord:
    """One episode of one env copy: ``meta``, ``static`` and ``frames`` (module docstring)."""

    meta: dict[str, Any]
    static: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)

    def validate(self, source: str = "episode record") -> None:
        """Raise :class:`RecordError` naming ``source`` and the first part that breaks the
        format (missing keys, wrong lengths, server indices out of range)."""
        missing = [k for k in STATIC_KEYS if k not in self.static]
        if missing:
            raise RecordError(f"{source}: static part lacks {', '.join(missing)}")
        servers = self.static["servers"]
        if not isinstance(servers, Mapping) or not all(
            k in servers for k in ("kind", "x", "y", "coverage_m")
        ):
            raise RecordError(f"{source}: static.servers needs kind, x, y and coverage_m lists")
        S = len(servers["kind"])
        if any(len(servers[k]) != S for k in ("x", "y", "coverage_m")):
            raise RecordError(f"{source}: static.servers lists differ in length")
        bad_kind = sorted({str(k) for k in servers["kind"]} - set(SERVER_KINDS))
        if bad_kind:
            raise RecordError(
                f"{source}: static.servers.kind has {bad_kind}; allowed: {', '.join(SERVER_KINDS)}"
            )
        uavs = list(self.static["uav_servers"])
        if any(not 0 <= int(i) < S for i in uavs):
            raise RecordError(f"{source}: static.uav_servers {uavs} outside 0..{S - 1}")
        n = int(self.static["n_entities"])
        terms = set(self.static["terms"])
        if not self.frames:
            raise RecordError(f"{source}: no frames")
        for i, frame in enumerate(self.frames):
            where = f"{source}: frame {i}"
            lacking = [k for k in FRAME_KEYS if k not in frame]
            if lacking:
                raise RecordError(f"{where} lacks {', '.join(lacking)}")
            for key, size in (
                ("entities", n),
                ("active", n),
                ("host", n),
                ("uavs", len(uavs)),
                ("serving", n),
                ("perturbed", n),
            ):
                if key in frame and len(frame[key]) != size:
                    raise RecordError(
                        f"{where}: {key} has {len(frame[key])} entries; expected {size}"
                    )
            for key in _INDEX_KEYS:
                if key in frame and any(not -1 <= int(h) < S for h in frame[key]):
                    raise RecordError(f"{where}: {key} {frame[key]} outside -1..{S - 1}")
            if set(frame["terms"]) != terms:
                raise RecordError(
                    f"{where}: terms {sorted(frame['terms'])} differ from static.terms "
                    f"{sorted(terms)}"
                )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: format, version, meta, static, frames."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "meta": self.meta,
            "static": self.static,
            "frames": self.frames,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "episode record") -> EpisodeRecord:
        """A checked record from a parsed JSON document."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise RecordError(f"{source}: not a vtwin episode record (format != {FORMAT!r})")
        if data.get("version") != VERSION:
            raise RecordError(
                f"{source}: episode record version {data.get('version')!r}; this vtwin reads "
                f"version {VERSION}"
            )
        frames = data.get("frames")
        if not isinstance(frames, list):
            raise RecordError(f"{source}: frames must be a list")
        record = cls(dict(data.get("meta") or {}), dict(data.get("static") or {}), frames)
        record.validate(source)
        return record

    def save(self, path: str | Path) -> Path:
        """Write the record as compact JSON through a temporary file and an atomic rename."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(
            json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False), encoding="utf-8"
        )
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> EpisodeRecord:
        """Read a record written by :meth:`save`; a missing, unreadable or malformed file is a
        :class:`RecordError` (or ``OSError``) naming it."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data, source=str(path))
