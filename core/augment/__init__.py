"""Augmentations for images (torchvision.transforms.v2), spectrograms and waveforms (torchaudio, librosa) and text.

The public surface: ``Pipeline`` / ``Step`` (build, sample-then-apply with recorded params, JSON, code export),
``registry(kind)`` (what can be added, with parameter specs), ``preset(kind, source)`` (the trainer's default),
``AugmentError`` (bad pipelines and parameters, with a message).
"""
from core.augment.pipeline import KINDS, Draw, Pipeline, Step, StepDraw, describe, registry
from core.augment.presets import flip_safe, preset
from core.augment.specs import AugmentError, OpSpec, ParamSpec

__all__ = ["KINDS", "AugmentError", "Draw", "OpSpec", "ParamSpec", "Pipeline", "Step", "StepDraw", "describe",
           "flip_safe", "preset", "registry"]
