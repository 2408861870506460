"""The served LR Finder page in a real browser: a short sweep on builtin:digits, the chart, the hand-over to Train."""


def _set_number(page, settle, label: str, typed: str, shown: str) -> None:
    """Type into a number input and wait until the app shows it (a rerun still in flight can overwrite a value
    typed too early, so type again if it did)."""
    for _ in range(3):
        box = page.get_by_label(label, exact=True)
        box.fill(typed)
        settle(page, lambda: box.press("Enter"))
        if page.get_by_label(label, exact=True).input_value() == shown:
            return
    raise AssertionError(f"{label} did not take {typed!r}")


def test_lr_finder_runs_a_short_sweep_and_hands_the_lr_to_train(app_url, page, settle, shoot):
    page.goto(app_url + "/LR_Finder")
    settle(page)
    page.get_by_role("heading", name="LR Finder").wait_for()
    start = page.get_by_role("slider").first  # the LR range's lower end: two decades up (1e-07 -> 1e-05), by keyboard
    for _ in range(4):  # one press at a time: a rerun still in flight can swallow a key press, so look after each
        if start.get_attribute("aria-valuetext") == "1e-05":
            break
        start.focus()
        settle(page, lambda: start.press("ArrowRight"))
    assert start.get_attribute("aria-valuetext") == "1e-05"
    _set_number(page, settle, "Repeat with N seeds", "2", "2")
    settle(page, page.get_by_role("button", name="Run the range test").click)
    # the sweep is a job in a worker: the page polls it (a progress bar or the queue) until its result is there
    page.get_by_text("what it means").first.wait_for(timeout=120_000)
    settle(page)
    page.wait_for_function(  # the live curve of the running job gives way to the result's one chart
        "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length === 1", timeout=30_000)
    chart = page.locator('[data-testid="stPlotlyChart"]')
    chart.wait_for()
    page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for()  # plotly drew the curves
    assert page.locator(".js-plotly-plot .xaxislayer-above text").count() > 2  # a labelled log axis
    assert page.get_by_text("what it means").count() >= 1  # the suggestions table
    page.get_by_text("range over 2 seeds").first.wait_for()  # the band's legend entry (drawn last by plotly)
    assert page.get_by_text("2/2 sweeps").count() + page.get_by_text("1/2 sweeps").count() >= 1
    page.set_viewport_size({"width": 1400, "height": 2000})  # Streamlit scrolls inside the page: show it all
    chart.scroll_into_view_if_needed()
    shoot(page, "lr_finder")
    page.set_viewport_size({"width": 1400, "height": 1000})
    settle(page, page.get_by_role("button", name="Use for training").click)
    page.get_by_text("will be pre-filled on the Train page").wait_for()
    page.get_by_role("button", name="Go to Train →").click()
    page.wait_for_url("**/Train**")  # the page then writes its settings into the URL
    settle(page)
    page.get_by_text("handed over by the LR Finder").wait_for()  # the Train page shows the LR it was given
    shoot(page, "lr_finder_to_train")
    assert "Traceback" not in page.content()
