"""The smallest epsilon that fools the model, per sample: a coarse scan, then bisection of the first crossing.

Fooling is not monotone in eps (along the FGSM ray a larger step can leave the wrong-class region again once pixels
clamp), so plain bisection over [0, eps_max] finds *a* boundary, not the smallest. Here every sample is first tried
at ``grid`` evenly spaced epsilons eps_max * k / grid (k = 1..grid); the first k that fools it brackets the answer
in [eps_max (k-1) / grid, eps_max k / grid], which bisection then narrows to ``tol``. What is returned is the first
fooling eps on that grid, refined: a fooling region narrower than one grid step below it can still be missed.

For FGSM the direction sign(grad_x L(x, y)) does not depend on eps, so it is computed once and every try is one
forward pass of the still-undecided samples: with the defaults (eps_max 1, grid 16, tol 1e-3) that is 1 gradient
pass, at most 16 scan passes and ceil(log2((1 / 16) / 1e-3)) = 6 halvings. For BIM / PGD each try re-runs the
attack (``steps`` gradient passes each); ``search_tries`` counts the tries for the server's inline budget.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.attacks.methods import PIXEL_BOUNDS, attack, attack_method, attack_mode, per_sample

GRID = 16  # epsilons tried before bisecting: eps_max / 16 apart


def search_tries(eps_max: float = 1.0, tol: float = 1e-3, grid: int = GRID) -> int:
    """The most attack tries one search takes: the scan plus the halvings of one grid step down to ``tol``."""
    return grid + max(0, math.ceil(math.log2(eps_max / grid / tol)))


def minimal_eps(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, method: str = "fgsm",
                eps_max: float = 1.0, tol: float = 1e-3, targeted: bool = False, steps: int = 10,
                bounds=PIXEL_BOUNDS, generator: torch.Generator | None = None, grid: int = GRID
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, the smallest eps on a grid of ``grid`` steps that fools the model with ``method``, refined by
    bisection to within ``tol``; returns ``(eps (B,), x_adv like x)``.

    ``y``: the class to move away from (default: the clean prediction, i.e. "change the prediction"); targeted:
    the class to reach. A sample already fooled at eps 0 gets 0; one not fooled at any grid point gets ``inf``
    and its clean input back. Iterative methods use step 2.5 eps / steps; ``generator`` draws PGD's starts (one
    seeded 0 when not given, so a search repeats).
    """
    attack_method(method)  # refuses an unknown method
    x = x.detach()
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    with attack_mode(model):
        logits, grad_sign, y = _start(model, x, y, method)
        fooled0 = _fooled(logits, y, targeted)
        eps = torch.where(fooled0, 0.0, math.inf).to(x.device)
        x_adv = x.clone()

        def try_eps(idx, e):  # the attack at per-sample eps e on samples idx: (fooled (k,), x_adv (k, ...))
            if method == "fgsm":
                s = per_sample(e, x[idx]) * grad_sign[idx]
                xa = (x[idx] - s if targeted else x[idx] + s).clamp(*bounds)
            else:
                xa = attack(model, x[idx], y[idx], e, method=method, steps=steps, targeted=targeted, bounds=bounds,
                            generator=generator)
            with torch.no_grad():
                return _fooled(model(xa), y[idx], targeted), xa

        # the scan: each undecided sample at eps_max k / grid, until its first fooling point
        step = float(eps_max) / grid
        idx = torch.nonzero(~fooled0).flatten()
        found_idx, found_hi, found_adv = [], [], []
        for k in range(1, grid + 1):
            if not len(idx):
                break
            ok, xa = try_eps(idx, torch.full((len(idx),), k * step, device=x.device))
            found_idx.append(idx[ok])
            found_hi.append(torch.full((int(ok.sum()),), k * step, device=x.device))
            found_adv.append(xa[ok])
            idx = idx[~ok]
        if found_idx:
            # bisection inside each first crossing [hi - step, hi]
            idx, hi, best = torch.cat(found_idx), torch.cat(found_hi), torch.cat(found_adv)
            lo, width = hi - step, step
            while len(idx) and width > tol:
                mid = (lo + hi) / 2
                ok, xa = try_eps(idx, mid)
                hi, lo = torch.where(ok, mid, hi), torch.where(ok, lo, mid)
                best[ok] = xa[ok]
                width /= 2
            eps[idx], x_adv[idx] = hi, best
    return eps, x_adv


def _start(model, x, y, method):
    """One pass at x: the logits, the gradient sign (FGSM) and the labels (clean prediction when not given)."""
    with torch.enable_grad():
        xg = x.clone().requires_grad_(method == "fgsm")
        logits = model(xg).float()
        if y is None:
            y = logits.argmax(1).detach()
        grad_sign = None
        if method == "fgsm":
            (grad,) = torch.autograd.grad(F.cross_entropy(logits, y), xg)
            grad_sign = grad.sign()
    return logits.detach(), grad_sign, y


def _fooled(logits: torch.Tensor, y: torch.Tensor, targeted: bool) -> torch.Tensor:
    pred = logits.argmax(1)
    return pred == y if targeted else pred != y


@dataclass
class EpsDistribution:
    """How a set of smallest epsilons is spread (the CLI's --minimal line, the page's summary)."""

    n: int  # samples
    median: float | None  # of the fooled ones (None when none was fooled)
    q1: float | None  # first quartile of the fooled ones
    q3: float | None  # third quartile of the fooled ones
    never_fooled: float  # share with no eps up to eps_max that fools the model
    eps_max: float  # the search range's end

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)


def distribution(eps: torch.Tensor, eps_max: float = 1.0) -> EpsDistribution:
    """Median and quartiles of the finite smallest epsilons, and the share that was never fooled."""
    values = eps.detach().cpu().numpy()
    finite = values[np.isfinite(values)]
    q = np.quantile(finite, [0.25, 0.5, 0.75]).tolist() if len(finite) else [None] * 3
    return EpsDistribution(n=len(values), median=q[1], q1=q[0], q3=q[2],
                           never_fooled=float(np.mean(~np.isfinite(values))) if len(values) else 0.0,
                           eps_max=float(eps_max))
