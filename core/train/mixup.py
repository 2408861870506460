"""Mixup (Zhang et al. 2018): train on convex combinations of pairs of samples and of their labels.

One lambda ~ Beta(alpha, alpha) per batch; each sample's partner comes from shuffling the batch.
"""
from __future__ import annotations

import torch
from torch import nn

from core.augment.mixup import draw_lambda


def mixup_batch(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator | None = None):
    """Mix a batch with a shuffled copy of itself: returns ``(x_mixed, y, y_partner, lam)``.

    ``x_mixed = lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)`` drawn on the CPU (no device sync).
    """
    if not torch.is_floating_point(x):
        raise TypeError("mixup needs floating-point inputs (images, audio); token ids cannot be mixed")
    lam = draw_lambda(alpha, generator)
    perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
    return lam * x + (1 - lam) * x[perm], y, y[perm], lam


def mixup_loss(criterion: nn.Module, logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: float):
    """The mixed loss ``lam * L(logits, y_a) + (1 - lam) * L(logits, y_b)`` (equal to cross-entropy against the
    mixed one-hot target when ``criterion`` is cross-entropy)."""
    return lam * criterion(logits, y_a) + (1 - lam) * criterion(logits, y_b)
