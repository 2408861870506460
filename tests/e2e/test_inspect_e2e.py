"""The Inspect page in a real browser: pick a run, see the layer table, switch to Grad-CAM and see the overlay."""
from __future__ import annotations

from tests.e2e.browser import pick_option
from tests.inspect_helpers import make_run


def _runs_root(tmp_path_factory):
    """The runs root the served app was started with (conftest's app_url makes it under the session's basetemp)."""
    return next(tmp_path_factory.getbasetemp().glob("e2e-runs*"))


def test_pick_a_run_see_the_table_and_a_cam_overlay(app_url, page, shoot, settle, tmp_path_factory):
    run = make_run(_runs_root(tmp_path_factory), "cnn", "builtin:digits", width=8)
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.goto(app_url + "/Inspect")
    settle(page)
    pick_option(page, settle, page.get_by_label("Model to inspect", exact=True), run.name)
    page.get_by_text("Multiply-adds / example").wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()  # the layer table (drawn on a canvas)
    page.locator("th", has_text="receptive field").first.wait_for(state="attached")  # its column, drawn hidden
    page.get_by_text("Receptive field growth, layer by layer").wait_for()
    page.wait_for_timeout(1500)
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "inspect_layers")

    page.get_by_text("Where it looks", exact=True).click()
    page.get_by_text("Grad-CAM for").first.wait_for()
    page.get_by_text("Maps of several examples").wait_for()
    page.get_by_text("predicted", exact=False).nth(3).wait_for()  # grid captions
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 9")
    images = page.locator('[data-testid="stImage"] img')  # the chosen example's overlay and the grid of 8
    assert images.first.evaluate("img => img.naturalWidth") >= 200  # enlarged for display, not 32 pixels
    page.wait_for_timeout(1000)
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "inspect_cam")
