"""REPORT.html and index.html in headless Chromium: no console errors, everything renders,
links work; screenshots are kept as test artefacts (``$VTWIN_TEST_ARTIFACTS``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toy_report  # noqa: F401  (registers the toy experiments)

from browser_util import (
    artifact_dir,
    chrome_driver,
    full_page_screenshot,
    severe_console_messages,
)
from vtwin.experiments import reproduce


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chrome_driver()


def _check_report_page(driver: Any, title: str) -> None:
    from selenium.webdriver.common.by import By

    assert driver.find_element(By.ID, "title").text == title
    images = driver.find_elements(By.CSS_SELECTOR, "figure.plot img")
    assert images, "no figure rendered"
    for img in images:
        width = driver.execute_script("return arguments[0].naturalWidth", img)
        assert width > 0, f"figure {img.get_attribute('alt')!r} did not decode"
        assert img.is_displayed()
    assert driver.execute_script("return window.__pwned === undefined")  # nothing injected ran


def test_report_and_index_render_in_chromium(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "runs"
    reproduce("toy-labels", quick=True, out=out, workers=1, progress=False)
    reproduce("toy-labels-fail", quick=True, out=out, workers=1, progress=False)
    shots = artifact_dir(tmp_path, "report-browser")
    browser.get_log("browser")  # start with an empty console log

    browser.get((out / "index.html").as_uri())
    assert severe_console_messages(browser) == []
    rows = browser.find_elements(By.CSS_SELECTOR, "#experiments tbody tr")
    assert len(rows) == 2
    links = {a.text: a for a in browser.find_elements(By.CSS_SELECTOR, "a.report-link")}
    assert set(links) == {"toy-labels", "toy-labels-fail"}
    assert "1 agrees" in rows[0].text + rows[1].text
    full_page_screenshot(browser, shots / "index.png")

    links["toy-labels"].click()  # the index's link opens the report
    assert browser.current_url == (out / "toy-labels" / "REPORT.html").as_uri()
    assert severe_console_messages(browser) == []
    _check_report_page(browser, "Toy with paper labels <and> markup")
    claim_rows = browser.find_elements(By.CSS_SELECTOR, "#claims-table tbody tr")
    assert len(claim_rows) == 3
    verdicts = [r.find_elements(By.TAG_NAME, "td")[-1].text for r in claim_rows]
    assert verdicts == ["agrees", "does not", "n/a"]
    assert "DM-MAPPO" in claim_rows[0].text and "dm_mappo" not in claim_rows[0].text
    assert "<script>" in claim_rows[2].text  # shown as text, not run
    summary = browser.find_element(By.CSS_SELECTOR, "#summary table").text
    assert "SU-HATD3" in summary and "CNN-LSTM" in summary
    settings = browser.find_element(By.ID, "settings").text
    assert "vtwin reproduce toy-labels --quick" in settings
    full_page_screenshot(browser, shots / "report.png")

    browser.find_element(By.ID, "to-index").click()  # and back
    assert browser.current_url == (out / "index.html").as_uri()
    browser.find_element(By.LINK_TEXT, "toy-labels-fail").click()
    assert severe_console_messages(browser) == []
    _check_report_page(browser, "Toy with a failed run")
    failed = browser.find_element(By.ID, "failed").text
    assert "toy <b>failure</b> & more" in failed
    full_page_screenshot(browser, shots / "report-failed.png")

    for name in ("index.png", "report.png", "report-failed.png"):
        assert (shots / name).read_bytes()[:4] == b"\x89PNG"
