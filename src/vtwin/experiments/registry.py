"""The registry of experiments: paper modules call :func:`register`; the CLI looks them up.

Paper modules (``vtwin.experiments.paper_a.rl`` …, one sub-package per paper) are imported
lazily, the first time the registry is queried, so ``vtwin --help`` stays fast and a paper
whose module is not written yet is simply absent.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Sequence

from vtwin.experiments.spec import Experiment

__all__ = [
    "UnknownExperimentError",
    "UnknownMethodError",
    "expand_name",
    "get_experiment",
    "list_experiments",
    "list_groups",
    "register",
    "register_group",
    "resolve_methods",
]

_EXPERIMENT_MODULES: tuple[str, ...] = (
    "vtwin.experiments.paper_a.rl",
    "vtwin.experiments.paper_a.uav",
    "vtwin.experiments.paper_b.forecast",
    "vtwin.experiments.paper_b.routing",
    "vtwin.experiments.paper_c.privacy",
    "vtwin.experiments.paper_c.learners",
    "vtwin.experiments.paper_d.learners",
)
"""Modules that register paper experiments when imported (missing ones are skipped)."""

_REGISTRY: dict[str, Experiment] = {}
_GROUPS: dict[str, tuple[str, ...]] = {
    "paper-a": ("paper-a-rl", "paper-a-gpu", "paper-a-uav"),
    "paper-c": (
        "paper-c-policies",
        "paper-c-privacy-metrics",
        "paper-c-learners",
        "paper-c-lr",
        "paper-c-denoising",
    ),
}
"""Names that stand for several experiments (``vtwin reproduce paper-a`` runs all of A)."""
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


def register_group(name: str, members: Sequence[str]) -> None:
    """Let ``name`` stand for several experiments (run in the given order)."""
    members = tuple(members)
    if not members:
        raise ValueError(f"group '{name}' must name at least one experiment")
    _GROUPS[name] = members


def list_groups() -> dict[str, tuple[str, ...]]:
    """Group name → the experiments it runs (only groups whose experiments all exist)."""
    _load_modules()
    return {g: m for g, m in sorted(_GROUPS.items()) if all(x in _REGISTRY for x in m)}


def expand_name(name: str) -> tuple[str, ...]:
    """The experiments a name stands for: a group's members, or the experiment itself.

    Unknown names raise :class:`UnknownExperimentError` listing experiments and groups.
    """
    groups = list_groups()
    if name in groups:
        return groups[name]
    _load_modules()
    if name in _REGISTRY:
        return (name,)
    valid = sorted([*_REGISTRY, *groups])
    listing = ", ".join(valid) if valid else "(none registered)"
    raise UnknownExperimentError(
        f"unknown experiment '{name}'.{_did_you_mean(name, valid)} "
        f"Valid experiments and groups: {listing}"
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
