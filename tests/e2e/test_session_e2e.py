"""ui.session in a real browser: the user id survives a reload (cookie), two browsers are two users, a proxy's
user header wins when lab.toml names it, and the teacher token is read from the URL."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def session_url(tmp_path_factory):
    port = free_port()
    conf = tmp_path_factory.mktemp("session") / "lab.toml"
    conf.write_text('served = true\nuser_header = "X-Forwarded-User"\nteacher_token = "t0ken"\n')
    env = dict(os.environ, DLLAB_CONFIG=str(conf), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(HERE / "session_app.py"),
                             "--server.headless", "true", "--server.port", str(port), "--server.address",
                             "127.0.0.1", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(10)


def _who(page) -> tuple[str, str]:
    page.wait_for_selector("text=user=")
    text = page.inner_text('[data-testid="stMain"]')
    user, teacher = re.search(r"user=(\S+) teacher=(\S+)", text).groups()
    return user, teacher


def test_a_browser_keeps_its_user_across_reloads_and_two_browsers_differ(browser, session_url):
    one, two = browser.new_context(), browser.new_context()
    try:
        page = one.new_page()
        page.goto(session_url)
        first, teacher = _who(page)
        assert re.fullmatch(r"[0-9a-f]{32}", first) and teacher == "False"
        page.wait_for_timeout(1000)  # the cookie is written by the page's script
        page.reload()
        assert _who(page)[0] == first
        other = two.new_page()
        other.goto(session_url)
        assert _who(other)[0] != first
    finally:
        one.close()
        two.close()


def test_the_proxy_header_names_the_user_and_the_token_makes_a_teacher(browser, session_url):
    context = browser.new_context(extra_http_headers={"X-Forwarded-User": "ann"})
    try:
        page = context.new_page()
        page.goto(session_url + "/?teacher=t0ken")
        assert _who(page) == ("ann", "True")
        page.goto(session_url + "/?teacher=wrong")
        assert _who(page) == ("ann", "False")
    finally:
        context.close()
