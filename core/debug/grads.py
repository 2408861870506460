"""Gradient statistics per layer: the L2 norm of each layer's gradient, its weights' norm and the size of the
optimizer's update relative to the weights (the "1e-3 rule of thumb"), and the flags that read them.

All norms of one record come from one fused pass: the tensors are concatenated into one flat vector and reduced
per layer with ``torch.segment_reduce`` (public; ``torch._foreach_norm`` is private). A layer's norm is the L2 norm
of all its parameters' entries, i.e. ``sqrt(sum_p ||p.grad||^2)``, the same as
``torch.nn.utils.get_total_norm([p.grad for p in layer])``.

>>> layers = param_layers(model)                 # [(name, [parameters]), ...] in registration order
>>> norms = layer_norms([[p.grad for p in ps if p.grad is not None] for _, ps in layers])   # (layers,) tensor
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn

from core.models import unwrap
from core.train.config import TrainConfig

EXPLODE_JUMP = 10.0  # a layer's gradient norm 10x above its previous record (and its first) reads as exploding
VANISH_RATIO = 1e-4  # the smallest layer norm 4 orders of magnitude below the largest reads as vanishing
RULE_OF_THUMB = 1e-3  # update / weight around 1e-3 is healthy; 1e-1 is too fast, 1e-5 too slow
# record every TrainConfig.grad_every (10) steps: the fused pass then costs well under 3% of a step (bench_debug.py)
DEFAULT_EVERY = TrainConfig.grad_every


def param_layers(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """The layers that own parameters directly (Linear, Conv, BatchNorm, ...), with those parameters, in the order
    they were registered (the forward order for the lab's models). Frozen parameters count too."""
    model = unwrap(model)
    out = []
    for name, module in model.named_modules():
        params = list(module.parameters(recurse=False))
        if params:
            out.append((name or type(model).__name__, params))
    return out


def layer_norms(tensors_by_layer: list[list[torch.Tensor]]) -> torch.Tensor:
    """L2 norm per layer of the given tensors, in one fused pass: (layers,) float32 on their device.

    A layer with no tensor (all frozen) gets NaN; a non-finite entry makes its layer's norm non-finite.
    Norms below about 1e-19 underflow to 0 in float32 (they read as vanished either way).
    """
    parts = [t.detach().reshape(-1) for ts in tensors_by_layer for t in ts]
    lengths = [sum(t.numel() for t in ts) for ts in tensors_by_layer]
    if not parts:
        return torch.full((len(tensors_by_layer),), math.nan)
    flat = torch.cat(parts).float()  # every tensor as one vector: the passes below are one kernel each
    sums = torch.segment_reduce(flat * flat, "sum", lengths=torch.tensor(lengths, device=flat.device), initial=0.0)
    empty = torch.tensor([n == 0 for n in lengths], device=flat.device)
    return sums.sqrt().masked_fill(empty, math.nan)


def grads_by_layer(layers) -> list[list[torch.Tensor]]:
    """Each layer's present gradients (``p.grad`` is None for frozen or unused parameters)."""
    return [[p.grad for p in params if p.grad is not None] for _, params in layers]


def weights_by_layer(layers) -> list[list[torch.Tensor]]:
    """Each layer's parameter tensors (detached)."""
    return [[p.detach() for p in params] for _, params in layers]


@dataclass
class GradFlag:
    """A problem read from the recorded gradient norms."""

    kind: str  # 'exploding' or 'vanishing'
    layer: str  # the first layer (forward order) that shows it
    step: int  # the step of the record that shows it
    message: str  # what it means and what to try

    def to_dict(self) -> dict:
        return {"kind": self.kind, "layer": self.layer, "step": self.step, "message": self.message}


def exploding_flag(step: int, names: list[str], norms: list[float], previous: dict[str, float],
                   first: dict[str, float]) -> GradFlag | None:
    """The first layer whose norm is non-finite, or jumped ``EXPLODE_JUMP`` x above both its previous and its first
    record; None when no layer did."""
    for name, value in zip(names, norms):
        if value is None:  # no gradient (frozen)
            continue
        if not math.isfinite(value):
            why = f"its gradient became non-finite ({value}) at step {step}"
        elif (previous.get(name, 0) > 0 and value >= EXPLODE_JUMP * previous[name]
              and value >= EXPLODE_JUMP * first.get(name, math.inf)):
            why = f"its gradient norm jumped {value / previous[name]:.0f}x to {value:.3g} at step {step}"
        else:
            continue
        return GradFlag("exploding", name, step,
                        f"exploding gradients: layer {name} is the first to blow up ({why}). Try a lower learning "
                        "rate (the LR finder helps), gradient clipping (e.g. 1.0), or normalisation layers.")
    return None


def vanishing_flag(step: int, names: list[str], norms: list[float]) -> GradFlag | None:
    """The layer with the smallest finite norm when it is ``VANISH_RATIO`` or more below the largest; else None."""
    finite = [(v, n) for n, v in zip(names, norms) if v is not None and math.isfinite(v)]
    if len(finite) < 2:
        return None
    low, low_name = min(finite)
    high, high_name = max(finite)
    if high <= 0 or low > VANISH_RATIO * high:
        return None
    ratio = f"{low / high:.1e}" if low > 0 else "0"
    return GradFlag("vanishing", low_name, step,
                    f"vanishing gradients: layer {low_name}'s gradient norm is {ratio} of layer {high_name}'s at "
                    f"step {step}, so it barely learns. Try ReLU instead of sigmoid/tanh, a shallower network, "
                    "batch normalisation, residual connections or a careful initialisation (He/Kaiming).")


def update_ratio(update_norm: float, weight_norm: float) -> float | None:
    """||w_after - w_before|| / ||w_before|| (None when the weights are all zero or unknown)."""
    if weight_norm is None or update_norm is None or not weight_norm > 0:
        return None
    return update_norm / weight_norm


_FLAG_PATTERN = re.compile(r"^(exploding|vanishing) gradients: layer (\S+?)(?:'s)? ")


def parse_flag(message: str) -> tuple[str, str] | None:
    """(kind, layer) of a flag's message as written into a run's notes (``GradFlag.message``), else None."""
    m = _FLAG_PATTERN.match(message)
    return (m.group(1), m.group(2)) if m else None
