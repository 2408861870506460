"""The Train page in a real browser: the 'Start small and get bigger' option with its schedule, and a run that
changed input size shows where on its loss and accuracy charts."""
from __future__ import annotations

from core.train.store import RunStore
from tests.train_page_helpers import inject_finished_run


def test_size_schedule_option_and_size_marks_on_the_charts(app_url, page, settle, shoot, tmp_path_factory):
    runs = sorted(tmp_path_factory.getbasetemp().glob("e2e-runs*"))[-1]
    run = inject_finished_run(runs, "cnn", epochs=3)
    store = RunStore.open(run)
    for epoch, size in enumerate((16, 24, 32)):
        store.log_epoch(epoch, {"input_size": size})
    store.close()
    page.set_viewport_size({"width": 1400, "height": 3000})
    page.goto(app_url + "/Train")
    settle(page)
    page.get_by_text(run.name).first.wait_for()
    for size in (16, 24, 32):  # plotly draws the marks' labels as SVG text, on both charts
        page.locator("svg text", has_text=f"{size} px").nth(1).wait_for()
    page.get_by_text("Regularisation and augmentation").first.click()
    box = page.get_by_text("Start small and get bigger (progressive resizing)")
    box.wait_for()
    settle(page, lambda: box.click())
    schedule = page.get_by_label("Input sizes by epoch", exact=False)
    assert schedule.input_value().endswith(":32")  # ends at the digits' 32 px
    shoot(page, "train-resize-open")
    for _ in range(3):  # a rerun in flight can replace the input (or fold its expander) while typing: again
        box = page.get_by_label("Input sizes by epoch", exact=False)
        if not box.is_visible():
            page.get_by_text("Regularisation and augmentation").first.click()
            box.wait_for(state="visible")
        box.click()
        box.press("Control+a")
        box.type("0:16, 1:24")
        settle(page, lambda: box.press("Enter"))
        if page.get_by_text("must end at the data's image size (32 px)").count():
            break
    page.get_by_text("must end at the data's image size (32 px)").first.wait_for()
    shoot(page, "train-resize")
