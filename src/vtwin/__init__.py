"""vtwin: vehicle digital twins in air-ground-space vehicular networks.

Layers (data flows one way): ``physics`` (pure formulas) → ``world`` (what exists in a
scenario) → envs → agents → experiments. ``vtwin.config`` validates presets and overrides.
Importing ``vtwin`` registers every env id (``vtwin/PreMigration-v1`` with Gymnasium,
``vtwin/MigrationRouting-v0`` with :func:`vtwin.envs.make_parallel`) without importing the
envs or gymnasium, so it stays fast.
"""

from typing import Any

import vtwin.envs  # noqa: F401  (registers the env ids)

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """``__version__``, looked up on first use (importlib.metadata costs ~80 ms to import)."""
    if name != "__version__":
        raise AttributeError(f"module 'vtwin' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vtwin")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+unknown"
