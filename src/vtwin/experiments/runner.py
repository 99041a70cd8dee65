"""Reproduce an experiment: expand it into runs, resume, execute, save, plot and report.

Every finished run is saved by this (parent) process the moment it finishes, so killing a
reproduction loses only the runs in flight; running the same command again removes what the
killed one left half-written, skips the runs already stored and redoes the rest. A full disk
while saving a run stops the reproduction with one error (the runs saved before it stay)
instead of failing every later run. Figures, ``REPORT.md`` and ``REPORT.html`` are rebuilt
from the store, and the output folder's ``index.html`` is rewritten over every experiment in it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from vtwin.atomicio import is_disk_full, remove_stale_temps
from vtwin.experiments.executor import Executor, make_executor
from vtwin.experiments.html_report import write_html_report, write_index
from vtwin.experiments.plots import write_figure
from vtwin.experiments.registry import get_experiment, resolve_methods
from vtwin.experiments.report import (
    FailedRun,
    ReproductionReport,
    evaluate_claims,
    render_markdown,
    write_text_atomic,
)
from vtwin.experiments.spec import (
    Experiment,
    RunResult,
    RunSpec,
    check_overrides,
    expand,
    import_callable,
)
from vtwin.experiments.store import RunStore, StoreError

__all__ = ["FAILED_DIR", "FIGURES_DIR", "REPORT_FILE", "reproduce"]

FIGURES_DIR = "figures"
FAILED_DIR = "failed"
REPORT_FILE = "REPORT.md"


def reproduce(
    name: str,
    *,
    quick: bool,
    seeds: int | None = None,
    out: Path | str = Path("runs"),
    workers: int = 1,
    methods: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    progress: bool = True,
    backend: str = "local",
    executor: Executor | None = None,
    console: Console | None = None,
    reuse: Sequence[Path | str] = (),
) -> ReproductionReport:
    """Run (or resume) an experiment; write its figures, ``REPORT.md``, ``REPORT.html`` and
    the output folder's ``index.html``.

    Runs already complete under ``out`` are reused. Runs complete (same fingerprint) in one
    of the ``reuse`` folders (other output folders, e.g. the project's ``results/paper-c``)
    are copied into ``out``, and so are runs whose twin in another experiment
    (:attr:`Experiment.same_as`) is complete in ``out``; a copy names its source in
    ``copied_from`` of its ``config.yaml``. A failing run is reported and the others go on
    (check :attr:`ReproductionReport.ok`). ``executor`` overrides ``backend``/``workers``.
    ``overrides`` (dotted ``key=value``) change every run's config, e.g. a reward weight;
    when ``out`` holds runs made with other overrides, nothing is touched and a
    :class:`ValueError` asks for another ``out``.
    """
    experiment = get_experiment(name)
    chosen = resolve_methods(experiment, methods)
    overrides = check_overrides(experiment, overrides)
    specs = expand(experiment, quick=quick, seeds=seeds, methods=chosen, overrides=overrides)
    n_seeds = len({s.seed for s in specs})
    store = RunStore(out)
    _refuse_other_overrides(store, specs)  # before anything starts or changes under ``out``
    runner = executor if executor is not None else make_executor(backend, workers)
    console = console if console is not None else Console(stderr=True)

    exp_dir = store.experiment_dir(experiment.name)
    store.clean_partial(experiment.name)
    for folder in (store.root, exp_dir, exp_dir / FIGURES_DIR):  # reports a kill cut short
        remove_stale_temps(folder)
    failed_dir = exp_dir / FAILED_DIR
    shutil.rmtree(failed_dir, ignore_errors=True)

    reused_set = {s.run_id for s in specs if store.is_complete(s)}
    reused_set |= _copy_stored(store, reuse, [s for s in specs if s.run_id not in reused_set])
    reused_set |= _copy_twins(experiment, store, [s for s in specs if s.run_id not in reused_set])
    reused = tuple(s.run_id for s in specs if s.run_id in reused_set)
    todo = [s for s in specs if s.run_id not in reused_set]
    failed: list[FailedRun] = []

    def record_failure(spec: RunSpec, exc: BaseException) -> None:
        item = FailedRun.from_exception(spec, exc)
        failed.append(item)
        failed_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(failed_dir / f"{spec.run_id}.log", item.details)
        console.print(
            f"[bold red]failed:[/] {spec.run_id}: {escape(item.error)}",
            highlight=False,
            soft_wrap=True,
        )

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        disable=not progress,
        transient=False,
    ) as bar:
        task = bar.add_task(experiment.name, total=len(specs), completed=len(reused), current="")
        running: list[str] = []

        def on_start(spec: RunSpec) -> None:
            running.append(spec.run_id)
            bar.update(task, current=", ".join(running))

        def on_done(spec: RunSpec, outcome: RunResult | BaseException) -> None:
            if spec.run_id in running:
                running.remove(spec.run_id)
            if isinstance(outcome, BaseException):
                record_failure(spec, outcome)
            else:
                try:
                    store.save(spec, outcome)
                except Exception as exc:
                    if is_disk_full(exc):  # every later save would fail too: stop here
                        raise OSError(
                            f"{exc}; the runs saved so far are kept: free some space and "
                            "rerun the same command to go on"
                        ) from exc
                    record_failure(spec, exc)
            bar.update(task, advance=1, current=", ".join(running))

        if todo:
            runner.run(experiment.run, todo, on_done, on_start)

    failed_ids = {f.spec.run_id for f in failed}
    runs: list[tuple[RunSpec, RunResult]] = []
    for spec in specs:
        if spec.run_id in failed_ids:
            continue
        try:
            runs.append((spec, store.load(spec)))
        except StoreError as exc:
            record_failure(spec, exc)

    report = ReproductionReport(
        experiment=experiment,
        quick=quick,
        seeds=n_seeds,
        methods=chosen,
        total=len(specs),
        out_dir=exp_dir,
        report_path=exp_dir / REPORT_FILE,
        runs=runs,
        reused=reused,
        failed=failed,
        workers=workers,
        backend=backend,
        overrides=overrides,
    )
    figures_dir = exp_dir / FIGURES_DIR
    for figure in experiment.figures:
        try:
            report.figures[figure.name] = write_figure(figure, experiment, runs, figures_dir)
        except Exception as exc:
            report.figure_errors[figure.name] = f"{type(exc).__name__}: {exc}"
    report.claims = evaluate_claims(experiment, report.summary_table())
    write_text_atomic(report.report_path, render_markdown(report))
    write_html_report(report)
    write_index(report.index_path.parent)
    return report


def _copy_stored(
    store: RunStore, sources: Sequence[Path | str], todo: Sequence[RunSpec]
) -> set[str]:
    """Copy every run of ``todo`` stored complete (same fingerprint) in one of the ``sources``
    output folders into ``store`` (the first source holding it wins); return the copied run
    ids. A missing source folder is an error, not an empty store."""
    copied: set[str] = set()
    for source in sources:
        other = RunStore(source)
        if not other.root.is_dir():
            raise ValueError(f"--reuse {source}: no such folder (give an output folder of runs)")
        if other.root.resolve() == store.root.resolve():
            continue
        for spec in todo:
            if spec.run_id in copied or not other.is_complete(spec):
                continue
            store.save(spec, other.load(spec), copied_from=str(other.run_dir(spec)))
            copied.add(spec.run_id)
    return copied


def _copy_twins(experiment: Experiment, store: RunStore, todo: Sequence[RunSpec]) -> set[str]:
    """Copy every run of ``todo`` whose twin (:attr:`Experiment.same_as`) is stored complete
    under the same output folder; return the copied run ids."""
    if experiment.same_as is None:
        return set()
    twin_of = import_callable(experiment.same_as)
    copied: set[str] = set()
    for spec in todo:
        twin = twin_of(spec)
        if twin is None or not store.is_complete(twin):
            continue
        store.save(spec, store.load(twin), copied_from=f"{twin.experiment}/{twin.run_id}")
        copied.add(spec.run_id)
    return copied


def _refuse_other_overrides(store: RunStore, specs: Sequence[RunSpec]) -> None:
    """Stop before a run stored with other config overrides (another ``--set``) is replaced:
    such a variant belongs in its own output folder."""
    for spec in specs:
        stored = store.stored_spec(spec)
        if stored is None or "overrides" not in stored:
            continue
        if list(stored["overrides"] or []) != list(spec.overrides):
            theirs = ", ".join(stored["overrides"] or []) or "none"
            ours = ", ".join(spec.overrides) or "none"
            raise ValueError(
                f"{store.run_dir(spec)} holds a run with overrides [{theirs}], not [{ours}]; "
                "give this variant another --out (or delete that folder)"
            )
