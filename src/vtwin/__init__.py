"""vtwin: vehicle digital twins in air-ground-space vehicular networks.

Layers (data flows one way): ``physics`` (pure formulas) → ``world`` (what exists in a
scenario) → envs → agents → experiments. ``vtwin.config`` validates presets and overrides.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vtwin")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
