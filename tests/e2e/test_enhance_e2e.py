"""The Enhance page in a real browser: start a short ESPCN x2 run on the scikit-image photos, see it train and finish,
then the before/after zoom and the checkerboard view; a bad upload is refused with the reason and a small photo is
enhanced and offered for download (screenshots in .cache/screenshots/enhance_*.png)."""
from __future__ import annotations

import io

from PIL import Image


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


def _upload(page, settle, path) -> None:
    settle(page, lambda: page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path)))
    settle(page, page.get_by_role("button", name="Enhance it").click)


def test_train_compare_and_enhance_an_upload(app_url, page, shoot, settle, tmp_path):
    page.set_viewport_size({"width": 1400, "height": 3400})
    page.goto(app_url + "/Enhance")
    settle(page)
    page.get_by_text("No super-resolution runs yet").wait_for()
    _set_number(page, settle, "Steps", 40)
    _set_number(page, settle, "Strip every N steps", 10)
    page.get_by_role("button", name="Start training").click()

    # the job trains in a worker; the page follows it, then shows the comparisons once it has finished
    page.get_by_text("Before / after").wait_for(timeout=400_000)
    settle(page)
    page.get_by_text("Held-out crops at step 40").first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot .gtitle", has_text="Spectrum of (model − bicubic)").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot .gtitle", has_text="The trade-off").wait_for(timeout=60_000)
    for label in ("bicubic", "model", "original"):
        assert page.locator('[data-testid="stImage"]').filter(has_text=label).count() >= 1
    page.wait_for_timeout(1500)
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "enhance_finished")

    bad = tmp_path / "notes.png"  # text under an image's name
    bad.write_text("this is not an image")
    _upload(page, settle, bad)
    page.get_by_text("Refused: notes.png is not an image").wait_for(timeout=60_000)
    huge = tmp_path / "huge.png"
    Image.new("RGB", (2000, 40), "white").save(huge)
    _upload(page, settle, huge)
    page.get_by_text("Refused: huge.png is 2000 x 40 px").wait_for(timeout=60_000)

    small = tmp_path / "small.png"
    buf = io.BytesIO()
    Image.effect_mandelbrot((64, 48), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(buf, format="PNG")
    small.write_bytes(buf.getvalue())
    _upload(page, settle, small)
    page.get_by_role("button", name="Download the enhanced image").wait_for(timeout=300_000)
    settle(page)
    shoot(page, "enhance_apply")
    page.get_by_text("Enhanced from 64 x 48 to 128 x 96 px").first.wait_for()
    assert not page.locator('[data-testid="stException"]').count()
    buttons = page.get_by_role("button", name="Download the enhanced image")
    assert buttons.count() == 1
