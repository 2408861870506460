"""The inline budget: how much model work the Streamlit server may do in a page's script thread, per rerun.

The server process only draws; anything heavier runs as a job (core.jobs). The line between the two is one rule,
measured in multiply-adds (MACs) of the model's forward passes:

    a call may run inline  <=>  (forwards + GRADIENT_PASS * gradients) * macs_per_forward <= INLINE_MACS

``macs_per_forward`` is the model's MACs for one input, counted once per model and input shape with
``torch.utils.flop_counter.FlopCounterMode`` (flops / 2). A forward + backward pass counts as three forwards.
INLINE_MACS = 2e9 is about 0.2 s of CPU time on this lab's reference machine (EfficientNet-Lite0 at 224 px:
0.39 GMACs, one forward 0.04 s, one forward + backward 0.15 s of CPU time): five forwards of the pretrained ImageNet
model, or over a thousand of the 8x8 digits CNN (1.6 MMACs).

>>> macs = forward_macs(model, (3, 224, 224))                 # doctest: +SKIP
>>> fits_inline(macs, forwards=2, gradients=1)   # FGSM on one sample: before, attack, after  # doctest: +SKIP
True
"""
from __future__ import annotations

import weakref

import torch
from torch import nn

INLINE_MACS = 2e9  # multiply-adds a page may spend on model passes in one rerun (~0.2 s of one CPU)
GRADIENT_PASS = 3  # a forward + backward pass costs about three forwards

_MACS: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def forward_macs(model: nn.Module, input_shape, device: torch.device | str | None = None) -> int:
    """Multiply-adds of one forward pass of ``model`` on one input of ``input_shape`` (no batch axis), counted once
    per model and shape (one forward of zeros, in eval mode, every module's flag restored). Operations the flop
    counter does not know (an FFT front end) count as zero."""
    from torch.utils.flop_counter import FlopCounterMode

    shape = tuple(int(s) for s in input_shape)
    cached = _MACS.setdefault(model, {})
    if shape not in cached:
        if device is None:
            device = next(iter(model.parameters()), torch.zeros(0)).device
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                model(torch.zeros((1, *shape), device=device))
        finally:
            for m, training in modes:
                m.training = training
        cached[shape] = max(1, int(counter.get_total_flops()) // 2)
    return cached[shape]


def inline_forwards(macs_per_forward: int) -> int:
    """How many forward passes of a model with ``macs_per_forward`` fit in the inline budget."""
    return int(INLINE_MACS // max(1, int(macs_per_forward)))


def fits_inline(macs_per_forward: int, forwards: int = 0, gradients: int = 0) -> bool:
    """Whether ``forwards`` forward passes and ``gradients`` forward + backward passes fit in the inline budget."""
    return (forwards + GRADIENT_PASS * gradients) * max(1, int(macs_per_forward)) <= INLINE_MACS
