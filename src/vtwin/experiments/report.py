"""The outcome of a reproduction and its Markdown report (``REPORT.md``).

The report says what was run (quick or full, seeds, budget), embeds every figure, checks the
paper's claims (a claim whose compute function fails shows ``error: …`` instead of stopping
the report) and lists failed runs. Methods appear under the papers' names
(:mod:`vtwin.experiments.labels`). The pieces both reports share — the summary table, the
claims rows, the run settings — are built here; :mod:`vtwin.experiments.html_report` renders
the same content as ``REPORT.html``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import shlex
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vtwin.experiments.labels import method_label, relabel_text
from vtwin.experiments.plots import SWEEP_COLUMN, FigureOutput, aggregate, summary_table
from vtwin.experiments.spec import Experiment, RunResult, RunSpec, import_callable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ClaimResult",
    "FailedRun",
    "ReproductionReport",
    "claim_verdict",
    "claims_as_rows",
    "evaluate_claims",
    "render_markdown",
    "run_settings",
    "summary_display",
    "write_text_atomic",
]

VERSIONED_PACKAGES: tuple[str, ...] = ("numpy", "pandas", "torch", "matplotlib")
"""Packages whose installed versions a report records (absent ones are left out)."""


@dataclass(frozen=True)
class FailedRun:
    """A run that raised: its spec, a one-line error and the full traceback."""

    spec: RunSpec
    error: str
    details: str = ""

    @classmethod
    def from_exception(cls, spec: RunSpec, exc: BaseException) -> FailedRun:
        """Describe ``exc`` (type and message; traceback, with a worker's when it has one)."""
        message = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
        details = "".join(traceback.format_exception(exc))
        return cls(spec=spec, error=error, details=details)


@dataclass(frozen=True)
class ClaimResult:
    """A paper claim next to our value; ``error`` is set when its compute function failed."""

    text: str
    paper_value: str
    ours: str
    agrees: bool | None
    error: str | None = None


@dataclass
class ReproductionReport:
    """What :func:`vtwin.experiments.reproduce` did and produced."""

    experiment: Experiment
    quick: bool
    seeds: int
    methods: tuple[str, ...]
    out_dir: Path
    report_path: Path
    total: int
    runs: list[tuple[RunSpec, RunResult]] = field(default_factory=list)
    reused: tuple[str, ...] = ()
    failed: list[FailedRun] = field(default_factory=list)
    figures: dict[str, FigureOutput] = field(default_factory=dict)
    figure_errors: dict[str, str] = field(default_factory=dict)
    claims: list[ClaimResult] = field(default_factory=list)
    workers: int = 1
    backend: str = "local"
    overrides: tuple[str, ...] = ()
    """The user's config overrides (``--set``), applied after the experiment's own."""
    created: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    @property
    def ok(self) -> bool:
        """True when every run completed."""
        return not self.failed and len(self.runs) == self.total

    @property
    def html_path(self) -> Path:
        """``REPORT.html``, beside ``REPORT.md``."""
        return self.report_path.with_suffix(".html")

    @property
    def index_path(self) -> Path:
        """The output folder's ``index.html`` over every experiment in it."""
        return self.out_dir.parent / "index.html"

    @property
    def mode(self) -> str:
        """``quick`` or ``full``."""
        return "quick" if self.quick else "full"

    @property
    def budget(self) -> dict[str, int | float]:
        """The budget every run got (before a budget sweep)."""
        return dict(self.experiment.budgets[self.mode])

    @property
    def new(self) -> int:
        """Runs completed by this invocation (not reused from an earlier one)."""
        return len(self.runs) - len(self.reused)

    def summary_table(self) -> pd.DataFrame:
        """One row per completed run: method, sweep value, seed and the summary metrics."""
        return summary_table(self.runs, sweep=self.experiment.sweep is not None)


def evaluate_claims(experiment: Experiment, table: pd.DataFrame) -> list[ClaimResult]:
    """Run every claim's compute function on the summary table; failures become errors."""
    results = []
    for claim in experiment.claims:
        try:
            value = import_callable(claim.compute)(table)
            ours, agrees = value
            if agrees is not None and not isinstance(agrees, bool):
                agrees = bool(agrees)
            results.append(ClaimResult(claim.text, claim.paper_value, str(ours), agrees))
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
            results.append(ClaimResult(claim.text, claim.paper_value, "", None, message))
    return results


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _fmt(value: float) -> str:
    return "–" if value != value else f"{value:.4g}"  # NaN → dash


def _agrees(claim: ClaimResult) -> str:
    if claim.error is not None:
        return "?"
    return {True: "yes", False: "**no**", None: "n/a"}[claim.agrees]


def claim_verdict(claim: ClaimResult) -> str:
    """``agrees``, ``does not``, ``n/a`` (not judged) or ``error`` (the check failed)."""
    if claim.error is not None:
        return "error"
    return {True: "agrees", False: "does not", None: "n/a"}[claim.agrees]


def summary_display(report: ReproductionReport) -> pd.DataFrame | None:
    """The summary as a reader sees it: one row per method (and sweep value), ``seeds``, and
    each summary metric as ``mean ± std`` over seeds; methods under their labels. ``None``
    when no run completed or the runs report no metric."""
    import pandas as pd

    table = report.summary_table()
    metrics = [c for c in table.columns if c not in ("run_id", "method", SWEEP_COLUMN, "seed")]
    if table.empty or not metrics:
        return None
    by = ["method", SWEEP_COLUMN] if SWEEP_COLUMN in table.columns else ["method"]
    columns: dict[str, pd.DataFrame] = {m: aggregate(table, m, by) for m in metrics}
    first = columns[metrics[0]]
    sweep = report.experiment.sweep
    out: dict[str, list[str]] = {"method": [method_label(str(m)) for m in first["method"]]}
    if sweep is not None:
        out[sweep.label] = [str(v) for v in first[SWEEP_COLUMN]]
    out["seeds"] = [str(int(n)) for n in first["n"]]
    for metric in metrics:
        agg = columns[metric]
        out[metric] = [
            f"{_fmt(mean)} ± {_fmt(std)}" for mean, std in zip(agg["mean"], agg["std"], strict=True)
        ]
    return pd.DataFrame(out)


def _summary_section(report: ReproductionReport) -> list[str]:
    display = summary_display(report)
    if display is None:
        return []
    header = [str(c) for c in display.columns]
    lines = [
        "## Summary (mean ± std over seeds)",
        "",
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in display.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return [*lines, ""]


def _command(report: ReproductionReport) -> str:
    parts = ["vtwin reproduce", report.experiment.name]
    if report.quick:
        parts.append("--quick")
    if report.seeds != report.experiment.budgets[report.mode].get("seeds", report.experiment.seeds):
        parts.append(f"--seeds {report.seeds}")
    if report.methods != report.experiment.methods:
        parts.append(f"--methods {','.join(report.methods)}")
    if report.backend != "local":
        parts.append(f"--backend {report.backend}")
    if report.workers != 1:
        parts.append(f"--workers {report.workers}")
    parts += [f"--set {shlex.quote(o)}" for o in report.overrides]
    return " ".join(parts)


def _versions() -> str:
    from vtwin import __version__

    found = [f"vtwin {__version__}", f"Python {platform.python_version()}"]
    for package in VERSIONED_PACKAGES:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def run_settings(report: ReproductionReport) -> list[tuple[str, str]]:
    """What was run, as (name, value) rows: command, mode, budget, methods (by label), sweep,
    seeds, overrides, runs, workers and backend, package versions, time (UTC)."""
    exp = report.experiment
    budget = ", ".join(f"{k} = {v}" for k, v in report.budget.items()) or "(none)"
    rows = [
        ("command", _command(report)),
        ("mode", report.mode),
        ("budget", budget),
        ("preset", exp.preset),
        ("methods", ", ".join(method_label(m) for m in report.methods)),
    ]
    if exp.sweep is not None:
        values = ", ".join(str(v) for v in exp.sweep.values)
        rows.append(("sweep", f"{exp.sweep.label} ({exp.sweep.key}) over {values}"))
    rows.append(("seeds", f"{report.seeds} (0–{report.seeds - 1})"))
    if exp.overrides or report.overrides:
        rows.append(("overrides", ", ".join([*exp.overrides, *report.overrides])))
    rows += [
        (
            "runs",
            f"{report.total} in all; {report.new} run now, {len(report.reused)} reused from "
            f"an earlier invocation, {len(report.failed)} failed",
        ),
        ("workers", f"{report.workers} ({report.backend} backend)"),
        ("versions", _versions()),
        ("written", report.created),
    ]
    return rows


def render_markdown(report: ReproductionReport) -> str:
    """The text of ``REPORT.md``."""
    exp = report.experiment
    budget = ", ".join(f"{k} = {v}" for k, v in report.budget.items()) or "(none)"
    lines = [
        f"# {exp.title}",
        "",
        f"Paper {exp.paper} · experiment `{exp.name}` · preset `{exp.preset}`",
        "",
        "## What was run",
        "",
        f"- mode: **{report.mode}** (budget: {budget})",
        f"- methods: {', '.join(method_label(m) for m in report.methods)}",
    ]
    if exp.sweep is not None:
        values = ", ".join(str(v) for v in exp.sweep.values)
        lines.append(f"- sweep: {exp.sweep.label} (`{exp.sweep.key}`) over {values}")
    lines += [
        f"- seeds: {report.seeds} (0–{report.seeds - 1})",
    ]
    if exp.overrides or report.overrides:
        given = ", ".join(f"`{o}`" for o in [*exp.overrides, *report.overrides])
        lines.append(f"- overrides: {given}")
    lines += [
        f"- runs: {report.total} in all; {report.new} run now, {len(report.reused)} reused "
        f"from an earlier invocation, {len(report.failed)} failed",
        f"- command: `{_command(report)}`",
        f"- workers: {report.workers} ({report.backend} backend)",
        f"- {_versions()}; written {report.created}",
        "",
    ]
    if report.figures or report.figure_errors:
        lines += ["## Figures", ""]
        for fig in exp.figures:
            lines += [f"### {fig.title}", ""]
            if fig.name in report.figures:
                out = report.figures[fig.name]
                png = os.path.relpath(out.png, report.report_path.parent)
                csv = os.path.relpath(out.csv, report.report_path.parent)
                lines += [f"![{fig.title}]({png})", "", f"Data: [{csv}]({csv})", ""]
            else:
                lines += [f"error: {report.figure_errors.get(fig.name, 'not drawn')}", ""]
    if report.claims:
        lines += [
            "## Claims",
            "",
            "| claim | paper | ours | agrees |",
            "|---|---|---|---|",
        ]
        for row in claims_as_rows(report.claims):
            cells = [row["claim"], row["paper"], row["ours"], row["agrees"]]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    if report.experiment.notes:
        lines += ["## Notes", "", report.experiment.notes.strip(), ""]
    lines += _summary_section(report)
    if report.failed:
        lines += ["## Failed runs", "", "| run | error |", "|---|---|"]
        for failed in report.failed:
            lines.append(f"| `{failed.spec.run_id}` | {_cell(failed.error)} |")
        lines += [
            "",
            "Tracebacks are in `failed/`. Rerun the same command to retry only these runs.",
            "",
        ]
    return "\n".join(lines)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def claims_as_rows(claims: Sequence[ClaimResult]) -> list[Mapping[str, Any]]:
    """Claims as plain rows (for JSON or a console table), method ids in the paper and our
    values shown under their labels (the claim's own wording is kept as written)."""
    return [
        {
            "claim": c.text,
            "paper": relabel_text(c.paper_value),
            "ours": f"error: {c.error}" if c.error is not None else relabel_text(c.ours),
            "agrees": _agrees(c),
            "verdict": claim_verdict(c),
        }
        for c in claims
    ]
