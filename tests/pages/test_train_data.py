"""Train page with a folder of the user's own text files (issue 13 item 2): read as one data set; messages clean."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/4_Train.py")


def _folder(root: Path, usable: bool = True) -> Path:
    root.mkdir()
    for name in ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"):
        (root / name).write_text("".join(f"good thing {i}\t1\nbad thing {i}\t0\n" for i in range(8))
                                 if usable else "a line without a label\n")
    (root / "readme.txt").write_text("About this data set.\n")
    return root


def _page(source: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["data_source"] = source  # the Path box starts from the last source used
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_sentiment_folder_loads_and_trains_on_all_three_files(tmp_path):
    folder = _folder(tmp_path / "sentiment")
    at = _page(str(folder))
    assert not at.error
    assert any(c.value.startswith("text data, 2 classes") for c in at.caption)
    assert at.button(key="train-start") and not at.button(key="train-start").disabled


def test_an_unusable_folder_gets_one_message_with_its_path_once(tmp_path):
    folder = _folder(tmp_path / "notes", usable=False)
    at = _page(str(folder))
    [error] = [e.value for e in at.error]
    assert error.count(str(folder)) == 1 and "readme.txt (no tab-separated labels" in error
