"""The Train and LR Finder pages pre-fill exactly what core gives: the default model for the data
(core.models.default_model) and that model's defaults for the data (core.train.recommended), as the CLI does."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import data
from core.models import default_model
from core.train import recommended

ROOT = Path(__file__).resolve().parents[2]


def _by_label(widgets, label):
    return [w for w in widgets if w.label == label][0]


def _open(page: str, key: str, source: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=90).run()
    at.selectbox(key=f"{key}-data_builtin").set_value(source).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("source", ["builtin:sounds", "builtin:shapes"])
def test_train_page_prefills_the_core_defaults(source):
    at = _open("pages/4_Train.py", "train", source)
    model = default_model(data.load(source, verify=False, cache_mb=0))
    core = recommended(model, source)
    assert at.selectbox(key=f"train-model-{source}").value == model
    assert _by_label(at.number_input, "Epochs").value == core.epochs
    assert _by_label(at.number_input, "Batch size").value == core.batch_size
    assert _by_label(at.number_input, "Learning rate").value == pytest.approx(core.lr)
    assert _by_label(at.number_input, "Weight decay").value == pytest.approx(core.weight_decay)
    assert _by_label(at.selectbox, "Optimizer").value == core.optimizer
    assert _by_label(at.selectbox, "LR schedule").value == core.scheduler
    assert _by_label(at.radio, "Augmentation").value == ("preset" if core.augment_preset else "none")
    if model == "efficientnet_lite0":  # shapes are colour: the pretrained model, head only on cached features
        assert _by_label(at.number_input, "Frozen epochs").value == core.freeze_epochs == core.epochs
        assert _by_label(at.checkbox, "Keep batch-norm trainable").value is core.train_bn is False
        assert any("pip package" in c.value for c in at.caption)  # what will be loaded, before launch
        assert any("computed once per image" in c.value for c in at.caption)
    assert core.epochs != recommended("cnn", "builtin:digits").epochs  # not the digits defaults any more


def test_train_page_keeps_per_source_model_options():
    at = _open("pages/4_Train.py", "train", "builtin:shapes")
    at.selectbox(key="train-model-builtin:shapes").set_value("cnn").run()
    assert _by_label(at.number_input, "width").value == recommended("cnn", "builtin:shapes").model_opts["width"] == 16
    assert _by_label(at.number_input, "Epochs").value == 30


def test_lr_page_prefills_the_core_defaults():
    at = _open("pages/3_LR_Finder.py", "lr", "builtin:sounds")
    core = recommended("mel_cnn", "builtin:sounds")
    assert at.selectbox(key="lr-model-builtin:sounds").value == "mel_cnn"
    assert _by_label(at.number_input, "Batch size").value == core.batch_size
    assert _by_label(at.selectbox, "Optimizer").value == core.optimizer


def test_transfer_form_says_when_nothing_pretrained_is_there(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # no resnet18 weights; downloads are off
    at = _open("pages/4_Train.py", "train", "builtin:shapes")
    at.selectbox(key="train-model-builtin:shapes").set_value("resnet18").run()
    assert any("downloads are off" in w.value for w in at.warning)  # said before launch
    assert _by_label(at.number_input, "Frozen epochs").value == 0  # a random backbone is not frozen by default
