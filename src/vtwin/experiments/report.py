"""The outcome of a reproduction and its Markdown report (``REPORT.md``).

The report says what was run (quick or full, seeds, budget), embeds every figure, checks the
paper's claims (a claim whose compute function fails shows ``error: …`` instead of stopping
the report) and lists failed runs.
"""

from __future__ import annotations

import datetime as dt
import os
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vtwin.experiments.plots import SWEEP_COLUMN, FigureOutput, aggregate, summary_table
from vtwin.experiments.spec import Experiment, RunResult, RunSpec, import_callable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ClaimResult",
    "FailedRun",
    "ReproductionReport",
    "evaluate_claims",
    "render_markdown",
    "write_text_atomic",
]


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

    @property
    def ok(self) -> bool:
        """True when every run completed."""
        return not self.failed and len(self.runs) == self.total

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


def _summary_section(report: ReproductionReport) -> list[str]:
    table = report.summary_table()
    metrics = [c for c in table.columns if c not in ("run_id", "method", SWEEP_COLUMN, "seed")]
    if table.empty or not metrics:
        return []
    by = ["method", SWEEP_COLUMN] if SWEEP_COLUMN in table.columns else ["method"]
    columns: dict[str, pd.DataFrame] = {m: aggregate(table, m, by) for m in metrics}
    first = columns[metrics[0]]
    sweep = report.experiment.sweep
    header = ["method", *([sweep.label] if sweep is not None else []), "seeds", *metrics]
    lines = [
        "## Summary (mean ± std over seeds)",
        "",
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for i in range(len(first)):
        row = [str(first["method"].iloc[i])]
        if sweep is not None:
            row.append(str(first[SWEEP_COLUMN].iloc[i]))
        row.append(str(int(first["n"].iloc[i])))
        for metric in metrics:
            agg = columns[metric]
            row.append(f"{_fmt(agg['mean'].iloc[i])} ± {_fmt(agg['std'].iloc[i])}")
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return [*lines, ""]


def _command(report: ReproductionReport) -> str:
    parts = ["vtwin reproduce", report.experiment.name]
    if report.quick:
        parts.append("--quick")
    if report.seeds != report.experiment.seeds:
        parts.append(f"--seeds {report.seeds}")
    if report.methods != report.experiment.methods:
        parts.append(f"--methods {','.join(report.methods)}")
    return " ".join(parts)


def render_markdown(report: ReproductionReport) -> str:
    """The text of ``REPORT.md``."""
    from vtwin import __version__

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
        f"- methods: {', '.join(report.methods)}",
    ]
    if exp.sweep is not None:
        values = ", ".join(str(v) for v in exp.sweep.values)
        lines.append(f"- sweep: {exp.sweep.label} (`{exp.sweep.key}`) over {values}")
    lines += [
        f"- seeds: {report.seeds} (0–{report.seeds - 1})",
    ]
    if exp.overrides:
        lines.append(f"- overrides: {', '.join(f'`{o}`' for o in exp.overrides)}")
    lines += [
        f"- runs: {report.total} in all; {report.new} run now, {len(report.reused)} reused "
        f"from an earlier invocation, {len(report.failed)} failed",
        f"- command: `{_command(report)}`",
        f"- vtwin {__version__}, {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
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
        for claim in report.claims:
            ours = f"error: {claim.error}" if claim.error is not None else claim.ours
            cells = [claim.text, claim.paper_value, ours, _agrees(claim)]
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
    """Claims as plain rows (for JSON or a console table)."""
    return [
        {
            "claim": c.text,
            "paper": c.paper_value,
            "ours": f"error: {c.error}" if c.error is not None else c.ours,
            "agrees": _agrees(c),
        }
        for c in claims
    ]
