"""The Adversarial page in a real browser with a real worker: PGD on the pretrained 224-pixel model is over the
server's inline budget, so the page offers to run it in a worker, follows the job, and draws the result."""
from __future__ import annotations

import re


def test_pgd_on_the_pretrained_model_runs_in_a_worker_and_is_drawn(app_url, page, settle, shoot):
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(app_url + "/Adversarial")
    settle(page)
    settle(page, lambda: page.get_by_text("pretrained ImageNet model (EfficientNet-Lite0)").click())
    page.get_by_text(re.compile(r"FGSM at eps .*the model is")).first.wait_for(timeout=120_000)  # inline
    attack = page.locator('[data-testid="stRadio"]').filter(has_text="Attack")
    settle(page, lambda: attack.get_by_text("PGD", exact=True).click())
    page.get_by_text(re.compile("too heavy for this page on this model: it runs in a worker")).wait_for()
    assert not page.get_by_text(re.compile(r"PGD at eps .*the model is")).count()  # nothing computed in the page
    settle(page, lambda: page.get_by_role("button", name="Run the attack in a worker").click())
    verdict = page.get_by_text(re.compile(r"PGD at eps .*the model is")).first
    verdict.wait_for(timeout=240_000)  # the worker starts, loads the model, attacks; the page polls and draws
    assert "8/255" in verdict.inner_text()
    settle(page)
    page.locator(".js-plotly-plot").nth(1).wait_for()  # the top-5 charts before / after
    assert not page.locator('[data-testid="stException"]').count()
    page.wait_for_timeout(1000)
    shoot(page, "adversarial_worker")
