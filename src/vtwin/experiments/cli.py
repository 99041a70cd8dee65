"""CLI commands of the experiments: ``vtwin experiments list`` and ``vtwin reproduce NAME``.

:func:`register_cli` adds both to a typer app (the main ``vtwin`` app mounts them). Errors
the user can fix (unknown experiment, method or backend) print one ``error:`` line and exit
with status 2; failed runs make ``reproduce`` exit with status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["experiments_list", "register_cli", "reproduce_command"]

console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def experiments_list() -> None:
    """List the registered paper experiments."""
    from vtwin.experiments.registry import list_experiments, list_groups

    table = Table("name", "paper", "title", "methods", "sweep")
    for exp in list_experiments():
        sweep = "—"
        if exp.sweep is not None:
            values = ", ".join(str(v) for v in exp.sweep.values)
            sweep = f"{exp.sweep.label} ({exp.sweep.key}): {values}"
        table.add_row(
            *(escape(c) for c in (exp.name, exp.paper, exp.title, ", ".join(exp.methods), sweep))
        )
    console.print(table)
    groups = list_groups()
    if groups:
        gtable = Table("group", "runs these experiments", title="groups")
        for group, members in groups.items():
            gtable.add_row(escape(group), escape(", ".join(members)))
        console.print(gtable)


def reproduce_command(
    name: Annotated[
        str,
        typer.Argument(help="Experiment or group name (see `vtwin experiments list`)."),
    ],
    quick: Annotated[
        bool, typer.Option("--quick", help="Use the quick budget (minutes; a smoke test).")
    ] = False,
    seeds: Annotated[
        int | None, typer.Option(help="Seeds per setting (default: the experiment's).", min=1)
    ] = None,
    out: Annotated[Path, typer.Option(help="Results folder (runs, figures, reports).")] = Path(
        "runs"
    ),
    workers: Annotated[
        int | None,
        typer.Option(
            help="Runs in parallel (local: processes, default 1; ray: runs in flight, "
            "default as many as the cluster has CPUs).",
            min=1,
        ),
    ] = None,
    methods: Annotated[
        str | None, typer.Option(help="Comma-separated subset of methods, e.g. durp,greedy.")
    ] = None,
    backend: Annotated[
        str, typer.Option(help="Executor backend: local (this machine) or ray (a Ray cluster).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join with --backend ray (auto, HOST:6379); "
            "default: a private Ray instance on this machine."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="Override a config value in every run, e.g. --set reward.weights.failure=3 "
            "(repeatable; give the variant its own --out).",
            metavar="KEY=VALUE",
        ),
    ] = None,
    reuse: Annotated[
        list[Path] | None,
        typer.Option(
            help="Copy the runs already complete in this output folder (same budget, seed "
            "and config) instead of computing them, e.g. --reuse results/paper-c "
            "(repeatable).",
            metavar="DIR",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run (or resume) a paper experiment; write figures, REPORT.md and REPORT.html under
    OUT/NAME and OUT/index.html over every experiment in OUT."""
    from vtwin.experiments.executor import make_executor
    from vtwin.experiments.registry import (
        expand_name,
        get_experiment,
        resolve_methods,
    )
    from vtwin.experiments.spec import check_overrides

    requested = [m for m in (methods or "").split(",") if m.strip()] or None
    try:
        names = expand_name(name)
        if requested and len(names) > 1:
            _fail(f"--methods applies to one experiment; '{name}' runs {', '.join(names)}")
        for member in names:
            resolve_methods(get_experiment(member), requested)
            check_overrides(get_experiment(member), set_ or ())
        for folder in reuse or ():
            if not folder.is_dir():
                raise ValueError(
                    f"--reuse {folder}: no such folder (give an output folder of runs, "
                    "e.g. results/paper-c)"
                )
        executor = make_executor(backend, workers, address)
    except ValueError as exc:  # unknown names or backend, more --workers than cores allow
        _fail(str(exc))
        return
    options: dict[str, Any] = {  # reproduce()'s keyword arguments, the same for every member
        "quick": quick,
        "seeds": seeds,
        "out": out,
        "workers": workers or 1,
        "methods": requested,
        "overrides": tuple(set_ or ()),
        "progress": progress,
        "executor": executor,
        "backend": backend,  # recorded in the reports (the executor already runs it)
        "console": err_console,
        "reuse": tuple(reuse or ()),
    }
    failed = 0
    for member in names:
        if len(names) > 1:
            console.rule(f"[bold]{escape(member)}")
        failed += _reproduce_one(member, options)
    if failed:
        raise typer.Exit(code=1)


def _reproduce_one(name: str, options: dict[str, Any]) -> int:
    """Reproduce one experiment and print its claims; returns the number of failed runs."""
    from vtwin.experiments.runner import reproduce

    where = Path(options["out"]) / name
    err_console.print(f"{escape(name)}: runs, figures and report in [bold]{escape(str(where))}[/]")
    try:
        report = reproduce(name, **options)
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: finished runs are saved; run the same command again to resume."
        )
        raise typer.Exit(code=130) from None
    except (ValueError, OSError) as exc:
        _fail(str(exc))
        return 0

    if report.claims:
        from vtwin.experiments.report import claims_as_rows

        table = Table("claim", "paper", "ours", "agrees", title="claims")
        for row in claims_as_rows(report.claims):
            cells = (row["claim"], row["paper"], row["ours"], row["agrees"].strip("*"))
            table.add_row(*(escape(c) for c in cells))
        console.print(table)
    for fig, error in report.figure_errors.items():
        err_console.print(f"[yellow]figure {fig} not drawn:[/] {escape(error)}", highlight=False)
    console.print(
        f"{report.total} runs: {report.new} run now, {len(report.reused)} reused, "
        f"{len(report.failed)} failed. Report: [bold]{escape(str(report.report_path))}[/] "
        f"and [bold]{escape(str(report.html_path))}[/]; all experiments: "
        f"{escape(str(report.index_path))}",
        highlight=False,
        soft_wrap=True,
    )
    if report.failed:
        err_console.print(
            f"[bold red]{len(report.failed)} run(s) failed[/] "
            f"(tracebacks in {escape(str(report.out_dir / 'failed'))}); rerun to retry them.",
            highlight=False,
            soft_wrap=True,
        )
    return len(report.failed)


def register_cli(app: typer.Typer) -> None:
    """Add ``experiments list`` and ``reproduce`` to ``app``."""
    experiments_app = typer.Typer(help="Paper experiments (figures and tables).")
    experiments_app.command("list")(experiments_list)
    app.add_typer(experiments_app, name="experiments")
    app.command("reproduce")(reproduce_command)
