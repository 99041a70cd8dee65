"""Training and evaluating the forecasters on traffic series (paper B Algorithm 1, Sec. VII-B).

Pipeline of :func:`train_forecaster`:

1. the series is put on its regular time grid (absent steps become NaN) and gaps of at most
   ``max_gap_steps`` steps are filled by linear interpolation; longer gaps stay missing;
2. the steps are split **in time order** into train, validation and test parts (the
   fractions count the steps that hold data);
3. each series is standardised with the mean and standard deviation of its **training part
   only** (the validation and test parts never reach the scaler);
4. sliding windows of ``window`` steps (T = 6 in paper B) predict the value ``horizon`` steps
   after the window's last step; a window is kept only when its inputs and target all lie
   inside one part and are all present;
5. Adam minimises the MSE on the scaled values (Algorithm 1 line 7); after every epoch the
   validation MSE is measured, the best weights are kept, and training stops after
   ``patience`` epochs without improvement.

Everything is deterministic per ``seed`` on CPU. :class:`TrainedForecaster` saves to and loads
from a folder (``forecaster.json`` + ``model.pt``).
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vtwin.atomicio import remove_stale_temps, write_atomic
from vtwin.data.traffic import TrafficSeries, fill_short_gaps
from vtwin.forecast.metrics import forecast_metrics
from vtwin.forecast.models import MODEL_NAMES, Forecaster, build_model

__all__ = [
    "Evaluation",
    "ForecastSettings",
    "Split",
    "TrainedForecaster",
    "evaluate_forecaster",
    "fit_scaler",
    "make_windows",
    "persistence_evaluation",
    "prepare_series",
    "split_bounds",
    "train_forecaster",
]

_FORMAT_VERSION = 1
_META_FILE, _WEIGHTS_FILE = "forecaster.json", "model.pt"


class ForecastSettings(BaseModel):
    """Everything that determines a training run (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    model: str = "lstm_transformer"
    window: int = Field(6, ge=1, description="input steps T (paper B: 6)")
    horizon: int = Field(1, ge=1, description="steps ahead of the window's last step")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    epochs: int = Field(100, ge=1, description="most training epochs")
    patience: int = Field(10, ge=1, description="epochs without validation gain before stopping")
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    seed: int = Field(0, ge=0)
    device: str = "auto"
    max_gap_steps: int = Field(3, ge=0, description="longest gap (steps) filled by interpolation")
    server_embedding: int = Field(0, ge=0, description="server embedding size; 0 = none")
    max_train_windows: int | None = Field(
        None, ge=1, description="keep at most this many training windows (a seeded subsample)"
    )
    model_params: dict[str, int | float] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODEL_NAMES:
            raise ValueError(f"model = {value!r}; allowed: {', '.join(MODEL_NAMES)}")
        return value

    @field_validator("test_fraction")
    @classmethod
    def _fractions(cls, value: float, info: Any) -> float:
        val = info.data.get("val_fraction", 0.0)
        if val + value >= 0.9:
            raise ValueError(
                f"val_fraction + test_fraction = {val + value:g}: must leave at least 10 % "
                "of the steps for training"
            )
        return value


# ------------------------------------------------------------------------------ data handling
@dataclass(frozen=True)
class Split:
    """Step ranges ``[start, stop)`` of the train, validation and test parts."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def part(self, name: str) -> tuple[int, int]:
        if name not in ("train", "val", "test"):
            raise ValueError(f"split part = {name!r}; allowed: train, val, test")
        bounds: tuple[int, int] = getattr(self, name)
        return bounds


def split_bounds(
    n_steps: int,
    val_fraction: float,
    test_fraction: float,
    observed: np.ndarray | None = None,
) -> Split:
    """Time-ordered split of ``n_steps`` steps: train first, then validation, then test.

    The fractions count the ``observed`` steps (sorted step indices holding data; all steps
    when None), so long gaps on the time grid (weekends absent from a weekday-only file) do
    not shrink a part.
    """
    steps = np.arange(n_steps) if observed is None else np.asarray(observed)
    n = len(steps)
    n_test = max(1, round(n * test_fraction))
    n_val = round(n * val_fraction)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(f"{n} observed steps are too few to split into train/val/test")
    a = int(steps[n_train])
    b = int(steps[n_train + n_val]) if n_val else a
    return Split((0, a), (a, b), (b, n_steps))


def _split(data: TrafficSeries, settings: ForecastSettings) -> Split:
    observed = np.flatnonzero(np.isfinite(data.values).any(axis=1))
    return split_bounds(data.n_steps, settings.val_fraction, settings.test_fraction, observed)


def prepare_series(series: TrafficSeries, max_gap_steps: int) -> TrafficSeries:
    """Regular time grid, short gaps filled (step 1 of the pipeline)."""
    return fill_short_gaps(series.regular(), max_gap_steps=max_gap_steps)


def make_windows(
    scaled: np.ndarray, start: int, stop: int, window: int, horizon: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sliding windows inside steps ``[start, stop)`` of ``scaled`` ([n_steps, n_series]).

    Returns ``x`` [N, window, 1] (float32), ``y`` [N] (float32), the series index [N] and the
    target's step index [N]; windows with a missing input or target are left out.
    """
    xs, ys, ids, steps = [], [], [], []
    span = window + horizon - 1  # last target step = first input step + span
    part = scaled[start:stop]
    n = part.shape[0] - span
    if n <= 0:
        empty = np.zeros((0, window, 1), np.float32)
        return empty, np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    idx = np.arange(n)[:, None] + np.arange(window)[None, :]  # [n, window]
    for m in range(part.shape[1]):
        col = part[:, m]
        x = col[idx]
        y = col[idx[:, -1] + horizon]
        ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
        xs.append(x[ok])
        ys.append(y[ok])
        ids.append(np.full(int(ok.sum()), m, np.int64))
        steps.append(start + idx[ok, -1] + horizon)
    return (
        np.concatenate(xs).astype(np.float32)[..., None],
        np.concatenate(ys).astype(np.float32),
        np.concatenate(ids),
        np.concatenate(steps).astype(np.int64),
    )


def fit_scaler(data: TrafficSeries, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Per-series mean and standard deviation of the **training part only** ([n_series] each)."""
    train_part = data.values[split.train[0] : split.train[1]]
    counts = np.isfinite(train_part).sum(axis=0)
    if (counts < 2).any():
        bad = [data.names[i] for i in np.flatnonzero(counts < 2)][:5]
        raise ValueError(f"series {bad} have fewer than 2 values in the training part")
    mean = np.nanmean(train_part, axis=0)
    std = np.nanstd(train_part, axis=0)
    return mean, np.where(std > 0, std, 1.0)


# ------------------------------------------------------------------------------ the model
@dataclass
class TrainedForecaster:
    """A trained model with its scaler and settings; predicts in data units."""

    model: Forecaster
    settings: ForecastSettings
    names: tuple[str, ...]
    mean: np.ndarray  # [n_series] training mean of each series (data units)
    std: np.ndarray  # [n_series] training standard deviation of each series
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    quantity: str = "value"
    unit: str = ""
    interval_s: float = 300.0

    @property
    def window(self) -> int:
        return self.settings.window

    @property
    def pooled(self) -> tuple[float, float]:
        """Mean and standard deviation used for series the model was not trained on."""
        return float(np.mean(self.mean)), float(np.mean(self.std))

    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def predict_scaled(self, x: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """[N, T, F] scaled windows (and [N] series indices) → [N] scaled predictions."""
        self.model.eval()
        out = []
        dev = self.device()
        for i in range(0, len(x), 4096):
            xb = torch.as_tensor(x[i : i + 4096], device=dev)
            sb = None if series is None else torch.as_tensor(series[i : i + 4096], device=dev)
            out.append(self.model(xb, sb).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def save(self, folder: str | Path, extra: Mapping[str, str] | None = None) -> Path:
        """Write ``model.pt``, the ``extra`` text files (name → content) and, last,
        ``forecaster.json`` into ``folder`` (created if needed).

        ``forecaster.json`` marks a complete folder: it is removed before anything else is
        rewritten and written after everything, each file through a temporary name and a
        rename, so a save killed (or failing on a full disk) at any moment leaves a folder
        that :meth:`load` refuses rather than a model mixed from two trainings.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(folder)  # what an earlier, killed save left
        meta = {
            "format_version": _FORMAT_VERSION,
            "settings": self.settings.model_dump(),
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "history": self.history,
            "best_epoch": self.best_epoch,
            "quantity": self.quantity,
            "unit": self.unit,
            "interval_s": self.interval_s,
        }
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        (folder / _META_FILE).unlink(missing_ok=True)
        write_atomic(folder / _WEIGHTS_FILE, functools.partial(_save_weights, state))
        files = {**(extra or {}), _META_FILE: json.dumps(meta, indent=1)}  # the marker last
        for name, text in files.items():
            write_atomic(
                folder / name, functools.partial(Path.write_text, data=text, encoding="utf-8")
            )
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> TrainedForecaster:
        """Inverse of :meth:`save`."""
        from vtwin.devices import pick_device

        folder = Path(folder)
        meta_path = folder / _META_FILE
        if not meta_path.is_file():
            if (folder / _WEIGHTS_FILE).exists():
                raise FileNotFoundError(
                    f"{folder}: no {_META_FILE}, so its saving was cut short (killed, or the "
                    "disk was full); run the same `vtwin forecast train` again"
                )
            raise FileNotFoundError(f"{folder}: no {_META_FILE} (not a saved forecaster)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{meta_path}: not readable JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format_version") != _FORMAT_VERSION:
            meta = meta if isinstance(meta, dict) else {}
            raise ValueError(
                f"{meta_path}: format_version {meta.get('format_version')} is not "
                f"{_FORMAT_VERSION}; retrain with this vtwin version"
            )
        settings = ForecastSettings.model_validate(meta["settings"], strict=False)
        names = tuple(meta["names"])
        model = _build(settings, len(names))
        weights = folder / _WEIGHTS_FILE
        try:
            model.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
        except Exception as exc:  # missing, truncated, corrupt, or another model's weights
            first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            raise ValueError(
                f"{weights}: not readable weights of this forecaster ({type(exc).__name__}: "
                f"{first}); retrain it"
            ) from None
        model.to(pick_device(device)).eval()
        return cls(
            model=model,
            settings=settings,
            names=names,
            mean=np.asarray(meta["mean"], np.float64),
            std=np.asarray(meta["std"], np.float64),
            history=list(meta["history"]),
            best_epoch=int(meta["best_epoch"]),
            quantity=meta.get("quantity", "value"),
            unit=meta.get("unit", ""),
            interval_s=float(meta.get("interval_s", 300.0)),
        )


def _save_weights(state: dict[str, torch.Tensor], path: Path) -> None:
    with open(path, "wb") as fh:  # a Python file: a full disk surfaces as the OSError
        torch.save(state, fh)


def _build(settings: ForecastSettings, n_series: int) -> Forecaster:
    emb = settings.server_embedding
    return build_model(
        settings.model,
        1,
        n_series=n_series if emb else 0,
        embed_dim=emb,
        **settings.model_params,
    )


ProgressFn = Callable[[int, float, float], None]
"""Called after every epoch with (epoch, training MSE, validation MSE) on scaled values."""


def train_forecaster(
    series: TrafficSeries,
    settings: ForecastSettings | None = None,
    *,
    progress: ProgressFn | None = None,
) -> TrainedForecaster:
    """Train ``settings.model`` on ``series`` (pipeline in the module docstring)."""
    from vtwin.devices import pick_device

    settings = settings or ForecastSettings()
    torch.manual_seed(settings.seed)
    rng = torch.Generator().manual_seed(settings.seed)
    device = pick_device(settings.device)

    data = prepare_series(series, settings.max_gap_steps)
    split = _split(data, settings)
    mean, std = fit_scaler(data, split)
    scaled = (data.values - mean) / std

    w, h = settings.window, settings.horizon
    x_tr, y_tr, s_tr, _ = make_windows(scaled, *split.train, w, h)
    x_va, y_va, s_va, _ = make_windows(scaled, *split.val, w, h)
    if settings.max_train_windows is not None and len(x_tr) > settings.max_train_windows:
        keep = np.sort(
            np.random.default_rng(settings.seed).choice(
                len(x_tr), settings.max_train_windows, replace=False
            )
        )
        x_tr, y_tr, s_tr = x_tr[keep], y_tr[keep], s_tr[keep]
    if len(x_tr) == 0:
        raise ValueError(
            f"no complete training window of {w} + {h} steps in {data.n_steps} steps; "
            "use more data or a shorter window"
        )
    model = _build(settings, data.n_series).to(device)
    trained = TrainedForecaster(
        model=model,
        settings=settings,
        names=data.names,
        mean=mean,
        std=std,
        quantity=data.quantity,
        unit=data.unit,
        interval_s=data.interval_s,
    )
    use_series = settings.server_embedding > 0
    optimiser = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    xt = torch.as_tensor(x_tr, device=device)
    yt = torch.as_tensor(y_tr, device=device)
    st = torch.as_tensor(s_tr, device=device)
    best, best_state, stale = math.inf, copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(len(xt), generator=rng).to(device)
        total = 0.0
        for i in range(0, len(order), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            pred = model(xt[idx], st[idx] if use_series else None)
            loss = torch.nn.functional.mse_loss(pred, yt[idx])  # Algorithm 1 line 7
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        train_mse = total / len(xt)
        if len(x_va):
            pred_va = trained.predict_scaled(x_va, s_va if use_series else None)
            val_mse = float(np.mean((pred_va - y_va) ** 2))
        else:
            val_mse = train_mse  # no validation part: early stopping on the training loss
        trained.history.append({"epoch": epoch, "train_mse": train_mse, "val_mse": val_mse})
        if progress is not None:
            progress(epoch, train_mse, val_mse)
        if val_mse < best - 1e-6:
            best, stale, trained.best_epoch = val_mse, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return trained


# ------------------------------------------------------------------------------ evaluation
@dataclass
class Evaluation:
    """Predictions of one part of a series, on its regular time grid (NaN where none)."""

    metrics: dict[str, float]
    time_s: np.ndarray  # [n] step times of the part (Unix s)
    actual: np.ndarray  # [n, n_series] data units
    predicted: np.ndarray  # [n, n_series] data units; NaN where no complete window
    names: tuple[str, ...]


def _score(
    data: TrafficSeries,
    bounds: tuple[int, int],
    mean: np.ndarray,
    std: np.ndarray,
    pred: np.ndarray,
    y: np.ndarray,
    sid: np.ndarray,
    step: np.ndarray,
) -> Evaluation:
    """Unscale scaled predictions ``pred`` of windows (series ``sid``, target ``step``)."""
    start, stop = bounds
    predicted = np.full((stop - start, data.n_series), np.nan)
    predicted[step - start, sid] = pred * std[sid] + mean[sid]
    actual = data.values[start:stop]
    metrics = forecast_metrics(actual[step - start, sid], predicted[step - start, sid])
    metrics["rmse_scaled"] = float(np.sqrt(np.mean((pred - y) ** 2)))
    metrics["n"] = float(len(y))
    return Evaluation(metrics, data.time_s[start:stop], actual, predicted, data.names)


def evaluate_forecaster(
    trained: TrainedForecaster,
    series: TrafficSeries,
    part: str = "test",
) -> Evaluation:
    """Metrics of ``trained`` on one part (``train``, ``val``, ``test``) of ``series``, or on
    ``all`` of it (e.g. a new file the model never saw).

    The series is prepared and split as in training. Metrics are in data units (``rmse``,
    ``mae``, ``error_rate_pct``, ``r2``) plus ``rmse_scaled`` on the standardised values and
    ``n`` predictions.
    """
    s = trained.settings
    data = prepare_series(series, s.max_gap_steps)
    if data.n_series != len(trained.names) and s.server_embedding:
        raise ValueError(
            f"the model embeds {len(trained.names)} series; the data has {data.n_series}"
        )
    if data.n_series == len(trained.names):
        mean, std = trained.mean, trained.std
    else:
        pm, ps = trained.pooled
        mean, std = np.full(data.n_series, pm), np.full(data.n_series, ps)
    if part == "all":
        start, stop = 0, data.n_steps
    else:
        start, stop = _split(data, s).part(part)
    scaled = (data.values - mean) / std
    x, y, sid, step = make_windows(scaled, start, stop, s.window, s.horizon)
    if len(x) == 0:
        raise ValueError(f"no complete window in the {part} part ({stop - start} steps)")
    pred = trained.predict_scaled(x, sid if s.server_embedding else None)
    return _score(data, (start, stop), mean, std, pred, y, sid, step)


def persistence_evaluation(
    series: TrafficSeries, settings: ForecastSettings | None = None, part: str = "test"
) -> Evaluation:
    """Metrics of the last-value forecast (next value = last value of the window).

    It is scored on exactly the windows a model trained with ``settings`` is scored on, so
    its numbers sit beside the models' in Table II.
    """
    s = settings or ForecastSettings()
    data = prepare_series(series, s.max_gap_steps)
    split = _split(data, s)
    mean, std = fit_scaler(data, split)
    start, stop = split.part(part)
    scaled = (data.values - mean) / std
    x, y, sid, step = make_windows(scaled, start, stop, s.window, s.horizon)
    if len(x) == 0:
        raise ValueError(f"no complete window in the {part} part ({stop - start} steps)")
    last = data.values[step - s.horizon, sid]  # float64: the window's last value exactly
    return _score(data, (start, stop), mean, std, (last - mean[sid]) / std[sid], y, sid, step)
