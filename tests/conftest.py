"""Test-wide settings: one torch thread per test process (tests run on 2 xdist workers), and
a private cache folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

# helpers shared by test folders (browser_util) import by their module name
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Cached artefacts (trained forecasters) go to a temporary folder, not ~/.cache."""
    os.environ["VTWIN_CACHE_DIR"] = str(tmp_path_factory.mktemp("vtwin-cache"))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """Two workers × two torch threads oversubscribe a 2-core machine; keep one each."""
    torch.set_num_threads(1)
