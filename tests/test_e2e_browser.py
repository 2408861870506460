"""Which browser the end-to-end tests use (tests/e2e/browser.py), with Playwright and the file system faked:
nothing is launched or downloaded here."""
from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.browser import HOW_TO_GET_ONE, NoBrowser, launch_browser


class FakeChromium:
    """``playwright.chromium``: launches succeed once Playwright's own browser is 'installed'."""

    def __init__(self, installed: bool, starts: bool = True):
        self.installed, self.starts, self.launches = installed, starts, []

    def launch(self, executable_path=None, **kwargs):
        self.launches.append(executable_path)
        if executable_path is None and not (self.installed and self.starts):
            raise PlaywrightError("Executable doesn't exist at /home/u/.cache/ms-playwright/chromium-1/chrome")
        return f"browser:{executable_path or 'playwright'}"


class FakePlaywright:
    def __init__(self, chromium):
        self.chromium = chromium


def _install(chromium, ok=True):
    calls = []

    def install():
        calls.append(1)
        chromium.installed = ok
        return ok
    return install, calls


def test_debians_chromium_first(tmp_path):
    system = tmp_path / "chromium"
    system.write_text("")
    chromium = FakeChromium(installed=True)
    install, calls = _install(chromium)
    assert launch_browser(FakePlaywright(chromium), {}, str(system), install) == f"browser:{system}"
    assert calls == []


def test_chromium_env_wins_and_must_exist(tmp_path):
    mine = tmp_path / "my-chrome"
    mine.write_text("")
    chromium = FakeChromium(installed=False)
    install, calls = _install(chromium)
    assert launch_browser(FakePlaywright(chromium), {"CHROMIUM": str(mine)}, "/nope", install) == f"browser:{mine}"
    with pytest.raises(NoBrowser, match="CHROMIUM=/no/such does not exist"):
        launch_browser(FakePlaywright(chromium), {"CHROMIUM": "/no/such"}, "/nope", install)
    assert calls == []


def test_without_a_system_chromium_playwrights_own_is_used_when_installed():
    chromium = FakeChromium(installed=True)
    install, calls = _install(chromium)
    assert launch_browser(FakePlaywright(chromium), {}, "/no/chromium", install) == "browser:playwright"
    assert calls == []


def test_playwrights_chromium_is_installed_on_first_use():
    chromium = FakeChromium(installed=False)
    install, calls = _install(chromium)
    assert launch_browser(FakePlaywright(chromium), {}, "/no/chromium", install) == "browser:playwright"
    assert calls == [1] and chromium.launches == [None, None]


def test_no_browser_at_all_fails_with_one_message_saying_how_to_get_one():
    chromium = FakeChromium(installed=False)
    install, calls = _install(chromium, ok=False)  # e.g. no internet
    with pytest.raises(NoBrowser) as err:
        launch_browser(FakePlaywright(chromium), {}, "/no/chromium", install)
    assert str(err.value) == HOW_TO_GET_ONE and calls == [1]
    assert "apt-get install chromium" in HOW_TO_GET_ONE and "python -m playwright install chromium" in HOW_TO_GET_ONE


def test_an_installed_browser_that_does_not_start_says_why():
    chromium = FakeChromium(installed=False, starts=False)
    install, _ = _install(chromium)
    with pytest.raises(NoBrowser, match="installed but does not start: Executable doesn't exist"):
        launch_browser(FakePlaywright(chromium), {}, "/no/chromium", install)
