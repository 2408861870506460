"""Item 9 in a real browser: the sidebar calls the home page Home; the Train form is in the URL, so a reload keeps
it; leaving the page and coming back keeps it too."""


def _nav(page) -> list[str]:
    return [a.inner_text().replace("\n", " ").strip() for a in page.locator('[data-testid="stSidebarNav"] a').all()]


def test_a_link_opened_first_shows_the_lab_navigation(app_url, page, settle):
    page.goto(app_url + "/LR_Finder")
    settle(page)
    page.get_by_role("heading", name="LR Finder").wait_for()  # the page ran (the sidebar is sent before it runs)
    settle(page)
    names = _nav(page)
    assert names[0].endswith("Home") and "app" not in names
    assert any(n.startswith("📉") and n.endswith("LR Finder") for n in names)  # with the pages' icons


def test_the_train_form_survives_a_reload_and_leaving_the_page(app_url, page, settle, shoot):
    page.goto(app_url + "/Train")
    settle(page)
    for _ in range(3):  # a rerun in flight can overwrite a value typed too early
        box = page.get_by_label("Epochs", exact=True)
        box.fill("3")
        settle(page, lambda: box.press("Enter"))
        if "epochs=3" in page.url:
            break
    assert "epochs=3" in page.url and "data=builtin" in page.url
    page.reload()
    settle(page)
    assert page.get_by_label("Epochs", exact=True).input_value() == "3"
    settle(page, page.locator('[data-testid="stSidebarNav"] a', has_text="Datasets").click)
    settle(page, page.locator('[data-testid="stSidebarNav"] a', has_text="Train").click)
    assert page.get_by_label("Epochs", exact=True).input_value() == "3"
    shoot(page, "train_settings_kept")
