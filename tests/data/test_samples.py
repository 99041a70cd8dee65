"""Locating the shared data folder and reading the real PeMS / METR-LA samples."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from vtwin.data.samples import (
    available_samples,
    metr_la_sample,
    pems_detector_sample,
    shared_data_dir,
)


def data_dir_or_skip(name: str) -> Path:
    found = shared_data_dir()
    if found is None or not available_samples(found)[name]:
        pytest.skip(
            f"real '{name}' sample not found (set VTWIN_DATA_DIR or place the shared data at "
            "../shared/data; it exists only in the development workspace)"
        )
    return found


def test_pems_detector_sample() -> None:
    s = pems_detector_sample(data_dir_or_skip("pems-detector"))
    assert (s.n_steps, s.n_series) == (12096, 1)
    assert (s.quantity, s.unit, s.interval_s) == ("flow", "veh/5min", 300.0)
    assert s.time_s[0] == datetime(2016, 1, 4, tzinfo=UTC).timestamp()
    assert s.time_s[-1] == datetime(2016, 3, 31, 23, 55, tzinfo=UTC).timestamp()
    assert s.missing_fraction() == 0.0  # the files have no empty cells
    assert s.values.min() >= 0.0 and s.values.max() <= 197.0
    weekday = ((s.time_s // 86400).astype(int) + 3) % 7
    assert (weekday < 5).all()  # weekdays only
    r = s.regular()  # weekends and absent weekdays become NaN rows
    assert r.n_steps == 88 * 288 and np.isnan(r.values).sum() == 88 * 288 - 12096


def test_metr_la_sample() -> None:
    d = data_dir_or_skip("metr-la")
    s = metr_la_sample(d)
    assert s.values.shape == (2016, 207)
    assert s.names[:2] == ("773869", "767541")
    assert (s.quantity, s.unit) == ("speed", "mph")
    assert s.time_s[0] == datetime(2012, 3, 1, tzinfo=UTC).timestamp() and s.interval_s == 300.0
    assert s.values[0, 0] == 64.375 and not np.isnan(s.values).any()
    small = metr_la_sample(d, max_series=5)
    assert small.values.shape == (2016, 5) and small.names == s.names[:5]


def test_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTWIN_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="VTWIN_DATA_DIR"):
        shared_data_dir()
    monkeypatch.setenv("VTWIN_DATA_DIR", str(tmp_path))
    assert shared_data_dir() == tmp_path.resolve()
    assert available_samples() == {"pems-detector": False, "metr-la": False}
    with pytest.raises(FileNotFoundError, match=r"train\.csv"):
        pems_detector_sample()
    with pytest.raises(FileNotFoundError, match=r"los_speed\.csv"):
        metr_la_sample()


def test_found_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VTWIN_DATA_DIR", raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert shared_data_dir() == (tmp_path / "shared" / "data").resolve()
