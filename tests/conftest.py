"""Test-wide settings: one torch thread per test process (tests run on 2 xdist workers)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """Two workers × two torch threads oversubscribe a 2-core machine; keep one each."""
    torch.set_num_threads(1)
