"""Fitting an Augment-page pipeline to the size the model trains on (issue 13, item 1)."""
from __future__ import annotations

import torch

from core.augment import Pipeline, Step
from core.augment.sizing import fit_to_input

PHOTO = Pipeline("image", [Step("RandomResizedCrop", {"size": 224}), Step("RandomHorizontalFlip", {}, 0.5),
                           Step("ColorJitter", {}, 0.8), Step("RandomRotation", {"degrees": 89.5, "expand": True})])


def _output_shape(pipe: Pipeline, shape) -> tuple:
    torch.manual_seed(0)  # a test, not the server: the global generator is fine here
    return tuple(pipe.build()(torch.rand(*shape)).shape)


def test_a_photo_pipeline_is_fitted_to_32px_digits_with_the_reasons():
    assert _output_shape(PHOTO, (3, 32, 32)) != (3, 32, 32)  # as handed over, torchvision makes 224 px crops
    fitted, notes = fit_to_input(PHOTO, (3, 32, 32))
    assert fitted.steps[0].params["size"] == 32 and fitted.steps[3].params["expand"] is False
    assert [s.name for s in fitted.steps] == [s.name for s in PHOTO.steps]  # nothing else added or dropped
    assert len(notes) == 2 and "224 px set to 32 px" in notes[0] and "expand turned off" in notes[1]
    for _ in range(5):
        assert _output_shape(fitted, (3, 32, 32)) == (3, 32, 32)  # what torchvision now really produces


def test_a_pipeline_that_already_fits_is_left_alone():
    cifar = Pipeline("image", [Step("Pad", {"padding": 4}), Step("RandomCrop", {"size": 32}),
                               Step("RandomHorizontalFlip", {}, 0.5)])
    fitted, notes = fit_to_input(cifar, (3, 32, 32))
    assert notes == [] and fitted.to_dict() == cifar.validated().to_dict()


def test_padding_alone_gets_a_final_resize():
    fitted, notes = fit_to_input(Pipeline("image", [Step("Pad", {"padding": 8})]), (1, 32, 32))
    assert [s.name for s in fitted.steps] == ["Pad", "Resize"] and "48 px" in notes[0]
    assert _output_shape(fitted, (1, 32, 32)) == (1, 32, 32)


def test_normalize_is_taken_out_with_the_reason():
    fitted, notes = fit_to_input(Pipeline("image", [Step("RandomHorizontalFlip", {}, 0.5),
                                                    Step("Normalize", {"mean": [0.5], "std": [0.25]})]), (1, 32, 32))
    assert [s.name for s in fitted.steps] == ["RandomHorizontalFlip"]
    assert len(notes) == 1 and notes[0].startswith("step 2 Normalize removed")
    odd, notes = fit_to_input(Pipeline("image", [Step("Normalize", {})]), (3, 32, 48))  # not square: still removed
    assert odd.steps == [] and len(notes) == 1


def test_a_normalize_only_pipeline_trains_on_plain_pixels():
    from core.data import load
    from core.models import build_for
    from core.train import TrainConfig
    from core.train.data import prepare_splits
    from core.train.lr_finder import _own_train_split

    bundle = load("builtin:digits")
    pipeline = Pipeline("image", [Step("Normalize", {"mean": [0.5], "std": [0.25]})]).validated().to_dict()
    config = TrainConfig(data="builtin:digits", model="mlp", augment=pipeline, augment_preset=False)
    train, _, notices = prepare_splits(config, _own_train_split(bundle), build_for(bundle, "mlp"))
    assert train.transform is None and any("Normalize removed" in n for n in notices)
    x = train[0][0]
    assert x.min() >= 0 and x.max() <= 1 and torch.equal(x, bundle.splits["train"][0][0])


def test_the_worker_trains_on_the_fitted_size_and_says_so():
    from core.data import load
    from core.models import build_for
    from core.train import TrainConfig
    from core.train.data import prepare_splits
    from core.train.lr_finder import _own_train_split

    bundle = load("builtin:digits")
    config = TrainConfig(data="builtin:digits", model="mlp", augment=PHOTO.validated().to_dict())
    own = _own_train_split(bundle)  # the shared bundle stays without a transform
    train, val, notices = prepare_splits(config, own, build_for(bundle, "mlp"))
    torch.manual_seed(0)
    assert train[0][0].shape == val[0][0].shape == (1, 32, 32)
    assert any("224 px set to 32 px" in n for n in notices)
