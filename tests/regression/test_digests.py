"""Env outputs and trained weights are bit-identical to the stored digests (see digests.py).

A deliberate change of behaviour re-records them with ``python tests/regression/digests.py
--write`` and says why in the commit; a refactor must leave every digest as it is.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "vtwin_digests", Path(__file__).with_name("digests.py")
)
assert _spec is not None and _spec.loader is not None
digests = importlib.util.module_from_spec(_spec)
sys.modules["vtwin_digests"] = digests
_spec.loader.exec_module(digests)

STORED = json.loads(digests.STORE.read_text())


def test_every_case_has_a_stored_digest() -> None:
    assert sorted(STORED["digests"]) == sorted(digests.CASES)


@pytest.mark.parametrize("name", sorted(digests.CASES))
def test_digest_unchanged(name: str) -> None:
    here = digests.platform_key()
    if here != STORED["platform"]:
        pytest.skip(f"digests were recorded on {STORED['platform']}, this is {here}")
    assert digests.CASES[name]() == STORED["digests"][name], name
