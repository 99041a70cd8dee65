"""The replay page in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium; no browser or driver is downloaded) opens the page
from a file, without network, and must show no console errors, render the map, the curves,
the play/pause buttons and the slider; moving the slider and pressing play must change the
shown frame. A screenshot of each page is saved (``$VTWIN_TEST_ARTIFACTS/replay`` when set,
else under pytest's tmp folder) and its path printed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vtwin.config import load_config
from vtwin.training.record import record_policy

pytest.importorskip("plotly", reason="the replay page needs plotly (pip install 'vtwin[viz]')")
pytest.importorskip("selenium", reason="browser tests need selenium (pip install -e '.[dev]')")

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from browser_util import artifact_dir, chrome_driver, severe_console_messages
from vtwin.viz.replay import DIV_ID, write_replay

PAGES = {
    "B": ("paper-b-tiny", "greedy", []),  # UAVs on patrol, a satellite, twin hosts
    "C": ("paper-c-synth", "hppo", ["horizon_slots=15"]),  # true vs reported positions
}


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    yield from chrome_driver()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("replay-pages")
    return {
        paper: write_replay(
            record_policy(load_config(preset, overrides), algo, 21), root / f"replay-{paper}.html"
        )
        for paper, (preset, algo, overrides) in PAGES.items()
    }


def _state(driver: Any) -> dict[str, Any]:
    """The entities' shown x and the slider's active step."""
    state: dict[str, Any] = driver.execute_script(
        f"var g = document.getElementById('{DIV_ID}');"
        "var e = g.data.find(function (t) { return t.uid === 'entities'; });"
        "return {x: Array.from(e.x), active: g._fullLayout.sliders[0].active};"
    )
    return state


def _wait(driver: Any, condition: str, timeout_s: float = 20.0) -> None:
    end = time.monotonic() + timeout_s
    while not driver.execute_script(f"return Boolean({condition});"):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {condition}")
        time.sleep(0.1)


@pytest.mark.parametrize("paper", sorted(PAGES))
def test_replay_page_renders_and_animates(
    driver: Any, pages: dict[str, Path], paper: str, tmp_path: Path
) -> None:
    driver.get(pages[paper].resolve().as_uri())
    plot = f"document.getElementById('{DIV_ID}')"
    _wait(driver, f"{plot} && {plot}._fullLayout && {plot}.data")

    # the map, the curves, the buttons and the slider are drawn
    assert driver.find_elements(By.CSS_SELECTOR, f"#{DIV_ID} .main-svg")
    traces = driver.find_elements(By.CSS_SELECTOR, f"#{DIV_ID} .scatterlayer .trace")
    assert len(traces) >= 8
    buttons = driver.find_elements(By.CSS_SELECTOR, ".updatemenu-button")
    assert [b.text for b in buttons] == ["▶ play", "❚❚ pause"]
    assert driver.find_elements(By.CSS_SELECTOR, ".slider-container .slider-rail-rect")
    uids = driver.execute_script(f"return {plot}.data.map(function (t) {{ return t.uid; }});")
    wanted = {"B": {"uavs", "uav-trails", "host-links"}, "C": {"reported", "perturbation"}}
    assert wanted[paper] | {"entities", "latency", "reward"} <= set(uids)

    # moving the slider shows another slot
    start = _state(driver)
    assert start["active"] == 0
    rail = driver.find_element(By.CSS_SELECTOR, ".slider-rail-rect")
    # Selenium offsets are from the element's centre: a quarter of the width right of it
    ActionChains(driver).move_to_element_with_offset(
        rail, int(rail.size["width"] * 0.25), 0
    ).click().perform()
    _wait(driver, f"{plot}._fullLayout.sliders[0].active > 0")
    moved = _state(driver)
    assert moved["active"] > 0 and moved["x"] != start["x"]
    frame_x = driver.execute_script(
        f"var g = {plot}; var f = g._transitionData._frames[g._fullLayout.sliders[0].active];"
        "var i = g.data.findIndex(function (t) { return t.uid === 'entities'; });"
        "return Array.from(f.data[f.traces.indexOf(i)].x);"
    )
    assert moved["x"] == frame_x  # the shown vehicles are the slider's frame

    # play runs the animation on from there; pause stops it
    driver.find_elements(By.CSS_SELECTOR, ".updatemenu-button")[0].click()
    _wait(driver, f"{plot}._fullLayout.sliders[0].active > {moved['active']}")
    driver.find_elements(By.CSS_SELECTOR, ".updatemenu-button")[1].click()

    assert severe_console_messages(driver) == []

    shot = artifact_dir(tmp_path, "replay") / f"replay-{paper}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"replay page screenshot (paper {paper}): {shot}")
