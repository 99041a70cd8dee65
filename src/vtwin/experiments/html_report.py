"""The HTML reports: ``REPORT.html`` per experiment and ``index.html`` over an output folder.

``REPORT.html`` carries what ``REPORT.md`` does — figures, the claims table (paper value
beside ours, with a verdict: agrees, does not, n/a, error), the experiment's notes, the
summary table and failed runs — plus the run settings (command, budget, seeds, workers,
package versions). It is one self-contained file: the PNG figures are inlined as base64
``data:`` URIs and the style sheet is inline, so it opens without a network and survives
being mailed around (the links to each figure's CSV and to failed-run logs are relative, and
work next to the run folder).

Pages are Jinja2 templates (``templates/*.html.j2``) with autoescaping on, so text from
experiments, claims and run errors cannot inject markup; tables come from pandas'
``to_html`` (escaped) and the notes' Markdown from markdown-it-py with raw HTML disabled.

Each ``REPORT.html`` is written with a small ``report.json`` beside it (title, paper, mode,
run counts, claim verdict counts). :func:`write_index` lists every experiment folder under
an output folder from those files (a folder holding runs or a ``REPORT.md`` but no
``report.json``, e.g. one written by an older vtwin, is listed without counts) and is
rewritten after every reproduction. All files are written atomically.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from vtwin.experiments.report import (
    ReproductionReport,
    claims_as_rows,
    run_settings,
    summary_display,
    write_text_atomic,
)

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = [
    "HTML_FILE",
    "INDEX_FILE",
    "META_FILE",
    "VERDICTS",
    "IndexEntry",
    "index_entries",
    "render_html",
    "render_index",
    "write_html_report",
    "write_index",
]

HTML_FILE = "REPORT.html"
INDEX_FILE = "index.html"
META_FILE = "report.json"
MARKDOWN_FILE = "REPORT.md"
VERDICTS: tuple[str, ...] = ("agrees", "does not", "n/a", "error")
"""Claim verdicts in the order tallies show them."""

_META_VERSION = 1


def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("vtwin.experiments", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _version() -> str:
    from vtwin import __version__

    return __version__


def _tally(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return [(v, int(counts[v])) for v in VERDICTS if counts.get(v)]


def _markdown_html(text: str) -> str:
    """Notes (Markdown) as HTML; raw HTML in the notes is shown as text, not rendered."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _href(path: Path, start: Path) -> str:
    return quote(Path(os.path.relpath(path, start)).as_posix())


def _figures(report: ReproductionReport) -> list[dict[str, str]]:
    base = report.report_path.parent
    figures = []
    for fig in report.experiment.figures:
        item = {"name": fig.name, "title": fig.title, "data_uri": "", "csv": "", "error": ""}
        out = report.figures.get(fig.name)
        if out is not None:
            try:
                item["data_uri"] = _png_data_uri(out.png)
                item["csv"] = _href(out.csv, base)
            except OSError as exc:
                item["error"] = f"cannot read {out.png}: {exc.strerror or exc}"
        else:
            item["error"] = report.figure_errors.get(fig.name, "not drawn")
        figures.append(item)
    return figures


def _summary_html(report: ReproductionReport) -> str:
    display = summary_display(report)
    if display is None:
        return ""
    html: str = display.to_html(index=False, border=0, classes="wide summary", escape=True)
    return html


def _claims_tally(report: ReproductionReport) -> Counter[str]:
    return Counter(row["verdict"] for row in claims_as_rows(report.claims))


def render_html(report: ReproductionReport, *, index_href: str | None = None) -> str:
    """The text of ``REPORT.html`` (``index_href``: link back to the folder's index)."""
    from markupsafe import Markup

    base = report.report_path.parent
    failed = [
        {
            "run_id": f.spec.run_id,
            "error": f.error,
            "log": _href(base / "failed" / f"{f.spec.run_id}.log", base),
        }
        for f in report.failed
    ]
    notes = report.experiment.notes.strip()
    template = _environment().get_template("report.html.j2")
    return template.render(
        exp=report.experiment,
        mode=report.mode,
        version=_version(),
        created=report.created,
        index_href=index_href,
        tally=_tally(_claims_tally(report)),
        runs_done=len(report.runs),
        total=report.total,
        figures=_figures(report),
        claims=claims_as_rows(report.claims),
        notes_html=Markup(_markdown_html(notes)) if notes else "",  # markdown-it, raw HTML off
        summary_html=Markup(_summary_html(report)),  # pandas escapes cells
        failed=failed,
        settings=run_settings(report),
    )


def _metadata(report: ReproductionReport) -> dict[str, Any]:
    return {
        "format": _META_VERSION,
        "experiment": report.experiment.name,
        "paper": report.experiment.paper,
        "title": report.experiment.title,
        "mode": report.mode,
        "total": report.total,
        "completed": len(report.runs),
        "failed": len(report.failed),
        "claims": dict(_claims_tally(report)),
        "created": report.created,
    }


def write_html_report(report: ReproductionReport) -> Path:
    """Write ``REPORT.html`` and ``report.json`` beside ``REPORT.md``; returns the HTML path."""
    base = report.report_path.parent
    html_path = report.html_path
    write_text_atomic(html_path, render_html(report, index_href=f"../{INDEX_FILE}"))
    write_text_atomic(base / META_FILE, json.dumps(_metadata(report), indent=2) + "\n")
    return html_path


# --------------------------------------------------------------------------------------------
# The index over an output folder
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexEntry:
    """One experiment folder as the index shows it (counts empty when unknown)."""

    name: str
    href: str
    paper: str = ""
    title: str = ""
    mode: str = ""
    runs: str = ""
    tally: tuple[tuple[str, int], ...] = ()
    created: str = ""


def _is_experiment_dir(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith("."):
        return False
    if any((path / f).is_file() for f in (META_FILE, HTML_FILE, MARKDOWN_FILE)):
        return True
    return any(child.is_dir() and (child / "summary.json").is_file() for child in path.iterdir())


def _entry(folder: Path, root: Path) -> IndexEntry:
    html, markdown = folder / HTML_FILE, folder / MARKDOWN_FILE
    target = html if html.is_file() else markdown if markdown.is_file() else None
    href = _href(target, root) if target is not None else ""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError):
        return IndexEntry(name=folder.name, href=href, runs="–")
    runs = f"{meta.get('completed', '?')}/{meta.get('total', '?')}"
    if meta.get("failed"):
        runs += f" ({meta['failed']} failed)"
    claims = meta.get("claims")
    if not isinstance(claims, dict):
        claims = {}
    return IndexEntry(
        name=folder.name,
        href=href,
        paper=str(meta.get("paper", "")),
        title=str(meta.get("title", "")),
        mode=str(meta.get("mode", "")),
        runs=runs,
        tally=tuple(_tally({str(k): int(v) for k, v in claims.items()})),
        created=str(meta.get("created", "")),
    )


def index_entries(root: str | Path) -> list[IndexEntry]:
    """Every experiment folder under ``root`` (runs or a report inside), by paper then name."""
    base = Path(root)
    if not base.is_dir():
        return []
    entries = [_entry(d, base) for d in base.iterdir() if _is_experiment_dir(d)]
    return sorted(entries, key=lambda e: (e.paper == "", e.paper, e.name))


def render_index(root: str | Path, entries: Iterable[IndexEntry] | None = None) -> str:
    """The text of ``index.html`` for the output folder ``root``."""
    base = Path(root)
    listed = list(index_entries(base) if entries is None else entries)
    total: Counter[str] = Counter()
    for entry in listed:
        total.update(dict(entry.tally))
    template = _environment().get_template("index.html.j2")
    return template.render(
        root=str(base),
        root_name=base.resolve().name,
        entries=listed,
        tally=_tally(total),
        version=_version(),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def write_index(root: str | Path) -> Path:
    """Write (or rewrite) ``root/index.html`` over every experiment folder under ``root``."""
    path = Path(root) / INDEX_FILE
    return write_text_atomic(path, render_index(root))
