"""The Datasets page under AppTest: every built-in source, a typed path with bad files, bad paths."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.data import load
from ui.data_ui import OWN_UPLOADS

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/1_Datasets.py")


def _page(source: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if source:
        at.session_state["data_source"] = source
    return at.run()


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


@pytest.mark.parametrize("source, charts", [
    ("builtin:digits", 2), ("builtin:shapes", 2), ("builtin:sounds", 6), ("builtin:reviews", 4)])
def test_each_builtin_renders_without_exceptions(source, charts):
    at = _page(source)
    assert not at.exception
    assert at.selectbox(key="datasets_builtin").value == source
    assert _charts(at) == charts
    assert at.metric[2].value == str(load(source).summary()["total"])
    assert not at.error


def test_shapes_warn_about_imbalance_and_the_small_class():
    at = _page("builtin:shapes")
    text = " ".join(w.value for w in at.warning)
    assert "class imbalance" in text and "'star'" in text and "smaller images" in text


def test_reshuffle_changes_the_samples():
    at = _page("builtin:reviews")
    before = at.dataframe[0].value.copy()
    at.button(key="datasets_reshuffle").click().run()
    assert not at.exception and not at.dataframe[0].value.equals(before)


def test_switching_builtins_via_the_menu():
    at = _page()
    assert at.selectbox(key="datasets_builtin").value == "builtin:digits"
    at.selectbox(key="datasets_builtin").select("builtin:sounds").run()
    assert not at.exception and at.session_state["data_source"] == "builtin:sounds"
    at.selectbox(key="datasets_clip_class").select("rain").run()
    assert not at.exception and len(at.get("audio")) >= 1


def test_typed_path_with_bad_files_lists_them(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    for c in ("cat", "dog"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), (i * 60, 0, 0)).save(tmp_path / "pets" / c / f"{i}.png")
    (tmp_path / "pets" / "dog" / "oops.jpg").write_text("not an image")
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input("pets").run()
    assert not at.exception and not at.error
    skipped = at.dataframe[0].value
    assert list(skipped["file"]) == ["dog/oops.jpg"] and "not an image" in skipped["reason"][0]


@pytest.mark.parametrize("typed, message", [("nowhere", "does not exist"), ("empty", "no image, audio or text")])
def test_bad_paths_show_one_clear_error(tmp_path, monkeypatch, typed, message):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    (tmp_path / "empty").mkdir()
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input(typed).run()
    assert not at.exception
    assert message in at.error[0].value
    if typed == "nowhere":  # one message: no "choose a data set" hint below the error
        assert not at.info


def test_served_app_refuses_paths_outside_the_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("DLLAB_SERVED", "1")
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input("/etc").run()
    assert not at.exception and "outside the data root" in at.error[0].value


def test_text_and_audio_paths_with_bad_input(tmp_path, monkeypatch):
    import numpy as np
    import soundfile as sf

    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    (tmp_path / "r.csv").write_bytes(b"text,label\n" + b"caf\xe9 au lait,pos\nawful,neg\n" * 5 + b"lonely\n")
    for c in ("dog", "rain"):
        (tmp_path / "snd" / c).mkdir(parents=True)
        for i in range(3):
            sf.write(tmp_path / "snd" / c / f"{i}.wav", np.zeros(4000, np.float32), 8000)
    (tmp_path / "snd" / "dog" / "cut.wav").write_bytes((tmp_path / "snd" / "dog" / "0.wav").read_bytes()[:1000])
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input("r.csv").run()
    assert not at.exception and not at.error and _charts(at) == 4
    assert "r.csv:12" in list(at.dataframe[1].value["file"])[0]
    at.text_input(key="datasets_path").input("snd").run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["file"]) == ["dog/cut.wav"] and len(at.get("audio")) >= 4


def test_an_unpacked_upload_stays_usable_by_path_when_served(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DLLAB_SERVED", "1")
    unpacked = tmp_path / "cache" / "uploads" / "abc" / "r.tsv"
    unpacked.parent.mkdir(parents=True)
    unpacked.write_text("good\tpos\nbad\tneg\n" * 4)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["data_source"] = str(unpacked)  # what the upload widget left in session state
    at.session_state[OWN_UPLOADS] = [str(unpacked)]
    at.run()
    assert at.radio(key="datasets_mode").value == "Path"
    assert not at.exception and not at.error and at.metric[0].value == "text"


@pytest.mark.parametrize("typed", ["uploads", "uploads/abc", "uploads/abc/r.tsv"])
def test_a_served_app_keeps_other_peoples_uploads_out_of_reach(tmp_path, monkeypatch, typed):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DLLAB_SERVED", "1")
    theirs = tmp_path / "cache" / "uploads" / "abc" / "r.tsv"  # unpacked from someone else's zip
    theirs.parent.mkdir(parents=True)
    theirs.write_text("good\tpos\nbad\tneg\n" * 4)
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input(str(tmp_path / "cache" / typed)).run()
    assert not at.exception and "outside the data root" in at.error[0].value and not at.metric


def test_header_only_toggle_for_big_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    for c in ("a", "b"):
        (tmp_path / "d" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (10, 10)).save(tmp_path / "d" / c / f"{i}.png")
    noise = Image.frombytes("L", (64, 64), bytes(range(256)) * 16)
    noise.save(tmp_path / "whole.png")
    whole = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "d" / "a" / "cut.png").write_bytes(whole[:len(whole) // 2])  # valid header, pixel data cut off
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input("d").run()
    assert at.metric[4].value == "1"  # decoding finds the cut file
    at.toggle(key="datasets_verify").set_value(False).run()
    assert not at.exception and at.metric[4].value == "0"  # headers only: it looks fine


def _loads_inside_layout_containers():
    import streamlit as st

    from ui.data_ui import load_bundle_ui

    with st.columns(2)[1]:
        with st.columns(2)[0]:  # nested columns: the progress bar is drawn in here too
            st.write(load_bundle_ui("builtin:digits", reload=True).kind)
    with st.sidebar:
        st.write(load_bundle_ui("/does/not/exist") is None)


def test_load_bundle_ui_works_inside_columns_and_the_sidebar():
    at = AppTest.from_function(_loads_inside_layout_containers, default_timeout=60).run()
    assert not at.exception
    assert [m.value for m in at.markdown] == ["image", "`True`"] and "does not exist" in at.error[0].value


def test_path_mode_with_nothing_typed_says_what_to_do():
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    assert not at.exception and not at.error and "type a folder or file path" in at.info[0].value


def test_the_shared_bundle_store_is_bounded_by_memory_not_count():
    import threading
    from collections import OrderedDict

    from ui.data_ui import keep_within

    store, lock, mb = OrderedDict(), threading.Lock(), 2**20
    for name, size in [("a", 400), ("b", 300), ("c", 200)]:
        keep_within(store, lock, name, name.upper(), size * mb // 1000, mb)
    assert list(store) == ["a", "b", "c"]  # 0.9 MB in a 1 MB budget
    store.move_to_end("a")  # 'a' used again: 'b' is now the least recently used
    keep_within(store, lock, "d", "D", 250 * mb // 1000, mb)
    assert list(store) == ["c", "a", "d"] and sum(s for _, s in store.values()) <= mb
    keep_within(store, lock, "huge", "H", 2 * mb, mb)  # larger than the whole budget: used, not kept
    assert "huge" not in store and list(store) == ["c", "a", "d"]


def test_load_bundle_ui_keeps_what_fits_in_bundle_cache_mb(tmp_path, monkeypatch):
    (tmp_path / "lab.toml").write_text("[limits]\nbundle_cache_mb = 3\n")  # digits (~2 MB) fits, shapes (~7) not
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))

    def script():
        import streamlit as st

        from ui.data_ui import _bundle_store, load_bundle_ui

        store, _ = _bundle_store()
        store.clear()
        load_bundle_ui("builtin:digits")
        load_bundle_ui("builtin:shapes")
        st.markdown(f"{sorted(k[0] for k in store)} {sum(size for _, size in store.values()) <= 3 * 2**20}")

    at = AppTest.from_function(script, default_timeout=120).run()
    assert not at.exception and at.markdown[0].value == "['builtin:digits'] True"


def test_the_decode_toggle_is_offered_for_images_and_audio_not_for_text(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    (tmp_path / "r.tsv").write_text("good film\tpos\nawful film\tneg\n" * 6)
    for c in ("cat", "dog"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), (i * 60, 0, 0)).save(tmp_path / "pets" / c / f"{i}.png")
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input("r.tsv").run()
    assert not at.exception and not at.error and "datasets_verify" not in [t.key for t in at.toggle]
    at.text_input(key="datasets_path").input("pets").run()
    assert not at.exception and "datasets_verify" in [t.key for t in at.toggle]


def test_a_folder_of_unreadable_images_lists_each_file_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    for c in ("cat", "dog"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        (tmp_path / "pets" / c / "a.jpg").write_text("not an image")
        (tmp_path / "pets" / c / "b.png").write_bytes(b"")
    at = _page()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input("pets").run()
    assert not at.exception and "none of the image files" in at.error[0].value
    table = at.dataframe[0].value
    assert sorted(table["file"]) == ["cat/a.jpg", "cat/b.png", "dog/a.jpg", "dog/b.png"]
    reasons = dict(zip(table["file"], table["reason"]))
    assert "not an image" in reasons["cat/a.jpg"] and reasons["dog/b.png"] == "zero-byte file"
