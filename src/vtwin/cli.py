"""The ``vtwin`` command line (typer + rich).

Errors the user can fix (bad preset name, misspelled key, out-of-range value, missing file)
print one clear ``error:`` message and exit with status 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vtwin import __version__
from vtwin.cliutil import DeviceOption, GuardedGroup, ParamOption, SeedOption, parse_params
from vtwin.config import ConfigError, config_to_yaml, list_presets, load_config
from vtwin.experiments.cli import register_cli as register_experiment_commands
from vtwin.forecast.cli import register_cli as register_forecast_commands
from vtwin.reward_design.cli import register_cli as register_reward_design_commands

app = typer.Typer(
    name="vtwin",
    help="Vehicle digital twins in air-ground-space vehicular networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,  # a stray exception: one error line (tracebacks with --debug)
)
config_app = typer.Typer(help="Inspect configuration presets.", no_args_is_help=True)
scenario_app = typer.Typer(help="Build and inspect scenarios.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(scenario_app, name="scenario")
register_experiment_commands(app)  # `vtwin experiments list`, `vtwin reproduce NAME`
register_forecast_commands(app)  # `vtwin forecast train|evaluate`
register_reward_design_commands(app)  # `vtwin reward-design`

console = Console()
err_console = Console(stderr=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a config value, e.g. --set servers.rsu.count=20 (repeatable).",
        metavar="KEY=VALUE",
    ),
]
PresetArg = Annotated[
    str, typer.Argument(help="Preset name (see `vtwin config list`) or a YAML file path.")
]


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"vtwin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an unexpected error.")
    ] = False,
) -> None:
    """vtwin: simulators, agents and paper reproductions for vehicle digital twins."""
    ctx.meta["vtwin_debug"] = debug


@config_app.command("list")
def config_list() -> None:
    """List the shipped presets."""
    table = Table("preset", "paper", "description", show_lines=False)
    for name in list_presets():
        cfg = load_config(name)
        table.add_row(name, cfg.paper, cfg.description)
    console.print(table)


@config_app.command("show")
def config_show(preset: PresetArg, set_: SetOption = None) -> None:
    """Print the resolved configuration (preset + overrides, defaults filled in) as YAML."""
    try:
        cfg = load_config(preset, set_ or [])
    except ConfigError as exc:
        _fail(str(exc))
        return
    typer.echo(config_to_yaml(cfg), nl=False)


@scenario_app.command("show")
def scenario_show(
    preset: PresetArg,
    set_: SetOption = None,
    seed: Annotated[
        int | None, typer.Option(help="Scenario seed (default: the preset's).", min=0)
    ] = None,
    png: Annotated[
        Path | None, typer.Option(help="Write a map of servers, coverage and trajectories.")
    ] = None,
    trajectories: Annotated[int, typer.Option(help="Vehicle trajectories on the map.", min=0)] = 5,
) -> None:
    """Build a scenario and print its summary; optionally draw its map."""
    from vtwin.data.traces import TraceFormatError
    from vtwin.world.scenario import Scenario

    try:
        cfg = load_config(preset, set_ or [])
        scenario = Scenario.from_config(cfg, seed)
        summary = scenario.summary()
    except (ConfigError, TraceFormatError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    table = Table(title=f"scenario {cfg.name}", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
    if png is not None:
        from vtwin.viz.maps import plot_scenario

        try:
            out = plot_scenario(scenario, png, n_trajectories=trajectories)
        except OSError as exc:
            _fail(f"could not write {png}: {exc}")
            return
        console.print(f"map written to [bold]{out}[/]")


@app.command("train")
def train_command(
    env: Annotated[
        str, typer.Option("--env", help="Preset (e.g. paper-a, paper-b-city) or YAML file.")
    ],
    algo: Annotated[
        str,
        typer.Option(
            help="paper A: ppo, dsac, random; paper B: dm_mappo, mappo, masac, greedy, random; "
            "paper C: hppo, hdppo, ghppo, ppo_relaxed, hgdm; paper D: su_hatd3, haddpg, matd3, "
            "maddpg, rule, random."
        ),
    ],
    steps: Annotated[int, typer.Option(help="Agent transitions to train for.", min=1)],
    seed: SeedOption = 0,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/train/…).")] = None,
    batch_envs: Annotated[int, typer.Option(help="Env copies stepped together.", min=1)] = 8,
    device: DeviceOption = "auto",
    param: ParamOption = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh", help="Discard a run already in the run folder and train from scratch."
        ),
    ] = False,
) -> None:
    """Train an agent on a paper's batched env; resumes from the run folder's checkpoint
    (a larger --steps continues a finished run)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from vtwin.training import TrainSettings, check_settings, train

    try:
        cfg = load_config(env, set_ or [])
        try:
            params = parse_params(param)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        settings = TrainSettings(
            algo=algo,
            steps=steps,
            seed=seed,
            batch_envs=batch_envs,
            device=device,
            algo_params=params,
        )
        check_settings(cfg, settings)  # a bad name fails before the progress bar shows
        run_dir = out or Path("runs") / "train" / f"{cfg.name}__{algo}__seed={seed}"
        err_console.print(f"run folder: [bold]{run_dir}[/] (metrics.csv, checkpoint.pt)")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("episode {task.fields[episode]}  return {task.fields[ret]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console) as bar:
            task = bar.add_task(f"train {algo} on {cfg.name}", total=steps, episode="–", ret="–")
            summary = train(
                cfg,
                settings,
                run_dir,
                resume=not fresh,
                progress=lambda done, _: bar.update(task, completed=done),
                on_episode=lambda row: bar.update(
                    task, episode=f"{row['episode']:.0f}", ret=f"{row['return']:.4g}"
                ),
            )
    except (ConfigError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    console.print(f"run folder: [bold]{run_dir}[/]")
    if summary["steps"] > steps:
        console.print(
            f"note: training runs whole episodes, so {steps:,} steps became "
            f"{summary['steps']:,.0f} ({summary['episodes']:.0f} episodes)",
            highlight=False,
        )
    for name, number in summary.items():
        console.print(f"{name}: {number:.4g}")


@app.command("evaluate")
def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `vtwin train`.")],
    episodes: Annotated[int, typer.Option(min=1)] = 3,
    seed: Annotated[int, typer.Option(min=0)] = 123_456,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Also write the replay page of the first episode (RUN_DIR/replay.html).",
        ),
    ] = False,
    replay_out: Annotated[
        Path | None, typer.Option(help="Where the replay page goes (implies --replay).")
    ] = None,
) -> None:
    """Evaluate a trained agent (greedy actions) on fresh seeds."""
    from vtwin.training import evaluate

    try:
        result = evaluate(run_dir, episodes=episodes, seed=seed)
    except (ConfigError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    for key, value in result.items():
        console.print(f"{key}: {value:.4g}")
    if replay or replay_out is not None:
        _write_replay(run_dir, replay_out, seed, 300)


def _write_replay(run_dir: Path, out: Path | None, seed: int, max_frames: int) -> None:
    """Record (or reuse) the run's episode for ``seed`` and write its replay page."""
    from vtwin.training.record import EPISODE_FILE, ensure_record
    from vtwin.viz.replay import MissingExtraError, write_replay

    target = out or run_dir / "replay.html"
    try:
        record, fresh = ensure_record(run_dir, seed)
        page = write_replay(record, target, max_frames=max_frames)
    except MissingExtraError as exc:
        _fail(str(exc))
        return
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
        return
    except OSError as exc:
        _fail(f"could not write {target}: {exc}")
        return
    how = "recorded" if fresh else "reused"
    console.print(f"episode record ({how}): [bold]{escape(str(run_dir / EPISODE_FILE))}[/]")
    size_mb = page.stat().st_size / 1e6
    console.print(f"replay page ({size_mb:.1f} MB, opens offline): [bold]{escape(str(page))}[/]")


@app.command("replay")
def replay_command(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `vtwin train`.")],
    out: Annotated[
        Path | None, typer.Option(help="HTML file to write (default RUN_DIR/replay.html).")
    ] = None,
    episode_seed: Annotated[
        int, typer.Option(min=0, help="Seed of the episode played (as `vtwin evaluate --seed`).")
    ] = 123_456,
    max_frames: Annotated[
        int, typer.Option(min=2, help="Animation frames at most (longer episodes skip slots).")
    ] = 300,
) -> None:
    """Write a self-contained HTML page that animates one episode of a trained agent."""
    _write_replay(run_dir, out, episode_seed, max_frames)


def main() -> None:
    """Entry point of the ``vtwin`` console script."""
    app()


if __name__ == "__main__":
    main()
