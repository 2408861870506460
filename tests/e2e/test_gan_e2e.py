"""The GAN page in a real browser: start a toy GAN, watch the loss chart grow while it trains, stop it; then a small
image GAN: move the A -> B slider and see the picture change (screenshots in .cache/screenshots/gan_*.png)."""
from __future__ import annotations

import re
import time

from playwright.sync_api import TimeoutError as PlaywrightTimeout

def _progress_step(page) -> int:
    bars = page.locator('[data-testid="stProgress"]')
    text = bars.first.inner_text() if bars.count() else ""
    m = re.search(r"step (\d+)", text)
    return int(m.group(1)) if m else -1


def _loss_points(page) -> float:
    """The right end of the loss chart's step axis (plotly writes its autorange back into the layout)."""
    return page.evaluate("""() => {
        const plots = [...document.querySelectorAll('.js-plotly-plot')];
        const loss = plots.find(p => p.layout && p.layout.title && /Losses/.test(p.layout.title.text));
        return loss && loss.layout.xaxis && loss.layout.xaxis.range ? loss.layout.xaxis.range[1] : -1; }""")


def _start(page, settle, max_steps: int | None = None) -> None:
    if max_steps is not None:
        _open_expander(page, settle, "More settings", "Max steps (0: all epochs)")
        _set_number(page, settle, "Max steps (0: all epochs)", max_steps)
    page.get_by_role("button", name="Start GAN training").click()


def _open_expander(page, settle, title: str, inside: str) -> None:
    """Open the expander ``title`` until the input labelled ``inside`` shows: under load a rerun that was still
    finishing can redraw the expander closed right after the click."""
    for _ in range(3):
        if page.get_by_label(inside, exact=True).is_visible():
            return
        page.get_by_text(title).click()
        settle(page)
        try:
            page.get_by_label(inside, exact=True).wait_for(state="visible", timeout=10_000)
            return
        except PlaywrightTimeout:  # try the click again
            continue
    raise AssertionError(f"the expander {title!r} did not open")


def _set_number(page, settle, label: str, value: int) -> None:
    """Type into a number input and commit; retried because a rerun can replace the input while typing."""
    for _ in range(3):
        box = page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        settle(page)
        if page.get_by_label(label, exact=True).input_value() == str(value):
            return
    raise AssertionError(f"could not set {label} to {value}")


def test_toy_gan_trains_live_then_the_slider_changes_the_image(app_url, page, shoot, settle):
    page.set_viewport_size({"width": 1400, "height": 3600})  # Streamlit scrolls inside: a tall window shows it all
    page.goto(app_url + "/GAN")
    settle(page)
    page.get_by_text("toy:ring", exact=True).click()
    settle(page)
    _start(page, settle)

    # the live view polls the store: the step count and the loss chart grow without any click
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stProgress\"]')]"
                           ".some(e => /step [1-9]/.test(e.innerText))", timeout=120_000)
    page.get_by_text("What the discriminator says").first.wait_for(timeout=60_000)
    first_step, first_points = _progress_step(page), _loss_points(page)
    deadline = time.time() + 90
    while (_progress_step(page) <= first_step or _loss_points(page) <= first_points) and time.time() < deadline:
        page.wait_for_timeout(500)
    assert _progress_step(page) > first_step >= 1
    assert _loss_points(page) > first_points > 0
    page.get_by_text("Is it collapsing?").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    shoot(page, "gan_ring_live")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped", exact=True).first.wait_for(timeout=60_000)
    settle(page)
    page.get_by_role("tab", name="Gallery").wait_for(timeout=60_000)  # the page reran: the latent tools are there
    settle(page)
    page.wait_for_timeout(1500)
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "gan_ring_stopped")

    # a small image GAN: the A -> B slider regenerates the picture from the cached generator
    page.get_by_text("images (built-in or yours)").click()
    settle(page)
    _start(page, settle, max_steps=40)
    page.get_by_text("finished", exact=True).first.wait_for(timeout=180_000)
    settle(page)
    page.get_by_role("tab", name="A → B").click()
    now = page.locator('[data-testid="stImage"]').filter(has_text="now").locator("img")
    now.wait_for(timeout=60_000)
    before = now.get_attribute("src")
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="A → B").get_by_role("slider")
    slider.focus()
    for _ in range(8):
        slider.press("ArrowRight")
    page.wait_for_function("before => { const img = [...document.querySelectorAll('[data-testid=\"stImage\"]')]"
                           ".find(e => /now/.test(e.innerText)); return img && img.querySelector('img')"
                           ".getAttribute('src') !== before; }", arg=before, timeout=60_000)
    settle(page)
    assert now.get_attribute("src") != before
    page.get_by_text("frame 9 of 16").first.wait_for()
    page.wait_for_timeout(1000)
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "gan_digits_walk")
