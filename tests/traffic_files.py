"""A small long-format traffic file for the tests that train forecasters from the CLI."""

from __future__ import annotations

from pathlib import Path

from vtwin.data.traffic import synthetic_traffic


def write_traffic_csv(path: Path, seed: int) -> Path:
    """Write ``time,sensor,flow`` rows of 2 sensors × 3 days of 5-minute synthetic flows."""
    s = synthetic_traffic(2, days=3.0, seed=seed)
    lines = ["time,sensor,flow"]
    for i, t in enumerate(s.time_s):
        for m, name in enumerate(s.names):
            lines.append(f"{int(t)},{name},{s.values[i, m]:.2f}")
    path.write_text("\n".join(lines) + "\n")
    return path
