"""The served Augment page in a real browser: the draws grid appears, moving a slider changes it, every section
renders (screenshots in .cache/screenshots/augment_*.png)."""
import json

import pytest

GRID = '[data-testid="stImage"] img'


def _grid_sources(page) -> list[str]:
    return page.locator(GRID).evaluate_all("els => els.map(e => e.getAttribute('src'))")


def _wait_for_media(page) -> None:
    """Images decoded and plotly charts drawn, so the screenshot shows them."""
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                           ".every(c => c.querySelector('.main-svg'))")
    page.wait_for_function("() => [...document.querySelectorAll('audio')].every(a => a.readyState >= 1)")
    page.wait_for_timeout(500)


def test_slider_changes_the_grid(app_url, page, settle, shoot):
    page.set_viewport_size({"width": 1400, "height": 2200})  # Streamlit scrolls inside the app: see it all
    page.goto(app_url + "/Augment")
    settle(page)
    page.get_by_text("8 draws").first.wait_for()
    page.wait_for_function(f"() => document.querySelectorAll('{GRID}').length >= 12")
    before = _grid_sources(page)
    captions_before = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    assert len(before) >= 8 + 4  # 8 draws + the step-by-step strip (input + 3 steps)
    shoot(page, "augment_before")

    slider = page.locator('[data-testid="stSlider"]').filter(has_text="brightness").get_by_role("slider")
    slider.focus()
    settle(page, lambda: [slider.press("ArrowRight") for _ in range(30)])  # 0.2 -> 0.5 in steps of 0.01
    page.wait_for_function(
        "before => { const now = [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".map(e => e.getAttribute('src')); return now.length && now.join() !== before.join(); }",
        arg=before, timeout=60_000)
    settle(page)
    after = _grid_sources(page)
    assert after != before
    assert sum(a != b for a, b in zip(before, after)) >= 3  # draws where ColorJitter ran look different
    captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    assert any("brightness" in c for c in captions) and captions != captions_before  # the drawn factors changed
    _wait_for_media(page)
    page.mouse.wheel(0, -5000)
    shoot(page, "augment_after")
    assert "Traceback" not in page.content()


@pytest.mark.parametrize("section, text", [
    ("Batch", "(#"), ("Spectrogram", "Griffin-Lim, masked"), ("Waveform", "whole pipeline"),
    ("Text", "Synonyms (offline)"), ("Mixup", "soft label")])
def test_section_renders(app_url, page, settle, shoot, section, text):
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.goto(app_url + "/Augment")
    settle(page)
    settle(page, page.locator('[data-testid="stRadio"]').first.get_by_text(section, exact=True).click)
    page.get_by_text(text).first.wait_for()
    if section == "Spectrogram":  # original, rebuilt, rebuilt from the masked mel
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stAudio\"]').length === 3")
    _wait_for_media(page)
    page.mouse.wheel(0, -5000)
    shoot(page, f"augment_{section.lower()}")
    assert "Traceback" not in page.content() and not page.locator('[data-testid="stException"]').count()


def test_load_a_saved_pipeline(app_url, page, settle, shoot, tmp_path):
    saved = tmp_path / "pipe.json"
    saved.write_text(json.dumps({"kind": "image", "steps": [{"name": "Resize", "params": {"size": 96}},
                                                            {"name": "RandomGrayscale", "params": {}, "p": 1.0}]}))
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(app_url + "/Augment")
    settle(page)
    page.get_by_text("8 draws").first.wait_for()
    settle(page, lambda: page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(saved)))
    page.get_by_text("1. Resize").first.wait_for()
    settle(page)
    page.get_by_text("2. RandomGrayscale").first.wait_for()
    assert page.get_by_text("RandomResizedCrop").count() == 0  # the loaded pipeline replaced the default
    _wait_for_media(page)
    size = page.locator(GRID).first.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert size == [96, 96]
    shoot(page, "augment_loaded")


def test_the_draws_stay_in_view_while_the_third_step_is_tuned(app_url, page, settle, shoot):
    """Issue 19 item 13: at 1400x1000 the image controls scroll in their own box, so the draws stay on screen beside
    the third step's sliders while one of them moves."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(app_url + "/Augment")
    settle(page)
    page.get_by_text("8 draws").first.wait_for()
    page.wait_for_function(f"() => document.querySelectorAll('{GRID}').length >= 12")
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="brightness").get_by_role("slider")
    slider.scroll_into_view_if_needed()
    before = _grid_sources(page)
    slider.focus()
    settle(page, lambda: [slider.press("ArrowRight") for _ in range(10)])
    page.wait_for_function(
        "before => { const now = [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".map(e => e.getAttribute('src')); return now.length && now.join() !== before.join(); }", arg=before)
    _wait_for_media(page)
    box, first_draw = slider.bounding_box(), page.locator(GRID).first.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= 1000  # the slider being moved is on screen ...
    assert 0 <= first_draw["y"] and first_draw["y"] + first_draw["height"] <= 1000  # ... and so is the first draw
    shoot(page, "augment_tuning_in_view")
