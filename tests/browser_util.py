"""Headless Chromium for tests that open our HTML pages in a real browser.

Uses Selenium with Debian's ``chromium`` and ``chromium-driver`` (the driver found on PATH,
so Selenium never downloads one). :func:`chrome_driver` yields a driver whose console log is
readable with ``driver.get_log("browser")``; it skips the test, saying why, when the browser,
its driver or Selenium is missing. :func:`artifact_dir` is where screenshots go:
``$VTWIN_TEST_ARTIFACTS`` when set, else a folder under the test's ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS_ENV = "VTWIN_TEST_ARTIFACTS"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1280, 1000)


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def chrome_driver() -> Iterator[Any]:
    """A headless Chromium WebDriver, quit afterwards; skips when one cannot be had."""
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')"
    )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = _browser(), shutil.which("chromedriver")
    if browser is None or driver_path is None:
        missing = [n for n, p in (("chromium", browser), ("chromedriver", driver_path)) if not p]
        pytest.skip(
            f"headless browser test needs {' and '.join(missing)} on PATH "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    options = Options()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def artifact_dir(tmp_path: Path, name: str) -> Path:
    """The folder for this test's artefacts (created), printed so a run shows where it is."""
    root = os.environ.get(ARTIFACTS_ENV)
    folder = (Path(root) if root else tmp_path / "artifacts") / name
    folder.mkdir(parents=True, exist_ok=True)
    print(f"test artefacts: {folder}")
    return folder


def severe_console_messages(driver: Any) -> list[str]:
    """The browser console's SEVERE entries since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def full_page_screenshot(driver: Any, path: Path) -> Path:
    """Screenshot of the whole page (the window stretched to the page's height)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WINDOW[0], max(WINDOW[1], min(height, 12000)))
    assert driver.save_screenshot(str(path)), f"screenshot {path} not written"
    driver.set_window_size(*WINDOW)
    return path
