"""Small helpers shared by the CLI modules (kept free of heavy imports)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

__all__ = [
    "DEBUG_ENV",
    "DeviceOption",
    "GuardedGroup",
    "ParamOption",
    "SeedOption",
    "describe_error",
    "parse_params",
]

DEBUG_ENV = "VTWIN_DEBUG"
"""Environment variable: ``1`` shows tracebacks, as ``vtwin --debug`` does."""

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


def describe_error(exc: BaseException) -> str:
    """One line for an error nobody turned into a user message: what happened, in words.

    Out of memory names the likely cause; anything else gives its type and the first line of
    its message (long library messages cut at 300 characters).
    """
    if isinstance(exc, MemoryError):
        return (
            "out of memory: the configured sizes (counts, horizon_slots, batch sizes) need more "
            "memory than this machine has; make them smaller"
        )
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class GuardedGroup(TyperGroup):
    """The root command group: an unexpected exception in any command becomes one ``error:``
    line and exit status 2 instead of a traceback; ``--debug`` (or ``$VTWIN_DEBUG=1``)
    lets the traceback through. Errors a command already reports (``typer.Exit``, click's
    usage errors, Ctrl-C) pass untouched."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command line, turning a stray exception into one line."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.meta.get("vtwin_debug") or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            typer.echo(
                f"error: {describe_error(exc)} (run with `vtwin --debug ...` for the traceback)",
                err=True,
            )
            sys.stderr.flush()
            raise typer.Exit(2) from None
