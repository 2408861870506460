"""What gets attacked: a model that takes inputs in their natural units, with its class names and value range.

How lab models see their inputs today (found by reading core.data, core.models and core.augment):
- image bundles yield float pixels in [0, 1], never normalised;
- models that need ImageNet statistics normalise inside (``ResNet18Transfer.normalize``), so they take pixels;
- a training pipeline's ``Normalize`` step is taken out before training (``core.augment.sizing.fit_to_input``),
  so every run's model learned on pixels;
- audio models take waveforms (B, 1, N); spectrogram models compute log-mel with their own differentiable
  ``frontend`` when given a waveform, so an attack on the waveform goes through the front end.
Either way the attacked function takes inputs in their natural units, and epsilon is in pixel (or waveform) units.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from core.attacks.methods import PIXEL_BOUNDS, WAVE_BOUNDS

PRETRAINED_PREFIX = "pretrained:"  # a target reference naming a pretrained model: "pretrained:efficientnet_lite0"


class AttackRefused(ValueError):
    """This model or run cannot be attacked; the message says why."""


class PixelModel(nn.Module):
    """``model`` with its input normalisation in front: takes pixels in [0, 1], returns logits.

    forward(x) = model((x - mean) / std), per channel; ``mean`` / ``std`` None = the model takes pixels already.
    """

    def __init__(self, model: nn.Module, mean=None, std=None):
        super().__init__()
        self.model = model
        self.normalized = mean is not None
        if self.normalized:
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1))

    def forward(self, x):  # (B, C, H, W) pixels -> (B, classes) logits
        return self.model((x - self.mean) / self.std if self.normalized else x)


@dataclass
class AttackTarget:
    """A model ready to be attacked (eval mode) and what the page needs to show its inputs and outputs."""

    model: nn.Module  # inputs in natural units -> logits; eval mode
    classes: list[str]  # class names, index = class id
    kind: str  # 'image' | 'audio'
    name: str  # what it is: a run directory name, or the pretrained model's name
    bounds: tuple[float, float] = PIXEL_BOUNDS  # value range of one input value: pixels (0, 1), waveform (-1, 1)
    input_shape: tuple = ()  # one input: image (C, H, W), audio (1, N)
    sample_rate: int | None = None  # audio: samples per second
    bundle: Any = None  # the run's DataBundle (validation samples); None for the pretrained model
    notes: list[str] = field(default_factory=list)  # things the user should know (where the weights came from, ...)
    run_dir: str | None = None  # the run it came from (None for the pretrained model)
    prepare: Callable | None = None  # PIL image -> model input (1, C, H, W); None = resized like the run's data
    pretrained: str = ""  # the pretrained model's name (core.models.imagenet), "" for a run
    version: float = 0.0  # a run's checkpoint modification time (a new checkpoint is a new target); 0 otherwise

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are."""
        return next(self.model.parameters()).device

    @property
    def ref(self) -> str:
        """What ``load_target`` takes to load this target again (in a worker): the run directory, or
        "pretrained:NAME"."""
        return self.run_dir or f"{PRETRAINED_PREFIX}{self.pretrained}"

    @property
    def macs(self) -> int:
        """Multiply-adds of one forward pass on one input (counted once; the server's inline budget uses it)."""
        from core.inline import forward_macs

        return forward_macs(self.model, self.input_shape)


def run_problems(run_dir: str | Path) -> list[str]:
    """Why a run cannot be attacked (empty when it can): text models, no checkpoint, not a run directory."""
    from core.models import spec
    from core.train.evaluate import checkpoint_path
    from core.train.store import RunStore

    try:
        cfg = RunStore.open(run_dir).config()
    except (FileNotFoundError, ValueError) as err:
        return [str(err)]
    out = []
    try:
        if spec(cfg.get("model", "")).kind == "text":
            out.append(f"{cfg['model']} is a text model: its inputs are token ids, which are discrete, so there is "
                       "no small step to take along a gradient; attacks here work on images and audio")
    except KeyError as err:
        out.append(err.args[0])
    if checkpoint_path(run_dir) is None:
        out.append("this run saved no checkpoint (it ended before its first epoch), so there is no model to attack")
    return out


def load_run_target(run_dir: str | Path, bundle=None, device: str | torch.device = "cpu") -> AttackTarget:
    """The trained model of a run (best checkpoint, else last), wrapped so it takes inputs in natural units.

    Raises ``AttackRefused`` with the reason for text runs and runs without a checkpoint.
    """
    from core.train.evaluate import checkpoint_path, load_run_model

    problems = run_problems(run_dir)
    if problems:
        raise AttackRefused("; ".join(problems))
    try:
        model, bundle = load_run_model(run_dir, bundle)
    except RuntimeError as err:  # a checkpoint that does not fit the model its config.json describes
        raise AttackRefused(f"the run's checkpoint does not fit the model described in its config.json: {err}") \
            from None
    wrapped = PixelModel(model).eval().to(device)
    for p in wrapped.parameters():
        p.requires_grad_(False)  # our own copy: attacks need only the input's gradient
    target = AttackTarget(model=wrapped, classes=list(bundle.classes), kind=bundle.kind, name=Path(run_dir).name,
                          bounds=WAVE_BOUNDS if bundle.kind == "audio" else PIXEL_BOUNDS,
                          input_shape=tuple(bundle.input_shape), sample_rate=bundle.sample_rate, bundle=bundle,
                          run_dir=str(run_dir), version=checkpoint_path(run_dir).stat().st_mtime)
    target.macs  # noqa: B018 - counted once now, while loading, not in a later attack
    return target


def load_pretrained_target(name: str = "efficientnet_lite0", device: str | torch.device = "cpu") -> AttackTarget:
    """A pretrained ImageNet classifier (core.models.imagenet; it takes [0, 1] pixels, its normalisation inside)
    as an attack target: 1000 classes, photos centre-cropped to its input size."""
    from core.models.imagenet import load_imagenet

    net = load_imagenet(name)
    model = net.model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)  # attacks need only the input's gradient
    target = AttackTarget(model=model, classes=list(net.classes), kind="image", name=f"pretrained {name} (ImageNet)",
                          bounds=PIXEL_BOUNDS, input_shape=(3, net.input_size, net.input_size), prepare=net.prepare,
                          pretrained=name,
                          notes=[f"{net.source}; its input normalisation (mean {list(net.mean)}, std {list(net.std)}) "
                                 "is its first layer, so epsilon is in pixel units"])
    target.macs  # noqa: B018 - counted once now, while loading, not in a later attack
    return target


def load_target(ref: str, device: str | torch.device = "cpu") -> AttackTarget:
    """The target ``AttackTarget.ref`` names: "pretrained:NAME" or a run directory."""
    if ref.startswith(PRETRAINED_PREFIX):
        return load_pretrained_target(ref[len(PRETRAINED_PREFIX):], device=device)
    return load_run_target(ref, device=device)
