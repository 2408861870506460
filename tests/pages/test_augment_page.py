"""The Augment page under AppTest: every section runs, the main controls change what is shown."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/2_Augment.py"), default_timeout=120)
    return at.run()


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_image_section_draws_and_edits(app):
    assert not app.exception
    assert any("8 draws" in m.value for m in app.markdown)
    before = _captions(app)
    assert any("ResizedCrop: top" in c for c in before)
    app.slider(key="img_n").set_value(4).run()
    assert any("4 draws" in m.value for m in app.markdown)
    app.number_input(key="img_seed").set_value(7).run()
    assert _captions(app) != before and not app.exception
    code = next(c.value for c in app.code if "v2.Compose" in c.value)
    namespace: dict = {}
    exec(compile(code, "exported.py", "exec"), namespace)  # noqa: S102 - the page's own export runs
    assert "pipeline" in namespace


def test_add_remove_reorder_and_warnings(app):
    app.selectbox(key="img_add_name").set_value("RandomRotation").run()
    app.button(key="img_add").click().run()
    names = [s["name"] for s in app.session_state["img_steps"]]
    assert names[-1] == "RandomRotation"
    rotation_id = app.session_state["img_steps"][-1]["id"]
    app.slider(key=f"img_{rotation_id}_degrees").set_value(60.0).run()
    assert any("corners" in w.value for w in app.warning)
    app.button(key=f"img_{rotation_id}_up").click().run()
    assert [s["name"] for s in app.session_state["img_steps"]][-2] == "RandomRotation"
    app.button(key=f"img_{rotation_id}_remove").click().run()
    assert "RandomRotation" not in [s["name"] for s in app.session_state["img_steps"]]
    assert not app.exception


def test_invalid_setting_is_reported_not_raised(app):
    app.selectbox(key="img_add_name").set_value("Normalize").run()
    app.button(key="img_add").click().run()
    step_id = app.session_state["img_steps"][-1]["id"]
    app.text_input(key=f"img_{step_id}_std").set_value("0.2, 0, 0.2").run()
    assert not app.exception
    assert any("Normalize.std must be greater than 0" in e.value for e in app.error)


def test_use_in_training_hands_over_the_pipeline(app):
    app.button(key="img_use").click().run()
    handed = app.session_state["augment_for_training"]
    assert handed["kind"] == "image" and [s["name"] for s in handed["steps"]][:1] == ["RandomResizedCrop"]
    assert json.dumps(handed)
    assert any("Train offers it" in s.value for s in app.info)  # built on a sample photo: offered (issue 19)
    app.slider(key=f"img_{app.session_state['img_steps'][0]['id']}__probability").set_value(0.5).run()
    assert not any("Train offers it" in s.value for s in app.info)  # edited since: not what Train has


@pytest.mark.parametrize("section, expect", [
    ("Batch", "(#"), ("Spectrogram", "Masked bands"), ("Waveform", "PitchShift"), ("Text", "Synonyms (offline)"),
    ("Mixup", None)])
def test_every_section_runs(app, section, expect):
    app.radio(key="augment_section").set_value(section).run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    if expect:
        assert any(expect in c for c in _captions(app) + [m.value for m in app.markdown]), section


def test_batch_of_texts_keeps_labels(app):
    app.radio(key="augment_section").set_value("Batch").run()
    app.radio(key="batch_kind").set_value("text").run()
    lines = [m.value for m in app.markdown if "(#" in m.value]
    assert not app.exception and len(lines) == 12 and all(line.startswith("**") for line in lines)


def test_mixup_beta_draw_and_soft_label(app):
    app.radio(key="augment_section").set_value("Mixup").run()
    app.radio(key="mix_mode").set_value("Draw from Beta(α, α)").run()
    app.button(key="mix_draw").click().run()
    assert not app.exception and len(app.get("plotly_chart")) == 2  # Beta density + soft label


def test_text_highlights_changes(app):
    """Each of the draws (not the colour legend) marks the words that changed, and only those."""
    import html
    import re

    app.radio(key="augment_section").set_value("Text").run()
    app.slider(key="text_n").set_value(3).run()
    assert not app.exception
    sentence = app.text_area(key="text_sentence").value
    draws = [m.value for m in app.markdown if re.match(r"\d+\. ", m.value)]
    assert [d.split(".")[0] for d in draws] == ["1", "2", "3"]
    marked = 0
    for draw in draws:
        spans = re.findall(r'<span title="(\w+)(?: \(was ([^)]*)\))?"[^>]*>([^<]*)</span>', draw)
        marked += len(spans)
        for tag, was, word in spans:
            assert tag in ("synonym", "inserted", "swapped")
            if tag == "synonym":
                assert html.unescape(was) in sentence.split() and html.unescape(word) != html.unescape(was)
        plain = re.sub(r"<span[^>]*>[^<]*</span>", "", draw.split(" <span style=\"color:#b91c1c\">")[0])
        unmarked = [w for w in html.unescape(plain[3:]).split()]
        assert all(w in sentence.split() for w in unmarked), unmarked  # what is not marked is unchanged
    assert marked > 0  # the default pipeline changes something in three draws of a 25-word sentence


@pytest.mark.parametrize("inputs, images, charts", [("Two images from a dataset", 3, 2),
                                                     ("Two clips (spectrograms)", 0, 5)])
def test_mixup_from_datasets(app, inputs, images, charts):
    """Images: 3 pictures + Beta density + soft label; clips: 3 spectrograms + Beta density + soft label."""
    app.radio(key="augment_section").set_value("Mixup").run()
    app.radio(key="mix_src").set_value(inputs).run()
    assert not app.exception and not app.error
    assert len(app.get("image")) == images and len(app.get("plotly_chart")) == charts


def test_image_from_a_dataset_sample(app):
    app.radio(key="img_src").set_value("Dataset sample").run()
    assert not app.exception and not app.error
    assert any("8 draws" in m.value for m in app.markdown)


def test_a_sentence_without_words_says_so(app):
    app.radio(key="augment_section").set_value("Text").run()
    app.text_area(key="text_sentence").input("   ").run()
    assert not app.exception and "nothing to augment" in app.info[0].value
    assert not any(m.value.startswith("1. ") for m in app.markdown)  # no empty draws listed


def test_mixup_of_a_class_with_itself_is_refused(app):
    app.radio(key="augment_section").set_value("Mixup").run()
    app.radio(key="mix_src").set_value("Two images from a dataset").run()
    app.selectbox(key="mix_c2").select(app.selectbox(key="mix_c1").value).run()
    assert not app.exception and "two different classes" in app.warning[0].value
    assert len(app.get("image")) == 0  # nothing mixed


def test_soft_label_classes_are_categories():
    import torch

    from ui.augment_figures import soft_label_figure

    assert soft_label_figure(["0", "1"], torch.tensor([0.7, 0.3])).layout.xaxis.type == "category"


@pytest.mark.parametrize("section", ["Image", "Batch"])
def test_an_empty_image_pipeline_shows_the_input_unchanged(app, section):
    app.session_state["img_steps"] = []  # every step removed
    app.radio(key="augment_section").set_value(section).run()
    assert not app.exception and not app.error and len(app.get("image")) >= 8


# ---- issue 13 on this page: waits, uploads, help texts, captions, expanders, colour scales ---------------------------
class FakeUpload:
    """What st.file_uploader returns, as far as the page uses it."""

    def __init__(self, name: str, data: bytes):
        self.name, self.file_id, self._data = name, f"id-{name}", data

    def getvalue(self) -> bytes:
        return self._data


def _uploads(monkeypatch, by_key: dict):
    """st.file_uploader answers with the given FakeUpload for its key (AppTest cannot upload files itself)."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    real, real_method = st.file_uploader, DeltaGenerator.file_uploader
    monkeypatch.setattr(st, "file_uploader", lambda label, *a, key=None, **kw: by_key[key] if key in by_key
                        else real(label, *a, key=key, **kw))
    monkeypatch.setattr(DeltaGenerator, "file_uploader", lambda self, label, *a, key=None, **kw: by_key[key]
                        if key in by_key else real_method(self, label, *a, key=key, **kw))


@pytest.mark.parametrize("section, source_key, source, upload_key, name", [
    ("Image", "img_src", "Upload", "img_upload", "holiday.jpg"),
    ("Waveform", "wave_src", "Upload", "wave_up", "voice.wav"),
    ("Spectrogram", "spec_src", "Upload", "spec_up", "voice.wav")])
def test_an_unreadable_upload_is_named_without_python_internals(monkeypatch, section, source_key, source,
                                                                 upload_key, name):
    _uploads(monkeypatch, {upload_key: FakeUpload(name, b"these bytes are no picture and no sound")})
    at = AppTest.from_file(str(ROOT / "pages/2_Augment.py"), default_timeout=120).run()
    at.radio(key="augment_section").set_value(section).run()
    at.radio(key=source_key).set_value(source).run()
    errors = [e.value for e in at.error]
    assert not at.exception and len(errors) == 1 and name in errors[0], errors
    assert "BytesIO" not in errors[0] and "0x" not in errors[0]


def test_a_pipeline_file_that_is_not_json_says_so(monkeypatch):
    _uploads(monkeypatch, {"img_load": FakeUpload("notes.json", b"this is not json")})
    at = AppTest.from_file(str(ROOT / "pages/2_Augment.py"), default_timeout=120).run()
    errors = [e.value for e in at.error]
    assert not at.exception and len(errors) == 1 and "notes.json is not a pipeline file" in errors[0], errors
    assert "Expecting value" not in errors[0]


def test_help_texts_show_no_markup(app):
    """The transform menus and captions are plain text: no reStructuredText ``name`` markup from docstrings."""
    for section, key in (("Text", "text"), ("Waveform", "wave"), ("Spectrogram", "spec")):
        app.radio(key="augment_section").set_value(section).run()
        shown = list(app.selectbox(key=f"{key}_add_name").options) + _captions(app)  # options as displayed
        assert not [s for s in shown if "``" in s], section


def test_step_captions_are_not_markdown_lists_and_break_between_words(app):
    strip = [c for c in _captions(app) if "RandomResizedCrop" in c.replace("\u200b", "")]
    assert strip, _captions(app)
    for caption in strip:
        assert not re.match(r"^\s*\d+\. ", caption)  # "1. Name" would render as an ordered list
        assert "Random\u200bResized\u200bCrop" in caption  # a long name may wrap between its words, not inside them


def test_adding_a_step_keeps_the_other_steps_open(app):
    before = {e.label: e.proto.expanded for e in app.expander if "(p =" in e.label}
    assert len(before) == 3 and all(before.values())
    app.selectbox(key="img_add_name").set_value("RandomRotation").run()
    app.button(key="img_add").click().run()
    after = [e.proto.expanded for e in app.expander if "(p =" in e.label]
    assert after == [True, True, True, True]  # the three stay open and the new one opens


def test_waveform_panels_share_one_colour_scale(app):
    app.radio(key="augment_section").set_value("Waveform").run()
    ranges = {(t["zmin"], t["zmax"]) for chart in app.get("plotly_chart")
              for t in json.loads(chart.proto.spec)["data"] if t["type"] == "heatmap"}
    assert len(app.get("plotly_chart")) == 7 and len(ranges) == 1, ranges  # original, 5 steps, whole pipeline


def test_waveform_reruns_compute_only_what_changed(app, monkeypatch):
    from core.augment.pipeline import Pipeline

    app.radio(key="augment_section").set_value("Waveform").run()
    calls = []
    real = Pipeline.sample
    monkeypatch.setattr(Pipeline, "sample", lambda self, *a, **kw: calls.append([s.name for s in self.steps])
                        or real(self, *a, **kw))
    app.run()
    assert calls == []  # nothing changed: every row comes from the cache
    gain = next(s for s in app.session_state["wave_steps"] if s["name"] == "Gain")
    app.slider(key=f"wave_{gain['id']}_gain_db").set_value((-3.0, 3.0)).run()
    assert not app.exception
    assert calls == [["Gain"], ["AddNoise", "Gain", "TimeShift", "PitchShift", "TimeStretch"]]
