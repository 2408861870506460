"""Settings survive leaving a page, a reload and a shared link; the navigation calls the home page Home (item 9)."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP, TRAIN, LR = str(ROOT / "app.py"), str(ROOT / "pages/4_Train.py"), str(ROOT / "pages/3_LR_Finder.py")


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _number(at: AppTest, label: str):
    return [n for n in at.number_input if n.label == label][0]


def test_train_settings_survive_leaving_the_page_and_coming_back():
    at = _ok(AppTest.from_file(APP, default_timeout=60).run())
    at.switch_page("pages/4_Train.py").run()
    at.selectbox(key="train-model-builtin:digits").set_value("cnn").run()
    _number(at, "Epochs").set_value(3).run()
    _number(at, "Label smoothing").set_value(0.1).run()
    at.switch_page("pages/1_Datasets.py").run()  # away: Streamlit drops the Train widgets' state
    assert not [s for s in at.selectbox if s.key == "train-model-builtin:digits"]
    at.switch_page("pages/4_Train.py").run()
    _ok(at)
    assert at.selectbox(key="train-model-builtin:digits").value == "cnn"
    assert _number(at, "Epochs").value == 3 and _number(at, "Label smoothing").value == 0.1


def test_the_lr_finder_keeps_its_model_when_left_and_revisited():
    """The issue's own steps: leaving the LR Finder and coming back reset its model to mlp."""
    at = _ok(AppTest.from_file(APP, default_timeout=60).run())
    at.switch_page("pages/3_LR_Finder.py").run()
    at.selectbox(key="lr-model-builtin:digits").set_value("cnn").run()
    at.number_input(key="lr-iters").set_value(40).run()
    at.switch_page("pages/4_Train.py").run()
    at.switch_page("pages/3_LR_Finder.py").run()
    _ok(at)
    assert at.selectbox(key="lr-model-builtin:digits").value == "cnn" and at.number_input(key="lr-iters").value == 40


def test_the_train_form_is_in_the_url_and_a_link_restores_it():
    at = _ok(AppTest.from_file(TRAIN, default_timeout=60).run())
    at.selectbox(key="train-model-builtin:digits").set_value("mlp").run()  # not the default (cnn)
    _number(at, "Epochs").set_value(3).run()
    [n for n in at.selectbox if n.label == "Optimizer"][0].set_value("sgd").run()
    _ok(at)
    url = dict(at.query_params)
    assert {k: url[k][0] if isinstance(url[k], list) else url[k] for k in ("data", "model", "epochs", "optimizer")} \
        == {"data": "builtin:digits", "model": "mlp", "epochs": "3", "optimizer": "sgd"}
    assert "batch_size" not in url  # only what differs from the defaults
    link = AppTest.from_file(TRAIN, default_timeout=60)  # a reload, or a teacher's link: a new session
    for name, value in {"data": "builtin:sounds", "model": "mel_cnn", "epochs": "2", "optimizer": "sgd",
                        "momentum": "0.8", "label_smoothing": "0.05"}.items():
        link.query_params[name] = value
    _ok(link.run())
    assert link.selectbox(key="train-data_builtin").value == "builtin:sounds"
    assert link.selectbox(key="train-model-builtin:sounds").value == "mel_cnn" and _number(link, "Epochs").value == 2
    assert [n for n in link.selectbox if n.label == "Optimizer"][0].value == "sgd"
    assert [s for s in link.slider if s.label == "Momentum"][0].value == 0.8
    assert _number(link, "Label smoothing").value == 0.05


def test_a_broken_link_cannot_break_the_page():
    at = AppTest.from_file(TRAIN, default_timeout=60)
    for name, value in {"epochs": "-4", "batch_size": "many", "model": "no-such-model", "momentum": "7"}.items():
        at.query_params[name] = value
    _ok(at.run())
    assert _number(at, "Epochs").value >= 1 and at.selectbox(key="train-model-builtin:digits").value == "cnn"  # the default for the data


def test_the_lr_finder_settings_are_in_the_url_too():
    link = AppTest.from_file(LR, default_timeout=60)
    link.query_params["steps"] = "40"
    link.query_params["seeds"] = "3"
    link.query_params["lr_range"] = "[1e-05, 1.0]"
    _ok(link.run())
    assert link.number_input(key="lr-iters").value == 40 and link.number_input(key="lr-seeds").value == 3
    assert link.select_slider(key="lr-range").value == (1e-05, 1.0)


def _navigation_script():
    import streamlit as st

    from ui.nav import lab_pages

    for page in lab_pages():
        st.markdown(f"{page.title}|{page.icon}|{page.url_path}")


def test_the_navigation_names_the_home_page_home_with_the_pages_icons():
    from ui.nav import PAGES

    at = _ok(AppTest.from_function(_navigation_script).run())
    rows = [m.value.split("|") for m in at.markdown]
    assert rows[0][:2] == ["Home", "🧪"]  # not "app"
    assert [r[:2] for r in rows[1:]] == [[f.split("_", 1)[1][:-3].replace("_", " "), icon] for f, icon, _ in PAGES]
    assert [r[2] for r in rows[1:5]] == ["Datasets", "Augment", "LR_Finder", "Train"]  # the old links stay valid
    home = _ok(AppTest.from_file(APP, default_timeout=60).run())  # the entry point runs the home page
    assert home.title[0].value == "Deep-learning lab"
