"""The Adversarial page in a real browser: move the epsilon slider on a trained digits CNN and see the adversarial
image and the prediction change."""
from __future__ import annotations

import re

import pytest

from tests.attack_helpers import trained_run

VERDICT = re.compile(r" at eps .*the model is")


@pytest.fixture(scope="module")
def attacked_run(app_url, tmp_path_factory):
    """A short real training run in the served app's runs root (the folder the app_url fixture made)."""
    runs = sorted(tmp_path_factory.getbasetemp().glob("e2e-runs*"))[-1]
    return trained_run(runs, steps=60)


def _slide_to(page, settle, target: float) -> str:
    """PageUp / PageDown while far from ``target``, then the arrow keys (0.5/255 a press), on the epsilon slider until
    it shows ``target`` (a press can be lost while a rerun replaces the slider, so the value is read back), then wait
    until the page shows the attack at that value; returns the verdict line."""
    def value() -> float:  # Streamlit 1.67 draws the slider as <input type="range">
        return float(page.get_by_role("slider", name="Epsilon (/255)").first.get_attribute("aria-valuetext"))

    slider = page.get_by_role("slider", name="Epsilon (/255)").first
    for _ in range(300):
        now = value()
        if now == target:
            break
        slider = page.get_by_role("slider", name="Epsilon (/255)").first
        slider.focus()
        far = abs(now - target) > 20
        slider.press(("PageUp" if far else "ArrowRight") if now < target else ("PageDown" if far else "ArrowLeft"))
        page.wait_for_timeout(80)
    settle(page)
    shown = f"({str(value()).removesuffix('.0')}/255)"
    page.wait_for_function("s => [...document.querySelectorAll('p')].some(p => p.innerText.includes(' at eps ') && "
                           "p.innerText.includes(s))", arg=shown, timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]') && [...document.querySelectorAll("
                           "'[data-testid=\"stImage\"] img')].every(i => i.complete && i.naturalWidth > 0)",
                           timeout=60_000)  # the last rerun has finished drawing: no stale or broken images left
    return page.get_by_text(VERDICT).first.inner_text()


def _adversarial_src(page) -> str:
    return page.locator('[data-testid="stImage"]').filter(has_text="Adversarial").locator("img").first \
        .get_attribute("src")


def test_eps_slider_changes_the_adversarial_image_and_prediction(app_url, attacked_run, page, settle, shoot):
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(app_url + "/Adversarial")
    settle(page)
    page.get_by_title(attacked_run.name, exact=False).first.wait_for(state="attached")  # the newest run is attacked
    calm = _slide_to(page, settle, 0.0)  # from the preset's 76.5/255 down to 0
    assert "eps 0 (0/255)" in calm and "not fooled" in calm, calm
    before, calm_src = re.findall(r"— (.*) → (.*)$", calm)[0], _adversarial_src(page)
    assert before[0] == before[1]  # eps 0: the same prediction and probability before and after
    strong = _slide_to(page, settle, 130.0)  # 130/255: half the pixel range
    assert "eps 0.5098 (130/255)" in strong and "fooled ✅" in strong, strong
    after = re.findall(r"— (.*) → (.*)$", strong)[0]
    assert after[0] == before[0] and after[1] != after[0]  # the clean prediction stays, the attacked one moved
    assert _adversarial_src(page) != calm_src  # a new adversarial image was drawn
    assert page.get_by_text(re.compile(r"Perturbation, amplified ×")).count() >= 1
    assert not page.locator('[data-testid="stException"]').count()
    page.locator(".js-plotly-plot").nth(1).wait_for()  # the top-5 charts before / after
    page.wait_for_timeout(1000)
    shoot(page, "adversarial")
