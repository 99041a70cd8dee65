"""The results store: one folder per run, written atomically so a sweep can resume.

Layout: ``root/<experiment>/<run_id>/{config.yaml, metrics.csv, summary.json,
artifacts.json}``. A save writes everything into ``root/<experiment>/.tmp-<run_id>-<pid>/``
and renames that folder into place, so a run folder either exists complete or not at all;
``summary.json`` is written last as the completion marker. ``config.yaml`` holds the run spec
(and its fingerprint), so a run whose spec changed (a new budget) is not mistaken for done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from vtwin.atomicio import pid_alive
from vtwin.experiments.spec import RunResult, RunSpec

__all__ = ["RunStore", "StoreError", "to_jsonable"]

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
ARTIFACTS_FILE = "artifacts.json"
TMP_PREFIX = ".tmp-"


class StoreError(OSError):
    """A stored run could not be read back (missing or corrupt files)."""


def to_jsonable(value: Any) -> Any:
    """``json.dumps`` fallback: numpy arrays/scalars, paths, tuples and sets become JSON data."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(
        f"artifact value of type {type(value).__name__} is not JSON-serialisable "
        "(use numbers, strings, lists, dicts or numpy arrays)"
    )


def _write_text(path: Path, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:  # name the file (a full disk says only "No space left on device")
        error = OSError(f"could not write {path}: {exc.strerror or exc}")
        error.errno = exc.errno
        raise error from exc


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class RunStore:
    """Folders of completed runs under ``root``, one per (experiment, run id)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def experiment_dir(self, experiment: str) -> Path:
        """``root/<experiment>``."""
        return self.root / experiment

    def run_dir(self, spec: RunSpec) -> Path:
        """``root/<experiment>/<run_id>``."""
        return self.experiment_dir(spec.experiment) / spec.run_id

    def stored_spec(self, spec: RunSpec) -> dict[str, Any] | None:
        """The ``config.yaml`` of the stored run, or None when absent or unreadable."""
        try:
            data = yaml.safe_load((self.run_dir(spec) / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        return data if isinstance(data, dict) else None

    def is_complete(self, spec: RunSpec) -> bool:
        """Whether this exact run (same fingerprint) is stored complete and readable.

        A stored run whose files were damaged or deleted since (a corrupt ``summary.json``, a
        missing ``metrics.csv``) is not complete: the rerun computes it again and replaces the
        folder, instead of failing on it every time."""
        if not (self.run_dir(spec) / SUMMARY_FILE).is_file():
            return False
        stored = self.stored_spec(spec)
        if stored is None or stored.get("fingerprint") != spec.fingerprint():
            return False
        try:
            self.load(spec)
        except StoreError:
            return False
        return True

    def save(self, spec: RunSpec, result: RunResult, copied_from: str | None = None) -> Path:
        """Write the run atomically (tmp folder, then rename) and return its folder.
        ``copied_from``: the stored run (``experiment/run_id``) the result was copied from,
        recorded in ``config.yaml``."""
        exp_dir = self.experiment_dir(spec.experiment)
        exp_dir.mkdir(parents=True, exist_ok=True)
        final = self.run_dir(spec)
        tmp = exp_dir / f"{TMP_PREFIX}{spec.run_id}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            config = {
                **spec.to_dict(),
                "fingerprint": spec.fingerprint(),
                "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            if copied_from is not None:
                config["copied_from"] = copied_from
            _write_text(tmp / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))
            _write_text(tmp / METRICS_FILE, result.metrics.to_csv(index=False))
            _write_text(
                tmp / ARTIFACTS_FILE,
                json.dumps(result.artifacts, default=to_jsonable, indent=1, sort_keys=True),
            )
            summary = {k: float(v) for k, v in result.summary.items()}
            _write_text(tmp / SUMMARY_FILE, json.dumps(summary, indent=1))  # marker: last
            _fsync_dir(tmp)
            if final.exists():
                # Replacing a stale run: move it aside first (rename cannot overwrite a
                # non-empty folder), then put the new one in place.
                old = exp_dir / f"{TMP_PREFIX}old-{spec.run_id}-{os.getpid()}"
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
            _fsync_dir(exp_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def load(self, spec: RunSpec) -> RunResult:
        """Read a stored run back; :class:`StoreError` when it is missing or corrupt."""
        import pandas as pd

        folder = self.run_dir(spec)
        try:
            summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
            artifacts = json.loads((folder / ARTIFACTS_FILE).read_text(encoding="utf-8"))
            metrics_path = folder / METRICS_FILE
            if metrics_path.stat().st_size == 0 or not metrics_path.read_text().strip():
                metrics = pd.DataFrame()
            else:
                metrics = pd.read_csv(metrics_path)
        except (OSError, ValueError) as exc:
            raise StoreError(f"stored run {folder} cannot be read: {exc}") from exc
        numbers = (int, float, type(None))
        if not isinstance(summary, dict) or not all(
            isinstance(v, numbers) and not isinstance(v, bool) for v in summary.values()
        ):
            raise StoreError(f"stored run {folder}: {SUMMARY_FILE} is not a table of numbers")
        if not isinstance(artifacts, dict):
            raise StoreError(f"stored run {folder}: {ARTIFACTS_FILE} is not a JSON object")
        summary = {k: (math.nan if v is None else float(v)) for k, v in summary.items()}
        return RunResult(metrics=metrics, summary=summary, artifacts=artifacts)

    def clean_partial(self, experiment: str | None = None) -> list[Path]:
        """Remove ``.tmp-*`` folders left by dead processes; return what was removed."""
        dirs = (
            [self.experiment_dir(experiment)]
            if experiment is not None
            else ([p for p in self.root.iterdir() if p.is_dir()] if self.root.is_dir() else [])
        )
        removed: list[Path] = []
        for exp_dir in dirs:
            if not exp_dir.is_dir():
                continue
            for tmp in exp_dir.glob(f"{TMP_PREFIX}*"):
                pid_text = tmp.name.rsplit("-", 1)[-1]
                pid = int(pid_text) if pid_text.isdigit() else None
                if pid is not None and pid_alive(pid):
                    continue
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp)
        return removed
