"""Environments of the four papers (Gymnasium / PettingZoo) with their batched forms.

``import vtwin`` registers the Gymnasium ids by entry-point strings (nothing is imported
until an env is made):

* ``vtwin/PreMigration-v1`` — paper A (:class:`vtwin.envs.premigration.PreMigrationEnv`).
* ``vtwin/CrossRealityPrivacy-v0`` — paper C (:class:`vtwin.envs.privacy.CrossRealityPrivacyEnv`,
  batched form :class:`vtwin.envs.privacy.BatchedCrossRealityPrivacy`).

PettingZoo has no registry; :func:`make_parallel` builds the multi-agent envs by id:

* ``vtwin/MigrationRouting-v0`` — paper B
  (:class:`vtwin.envs.routing.MigrationRoutingEnv`, batched form
  :class:`vtwin.envs.routing.BatchedMigrationRouting`).
* ``vtwin/TwinUpdate-v0`` — paper D, heterogeneous sensor and UAV agents
  (:class:`vtwin.envs.twin_update.TwinUpdateEnv`, batched form
  :class:`vtwin.envs.twin_update.BatchedTwinUpdate`).

Importing gymnasium costs ~0.3 s, and Gymnasium ≥ 1.0 no longer loads plugin entry points,
so :func:`register_envs` registers at once when gymnasium is loaded, else right after it
is first imported (a one-shot import hook), keeping ``import vtwin`` light.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

ENVS = {
    "vtwin/PreMigration-v1": "vtwin.envs.premigration:PreMigrationEnv",
    "vtwin/CrossRealityPrivacy-v0": "vtwin.envs.privacy:CrossRealityPrivacyEnv",
}
"""Gymnasium ids → entry points."""

PARALLEL_ENVS = {
    "vtwin/MigrationRouting-v0": "vtwin.envs.routing:MigrationRoutingEnv",
    "vtwin/TwinUpdate-v0": "vtwin.envs.twin_update:TwinUpdateEnv",
}
"""PettingZoo ids (for :func:`make_parallel`) → entry points."""


def _register(gymnasium: ModuleType) -> None:
    """Register every id of :data:`ENVS` that Gymnasium does not know yet."""
    registration = importlib.import_module("gymnasium.envs.registration")
    for env_id, entry in ENVS.items():
        if env_id not in registration.registry:
            registration.register(id=env_id, entry_point=entry)


class _AfterImport(importlib.abc.MetaPathFinder):
    """One-shot import hook: runs ``callback(module)`` right after ``name`` is imported."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Wrap the real loader of ``name``; leave every other import alone."""
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _CallbackLoader(spec.loader, self.callback)
        return spec


class _CallbackLoader(importlib.abc.Loader):
    """A loader that runs the wrapped one, then the callback on the new module."""

    def __init__(self, loader: importlib.abc.Loader, callback: Callable[[ModuleType], None]):
        self.loader = loader
        self.callback = callback

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """The wrapped loader's module (or the default)."""
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        """Execute the module with the wrapped loader, then call back."""
        self.loader.exec_module(module)
        self.callback(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


def register_envs() -> None:
    """Register the Gymnasium ids now if gymnasium is loaded, else once it is imported."""
    if "gymnasium" in sys.modules:
        _register(sys.modules["gymnasium"])
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("gymnasium", _register))


def make_parallel(env_id: str, **kwargs: Any) -> Any:
    """Build a PettingZoo ``ParallelEnv`` by id; ``kwargs`` go to its constructor.

    Example: ``make_parallel("vtwin/MigrationRouting-v0", preset="paper-b-tiny")``.
    """
    entry = PARALLEL_ENVS.get(env_id)
    if entry is None:
        raise ValueError(
            f"unknown parallel env id {env_id!r}; known: {', '.join(sorted(PARALLEL_ENVS))}"
            + (" (a Gymnasium id: use gymnasium.make)" if env_id in ENVS else "")
        )
    module, name = entry.split(":")
    return getattr(importlib.import_module(module), name)(**kwargs)


register_envs()

__all__ = ["ENVS", "PARALLEL_ENVS", "make_parallel", "register_envs"]
