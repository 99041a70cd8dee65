"""GeneratorPool gives numpy's default_rng streams bit for bit, reusing its generators."""

from __future__ import annotations

import numpy as np
import pytest

from vtwin.seeding import GeneratorPool

SEEDS = [0, 1, 7, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**63 - 1, 2**64 - 1, 2**64, 2**70 + 3]


def _same(a: np.random.Generator, b: np.random.Generator) -> None:
    assert a.bit_generator.state == b.bit_generator.state
    np.testing.assert_array_equal(a.random(4), b.random(4))
    np.testing.assert_array_equal(a.integers(0, 2**62, 3), b.integers(0, 2**62, 3))


@pytest.mark.parametrize("n", [1, 2, 4])
def test_spawn_equals_seed_sequence_spawn(n: int) -> None:
    rng = np.random.default_rng(0)
    seeds = SEEDS + [int(s) for s in rng.integers(0, 2**63 - 1, 40)]
    got = GeneratorPool().spawn(seeds, n)
    assert len(got) == len(seeds)
    for s, gens in zip(seeds, got, strict=True):
        ref = [np.random.default_rng(c) for c in np.random.SeedSequence(s).spawn(n)]
        assert len(gens) == n
        for a, b in zip(gens, ref, strict=True):
            _same(a, b)


def test_from_ints_equals_default_rng() -> None:
    seeds = SEEDS + [int(s) for s in np.random.default_rng(1).integers(0, 2**63 - 1, 40)]
    for s, g in zip(seeds, GeneratorPool().from_ints(seeds), strict=True):
        _same(g, np.random.default_rng(s))


def test_a_pool_reseeds_the_generators_of_its_last_call() -> None:
    pool = GeneratorPool()
    first = pool.from_ints([3, 4])
    first[0].random(10)  # advance it: re-seeding must start over
    second = pool.from_ints([5, 4, 9])
    assert second[0] is first[0] and second[1] is first[1]  # the same objects, re-seeded
    for s, g in zip([5, 4, 9], second, strict=True):
        _same(g, np.random.default_rng(s))
    assert pool.spawn([], 2) == []
