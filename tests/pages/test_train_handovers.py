"""Train page: what the Augment and LR Finder pages hand over belongs to the data it was made for (issue 13)."""
from __future__ import annotations

from pathlib import Path

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
