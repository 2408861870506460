"""Which Chromium the end-to-end tests drive: ``$CHROMIUM``, else Debian's ``/usr/bin/chromium`` (what CI installs),
else Playwright's own Chromium, installed on first use (``python -m playwright install chromium``). Only when none
of these can be had do the tests fail, with one message saying how to get a browser."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping

SYSTEM_CHROMIUM = "/usr/bin/chromium"
HOW_TO_GET_ONE = ("no browser for the end-to-end tests. Either install Debian's Chromium (apt-get install chromium; "
                  ".ci/run does this), or let Playwright fetch its own once (python -m playwright install chromium, "
                  "needs the internet), or point CHROMIUM=/path/to/chromium at one you have.")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class NoBrowser(RuntimeError):
    """No Chromium could be found, launched or installed; the message says how to get one."""


def install_playwright_chromium() -> bool:
    """``python -m playwright install chromium`` (a download of ~150 MB, once); True when it succeeded."""
    print("e2e: no system Chromium; installing Playwright's own (python -m playwright install chromium)",
          file=sys.stderr)
    try:
        done = subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], timeout=900,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except (OSError, subprocess.TimeoutExpired) as err:
        print(f"e2e: the install did not finish: {err}", file=sys.stderr)
        return False
    if done.returncode != 0:
        print(f"e2e: the install failed:\n{done.stdout[-2000:]}", file=sys.stderr)
    return done.returncode == 0


def launch_browser(playwright, env: Mapping[str, str] = os.environ, system: str = SYSTEM_CHROMIUM,
                   install: Callable[[], bool] = install_playwright_chromium):
    """A headless Chromium from ``playwright`` (the sync API object); ``NoBrowser`` when none can be had."""
    from playwright.sync_api import Error as PlaywrightError

    chromium = playwright.chromium
    chosen = env.get("CHROMIUM")
    if chosen and not Path(chosen).exists():
        raise NoBrowser(f"CHROMIUM={chosen} does not exist; {HOW_TO_GET_ONE}")
    chosen = chosen or (system if Path(system).exists() else None)
    if chosen:
        return chromium.launch(executable_path=chosen, headless=True, args=ARGS)
    try:
        return chromium.launch(headless=True, args=ARGS)  # Playwright's own, when it is installed
    except PlaywrightError:
        pass
    if not install():
        raise NoBrowser(HOW_TO_GET_ONE)
    try:
        return chromium.launch(headless=True, args=ARGS)
    except PlaywrightError as err:
        raise NoBrowser(f"{HOW_TO_GET_ONE} (Playwright's Chromium was installed but does not start: "
                        f"{str(err).splitlines()[0]})") from None


# Streamlit marks its root element with the script's state ('initial' before the first run, then 'running' /
# 'notRunning' ...) and the connection's: the app's own idle signal. This counts the runs that start, so that a
# waiter can tell a rerun that has not started yet from one that has finished (tests/e2e/conftest.py settle,
# bench/bench_serve.py). Two things can hide a short run from it, and both happen on a loaded machine:
# - several changes reach the observer at once: a record's new value is the next record's old value (reading the
#   attribute would give only the last one);
# - React can draw 'running' and 'notRunning' in one go, so the root never shows 'running'. Hence the socket is
#   counted too: ``sent`` grows with every message to the server (a widget's rerun request) and ``heard`` counts the
#   messages from the server since the last one sent (a run answers with several). See RERUN_SEEN.
RUN_COUNTER = """
window.__dllab = {runs: 0, sent: 0, heard: 0};
new MutationObserver(changes => {
  changes.forEach((c, i) => {
    const now = i + 1 < changes.length ? changes[i + 1].oldValue : c.target.getAttribute('data-test-script-state');
    if (now === 'running' && c.oldValue !== 'running') window.__dllab.runs++;
  });
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ['data-test-script-state']});
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => { window.__dllab.heard++; });
  }
  send(data) {
    window.__dllab.sent++;
    window.__dllab.heard = 0;
    return super.send(data);
  }
};
"""
# Given ``[runs, sent]`` read before an action: true once a run has started since, or the app has sent the server a
# message and heard at least two back (a run's start and end drawn together). Then wait for IDLE.
RERUN_SEEN = """([runs, sent]) =>
  window.__dllab.runs > runs || (window.__dllab.sent > sent && window.__dllab.heard >= 2)"""
BEFORE = "() => [window.__dllab.runs, window.__dllab.sent]"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'


def free_port() -> int:
    """A TCP port nobody listens on now, for a test server."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_option(page, settle, menu, option: str, tries: int = 3) -> None:
    """Open the select box ``menu`` (a locator) and choose ``option``, waiting for the rerun it causes. A rerun
    still in flight can redraw the box and close its list as it opens, so the list is opened again if the option
    does not show."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        menu.click()
        choice = page.get_by_role("option", name=option)
        try:
            choice.wait_for(timeout=15_000)
        except PlaywrightTimeout:  # the list closed: open it again
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            settle(page)
            continue
        if choice.get_attribute("aria-selected") == "true":  # already chosen (a page opens on the newest run):
            page.keyboard.press("Escape")  # clicking it again would cause no rerun to wait for
            settle(page)
            return
        settle(page, choice.click)
        return
