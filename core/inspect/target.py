"""What is being inspected: a trained run's model with its validation examples, in the form its layers take them.

>>> target = load_run(run_dir)                                # doctest: +SKIP
>>> x, y = target.batch(range(8))                             # inputs as the layers see them (log-mel for mel_cnn)
>>> rows = layer_table(target.model, target.input_shape)     # doctest: +SKIP
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

RANGE_SAMPLES = 32  # validation examples used to find the value range of spectrogram inputs


@dataclass
class InspectTarget:
    """A model in eval mode on the CPU, with examples it can be shown."""

    model: nn.Module  # eval mode, CPU; do not use from two threads at once (inspection adds hooks)
    name: str  # registry name ('cnn', 'mel_cnn', ...) or the pretrained model's name
    classes: list[str]  # class names, index = class id
    kind: str  # 'image' | 'audio' | 'text'
    input_kind: str  # 'image' | 'spectrogram' | 'waveform' | 'tokens': what ``batch`` returns
    input_shape: tuple  # one input as the model's layers take it (features for spectrogram models); () for text
    samples: Dataset  # validation examples as (input, class id); class id -1 when unknown
    value_range: tuple[float, float] | None  # range of the inputs (None for token ids)
    grey: float  # a neutral input value: where class visualisation starts
    source: str  # the run directory, or where the pretrained weights came from
    raw: Dataset | None = None  # the examples as the whole model takes them (waveforms for mel models)
    collate_fn: object = None  # text: pads token ids
    sample_names: list[str] | None = None  # captions of the examples when they have names (sample photos)
    pretrained_ref: str = ""  # "imagenet:NAME" for a pretrained model ("" for a run: ``source`` names it)
    freezing: object = None  # a run's core.train.evaluate.Freezing (what it trained); None for a pretrained model

    def batch(self, indices, *, raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Stack examples ``indices`` into (x, y); ``raw=True``: as the whole model takes them (for export)."""
        ds = self.raw if raw and self.raw is not None else self.samples
        items = [ds[int(i)] for i in indices]
        if self.collate_fn is not None:
            return self.collate_fn(items)
        return torch.stack([torch.as_tensor(x) for x, _ in items]), torch.tensor([int(y) for _, y in items])

    @property
    def ref(self) -> str:
        """What ``load_target`` takes to load this target again (in a job): the run directory or "imagenet:NAME"."""
        return self.pretrained_ref or self.source

    @property
    def spatial(self) -> bool:
        """Inputs with positions a convolution slides over (Grad-CAM, receptive field, class visualisation)."""
        return self.input_kind in ("image", "spectrogram", "waveform")


def _range(dataset: Dataset) -> tuple[tuple[float, float], float]:
    xs = torch.stack([dataset[i][0] for i in range(min(len(dataset), RANGE_SAMPLES))])
    return (float(xs.min()), float(xs.max())), float(xs.mean())


def from_bundle(model: nn.Module, bundle, *, name: str, source: str) -> InspectTarget:
    """An InspectTarget from a model and the DataBundle it was trained on (its validation split)."""
    from core.models import CachedFeatures, spec

    val = bundle.splits["val"]
    if bundle.kind == "text":
        return InspectTarget(model, name, list(bundle.classes), "text", "tokens", (), val, None, 0.0, source,
                             raw=val, collate_fn=bundle.collate_fn)
    if spec(name).input_features == "logmel":
        feats = CachedFeatures(val, model.frontend)
        value_range, grey = _range(feats)
        return InspectTarget(model, name, list(bundle.classes), "audio", "spectrogram", tuple(feats[0][0].shape),
                             feats, value_range, grey, source, raw=val)
    if bundle.kind == "audio":
        return InspectTarget(model, name, list(bundle.classes), "audio", "waveform", tuple(bundle.input_shape),
                             val, (-1.0, 1.0), 0.0, source, raw=val)
    return InspectTarget(model, name, list(bundle.classes), "image", "image", tuple(bundle.input_shape), val,
                         (0.0, 1.0), 0.5, source, raw=val)


def load_run(run_dir: str | Path, bundle=None) -> InspectTarget:
    """A finished (or stopped) run's model from its best (else last) checkpoint, with its validation examples.

    ``bundle``: the run's data when already loaded. Raises FileNotFoundError when the run has no checkpoint.
    """
    from core.train.evaluate import load_run_model
    from core.train.store import RunStore

    from core.train.evaluate import run_freezing

    model, bundle = load_run_model(run_dir, bundle)
    store = RunStore.open(run_dir)
    cfg = store.config()
    target = from_bundle(model, bundle, name=cfg["model"], source=str(run_dir))
    target.freezing = run_freezing(model, cfg, store.info().epochs_done)
    return target


IMAGENET_PREFIX = "imagenet:"  # where a target names a pretrained ImageNet model instead of a run directory


def imagenet_target(name: str = "efficientnet_lite0") -> InspectTarget:
    """A pretrained ImageNet classifier (core.models.imagenet) with scikit-image's sample photos as examples.

    The photos have no ImageNet label: their class id is -1.
    """
    from core.data.photos import sample_photos
    from core.models.imagenet import load_imagenet

    net = load_imagenet(name)
    photos = sample_photos()
    samples = [(net.prepare(img)[0], -1) for img in photos.values()]  # (3, S, S) in [0, 1]
    model = net.model
    if isinstance(model, nn.Sequential) and len(model) == 2:  # (normalisation, network): names for the table
        model = nn.Sequential(OrderedDict([("normalize", model[0]), ("net", model[1])])).eval()
    return InspectTarget(model, name, list(net.classes), "image", "image", tuple(samples[0][0].shape),
                         samples, (0.0, 1.0), 0.5, net.source, raw=samples, sample_names=list(photos),
                         pretrained_ref=f"{IMAGENET_PREFIX}{name}")


def load_target(where: str | Path) -> InspectTarget:
    """``load_run(run_dir)``, or ``imagenet_target(name)`` for ``"imagenet:NAME"``."""
    where = str(where)
    if where.startswith(IMAGENET_PREFIX):
        return imagenet_target(where[len(IMAGENET_PREFIX):])
    return load_run(where)


def example_batch(target: InspectTarget, n: int = 8, *, raw: bool = True) -> torch.Tensor:
    """The first ``n`` validation inputs (as the whole model takes them when ``raw``): the export check batch."""
    return target.batch(range(min(n, len(target.samples))), raw=raw)[0]


def export_run(run_dir: str | Path, fmt: str, out: str | Path, *, n_check: int = 8, target=None):
    """Export a run's model (see ``core.inspect.export``), checked on ``n_check`` validation examples."""
    from core.inspect.export import export_model

    target = target or load_run(run_dir)
    return export_model(target.model, example_batch(target, n_check), fmt, out, classes=target.classes)
