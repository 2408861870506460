"""Mixup (Zhang et al., 2018) for previews: mix two inputs and their one-hot labels with a weight lambda.

    x = lam * x1 + (1 - lam) * x2,    y = lam * onehot(y1) + (1 - lam) * onehot(y2),    lam ~ Beta(alpha, alpha)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class MixResult:
    x: torch.Tensor  # the mixed input, same shape as the inputs
    y: torch.Tensor  # soft label: (num_classes,) probabilities summing to 1
    lam: float  # weight of the first input


def draw_lambda(alpha: float, generator: torch.Generator | None = None) -> float:
    """One lambda from Beta(alpha, alpha) (alpha > 0): small alpha -> near 0 or 1, alpha = 1 -> uniform.

    Drawn from ``generator`` (None: torch's global one): Beta(a, a) = X / (X + Y) for X, Y ~ Gamma(a), each Gamma
    drawn by Marsaglia and Tsang's method from that generator's normal and uniform numbers. (torch.distributions
    draws Gammas from the global generator only.) The training loop's mixup and the Augment page both use this.

    >>> 0.0 <= draw_lambda(0.4, torch.Generator().manual_seed(0)) <= 1.0
    True
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    log_x, log_y = _log_gamma(alpha, generator), _log_gamma(alpha, generator)
    return float(torch.sigmoid(torch.tensor(log_x - log_y, dtype=torch.float64)))  # X / (X + Y), in logs


def _log_gamma(shape: float, generator: torch.Generator | None) -> float:
    """log of one Gamma(shape, 1) draw (Marsaglia & Tsang 2000, "A simple method for generating gamma variables");
    shape < 1 uses Gamma(shape) = Gamma(shape + 1) * U^(1/shape). In logs, so tiny shapes do not underflow to 0."""
    uniform = lambda: max(float(torch.rand((), dtype=torch.float64, generator=generator)), 1e-300)  # noqa: E731
    boost = math.log(uniform()) / shape if shape < 1 else 0.0
    d = (shape + 1 if shape < 1 else shape) - 1 / 3
    c = 1 / math.sqrt(9 * d)
    while True:
        x = float(torch.randn((), dtype=torch.float64, generator=generator))
        v = (1 + c * x) ** 3
        if v > 0 and math.log(uniform()) < 0.5 * x * x + d - d * v + d * math.log(v):
            return math.log(d * v) + boost


def beta_pdf(alpha: float, points: int = 199) -> tuple[torch.Tensor, torch.Tensor]:
    """(lambda grid in (0, 1), Beta(alpha, alpha) density) for plotting the distribution lambda is drawn from."""
    lam = torch.linspace(0, 1, points + 2, dtype=torch.float64)[1:-1]
    return lam, torch.distributions.Beta(alpha, alpha).log_prob(lam).exp()


def mixup(x1: torch.Tensor, y1: int, x2: torch.Tensor, y2: int, num_classes: int, lam: float) -> MixResult:
    """Mix two samples of the same shape and their labels with weight ``lam`` in [0, 1].

    >>> mixup(torch.ones(1, 2, 2), 0, torch.zeros(1, 2, 2), 1, 2, 0.7).y.tolist()
    [0.7, 0.30000000000000004]
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda must be in [0, 1], got {lam}")
    if x1.shape != x2.shape:
        raise ValueError(f"inputs must have the same shape to be mixed, got {tuple(x1.shape)} and {tuple(x2.shape)}")
    onehot = torch.eye(num_classes, dtype=torch.float64)
    return MixResult(lam * x1 + (1 - lam) * x2, lam * onehot[y1] + (1 - lam) * onehot[y2], float(lam))
