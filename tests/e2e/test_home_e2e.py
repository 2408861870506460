"""The served home page in a real browser: title, a link to every page, device."""


def test_home_page_in_browser(app_url, page, settle, shoot):
    page.goto(app_url)
    settle(page)
    page.get_by_text("Computing on").wait_for()
    links = page.locator('[data-testid="stPageLink"]')
    links.first.wait_for()
    for name in ("Datasets", "Augment", "LR Finder", "Train"):
        assert links.filter(has_text=name).count() >= 1, name
    shoot(page, "home")
    assert "Traceback" not in page.content()
    links.filter(has_text="Datasets").first.click()
    page.get_by_text("Class balance").first.wait_for()
