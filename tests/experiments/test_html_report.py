"""REPORT.html and index.html without a browser: well-formed, self-contained, escaped, complete."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import toy_experiments  # noqa: F401  (registers the toy experiments)
import toy_report

from vtwin.experiments import reproduce
from vtwin.experiments.html_report import index_entries, render_index, write_index

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class _Checker(HTMLParser):
    """Collects tags, attributes and text, and every nesting error."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple[int, int]]] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void <{tag}> at {self.getpos()}")
        elif not self.stack or self.stack[-1][0] != tag:
            top = self.stack[-1] if self.stack else None
            self.errors.append(f"</{tag}> at {self.getpos()} closes {top}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> _Checker:
    checker = _Checker()
    checker.feed(path.read_text(encoding="utf-8"))
    checker.close()
    assert checker.doctype.lower() == "doctype html", path
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed: {checker.stack[:5]}"
    return checker


def _table_rows(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S) for r in rows]
    return [c for c in cells if c]  # the header row has <th> cells only


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reports")
    reproduce("toy-labels", quick=True, out=root, workers=1, progress=False)
    reproduce("toy-labels-fail", quick=True, out=root, workers=1, progress=False)
    return root


def test_report_is_well_formed_and_self_contained(out: Path) -> None:
    for path in (out / "toy-labels" / "REPORT.html", out / "index.html"):
        page = parse(path)
        for tag, attrs in page.tags:
            for name in ("src", "href"):
                value = attrs.get(name, "")
                assert not re.match(r"(?i)\s*(https?:)?//", value), (
                    f"{path}: <{tag} {name}={value}>"
                )
            assert tag not in ("script", "link", "iframe"), f"{path}: external-capable <{tag}>"
    report = parse(out / "toy-labels" / "REPORT.html")
    images = [attrs["src"] for tag, attrs in report.tags if tag == "img"]
    assert len(images) == 4  # every figure, inlined
    assert all(src.startswith("data:image/png;base64,iVBOR") for src in images)
    links = [a["href"] for t, a in report.tags if t == "a" and a.get("href", "").endswith(".csv")]
    assert links and all((out / "toy-labels" / href).is_file() for href in links)
    assert not list(out.rglob(".*.tmp-*"))  # atomic writes leave no temporary files


def test_report_content_claims_settings_and_labels(out: Path) -> None:
    html = (out / "toy-labels" / "REPORT.html").read_text(encoding="utf-8")
    claims = _table_rows(html, "claims-table")
    assert [row[-1] for row in claims] == ["agrees", "does not", "n/a"]
    assert claims[0][1] == "DM-MAPPO 1.0, CNN-LSTM 1.6"  # paper value relabelled
    assert claims[0][2].startswith("DM-MAPPO ") and "CNN-LSTM" in claims[0][2]
    assert claims[1][2].startswith("SU-HATD3 ")
    summary = html.split('id="summary"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td>(.*?)</td>", summary)
    assert {"DM-MAPPO", "CNN-LSTM", "SU-HATD3"} <= set(cells)
    text = " ".join(parse(out / "toy-labels" / "REPORT.html").text)
    for method_id in toy_report.METHODS:  # no id that has a label is shown to the reader
        assert not re.search(rf"(?<![\w-]){method_id}(?![\w-])", text), method_id
    assert "vtwin reproduce toy-labels --quick" in text
    assert "1 (local backend)" in text and "numpy " in text and "Python " in text
    assert "<strong>notes</strong>" in html and "<li>two</li>" in html  # Markdown rendered


def test_report_escapes_text(out: Path) -> None:
    html = (out / "toy-labels" / "REPORT.html").read_text(encoding="utf-8")
    assert "<script" not in html and "window.__pwned" in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "Toy with paper labels &lt;and&gt; markup" in html
    assert '<img src="missing.png"' not in html  # raw HTML in notes is shown as text
    failed = (out / "toy-labels-fail" / "REPORT.html").read_text(encoding="utf-8")
    assert "toy &lt;b&gt;failure&lt;/b&gt; &amp; more" in failed
    assert 'href="failed/quick__method%3Dsu_hatd3__seed%3D0.log"' in failed
    assert (out / "toy-labels-fail" / "failed" / "quick__method=su_hatd3__seed=0.log").is_file()


def test_index_lists_every_experiment_folder(out: Path, tmp_path: Path) -> None:
    page = parse(out / "index.html")
    links = {a["href"] for t, a in page.tags if t == "a" and "report-link" in a.get("class", "")}
    assert links == {"toy-labels/REPORT.html", "toy-labels-fail/REPORT.html"}
    entries = {e.name: e for e in index_entries(out)}
    assert entries["toy-labels"].tally == (("agrees", 1), ("does not", 1), ("n/a", 1))
    assert entries["toy-labels"].runs == "12/12"
    assert entries["toy-labels-fail"].runs == "1/2 (1 failed)"
    meta = json.loads((out / "toy-labels" / "report.json").read_text())
    assert meta["claims"] == {"agrees": 1, "does not": 1, "n/a": 1}

    # folders from an older vtwin (REPORT.md only, or bare runs) are listed too; others not
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "REPORT.md").write_text("# old\n")
    (tmp_path / "bare" / "quick__method=x__seed=0").mkdir(parents=True)
    (tmp_path / "bare" / "quick__method=x__seed=0" / "summary.json").write_text("{}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "REPORT.md").write_text("x")
    found = {e.name: e.href for e in index_entries(tmp_path)}
    assert found == {"old": "old/REPORT.md", "bare": "", "broken": ""}
    write_index(tmp_path)
    parse(tmp_path / "index.html")
    assert "No experiment folders yet" in render_index(tmp_path / "nothing-here")


def test_index_is_rewritten_after_each_reproduction(tmp_path: Path) -> None:
    reproduce("toy-flat", quick=True, out=tmp_path, workers=1, progress=False)
    first = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "toy-flat/REPORT.html" in first and "toy-labels" not in first
    reproduce("toy-labels-fail", quick=True, out=tmp_path, workers=1, progress=False)
    second = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "toy-flat/REPORT.html" in second and "toy-labels-fail/REPORT.html" in second
    assert (tmp_path / "toy-flat" / "REPORT.html").is_file()
