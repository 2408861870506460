"""Initial weights and dropout masks drawn from an explicit ``torch.Generator``.

PyTorch layers draw their initial weights and dropout masks from torch's process-wide generator. The app's sessions
are threads of one process, so a seed given there would not replay. Here the same distributions come from a
generator the caller owns:

- ``init_weights(model, g)`` redraws every freshly initialised parameter with PyTorch's default rule for its layer
  type (the one its ``reset_parameters`` applies). For a generator seeded with ``s`` a layer gets exactly what
  ``torch.manual_seed(s)`` then constructing it gives (tests/core/test_models_init.py). A model whose parts follow
  another rule, or hold pretrained weights, says so with ``init_overrides()``: subtree -> rule, or None (keep).
- ``seeded_dropout(model, g)`` swaps each ``nn.Dropout`` for one drawing its masks from ``g``.

>>> net = init_weights(nn.Linear(4, 2), torch.Generator().manual_seed(0))
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

Rule = Callable[[nn.Module, torch.Generator], None]


def _fan_in(weight: torch.Tensor) -> int:
    return weight.shape[1] * (weight[0][0].numel() if weight.dim() > 2 else 1)  # in-features x kernel size


def _default_affine(module: nn.Module, g: torch.Generator) -> None:
    """nn.Linear / nn.Conv*: kaiming_uniform_(a=sqrt(5)) on the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias."""
    nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=g)
    if module.bias is not None:
        fan_in = _fan_in(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(module.bias, -bound, bound, generator=g)


def _default_embedding(module: nn.Embedding, g: torch.Generator) -> None:
    nn.init.normal_(module.weight, generator=g)
    if module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].fill_(0)


def _default_rnn(module: nn.RNNBase, g: torch.Generator) -> None:
    bound = 1 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound, generator=g)


def _reset(module: nn.Module, g: torch.Generator) -> None:
    module.reset_parameters()  # normalisation layers: ones and zeros, nothing random


_DEFAULTS: dict[type, Rule] = {
    nn.Linear: _default_affine, nn.Conv1d: _default_affine, nn.Conv2d: _default_affine,
    nn.Conv3d: _default_affine, nn.ConvTranspose1d: _default_affine, nn.ConvTranspose2d: _default_affine,
    nn.ConvTranspose3d: _default_affine, nn.Embedding: _default_embedding,
    nn.EmbeddingBag: _default_embedding, nn.LSTM: _default_rnn,
    nn.GRU: _default_rnn, nn.RNN: _default_rnn, nn.BatchNorm1d: _reset, nn.BatchNorm2d: _reset,
    nn.BatchNorm3d: _reset, nn.LayerNorm: _reset, nn.GroupNorm: _reset,
}


def default_rule(module: nn.Module, g: torch.Generator) -> None:
    """PyTorch's own initialisation of ``module``'s direct parameters, drawn from ``g``; ``TypeError`` for a layer
    type not known here (add its rule to ``_DEFAULTS``)."""
    rule = next((_DEFAULTS[t] for t in type(module).__mro__ if t in _DEFAULTS), None)  # subclasses: their base's
    if rule is None:
        raise TypeError(f"no seeded initialisation for {type(module).__name__}: add one to core.models.init")
    rule(module, g)


def kaiming_normal_relu(module: nn.Module, g: torch.Generator) -> None:
    """torchvision's ResNet rule: convolutions kaiming_normal_(fan_out, relu), others as PyTorch's default."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=g)
    else:
        default_rule(module, g)


def init_weights(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw ``model``'s fresh parameters from ``generator`` (pretrained parts kept) and return the model.

    A model with pretrained weights (``model.pretrained`` true) must name them in ``init_overrides()``, else
    ``ValueError``: reinitialising them would silently throw the weights away.
    """
    rules: dict[nn.Module, Rule | None] = {}
    for module in model.modules():  # outer modules first: an inner module's own overrides win
        for root, rule in getattr(module, "init_overrides", dict)().items():
            rules.update({m: rule for m in root.modules()})
    for module in model.modules():
        if getattr(module, "pretrained", False) and not any(m in rules and rules[m] is None for m in module.modules()):
            raise ValueError(f"{type(module).__name__} holds pretrained weights: its init_overrides() must name "
                             "them (rule None), so that they are not reinitialised")
    with torch.no_grad():
        for module in model.modules():
            if next(module.parameters(recurse=False), None) is None:
                continue
            rule = rules.get(module, default_rule)
            if rule is not None:
                rule(module, generator)
    return model


class GeneratorDropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from ``generator`` (its device: masks are drawn there, then moved)."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        keep = torch.empty(x.shape, device=self.generator.device).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep.to(x.device, x.dtype) / (1 - self.p)


def seeded_dropout(model: nn.Module, generator: torch.Generator) -> list[str]:
    """Make every ``nn.Dropout`` of ``model`` draw its masks from ``generator`` (in place). Returns the names of
    the modules that still draw from torch's global generator (e.g. dropout between stacked LSTM layers, which
    PyTorch applies inside the fused kernel), so the caller can say the result is not exactly replayable."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, GeneratorDropout(child.p, generator))
    return [name for name, m in model.named_modules()
            if (isinstance(m, nn.RNNBase) and m.dropout > 0 and m.num_layers > 1)
            or (isinstance(m, _DROPOUTS) and not isinstance(m, GeneratorDropout))]


_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
