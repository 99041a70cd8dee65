"""Helpers shared by the paper experiments: the binned training curve."""

from __future__ import annotations

import pandas as pd
import pytest

from vtwin.experiments.common import binned_curve


def test_binned_curve_averages_the_episodes_ending_in_each_bin() -> None:
    history = pd.DataFrame(
        {"steps": [10, 20, 60, 100], "reward": [1.0, 3.0, 5.0, 7.0], "x": [0.0, 0.0, 1.0, 1.0]}
    )
    curve = binned_curve(history, 100, ("reward",), points=4)  # bins of 25 steps
    assert list(curve.columns) == ["step", "reward"]
    assert curve["step"].tolist() == [25, 75, 100]  # no episode ended in (25, 50]
    assert curve["reward"].tolist() == pytest.approx([2.0, 5.0, 7.0])
