"""Ask a classifier what a class looks like: "backquery" by gradient ascent, and the exact inverse of a sigmoid MLP.

Backquery runs the trained network backwards: start from a grey input and repeatedly change the *input* (never
the weights) in the direction that raises the target class's logit. A small image prior keeps the result
readable: a random shift of a pixel or two before each step (jitter) and an occasional Gaussian blur stop the
ascent from growing pixel-level noise that fools the network but shows nothing.

For the sigmoid MLP of the classic notes the network can be run backwards exactly instead: from the wanted
logits, each linear layer is solved with its pseudo-inverse and each sigmoid undone with its inverse, the logit
function ``log(y / (1 - y))``.

>>> vis = class_visual(model, [3, 7], steps=64, input_shape=(1, 8, 8))         # doctest: +SKIP
>>> vis.end_logits[0] > vis.start_logits[0]                                    # doctest: +SKIP
True
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from core.models.modes import eval_mode


@dataclass
class ClassVisual:
    """Inputs the model finds most like each target class, and how the target logits rose."""

    images: torch.Tensor  # (K, *input_shape): one input per target
    targets: list[int]  # the class each input was made for
    start_logits: list[float]  # target logit at the grey start, per target
    end_logits: list[float]  # target logit of the final input, per target
    history: list[list[float]] = field(default_factory=list)  # per step, the target logit of each input
    end_probs: list[float] = field(default_factory=list)  # softmax probability of the target at the end


def _target_logits(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return model(x).gather(1, targets[:, None])[:, 0]  # (K, C) -> (K,)


def class_visual(model: nn.Module, target, steps: int = 64, *, input_shape: tuple, lr: float = 0.05,
                 jitter: int = 1, blur_every: int = 4, blur_sigma: float = 0.5, decay: float = 0.01,
                 start: float = 0.5, value_range: tuple[float, float] | None = (0.0, 1.0),
                 generator: torch.Generator | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ClassVisual:
    """Gradient ascent on the target logit(s) from a grey input, with jitter, blur and a pull back to grey.

    Args:
        target: a class id or a list of them (one input is made per target, all in one batch).
        steps: ascent steps; each one forward + backward pass of the batch.
        input_shape: one model input without batch, e.g. (3, 64, 64) or log-mel (1, n_mels, T).
        lr: step size as a share of ``value_range``'s width (of 1 when None): each step moves the input by that
            much times its gradient divided by the gradient's mean size.
        jitter: the input is shifted by up to this many positions (random per step) before the forward pass.
        blur_every: every N steps a Gaussian blur of ``blur_sigma`` smooths the input (0 = never).
        decay: each step pulls the input back towards ``start`` by this fraction (a weak prior against extremes).
        start: the grey value everything starts from (0.5 for [0, 1] images; the data mean for spectrograms).
        value_range: the input is clipped to this range after each step (None: not clipped).
        generator: the random source for jitter (explicit, so two sessions never share a stream).
    The model and its parameters are left exactly as they were (its gradients are not touched).
    """
    targets = torch.as_tensor([target] if isinstance(target, int) else list(target), dtype=torch.long)
    net = copy.deepcopy(model).eval()  # hooks, grads and mode of the caller's model stay untouched
    for p in net.parameters():
        p.requires_grad_(False)
    device = next(iter(net.parameters()), torch.empty(0)).device
    targets = targets.to(device)
    x = torch.full((len(targets), *input_shape), float(start), device=device)
    dims = tuple(range(2, x.dim()))
    step_size = lr * (value_range[1] - value_range[0] if value_range is not None else 1.0)
    history = []
    with torch.no_grad():
        first = _target_logits(net, x, targets).tolist()
    for step in range(steps):
        shifts = tuple(int(s) for s in torch.randint(-jitter, jitter + 1, (len(dims),), generator=generator)) \
            if jitter else (0,) * len(dims)
        x.requires_grad_(True)
        with torch.enable_grad():
            logits = _target_logits(net, torch.roll(x, shifts, dims), targets)
            (grad,) = torch.autograd.grad(logits.sum(), x)
        with torch.no_grad():
            scale = grad.abs().flatten(1).mean(1).clamp(min=1e-12).view(-1, *[1] * (x.dim() - 1))
            x = x.detach() + step_size * grad / scale  # ascent, the same step size whatever the gradient's magnitude
            x = start + (x - start) * (1 - decay)
            if blur_every and (step + 1) % blur_every == 0 and len(dims) == 2:
                x = TF.gaussian_blur(x, kernel_size=[3, 3], sigma=[blur_sigma, blur_sigma])
            if value_range is not None:
                x = x.clamp(*value_range)
        history.append(logits.detach().tolist())
        if progress is not None:
            progress(step + 1, steps)
    with torch.no_grad():
        out = net(x)
    return ClassVisual(x.detach().cpu(), targets.tolist(), first, out.gather(1, targets[:, None])[:, 0].tolist(),
                       history, torch.softmax(out, 1).gather(1, targets[:, None])[:, 0].tolist())


REACHED = 0.5  # the model's probability for the class at the end of the ascent: below this it was not reached
MOVED = 0.1  # a target logit that rose by less than this during the ascent "hardly moved"


def not_reached_note(vis: ClassVisual, names: list[str], steps: int, max_steps: int) -> str | None:
    """One plain paragraph when the ascent did not reach some classes (the model's probability for the class stays
    under ``REACHED`` at the end): which, by how much, and what to try; None when every class was reached."""
    missed = [i for i, p in enumerate(vis.end_probs) if p < REACHED]
    if not missed:
        return None
    what = "; ".join(f"{names[i]}: p = {vis.end_probs[i]:.0%}, logit {vis.start_logits[i]:.2f} → "
                     f"{vis.end_logits[i]:.2f}" for i in missed)
    rose = all(vis.end_logits[i] - vis.start_logits[i] > MOVED for i in missed)
    why = ("the class's logit rose, but another class still wins" if rose else
           "the class's logit hardly moved: the ascent is too short, or the gradient from a grey start leads "
           "elsewhere")
    more = f"more ascent steps (now {steps}, up to {max_steps})" if steps < max_steps else "another seed"
    return (f"Not reached for {len(missed)} of {len(vis.targets)} class(es) ({what}): {why}, so this picture is not "
            f"what the model calls that class. Try {more}, or this class on its own; a class the model rarely "
            "predicts (see the Train page's per-class accuracy) may have no input that wins from grey.")


# ---- the exact inverse of a sigmoid MLP ---------------------------------------------------------------------------
@dataclass
class MLPInverse:
    """An input that a sigmoid MLP maps to the wanted logits, found by running the network backwards."""

    image: torch.Tensor  # (*input_shape)
    target: int  # the class it was made for
    wanted: torch.Tensor  # (C,) the logits asked for: +margin for the target, -margin for the rest
    logits: torch.Tensor  # (C,) what the model gives for ``image``
    clipped: int  # hidden values the solution put outside (0, 1), where a sigmoid cannot reach (then squeezed)
    exact: bool  # the model reproduces the wanted logits (no clipping, every layer solved exactly)


def _linears_of_sigmoid_mlp(model: nn.Module) -> list[nn.Linear]:
    layers = [m for m in model.modules() if not list(m.children())]
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    acts = [m for m in layers if not isinstance(m, (nn.Linear, nn.Flatten, nn.Dropout, nn.Identity))]
    if not linears or any(not isinstance(a, nn.Sigmoid) for a in acts) or len(acts) != len(linears) - 1:
        raise ValueError("the exact inverse needs a sigmoid MLP (Linear and Sigmoid layers only, e.g. mlp_sigmoid): "
                         "a ReLU sets every negative value to 0, so what went in cannot be recovered")
    return linears


def _solve(linear: nn.Linear, out: torch.Tensor, centre: float) -> torch.Tensor:
    """The input h with ``W h + b = out`` closest to ``centre`` (exact when W has full row rank)."""
    w = linear.weight.detach().double()
    b = linear.bias.detach().double() if linear.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    h0 = torch.full((w.shape[1],), centre, dtype=torch.float64)
    return h0 + torch.linalg.pinv(w) @ (out - b - w @ h0)


def invert_mlp(model: nn.Module, target: int, input_shape: tuple, margin: float = 1.0,
               eps: float = 1e-4, squeeze: tuple[float, float] = (0.01, 0.99)) -> MLPInverse:
    """Run a sigmoid MLP backwards from the logits ``+margin`` (target) / ``-margin`` (others) to an input.

    Each linear layer is solved with the pseudo-inverse (the solution nearest 0.5, the middle of the sigmoid's
    range), each sigmoid undone with ``log(y / (1 - y))``. When a layer's solution leaves (0, 1), which a sigmoid
    cannot output, its values are squeezed into ``squeeze`` (as the notes' backquery does) and counted in
    ``clipped``: the result is then the network's idea of the class, no longer an exact inverse. It is exact when
    nothing was squeezed and every layer could be solved (each layer no wider than its input).
    """
    linears = _linears_of_sigmoid_mlp(model)
    lo, hi = squeeze
    wanted = torch.full((linears[-1].out_features,), -margin, dtype=torch.float64)
    wanted[target] = margin
    value, clipped = wanted, 0
    for i, linear in enumerate(reversed(linears)):
        h = _solve(linear, value, 0.5)
        if i == len(linears) - 1:
            value = h  # the input itself: no sigmoid to undo
            break
        outside = (h <= eps) | (h >= 1 - eps)
        clipped += int(outside.sum())
        if outside.any():  # as the notes do: squeeze the values into the sigmoid's range, keeping their pattern
            h = lo + (h - h.min()) / (h.max() - h.min()).clamp(min=1e-12) * (hi - lo)
        value = torch.log(h / (1 - h))  # the inverse of the sigmoid: pre-activation of the layer before
    image = value.float().reshape(input_shape)
    with eval_mode(model), torch.no_grad():
        logits = model(image[None])[0]
    exact = clipped == 0 and bool(torch.allclose(logits.double(), wanted, atol=1e-3))
    return MLPInverse(image, int(target), wanted.float(), logits, clipped, exact)
