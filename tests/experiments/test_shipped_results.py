"""The runs shipped under ``results/`` (made at the full budget, reused with ``--reuse``) are
complete and are the runs the current experiments would compute: same spec, same fingerprint.

A change to an experiment's budget, seeds or overrides makes its shipped runs stale; this
test names them, so they are rerun or deleted instead of being silently recomputed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vtwin.experiments.registry import get_experiment
from vtwin.experiments.spec import expand
from vtwin.experiments.store import RunStore

RESULTS = Path(__file__).resolve().parents[2] / "results"
CONFIGS = sorted(RESULTS.glob("*/*/*/config.yaml"))


def test_results_folder_is_documented() -> None:
    assert (RESULTS / "README.md").is_file()


@pytest.mark.parametrize(
    "config", CONFIGS, ids=[str(p.parent.relative_to(RESULTS)) for p in CONFIGS]
)
def test_shipped_run_is_complete_and_current(config: Path) -> None:
    stored = yaml.safe_load(config.read_text(encoding="utf-8"))
    experiment = get_experiment(stored["experiment"])
    assert config.parent.parent.name == experiment.name
    specs = expand(
        experiment,
        quick=stored["mode"] == "quick",
        seeds=int(stored["seed"]) + 1,
        methods=[stored["method"]],
    )  # no --set overrides: results/ holds the experiments as registered
    by_id = {s.run_id: s for s in specs}
    assert stored["run_id"] in by_id, f"{config}: no such run in {experiment.name} now"
    spec = by_id[stored["run_id"]]
    store = RunStore(config.parent.parent.parent)
    assert store.is_complete(spec), (
        f"{config.parent} is stale (fingerprint {stored.get('fingerprint')} against "
        f"{spec.fingerprint()} now): rerun it or delete it"
    )
