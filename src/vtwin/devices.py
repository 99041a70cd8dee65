"""Where torch work runs: one rule for agents and forecasters alike (CUDA when present)."""

from __future__ import annotations

import os

import torch

__all__ = ["DEVICES", "available_memory_bytes", "pick_device"]


DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
"""What ``--device`` accepts."""


def pick_device(requested: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; otherwise the named device.

    ValueError (one line, naming the value and what is allowed) for a name torch does not
    know as one of :data:`DEVICES`, or a device this machine does not have.
    """
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device = {requested!r}: unknown; allowed: {', '.join(DEVICES)}"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device = {requested!r}: CUDA is not available on this machine (no GPU, or a "
                "CPU-only build of torch); use cpu or auto"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device = {requested!r}: this machine has {count} CUDA device(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device = {requested!r}: MPS is not available on this machine")
    elif device.type != "cpu":
        raise ValueError(f"device = {requested!r}: unsupported; allowed: {', '.join(DEVICES)}")
    return device


def available_memory_bytes() -> int | None:
    """Memory the system can give this process now (Linux ``MemAvailable``; else free
    physical pages), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None
