"""``vtwin forecast train|evaluate``: train a workload forecaster on a traffic file and test it.

DATA is a CSV path (PeMS 5-minute detector export, wide sensor-per-column file or long
(time, series, value) file; ``--format auto`` sniffs which), ``synthetic`` for the built-in
generator, or ``sample:pems-detector`` / ``sample:metr-la`` for the real samples found beside
the project (``../shared/data/pems/`` or ``$VTWIN_DATA_DIR``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vtwin.cliutil import DeviceOption, ParamOption, SeedOption, parse_params

if TYPE_CHECKING:
    from vtwin.data.traffic import TrafficSeries

__all__ = ["load_data", "register_cli"]

console = Console()
err_console = Console(stderr=True)
forecast_app = typer.Typer(
    help="Workload forecasting (paper B Sec. V): train and evaluate models.",
    no_args_is_help=True,
)

DataArg = Annotated[
    str,
    typer.Argument(
        help="CSV path, 'synthetic', 'sample:pems-detector' or 'sample:metr-la'.",
        metavar="DATA",
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help="auto, pems, wide or long.")]
SeriesOpt = Annotated[
    int | None, typer.Option("--max-series", help="Keep the first N series.", min=1)
]


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def load_data(
    data: str, fmt: str = "auto", max_series: int | None = None, seed: int = 0
) -> TrafficSeries:
    """Resolve a DATA argument (see the module docstring) to a :class:`TrafficSeries`."""
    from vtwin.data import samples, traffic

    if data == "synthetic":
        series = traffic.synthetic_traffic(max_series or 4, seed=seed)
    elif data == "sample:pems-detector":
        series = samples.pems_detector_sample()
    elif data == "sample:metr-la":
        series = samples.metr_la_sample(max_series=max_series)
    elif data.startswith("sample:"):
        raise ValueError(f"DATA = {data!r}: samples are sample:pems-detector and sample:metr-la")
    else:
        series = traffic.read_traffic(data, format=fmt)
    if max_series is not None and series.n_series > max_series:
        series = series.select(max_series)
    return series


def _metrics_table(title: str, metrics: dict[str, float], unit: str) -> Table:
    table = Table("metric", "value", title=title)
    labels = {
        "rmse": f"RMSE ({unit or 'data units'})",
        "mae": f"MAE ({unit or 'data units'})",
        "error_rate_pct": "error rate (%)",
        "r2": "R²",
        "rmse_scaled": "RMSE (standardised)",
        "n": "predictions",
    }
    for key, label in labels.items():
        if key in metrics:
            table.add_row(label, f"{metrics[key]:.4g}")
    return table


@forecast_app.command("train")
def train_command(
    data: DataArg,
    model: Annotated[
        str, typer.Option(help="lstm_transformer, cnn_gru, lstm, gru or cnn_lstm.")
    ] = "lstm_transformer",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default runs/forecast/…).")
    ] = None,
    fmt: FormatOpt = "auto",
    max_series: SeriesOpt = None,
    window: Annotated[int, typer.Option(help="Input steps T (paper B: 6).", min=1)] = 6,
    epochs: Annotated[int, typer.Option(help="Most epochs.", min=1)] = 100,
    patience: Annotated[int, typer.Option(help="Early-stopping patience (epochs).", min=1)] = 10,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    lr: Annotated[float, typer.Option(help="Adam learning rate.", min=0.0)] = 1e-3,
    val_fraction: Annotated[float, typer.Option(min=0.0, max=0.8)] = 0.1,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.8)] = 0.2,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    param: ParamOption = None,
) -> None:
    """Train a forecaster (scaler fitted on the training part only), then test it."""
    from pydantic import ValidationError
    from rich.progress import Progress

    from vtwin.data.traffic import TrafficFormatError
    from vtwin.forecast.train import ForecastSettings, evaluate_forecaster, train_forecaster

    try:
        settings = ForecastSettings.model_validate(
            {
                "model": model,
                "window": window,
                "epochs": epochs,
                "patience": patience,
                "batch_size": batch_size,
                "lr": lr,
                "val_fraction": val_fraction,
                "test_fraction": test_fraction,
                "seed": seed,
                "device": device,
                "model_params": parse_params(param),
            }
        )
        series = load_data(data, fmt, max_series, seed)
        folder = out or Path("runs") / "forecast" / f"{model}__seed={seed}"
        console.print(
            f"data: {escape(series.source)} — {series.n_series} series × {series.n_steps} steps "
            f"every {series.interval_s:g} s ({escape(series.quantity)}, {escape(series.unit)})",
            highlight=False,
        )
        err_console.print(f"model folder: [bold]{escape(str(folder))}[/]", highlight=False)
        with Progress(console=err_console) as bar:
            task = bar.add_task(f"train {model}", total=epochs)

            def report(epoch: int, train_mse: float, val_mse: float) -> None:
                bar.update(
                    task,
                    completed=epoch,
                    description=f"train {model}: val MSE {val_mse:.4f}",
                )

            trained = train_forecaster(series, settings, progress=report)
        result = evaluate_forecaster(trained, series, "test")
        spec = {"data": data, "format": fmt, "max_series": max_series, "seed": seed}
        trained.save(
            folder,
            extra={
                "data.json": json.dumps(spec),
                "test_metrics.json": json.dumps(result.metrics, indent=1),
            },
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
        return
    except (TrafficFormatError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    console.print(
        f"best epoch {trained.best_epoch} of {len(trained.history)}; saved to "
        f"[bold]{escape(str(folder))}[/]"
    )
    console.print(_metrics_table(f"{model} on the test part", result.metrics, series.unit))


@forecast_app.command("evaluate")
def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `vtwin forecast train`.")],
    data: Annotated[
        str | None,
        typer.Argument(help="Data to test on (default: the training data).", metavar="[DATA]"),
    ] = None,
    fmt: FormatOpt = "auto",
    max_series: SeriesOpt = None,
    part: Annotated[
        str, typer.Option(help="train, val, test, or all (the whole of DATA).")
    ] = "test",
) -> None:
    """Evaluate a saved forecaster on a part of its training data or on new data."""
    from vtwin.data.traffic import TrafficFormatError
    from vtwin.forecast.train import TrainedForecaster, evaluate_forecaster

    try:
        if part not in ("train", "val", "test", "all"):
            raise ValueError(f"--part = {part!r}; allowed: train, val, test, all")
        trained = TrainedForecaster.load(run_dir)
        if data is None:
            spec_path = run_dir / "data.json"
            if not spec_path.is_file():
                raise ValueError(f"{run_dir}: no data.json; pass the DATA to evaluate on")
            spec = json.loads(spec_path.read_text())
            series = load_data(spec["data"], spec["format"], spec["max_series"], spec["seed"])
        else:
            series = load_data(data, fmt, max_series)
        result = evaluate_forecaster(trained, series, part)
    except (TrafficFormatError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    title = f"{trained.settings.model} on the {part} part of {series.source}"
    console.print(_metrics_table(title, result.metrics, series.unit))


def register_cli(app: typer.Typer) -> None:
    """Mount ``forecast train|evaluate`` on ``app``."""
    app.add_typer(forecast_app, name="forecast")
