"""The Train page in a real browser: start a run on builtin:digits, watch the live view update, stop it."""
from __future__ import annotations

import re
import time


def _progress_text(page) -> str:
    bars = page.locator('[data-testid="stProgress"]')
    return bars.first.inner_text() if bars.count() else ""


def _step(text: str) -> int:
    m = re.search(r"step (\d+)", text)
    return int(m.group(1)) if m else -1


def _set_number(page, settle, label: str, value: int) -> None:
    """Type into a number input and commit; retried because a rerun can replace the input while typing."""
    for _ in range(3):
        box = page.get_by_label(label, exact=True)
        box.fill(str(value))
        settle(page, lambda: box.press("Enter"))
        if page.get_by_label(label, exact=True).input_value() == str(value):
            return
    raise AssertionError(f"could not set {label} to {value}")


def test_run_shows_live_loss_chart_and_stops(app_url, page, shoot, settle, tmp_path):
    page.set_viewport_size({"width": 1400, "height": 3200})  # Streamlit scrolls inside: a tall window shows it all
    page.goto(app_url + "/Train")
    settle(page)
    _set_number(page, settle, "Epochs", 20)  # a run of minutes, stopped below once we have seen it move
    _set_number(page, settle, "Batch size", 4)
    page.get_by_role("button", name="Start training").click()

    # the live view polls the store: the loss chart appears and the step count grows without any click
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stProgress\"]')]"
                           ".some(e => /step [1-9]/.test(e.innerText))", timeout=90_000)
    page.get_by_text("Loss", exact=True).first.wait_for(timeout=30_000)
    first = _step(_progress_text(page))
    deadline = time.time() + 60
    while _step(_progress_text(page)) <= first and time.time() < deadline:
        page.wait_for_timeout(500)
    assert _step(_progress_text(page)) > first >= 1
    assert page.locator(".js-plotly-plot").count() >= 3  # loss, accuracy, learning rate
    shoot(page, "train_live")

    page.get_by_text("best val acc").first.wait_for(timeout=90_000)  # an epoch ended: a checkpoint exists
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped", exact=True).first.wait_for(timeout=60_000)
    settle(page)
    page.get_by_text("Results", exact=True).wait_for()
    page.wait_for_timeout(1500)  # let the charts finish drawing before the screenshot
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "train_stopped")
    _view(page, "Confident mistakes")
    page.get_by_text("predicted:").first.wait_for()
    _view(page, "Model")
    page.get_by_text("every parameter trained in every epoch").wait_for()
    _view(page, "Confident mistakes")
    page.wait_for_timeout(500)
    results = page.get_by_text("Results", exact=True)
    results.scroll_into_view_if_needed()
    shoot(page, "train_results")
    _predict_an_upload(page, settle, shoot, tmp_path)


def _view(page, name: str) -> None:
    """Choose a result view (a radio: it keeps the choice across reruns, unlike tabs)."""
    views = page.get_by_role("radiogroup").filter(has_text="Confident mistakes")
    views.get_by_text(name, exact=True).click()


def _predict_an_upload(page, settle, shoot, tmp_path) -> None:
    """Issue 13 item 3: the first upload keeps the user on Predict (tabs jumped back to the confusion matrix)."""
    from core.data import load

    digit = load("builtin:digits").splits["val"].paths[0]
    settle(page, lambda: _view(page, "Predict"))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(digit))
    page.get_by_text("Prediction:").wait_for(timeout=60_000)
    settle(page)
    assert page.get_by_role("radio", name="Predict").is_checked()
    assert page.get_by_text(digit.name).count() >= 1  # the uploaded image is shown beside the answer
    assert not page.locator(".js-plotly-plot .gtitle", has_text="Confusion matrix").count()  # the view stayed
    page.get_by_text("Prediction:").scroll_into_view_if_needed()
    shoot(page, "train_predict")
    bad = tmp_path / "notes.png"  # a bad upload: text under an image's name
    bad.write_text("this is not an image")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    page.get_by_text("Could not read notes.png as an image: not an image").wait_for(timeout=60_000)
    settle(page)
    assert page.get_by_role("radio", name="Predict").is_checked()  # still on Predict, the page still up
    assert "Traceback" not in page.content()
    page.get_by_text("Could not read notes.png").scroll_into_view_if_needed()
    shoot(page, "train_predict_bad_upload")
