"""Small helpers shared by the CLI modules (kept free of heavy imports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["parse_params"]


def parse_params(items: Sequence[str] | None, option: str = "--param") -> dict[str, Any]:
    """``["lr=3e-4", "hidden=[64, 64]"]`` → ``{"lr": 0.0003, "hidden": [64, 64]}`` (YAML values).

    An item without ``=`` raises ValueError naming the option and the item.
    """
    import yaml

    params: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{option} '{item}' must look like name=value")
        key, value = item.split("=", 1)
        params[key.strip()] = yaml.safe_load(value)
    return params
