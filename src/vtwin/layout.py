"""Observation layouts: which columns of an agent's observation row describe which entity.

A leaf module (no vtwin imports), so envs declare layouts and agents read them without either
importing the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EntityLayout"]


@dataclass(frozen=True)
class EntityLayout:
    """How one observation row describes the like entities (servers) an agent chooses among.

    ``entity_columns[e]`` are the columns of entity ``e``'s features, in the same feature
    order for every entity; ``shared_columns`` are the columns every entity's score also sees
    (the agent's own position, time, …). Action ``a`` belongs to entity
    ``a // actions_per_entity``. A learner may score each entity's actions with one network
    shared across entities (``vtwin.agents.nets.EntityScorer``), which then learns one
    function of (entity, shared) features instead of one per output.
    """

    entity_columns: tuple[tuple[int, ...], ...]
    shared_columns: tuple[int, ...]
    actions_per_entity: int = 1

    def __post_init__(self) -> None:
        """Refuse layouts with no entity, ragged features or no actions."""
        if not self.entity_columns or not self.entity_columns[0]:
            raise ValueError("EntityLayout.entity_columns: needs ≥ 1 entity with ≥ 1 feature")
        widths = {len(cols) for cols in self.entity_columns}
        if len(widths) != 1:
            raise ValueError(
                f"EntityLayout.entity_columns: every entity needs the same number of features, "
                f"got {sorted(widths)}"
            )
        if self.actions_per_entity < 1:
            raise ValueError(
                f"EntityLayout.actions_per_entity = {self.actions_per_entity}: must be ≥ 1"
            )

    @classmethod
    def from_slices(
        cls, per_entity: Sequence[slice], shared: Sequence[slice], actions_per_entity: int = 1
    ) -> EntityLayout:
        """A layout from one slice per feature (entity ``e``'s value at ``start + e``) and the
        shared slices."""
        lengths = {s.stop - s.start for s in per_entity}
        if len(lengths) != 1:
            raise ValueError(f"EntityLayout.from_slices: feature slices differ in length {lengths}")
        n = lengths.pop()
        entity = tuple(tuple(s.start + e for s in per_entity) for e in range(n))
        common = tuple(c for s in shared for c in range(s.start, s.stop))
        return cls(entity, common, actions_per_entity)

    @property
    def n_entities(self) -> int:
        """Number of entities."""
        return len(self.entity_columns)

    @property
    def n_actions(self) -> int:
        """Actions over all entities."""
        return self.n_entities * self.actions_per_entity
