"""The served Datasets page in headless Chromium: pick a built-in source, see the class-balance chart."""
from tests.e2e.browser import pick_option


def _open(page, app_url, settle):
    page.goto(app_url + "/Datasets")
    settle(page)
    page.get_by_text("Look before you train").wait_for()


def test_datasets_page_shows_class_balance_for_shapes(app_url, page, settle, shoot):
    _open(page, app_url, settle)
    page.get_by_text("Class balance per split").first.wait_for()  # digits by default
    page.set_viewport_size({"width": 1400, "height": 3000})
    settle(page)
    shoot(page, "datasets_digits")
    page.set_viewport_size({"width": 1400, "height": 1000})
    pick_option(page, settle, page.locator('[data-testid="stSelectbox"]').first, "builtin:shapes")
    page.get_by_text("class imbalance").first.wait_for()
    page.get_by_text("Original image sizes per class").first.wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2
    assert page.locator('[data-testid="stImage"]').count() >= 20  # the sample grid
    assert "Traceback" not in page.content()
    page.set_viewport_size({"width": 1400, "height": 4200})  # Streamlit scrolls inside: a tall window shows it all
    settle(page)
    shoot(page, "datasets_shapes")


def test_datasets_page_audio_clip(app_url, page, settle, shoot):
    _open(page, app_url, settle)
    pick_option(page, settle, page.locator('[data-testid="stSelectbox"]').first, "builtin:sounds")
    page.get_by_text("Log-mel spectrogram").first.wait_for()
    assert page.locator("audio").count() >= 6
    assert "Traceback" not in page.content()
    page.set_viewport_size({"width": 1400, "height": 3400})
    settle(page)
    shoot(page, "datasets_sounds")


def test_datasets_page_reviews(app_url, page, settle, shoot):
    _open(page, app_url, settle)
    pick_option(page, settle, page.locator('[data-testid="stSelectbox"]').first, "builtin:reviews")
    page.get_by_text("Top tokens per class").first.wait_for()
    assert "Traceback" not in page.content()
    page.set_viewport_size({"width": 1400, "height": 2600})
    settle(page)
    shoot(page, "datasets_reviews")


def test_datasets_page_zip_upload(app_url, page, settle, shoot, tmp_path):
    import zipfile

    from PIL import Image

    z = tmp_path / "pets.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for c, colour in (("cat", (220, 120, 0)), ("dog", (60, 60, 200))):
            for i in range(6):
                p = tmp_path / f"{c}{i}.png"
                Image.new("RGB", (24 + i, 24), colour).save(p)
                zf.write(p, f"pets/{c}/{i}.png")
        zf.writestr("pets/dog/broken.jpg", "not a jpeg")
    _open(page, app_url, settle)
    settle(page, page.get_by_text("Upload a zip").click)
    settle(page, lambda: page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(z)))
    page.get_by_text("Class balance per split").first.wait_for()
    # the skipped-files table (a canvas grid: its DOM cells are hidden) lists broken.jpg
    page.get_by_text("not an image").first.wait_for(state="attached")
    assert "Traceback" not in page.content()
    page.set_viewport_size({"width": 1400, "height": 2200})
    settle(page)
    shoot(page, "datasets_upload")
