"""Train page: what the Augment and LR Finder pages hand over belongs to the data it was made for (issue 13)."""
from __future__ import annotations

from pathlib import Path

import pytest

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/4_Train.py")
PHOTO_PIPELINE = {"kind": "image", "sample_rate": None, "steps": [
    {"name": "RandomResizedCrop", "params": {"size": 224}, "p": 1.0},
    {"name": "RandomHorizontalFlip", "params": {}, "p": 0.5},
    {"name": "ColorJitter", "params": {}, "p": 0.8},
    {"name": "RandomRotation", "params": {"degrees": 89.5}, "p": 1.0}]}


def _page(**state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _augment_radio(at):
    return [r for r in at.radio if r.label == "Augmentation"][0]


def test_a_pipeline_built_on_a_photo_is_offered_not_preselected_for_digits():
    at = _page(augment_for_training=PHOTO_PIPELINE, augment_for_training_from=None)
    radio = _augment_radio(at)
    assert radio.options[0] == "from the Augment page" and radio.value == "preset"
    captions = " ".join(c.value for c in at.caption)
    assert "built on a sample photo or an upload, not on builtin:digits, so it is offered" in captions
    assert "Augmentation: the preset for this data" in captions  # said outside the collapsed expander


def test_a_chosen_photo_pipeline_is_fitted_to_the_model_input_with_the_reason_shown():
    at = _page(augment_for_training=PHOTO_PIPELINE, augment_for_training_from=None)
    _augment_radio(at).set_value("from the Augment page").run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "RandomResizedCrop: size 224 px set to 32 px" in warnings


def test_a_pipeline_built_on_this_data_is_preselected_and_shown():
    at = _page(augment_for_training=PHOTO_PIPELINE, augment_for_training_from="builtin:digits")
    assert _augment_radio(at).value == "from the Augment page"
    assert any(c.value.startswith("Augmentation: from the Augment page (RandomResizedCrop") for c in at.caption)
    assert any("size 224 px set to 32 px" in w.value for w in at.warning)  # a warning in sight, not silence


FOUND_ON_DIGITS = {"model": "cnn", "optimizer": "sgd", "batch_size": 48, "data": "builtin:digits", "job": "j1"}


def _lr_field(at):
    return [n for n in at.number_input if n.label == "Learning rate"][0]


def test_an_lr_found_for_digits_is_offered_not_filled_in_for_spoken_sounds():
    """Issue 13 item 5: the digits/cnn LR was pre-filled for another data set and model, with a warning at most."""
    from core.train import recommended

    at = _page(lr_for_training=0.0123, lr_for_training_from=FOUND_ON_DIGITS, data_source="builtin:sounds")
    model = at.selectbox(key="train-model-builtin:sounds").value
    assert model != "cnn" and _lr_field(at).value == pytest.approx(recommended(model, "builtin:sounds").lr)
    assert any(f"found 1.23e-02 for cnn on builtin:digits; this form is {model} on builtin:sounds" in c.value
               for c in at.caption)
    at.button(key="train-lr-accept").click().run()  # the user wants it anyway
    assert not at.exception and _lr_field(at).value == pytest.approx(0.0123)


def test_an_lr_found_for_this_data_and_model_is_filled_in():
    at = _page(lr_for_training=0.0123, lr_for_training_from=FOUND_ON_DIGITS, data_source="builtin:digits")
    assert at.selectbox(key="train-model-builtin:digits").value == "cnn" and _lr_field(at).value == pytest.approx(0.0123)
    assert not [b for b in at.button if b.key == "train-lr-accept"]
    at.selectbox(key="train-model-builtin:digits").set_value("mlp").run()  # another model on the same data: offered only
    assert _lr_field(at).value != pytest.approx(0.0123)
    assert any("found 1.23e-02 for cnn on builtin:digits; this form is mlp" in c.value for c in at.caption)
