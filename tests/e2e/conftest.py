"""The real app served on localhost and driven in headless Chromium (Debian's /usr/bin/chromium, else Playwright's
own: see browser.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser import BEFORE, IDLE, RERUN_SEEN, RUN_COUNTER, free_port

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".cache" / "screenshots"  # look at these after a run: a page that renders but looks broken is broken


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Serve ``app.py`` with streamlit on a free port; runs go to a temporary root. Yields the base URL."""
    port = free_port()
    env = dict(os.environ, DLLAB_RUNS=str(tmp_path_factory.mktemp("e2e-runs")), DLLAB_ALLOW_DOWNLOADS="0")
    log = open(tmp_path_factory.mktemp("e2e-log") / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}")
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"streamlit did not start within 60 s; see {log.name}")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import NoBrowser, launch_browser

    with sync_playwright() as pw:
        try:
            b = launch_browser(pw)
        except NoBrowser as err:
            pytest.fail(str(err), pytrace=False)
        yield b
        b.close()




@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(RUN_COUNTER)
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()


@pytest.fixture
def shoot():
    """``shoot(page, name)`` saves a full-page screenshot to .cache/screenshots/NAME.png and returns the path."""
    def _shoot(page, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return _shoot


@pytest.fixture
def settle():
    """``settle(page)`` waits until the app says it is idle: connected, and its script not running (after a
    ``page.goto`` that is the end of the first run). ``settle(page, action)`` does ``action()`` (a click, a key
    press) and first waits until the rerun it causes has started, then until it has finished: no fixed sleeps."""
    def _settle(page, action=None, timeout_ms: int = 120_000):
        if action is not None:
            before = page.evaluate(BEFORE)
            action()
            page.wait_for_function(RERUN_SEEN, arg=before, timeout=timeout_ms)
        page.wait_for_selector(IDLE, timeout=timeout_ms)
    return _settle
