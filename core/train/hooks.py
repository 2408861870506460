"""Forward hooks as context managers that always remove themselves, and the activation statistics they compute.

>>> with Hooks(named_layers(model), lambda name, module, out: print(name, out.shape)):
...     model(x)          # hooks fire here
>>> # and are gone here, whatever happened inside the block
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from core.models import unwrap

NEAR_ZERO = 1e-3  # |activation| below this counts as "near zero" (ReLU's exact zeros included)
_CONTAINERS = (nn.Sequential, nn.ModuleList)


def named_layers(model: nn.Module, all_layers: bool = False) -> list[tuple[str, nn.Module]]:
    """The layers to watch: top-level children (containers expanded one level: a Sequential of blocks shows
    its blocks), or every leaf layer with ``all_layers``. Parameter-free glue (Flatten, Dropout, Identity) is skipped."""
    model = unwrap(model)
    if all_layers:
        found = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    else:
        found = []
        for name, child in model.named_children():
            if isinstance(child, _CONTAINERS) and any(list(c.children()) for c in child.children()):
                found += [(f"{name}.{n}", c) for n, c in child.named_children()]
            else:
                found.append((name, child))
    skip = (nn.Flatten, nn.Dropout, nn.Identity)
    return [(n, m) for n, m in found if not isinstance(m, skip)]


def first_tensor(out) -> torch.Tensor | None:
    """The tensor in a layer's output: itself, a PackedSequence's data, or the first tensor of a tuple (RNNs)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, PackedSequence):
        return out.data
    if isinstance(out, (tuple, list)):
        for item in out:
            t = first_tensor(item)
            if t is not None:
                return t
    return None


def activation_stats(t: torch.Tensor) -> torch.Tensor:
    """(mean, std, fraction near zero) of a tensor as one float tensor on its device (no sync)."""
    t = t.detach().float()
    std = t.std() if t.numel() > 1 else torch.zeros((), device=t.device)
    return torch.stack([t.mean(), std, (t.abs() < NEAR_ZERO).float().mean()])


def grad_norm(module: nn.Module) -> torch.Tensor | None:
    """L2 norm of all gradients of a module's parameters (None when it has no gradient)."""
    grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
    if not grads:
        return None
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))


class Hook:
    """A forward hook on one module, removed on ``remove()`` or when the ``with`` block ends."""

    def __init__(self, name: str, module: nn.Module, fn: Callable[[str, nn.Module, object], None]):
        self.name = name
        self.handle = module.register_forward_hook(lambda m, inp, out: fn(name, m, out))

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Hooks:
    """Forward hooks on several named modules; a context manager that removes all of them on exit."""

    def __init__(self, layers: Iterable[tuple[str, nn.Module]], fn: Callable[[str, nn.Module, object], None]):
        self.hooks = [Hook(name, module, fn) for name, module in layers]

    def remove(self) -> None:
        for h in self.hooks:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def __len__(self):
        return len(self.hooks)


def collapse_hint(layer: str, mean: float, std: float, frac_zero: float) -> str | None:
    """A warning when a layer's activations have collapsed (almost constant, or mostly zeros), else None."""
    if frac_zero > 0.95:
        return (f"layer {layer}: {frac_zero:.0%} of activations are zero (dead ReLUs). Try a lower learning rate, "
                "LeakyReLU instead of ReLU, or batch normalisation before the activation.")
    if std < 1e-4:
        return (f"layer {layer}: activations have collapsed to a constant (std {std:.1e}); the layer no longer "
                "passes information. Try a lower learning rate, or check the initialisation.")
    return None
