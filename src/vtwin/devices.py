"""Where torch work runs: one rule for agents and forecasters alike (CUDA when present)."""

from __future__ import annotations

import torch

__all__ = ["pick_device"]


def pick_device(requested: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; otherwise the named device."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
