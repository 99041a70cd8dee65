"""The results store: atomic run folders, round trips, cleanup of partial writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import toy_experiments as toys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vtwin.experiments import RunResult, RunSpec, RunStore, expand
from vtwin.experiments.store import StoreError

SPEC = expand(toys.TOY, quick=True)[0]


def _result(**changes: object) -> RunResult:
    fields: dict[str, object] = {
        "metrics": pd.DataFrame(
            {"step": [0, 1, 2], "reward": [0.1, -2.5, 1e-17], "phase": ["a", "b", "c"]}
        ),
        "summary": {"cost": 1.25, "steps": np.int64(3)},
        "artifacts": {"route": np.array([[1.0, 2.0], [3.0, 4.0]]), "name": "x"},
    }
    fields.update(changes)
    return RunResult(**fields)  # type: ignore[arg-type]


def _entries(store: RunStore) -> list[str]:
    folder = store.experiment_dir(SPEC.experiment)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert not store.is_complete(SPEC)
    folder = store.save(SPEC, _result())
    assert folder == tmp_path / "toy" / SPEC.run_id
    assert sorted(p.name for p in folder.iterdir()) == [
        "artifacts.json",
        "config.yaml",
        "metrics.csv",
        "summary.json",
    ]
    assert store.is_complete(SPEC)
    back = store.load(SPEC)
    pd.testing.assert_frame_equal(back.metrics, _result().metrics)
    assert back.summary == {"cost": 1.25, "steps": 3.0}
    assert back.artifacts == {"route": [[1.0, 2.0], [3.0, 4.0]], "name": "x"}
    assert RunSpec.from_dict(store.stored_spec(SPEC) or {}) == SPEC
    assert _entries(store) == [SPEC.run_id]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_floats_survive_the_csv_exactly(tmp_path: Path, values: list[float]) -> None:
    store = RunStore(tmp_path)
    metrics = pd.DataFrame({"step": range(len(values)), "x": values})
    store.save(SPEC, RunResult(metrics=metrics, summary={"m": values[0]}))
    back = store.load(SPEC)
    pd.testing.assert_frame_equal(back.metrics, metrics, check_dtype=False)
    assert back.summary["m"] == values[0]


def test_empty_metrics_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.save(SPEC, RunResult(metrics=pd.DataFrame(), summary={"cost": 2.0}))
    back = store.load(SPEC)
    assert back.metrics.empty and back.summary == {"cost": 2.0}


def test_a_save_that_raises_midway_leaves_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        store.save(SPEC, _result(artifacts={"bad": object()}))
    assert _entries(store) == []
    assert not store.is_complete(SPEC)


def test_a_failed_rename_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore(tmp_path)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.save(SPEC, _result())
    monkeypatch.undo()
    assert _entries(store) == []


def test_clean_partial_removes_only_folders_of_dead_processes(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    store = RunStore(tmp_path)
    exp_dir = store.experiment_dir("toy")
    stale = exp_dir / f".tmp-{SPEC.run_id}-{dead_pid}"
    live = exp_dir / f".tmp-{SPEC.run_id}-{os.getpid()}"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text("step\n0\n")
    assert store.clean_partial() == [stale]
    assert not stale.exists() and live.exists()
    assert not store.is_complete(SPEC)


def test_a_changed_spec_is_not_complete_and_its_save_replaces_the_folder(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.save(SPEC, _result())
    changed = RunSpec.from_dict({**SPEC.to_dict(), "budget": {"steps": 99}})
    assert changed.run_id == SPEC.run_id
    assert not store.is_complete(changed)
    store.save(changed, _result(summary={"cost": 9.0}))
    assert store.is_complete(changed) and not store.is_complete(SPEC)
    assert store.load(changed).summary == {"cost": 9.0}
    assert _entries(store) == [SPEC.run_id]


def test_loading_a_corrupt_run_is_a_store_error(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    folder = store.save(SPEC, _result())
    (folder / "summary.json").write_text("{not json")
    with pytest.raises(StoreError, match="cannot be read"):
        store.load(SPEC)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "summary.json").write_text("{not json"), "cannot be read"),
        (lambda f: (f / "summary.json").write_text("[1, 2]"), "not a table of numbers"),
        (lambda f: (f / "summary.json").write_text('{"cost": "high"}'), "not a table of"),
        (lambda f: (f / "metrics.csv").unlink(), "cannot be read"),
        (lambda f: (f / "artifacts.json").write_text("3"), "not a JSON object"),
    ],
    ids=["bad-json", "list", "text-value", "metrics-deleted", "artifacts-number"],
)
def test_a_damaged_run_is_not_complete_and_a_save_replaces_it(
    tmp_path: Path, damage: object, message: str
) -> None:
    store = RunStore(tmp_path)
    folder = store.save(SPEC, _result())
    damage(folder)  # type: ignore[operator]
    with pytest.raises(StoreError, match=message):
        store.load(SPEC)
    assert not store.is_complete(SPEC)  # a rerun computes it again instead of failing on it
    store.save(SPEC, _result())
    assert store.is_complete(SPEC) and store.load(SPEC).summary["cost"] == 1.25


def test_a_rerun_recomputes_a_damaged_run(tmp_path: Path) -> None:
    from vtwin.experiments import reproduce

    first = reproduce("toy-flat", quick=True, out=tmp_path, workers=1, progress=False)
    run = tmp_path / "toy-flat" / first.runs[0][0].run_id
    (run / "summary.json").write_text("{corrupt")
    (tmp_path / "toy-flat" / first.runs[1][0].run_id / "metrics.csv").unlink()
    again = reproduce("toy-flat", quick=True, out=tmp_path, workers=1, progress=False)
    assert again.ok and again.new == 2 and len(again.reused) == first.total - 2
    assert again.summary_table().equals(first.summary_table())
