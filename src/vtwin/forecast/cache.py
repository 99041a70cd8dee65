"""An on-disk cache of trained forecasters, shared by runs, worker processes and reruns.

Training a forecaster takes minutes at a paper's full budget, and every run of a sweep, every
worker process and every rerun would train the same one again. :class:`ForecasterCache` keeps
each trained model under ``root/<key>/``, where the key hashes what the model depends on: the
caller's ``key_parts`` (data, seed, budget) and what any model depends on (this cache's
:data:`CACHE_VERSION`, the vtwin and torch versions, the device kind). An entry holds the saved
:class:`~vtwin.forecast.train.TrainedForecaster` (``forecaster.json``, ``model.pt``) and
``error.json`` (``{"error_rate_pct": …}``, its test error rate), written last so that an
entry with ``error.json`` is complete. A loaded model predicts exactly what the freshly
trained one did.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

import vtwin
from vtwin.forecast.train import TrainedForecaster

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_VERSION",
    "ForecasterCache",
    "TrainFn",
    "forecaster_cache_dir",
]

CACHE_DIR_ENV = "VTWIN_CACHE_DIR"
"""Environment variable: the cache's parent folder (``off``, ``0``, ``none`` or empty: none)."""

CACHE_VERSION = 1
"""Part of every key: raise it when a cached model's training data or code change."""

TrainFn = Callable[[], tuple[TrainedForecaster, float]]
"""Trains a forecaster on a cache miss; returns it and its test error rate (%)."""

_ERROR_FILE = "error.json"  # written last: marks a complete entry
_OFF = ("", "0", "off", "none")


def forecaster_cache_dir() -> Path | None:
    """Folder of cached forecasters: ``$VTWIN_CACHE_DIR/forecasters``.

    The default is ``~/.cache/vtwin/forecasters``; ``VTWIN_CACHE_DIR`` set to ``off`` (or
    ``0``, ``none``, empty) gives None: no caching, every model is trained afresh.
    """
    root = os.environ.get(CACHE_DIR_ENV)
    if root is not None and root.strip().lower() in _OFF:
        return None
    return (Path(root) if root else Path.home() / ".cache" / "vtwin") / "forecasters"


class ForecasterCache:
    """Trained forecasters on disk under ``root`` (None: caching off), loaded onto ``device``."""

    def __init__(self, root: str | Path | None, device: str = "auto") -> None:
        from vtwin.devices import pick_device

        self.root = None if root is None else Path(root)
        self.device = pick_device(device)

    @classmethod
    def from_env(cls, device: str = "auto") -> ForecasterCache:
        """The cache in :func:`forecaster_cache_dir` (off when ``$VTWIN_CACHE_DIR`` says so)."""
        return cls(forecaster_cache_dir(), device)

    def key(self, key_parts: Sequence[Any]) -> str:
        """20 hex digits of SHA-256 over :data:`CACHE_VERSION`, the vtwin and torch versions,
        the device kind and ``key_parts`` (JSON-serialisable), as one JSON list."""
        parts = [CACHE_VERSION, vtwin.__version__, torch.__version__, self.device.type]
        return hashlib.sha256(json.dumps([*parts, *key_parts]).encode()).hexdigest()[:20]

    def folder(self, key_parts: Sequence[Any]) -> Path | None:
        """The entry's folder (whether or not it exists yet); None when caching is off."""
        return None if self.root is None else self.root / self.key(key_parts)

    def get_or_train(
        self, key_parts: Sequence[Any], train_fn: TrainFn
    ) -> tuple[TrainedForecaster, float]:
        """The cached forecaster and its test error rate (%), or ``train_fn()``'s, then kept.

        A disk that cannot be written (read-only, full) only costs the reuse.
        """
        folder = self.folder(key_parts)
        if folder is not None and (folder / _ERROR_FILE).is_file():
            error = float(json.loads((folder / _ERROR_FILE).read_text())["error_rate_pct"])
            return TrainedForecaster.load(folder, device=self.device.type), error
        trained, error = train_fn()
        if folder is not None:
            try:
                trained.save(folder)
                tmp = folder / f"{_ERROR_FILE}.tmp"
                tmp.write_text(json.dumps({"error_rate_pct": error}))
                tmp.replace(folder / _ERROR_FILE)
            except OSError:
                pass
        return trained, error
