"""Environments of the four papers (Gymnasium / PettingZoo) with their batched forms.

Importing this package registers the Gymnasium ids:

* ``vtwin/PreMigration-v0`` — paper A (:class:`vtwin.envs.premigration.PreMigrationEnv`).
"""

from gymnasium.envs.registration import register, registry

_ENVS = {"vtwin/PreMigration-v0": "vtwin.envs.premigration:PreMigrationEnv"}

for _env_id, _entry in _ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry)

__all__: list[str] = []
