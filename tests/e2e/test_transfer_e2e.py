"""The Adversarial page's black-box tab in a real browser: two digits runs, make the transfer table as a job, and
see the FGSM and PGD heatmaps with the white-box diagonal."""
from __future__ import annotations

import pytest

from tests.attack_helpers import trained_run


@pytest.fixture(scope="module")
def two_runs(app_url, tmp_path_factory):
    """A CNN and an MLP on builtin:digits in the served app's runs root."""
    runs = sorted(tmp_path_factory.getbasetemp().glob("e2e-runs*"))[-1]
    return trained_run(runs, model="cnn", steps=40), trained_run(runs, model="mlp", steps=40)


def test_transfer_table_job_shows_heatmaps(app_url, two_runs, page, settle, shoot):
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.goto(app_url + "/Adversarial")
    settle(page)
    _open_tab(page)
    samples = page.get_by_label("Samples", exact=True)
    settle(page, lambda: (samples.fill("100"), samples.press("Enter")))
    _open_tab(page)
    settle(page, lambda: page.get_by_role("button", name="Make the transfer table").click())
    page.get_by_text("framed diagonal is the ordinary white-box").wait_for(timeout=180_000)  # the job finished
    settle(page)
    page.get_by_text("FGSM: target accuracy").first.wait_for()
    page.get_by_text("PGD: target accuracy").first.wait_for()
    assert page.get_by_text("100 validation samples").count() == 1
    shoot(page, "adversarial-transfer")


def _open_tab(page) -> None:
    """Show the black-box tab (tabs switch in the browser, without a rerun) and wait until its button is visible."""
    for _ in range(5):
        page.get_by_role("tab", name="Black-box transfer").click()
        try:
            page.get_by_role("button", name="Make the transfer table").wait_for(state="visible", timeout=5_000)
            return
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: a rerun replaced the tabs; click again
            continue
    page.get_by_role("button", name="Make the transfer table").wait_for(state="visible")
