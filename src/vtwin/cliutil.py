"""Small helpers shared by the CLI modules (kept free of heavy imports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

__all__ = ["DeviceOption", "ParamOption", "SeedOption", "parse_params"]

DeviceOption = Annotated[str, typer.Option(help="auto (CUDA if present), cpu or cuda.")]
"""``--device``: where a network trains."""

SeedOption = Annotated[int, typer.Option(help="Random seed.", min=0)]
"""``--seed``."""

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A parameter of the algorithm or model, e.g. -p lr=3e-4 (YAML value; repeatable).",
        metavar="K=V",
    ),
]
"""``--param/-p K=V`` (repeatable); :func:`parse_params` reads the values."""


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
