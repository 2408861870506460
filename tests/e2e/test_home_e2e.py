"""The served home page in a real browser: title, page links, device."""


def test_home_page_in_browser(app_url, page, settle, shoot):
    page.goto(app_url)
    settle(page)
    page.get_by_text("Deep-learning lab").first.wait_for()
    page.get_by_text("Computing on").wait_for()
    links = page.locator('[data-testid="stPageLink"]')
    assert links.count() >= 1
    shoot(page, "home")
    assert "Traceback" not in page.content()
