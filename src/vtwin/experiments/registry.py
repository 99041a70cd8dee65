"""The registry of experiments: paper modules call :func:`register`; the CLI looks them up.

Paper modules (``vtwin.experiments.paper_a`` …) are imported lazily, the first time the
registry is queried, so ``vtwin --help`` stays fast and a paper whose module is not written
yet is simply absent.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Sequence

from vtwin.experiments.spec import Experiment

__all__ = [
    "UnknownExperimentError",
    "UnknownMethodError",
    "get_experiment",
    "list_experiments",
    "register",
    "resolve_methods",
]

_EXPERIMENT_MODULES: tuple[str, ...] = ("vtwin.experiments.paper_a",)
"""Modules that register paper experiments when imported (missing ones are skipped)."""

_REGISTRY: dict[str, Experiment] = {}
_loaded = False


class UnknownExperimentError(ValueError):
    """No experiment has that name; the message lists the valid names and the closest one."""


class UnknownMethodError(ValueError):
    """An experiment does not compare that method; the message lists the valid ones."""


def _did_you_mean(name: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _load_modules() -> None:
    """Import every module of :data:`_EXPERIMENT_MODULES` once, skipping absent ones."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # before importing: a module that queries the registry must not recurse
    for module in _EXPERIMENT_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise  # the module exists but one of its own imports is missing


def register(experiment: Experiment, *, replace: bool = False) -> Experiment:
    """Add an experiment to the registry (re-registering an identical one is a no-op)."""
    if not isinstance(experiment, Experiment):
        raise TypeError(f"register() takes an Experiment, got {type(experiment).__name__}")
    existing = _REGISTRY.get(experiment.name)
    if existing is not None and existing != experiment and not replace:
        raise ValueError(
            f"experiment '{experiment.name}' is already registered with a different "
            "definition; pick another name or pass replace=True"
        )
    _REGISTRY[experiment.name] = experiment
    return experiment


def unregister(name: str) -> None:
    """Remove an experiment (for tests); unknown names are ignored."""
    _REGISTRY.pop(name, None)


def list_experiments() -> list[Experiment]:
    """All registered experiments, sorted by paper then name."""
    _load_modules()
    return sorted(_REGISTRY.values(), key=lambda e: (e.paper, e.name))


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; :class:`UnknownExperimentError` names the valid ones."""
    _load_modules()
    try:
        return _REGISTRY[name]
    except KeyError:
        pass
    valid = sorted(_REGISTRY)
    listing = ", ".join(valid) if valid else "(none registered)"
    raise UnknownExperimentError(
        f"unknown experiment '{name}'.{_did_you_mean(name, valid)} Valid experiments: {listing}"
    )


def resolve_methods(experiment: Experiment, requested: Sequence[str] | None) -> tuple[str, ...]:
    """The methods to run: all when ``requested`` is empty, else those asked (in spec order)."""
    if not requested:
        return experiment.methods
    wanted = [m.strip() for m in requested if m.strip()]
    unknown = [m for m in wanted if m not in experiment.methods]
    if unknown:
        first = unknown[0]
        names = ", ".join(f"'{m}'" for m in unknown)
        raise UnknownMethodError(
            f"unknown method{'s' if len(unknown) > 1 else ''} {names} for experiment "
            f"'{experiment.name}'.{_did_you_mean(first, experiment.methods)} "
            f"Valid methods: {', '.join(experiment.methods)}"
        )
    if not wanted:
        return experiment.methods
    return tuple(m for m in experiment.methods if m in wanted)
