"""The attacks themselves: FGSM, BIM and PGD on a batch, in input units (pixels in [0, 1], waveform samples).

Each is the textbook formula written plainly (L = mean cross-entropy of the logits over the batch):

    FGSM   x_adv = clamp(x + eps * sign(grad_x L(x, y)), lo, hi)            (targeted: minus, y = target class)
    BIM    x_0 = x;  x_k+1 = clamp(clip_eps(x_k + alpha * sign(grad_x L(x_k, y))), lo, hi),  k < steps
    PGD    BIM from a random start x_0 = clamp(x + eps * (2 U - 1), lo, hi),  U ~ Uniform[0, 1) per value

clip_eps(v) = min(max(v, x - eps), x + eps) projects back into the eps-ball (L-infinity) around the clean x.
``eps`` (and ``alpha``) may be a number or a tensor with one value per sample (``minimal_eps`` bisects on it).

The model is left as found: it runs in eval mode during the attack (batch-norm uses its running statistics,
dropout is off) and every module's training flag is restored afterwards; only the input's gradient is computed
(``torch.autograd.grad``), so no parameter gets a ``.grad`` and no ``requires_grad`` flag changes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from core.models.modes import eval_mode

PIXEL_BOUNDS = (0.0, 1.0)  # images: pixel values
WAVE_BOUNDS = (-1.0, 1.0)  # audio: waveform samples (full scale)


@dataclass(frozen=True)
class Preset:
    """Settings of an iterative attack that the literature uses at a given scale."""

    name: str  # shown in menus
    eps: float  # L-infinity radius in input units
    alpha: float  # step size per iteration
    steps: int  # iterations

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)


# Madry et al. 2018: MNIST eps 0.3, step 0.01, 40 steps; CIFAR/ImageNet-scale photos: 8/255, 2/255, 10 steps.
PRESETS = {"mnist": Preset("MNIST-scale", 0.3, 0.01, 40), "photo": Preset("photo-scale", 8 / 255, 2 / 255, 10)}


def preset_for(kind: str, input_shape) -> Preset | None:
    """The preset that suits the data: MNIST-scale for small greyscale images, photo-scale for colour images,
    None for audio (its epsilons are waveform units; see core.attacks.audio)."""
    if kind != "image":
        return None
    c, h = (tuple(input_shape) + (0, 0))[:2]
    return PRESETS["mnist"] if c == 1 and h <= 32 else PRESETS["photo"]


def default_alpha(eps, steps: int):
    """Step size when none is given: 2.5 * eps / steps (Madry et al.: enough to reach the ball's edge and move
    along it). Works per sample when ``eps`` is a tensor."""
    return 2.5 * eps / max(1, steps)


attack_mode = eval_mode  # eval for the attack; each submodule's own train flag restored after (core.models.modes)


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """grad_x of the mean cross-entropy of ``model(x)`` against ``y``; same shape as ``x``. Parameters get no .grad."""
    return logits_and_gradient(model, x, y)[1]


def logits_and_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``model(x)`` (detached) and ``input_gradient`` from the same forward pass."""
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        logits = model(x).float()
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y), x)
    return logits.detach(), grad


def per_sample(value, x: torch.Tensor):
    """A number stays a number; a tensor of B values becomes (B, 1, 1, ...) to broadcast over ``x``."""
    if isinstance(value, torch.Tensor):
        return value.to(device=x.device, dtype=x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    return float(value)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps, bounds=PIXEL_BOUNDS) -> torch.Tensor:
    """Back into the eps-ball around ``x`` (L-infinity), then into ``bounds``."""
    eps = per_sample(eps, x)
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(*bounds)


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, *, targeted: bool = False,
         bounds=PIXEL_BOUNDS) -> torch.Tensor:
    """Fast gradient sign method: one step of size ``eps`` along the sign of the input gradient, then a clamp.

    ``targeted``: ``y`` holds the target classes and the step descends their loss.

    >>> x_adv = fgsm(model, images, labels, 8 / 255)        # doctest: +SKIP
    """
    with attack_mode(model):
        grad = input_gradient(model, x, y)
    step = per_sample(eps, x) * grad.sign()
    return (x - step if targeted else x + step).clamp(*bounds).detach()


def bim(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, *, alpha=None, steps: int = 10,
        targeted: bool = False, bounds=PIXEL_BOUNDS) -> torch.Tensor:
    """Basic iterative method: ``steps`` signed-gradient steps of ``alpha`` (default 2.5 eps / steps), each
    projected back into the eps-ball around ``x`` and into ``bounds``."""
    return _iterate(model, x, y, eps, x.detach(), alpha, steps, targeted, bounds)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, *, alpha=None, steps: int = 10,
        targeted: bool = False, random_start: bool = True, bounds=PIXEL_BOUNDS,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent (Madry et al.): BIM started at a uniform random point of the eps-ball.

    ``generator`` draws the start (on its own device). Pass one for a run that repeats (and pass the same one to
    every batch, so each batch gets its own start); without one, the start is drawn from a fresh, unseeded
    generator: two calls never share a start.
    """
    start = x.detach()
    if random_start:
        start = (x + per_sample(eps, x) * (2 * uniform_like(x, generator) - 1)).clamp(*bounds)
    return _iterate(model, x, y, eps, start, alpha, steps, targeted, bounds)


def uniform_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """U[0, 1) values of ``x``'s shape drawn from ``generator`` (default: a fresh CPU generator with a
    non-deterministic seed; never the global RNG), moved to ``x``'s device."""
    if generator is None:
        generator = torch.Generator()
        generator.seed()  # its own random seed: the global RNG is not touched
    return torch.rand(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)


def _iterate(model, x, y, eps, start, alpha, steps, targeted, bounds) -> torch.Tensor:
    alpha = per_sample(default_alpha(eps, steps) if alpha is None else alpha, x)
    x, x_adv = x.detach(), start.detach()
    with attack_mode(model):
        for _ in range(steps):
            step = alpha * input_gradient(model, x_adv, y).sign()
            x_adv = project(x_adv - step if targeted else x_adv + step, x, eps, bounds)
    return x_adv.detach()


@dataclass(frozen=True)
class AttackMethod:
    """One attack method: what the page, the command line, sweeps and the docs know about it.

    ``run(model, x, y, eps, *, alpha, steps, targeted, random_start, bounds, generator) -> x_adv`` (keywords a
    method does not use are ignored). Adding a method is one ``register_attack`` call.
    """

    name: str  # the key: the CLI's --method, a sweep's method, a job config's value
    label: str  # shown on the page and in the docs: "PGD"
    help: str  # one line for menus and --help
    run: Callable[..., torch.Tensor]  # the attack itself
    iterative: bool  # takes ``steps`` gradient steps (and an ``alpha``); False: one gradient pass
    dash: str = "solid"  # its line style on accuracy-vs-epsilon charts

    def gradient_passes(self, steps: int = 10) -> int:
        """Forward + backward passes one attack takes (the cost the server's inline budget counts)."""
        return max(1, int(steps)) if self.iterative else 1


METHODS: dict[str, AttackMethod] = {}  # name -> AttackMethod, in menu order


def register_attack(name: str, label: str, help: str, run: Callable[..., torch.Tensor], *, iterative: bool,
                    dash: str = "solid") -> AttackMethod:
    """Add (or replace) the attack method ``name``: it then appears on the page, in ``core attack --method``, in
    sweeps and in the docs' method table (tests/core/test_attack_registry.py checks each)."""
    METHODS[name] = AttackMethod(name, label, help, run, iterative, dash)
    return METHODS[name]


def attack_method(name: str) -> AttackMethod:
    """The registered method ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown attack {name!r}; choose one of {', '.join(METHODS)}") from None


register_attack("fgsm", "FGSM", "one step of eps along the sign of the input gradient",
                lambda model, x, y, eps, *, targeted, bounds, **_: fgsm(model, x, y, eps, targeted=targeted,
                                                                         bounds=bounds), iterative=False)
register_attack("bim", "BIM", "small signed-gradient steps, kept within eps of the input",
                lambda model, x, y, eps, *, alpha, steps, targeted, bounds, **_: bim(
                    model, x, y, eps, alpha=alpha, steps=steps, targeted=targeted, bounds=bounds),
                iterative=True, dash="dot")
register_attack("pgd", "PGD", "BIM from a random start inside the eps-ball (Madry et al.)",
                lambda model, x, y, eps, *, alpha, steps, targeted, random_start, bounds, generator, **_: pgd(
                    model, x, y, eps, alpha=alpha, steps=steps, targeted=targeted, random_start=random_start,
                    bounds=bounds, generator=generator), iterative=True, dash="dash")


def methods_table() -> str:
    """The registered methods as a Markdown table (docs/attack-methods.md holds it; a test keeps it current)."""
    rows = ["| method | `--method` | what it does | steps |", "|---|---|---|---|"]
    rows += [f"| {m.label} | `{m.name}` | {m.help} | {'yes' if m.iterative else 'one'} |" for m in METHODS.values()]
    return "\n".join(rows)


def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, *, method: str = "fgsm", alpha=None,
           steps: int = 10, targeted: bool = False, random_start: bool = True, bounds=PIXEL_BOUNDS,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Run the registered attack ``method`` (the page's, the CLI's and the sweeps' one entry point)."""
    return attack_method(method).run(model, x, y, eps, alpha=alpha, steps=steps, targeted=targeted,
                                     random_start=random_start, bounds=bounds, generator=generator)


def eps_problems(eps, bounds=PIXEL_BOUNDS) -> list[str]:
    """Why ``eps`` (a number or a list of them) cannot be used: each must be in [0, 1] (empty list when fine)."""
    values = eps if isinstance(eps, (list, tuple)) else [eps]
    bad = [v for v in values if not (isinstance(v, (int, float)) and 0.0 <= float(v) <= 1.0)]
    if not bad:
        return []
    unit = "pixel values run from 0 to 1" if tuple(bounds) == PIXEL_BOUNDS else "waveforms run from -1 to 1"
    return [f"epsilon must be between 0 and 1 ({unit}), got {', '.join(map(str, bad))}"]
