"""Environments of the four papers (Gymnasium / PettingZoo) with their batched forms.

Importing this package registers the Gymnasium ids:

* ``vtwin/PreMigration-v0`` — paper A (:class:`vtwin.envs.premigration.PreMigrationEnv`).

PettingZoo has no registry; :func:`make_parallel` builds the multi-agent envs by id:

* ``vtwin/MigrationRouting-v0`` — paper B
  (:class:`vtwin.envs.routing.MigrationRoutingEnv`, batched form
  :class:`vtwin.envs.routing.BatchedMigrationRouting`).
"""

from __future__ import annotations

import importlib
from typing import Any

from gymnasium.envs.registration import register, registry

_ENVS = {"vtwin/PreMigration-v0": "vtwin.envs.premigration:PreMigrationEnv"}

_PARALLEL_ENVS = {"vtwin/MigrationRouting-v0": "vtwin.envs.routing:MigrationRoutingEnv"}

for _env_id, _entry in _ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry)


def make_parallel(env_id: str, **kwargs: Any) -> Any:
    """Build a PettingZoo ``ParallelEnv`` by id; ``kwargs`` go to its constructor.

    Example: ``make_parallel("vtwin/MigrationRouting-v0", preset="paper-b-tiny")``.
    """
    entry = _PARALLEL_ENVS.get(env_id)
    if entry is None:
        raise ValueError(
            f"unknown parallel env id {env_id!r}; known: {', '.join(sorted(_PARALLEL_ENVS))}"
            + (" (a Gymnasium id: use gymnasium.make)" if env_id in _ENVS else "")
        )
    module, name = entry.split(":")
    return getattr(importlib.import_module(module), name)(**kwargs)


__all__ = ["make_parallel"]
