"""Runs as building blocks in a real browser: combine two runs into an ensemble (a worker job) on the Inspect page,
then export the inspected run as a Python training script."""
from __future__ import annotations

import shutil
import time

from tests.inspect_helpers import make_run


def _runs_root(tmp_path_factory):
    return next(tmp_path_factory.getbasetemp().glob("e2e-runs*"))


def test_ensemble_and_export_as_python(app_url, page, shoot, settle, tmp_path_factory):
    root = _runs_root(tmp_path_factory)
    partner = make_run(root, "mlp", "builtin:digits", hidden=[8])
    time.sleep(1.1)  # run names carry the second they start: the next one is the newest
    inspected = make_run(root, "cnn", "builtin:digits", width=4)  # the newest: the page inspects it first
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(app_url + "/Inspect")
    settle(page)
    page.get_by_text("Multiply-adds / example").wait_for()
    settle(page, page.get_by_text("Ensemble", exact=True).click)
    page.get_by_text("Choose at least one other run").wait_for()
    page.get_by_label("Combine this run with").click()
    settle(page, page.get_by_role("option", name=partner.name).click)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Combine").click()
    page.get_by_text("Mean of probabilities").wait_for(timeout=180_000)  # the worker finished; the result is drawn
    page.get_by_text("Agreement between members").wait_for()
    page.get_by_text("Download the ensemble").wait_for()
    page.wait_for_timeout(1000)
    assert not page.locator('[data-testid="stException"]').count()
    shutil.copy(shoot(page, "export_ensemble"), "/tmp/export_ensemble.png")

    settle(page, page.get_by_text("Export", exact=True).click)
    settle(page, page.get_by_text("Python training script", exact=True).click)
    page.get_by_text("Export as Python").wait_for()
    page.get_by_role("button", name="Export and check").click()
    page.get_by_text("trains this run again with torch and torchvision only").wait_for(timeout=180_000)
    page.get_by_role("button", name=f"Download {inspected.name.replace('-', '_')}.py").wait_for()
    assert not page.locator('[data-testid="stException"]').count()
    shutil.copy(shoot(page, "export_script"), "/tmp/export_script.png")
