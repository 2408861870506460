"""The launch form refuses exactly what the worker would refuse (core/train/checks.py)."""
from __future__ import annotations

import sys

import pytest

from core.augment import Pipeline, Step
from core.train import TrainConfig, fit
from core.train.checks import batch_warning, train_problems
from core.train.data import augmentation
from core.train.synthetic import synthetic_bundle
from core.train.worker import launch_problems

SPEC_PIPE = Pipeline("spectrogram", [Step("TimeMasking", {"max_width": 5})]).to_dict()
WAVE_PIPE = Pipeline("audio", [Step("Gain", {})]).to_dict()
IMAGE_PIPE = Pipeline("image", [Step("RandomHorizontalFlip", {}, 0.5)]).to_dict()

REFUSED = {  # config fields, data kind, words of the reason
    "spectrogram pipeline, waveform model": (dict(model="wave_cnn", augment=SPEC_PIPE), "audio", "wave_cnn"),
    "image pipeline, audio model": (dict(model="mel_cnn", augment=IMAGE_PIPE), "audio", "kind spectrogram or audio"),
    "a pipeline that is not valid": (dict(model="cnn", augment={"kind": "image", "steps": [{"name": "Blur"}]}),
                                     "image", "not valid"),
    "model for other data": (dict(model="lstm"), "image", "is for text data"),
    "unknown optimizer": (dict(model="mlp", optimizer="rmsprop"), "image", "optimizer must be one of"),
    "mixup on text": (dict(model="gru", mixup_alpha=0.2), "text", "mixup"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_form_refuses_the_worker_refuses_with_the_same_reason(case, tmp_path):
    fields, kind, words = REFUSED[case]
    config = TrainConfig(epochs=1, max_steps=1, runs_dir=str(tmp_path), tensorboard=False, stats_every=0, **fields)
    problems = launch_problems(config, kind)
    assert problems and any(words in p for p in problems), problems
    with pytest.raises(ValueError) as raised:  # the worker's fit, on data of that kind
        fit(config, bundle=synthetic_bundle(kind, n=8))
    assert problems[0] in str(raised.value)


@pytest.mark.parametrize("model, pipe", [("mel_cnn", SPEC_PIPE), ("mel_cnn", WAVE_PIPE), ("wave_cnn", WAVE_PIPE)])
def test_pipelines_the_model_takes_are_accepted_and_train(model, pipe, tmp_path):
    config = TrainConfig(model=model, augment=pipe, epochs=1, max_steps=1, batch_size=4, runs_dir=str(tmp_path),
                         tensorboard=False, stats_every=0)
    assert launch_problems(config, "audio") == []
    assert fit(config, bundle=synthetic_bundle("audio", n=8)).status == "finished"


def test_without_the_data_kind_the_models_kind_decides():
    config = TrainConfig(model="wave_cnn", augment=SPEC_PIPE)
    assert train_problems(config) == train_problems(config, "audio") != []


def test_augmentation_does_not_train_silently_without_core_augment(monkeypatch):
    monkeypatch.setitem(sys.modules, "core.augment", None)  # as if the package failed to import
    with pytest.raises(ImportError):
        augmentation(TrainConfig(model="cnn"), "image", False)


def test_batch_warning_only_when_the_batch_is_larger_than_the_training_set():
    assert batch_warning(64, 64) is None and batch_warning(64, None) is None
    assert "larger than the 10 training examples" in batch_warning(11, 10)
