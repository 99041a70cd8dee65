"""Paper experiments: declarative specs, a registry, executors, a results store, plots, reports.

A paper module declares an :class:`Experiment` and calls :func:`register`; ``vtwin reproduce
NAME`` (:func:`reproduce`) expands it into runs, executes them locally (or, later, on Ray),
saves each run atomically under ``runs/<experiment>/<run_id>/`` so interrupted sweeps resume,
and writes figures and a ``REPORT.md`` / ``REPORT.html`` that checks the paper's claims
(plus ``index.html`` over the output folder).
"""

from vtwin.experiments.executor import (
    BackendUnavailableError,
    Executor,
    LocalExecutor,
    make_executor,
)
from vtwin.experiments.plots import aggregate, summary_table
from vtwin.experiments.registry import (
    UnknownExperimentError,
    UnknownMethodError,
    expand_name,
    get_experiment,
    list_experiments,
    list_groups,
    register,
    register_group,
    resolve_methods,
)
from vtwin.experiments.report import ClaimResult, FailedRun, ReproductionReport
from vtwin.experiments.runner import reproduce
from vtwin.experiments.spec import (
    Claim,
    Experiment,
    Figure,
    RunResult,
    RunSpec,
    Sweep,
    expand,
    make_run_id,
)
from vtwin.experiments.store import RunStore

__all__ = [
    "BackendUnavailableError",
    "Claim",
    "ClaimResult",
    "Executor",
    "Experiment",
    "FailedRun",
    "Figure",
    "LocalExecutor",
    "ReproductionReport",
    "RunResult",
    "RunSpec",
    "RunStore",
    "Sweep",
    "UnknownExperimentError",
    "UnknownMethodError",
    "aggregate",
    "expand",
    "expand_name",
    "get_experiment",
    "list_experiments",
    "list_groups",
    "make_executor",
    "make_run_id",
    "register",
    "register_group",
    "reproduce",
    "resolve_methods",
    "summary_table",
]
