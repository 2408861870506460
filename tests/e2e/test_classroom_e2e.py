"""The teacher link in a real browser (issue 17, issue 19 item 3): the token leaves the address bar on the first
visit, a cookie (SameSite=Strict, not the token itself; HttpOnly when served through serve.py) keeps teacher mode
across a reload with a banner, and a wrong token says so. Both ways the lab is started: serve.py (served mode's
``./lab app``) and plain ``streamlit run app.py``."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0ken-for-the-e2e-test"


@pytest.fixture(scope="module", params=["serve.py", "app.py"])
def served_url(request, tmp_path_factory):
    """The real lab (serve.py or app.py), served (lab.toml: served, a teacher token), on a free loopback port."""
    port, home = free_port(), tmp_path_factory.mktemp("classroom")
    (home / "lab.toml").write_text(f'served = true\nteacher_token = "{TOKEN}"\n')
    env = dict(os.environ, DLLAB_CONFIG=str(home / "lab.toml"), DLLAB_RUNS=str(home / "runs"),
               DLLAB_DATA_ROOT=str(home), DLLAB_ALLOW_DOWNLOADS="0")
    log = open(home / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", request.param, "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    yield url, request.param
    proc.terminate()
    proc.wait(10)


def _no_token_in_url(page) -> None:
    page.wait_for_function("!window.location.search.includes('teacher')", timeout=30_000)


def test_the_teacher_token_leaves_the_url_and_a_cookie_keeps_teacher_mode(browser, served_url):
    served_url, script = served_url
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{served_url}/?teacher={TOKEN}")
        page.get_by_text("Teacher mode", exact=False).first.wait_for()
        _no_token_in_url(page)
        assert TOKEN not in page.url
        if script == "app.py":  # the page's script writes it (after the first render)
            page.wait_for_function("document.cookie.includes('dllab_teacher=')")
        [cookie] = [c for c in context.cookies() if c["name"] == "dllab_teacher"]
        assert cookie["value"] and TOKEN not in cookie["value"] and cookie["sameSite"] == "Strict"
        assert cookie["httpOnly"] == (script == "serve.py")  # served: no script on the page can read it
        page.get_by_text("Deep-learning lab").first.wait_for()
        page.screenshot(path=f"/tmp/classroom_teacher_{script}.png")
        page.reload()  # a new session: teacher mode comes back from the cookie
        page.get_by_text("Teacher mode", exact=False).first.wait_for()
        assert "teacher" not in page.url
    finally:
        context.close()


def test_a_wrong_teacher_token_says_so_and_leaves_the_url(browser, served_url):
    served_url, script = served_url
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{served_url}/?teacher=guess")
        page.get_by_text("That teacher link is not valid", exact=False).wait_for()
        _no_token_in_url(page)
        assert page.get_by_text("you see every run in the room", exact=False).count() == 0
        page.screenshot(path=f"/tmp/classroom_wrong_token_{script}.png")
    finally:
        context.close()


def test_the_lr_page_follows_its_own_sweep_through_a_reload(browser, app_url):
    """The watcher in a real browser: the sweep's worker ends, its result replaces 'Starting...' without a click,
    the address bar holds the sweep's run id, and a reload (a new session) shows the same result."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{app_url}/LR_Finder?steps=20")
        page.get_by_role("button", name="Run the range test").wait_for()
        page.wait_for_timeout(2000)  # the page's first run has settled
        page.get_by_role("button", name="Run the range test").click()
        page.get_by_text("LR range test: 20 steps", exact=False).wait_for(timeout=120_000)
        page.wait_for_function("window.location.search.includes('job=')")
        job = page.url.split("job=")[1].split("&")[0]
        page.screenshot(path="/tmp/classroom_lr_result.png")
        page.reload()
        page.get_by_text("LR range test: 20 steps", exact=False).wait_for(timeout=60_000)
        assert f"job={job}" in page.url
    finally:
        context.close()
