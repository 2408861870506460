"""One sample, attacked for the page: settings in, the adversarial input, both predictions and what to show out.

>>> out = attack_one(target.model, x, 3, AttackSettings(method="pgd", eps=8 / 255), bounds=target.bounds)
>>> out.probs_before.argmax(), out.probs_after.argmax(), out.snr_db        # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from core.attacks.audio import snr_db
from core.attacks.methods import METHODS, PIXEL_BOUNDS, attack, attack_mode, eps_problems
from core.attacks.minimal import minimal_eps


@dataclass
class AttackSettings:
    """What the page's controls choose for one attack."""

    method: str = "fgsm"  # fgsm | bim | pgd
    eps: float = 8 / 255  # L-infinity radius in input units (pixels 0..1, or waveform samples)
    target_class: int | None = None  # None = untargeted (move away from the label); a class id = targeted
    steps: int = 10  # bim / pgd iterations
    alpha: float | None = None  # bim / pgd step; None = 2.5 eps / steps
    seed: int = 0  # pgd's random start

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    def problems(self, num_classes: int | None = None, bounds=PIXEL_BOUNDS) -> list[str]:
        """Why these settings cannot run (empty when they can)."""
        out = eps_problems(self.eps, bounds)
        if self.method not in METHODS:
            out.append(f"unknown attack {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.steps < 1:
            out.append("steps must be at least 1")
        if self.target_class is not None and num_classes and not 0 <= self.target_class < num_classes:
            out.append(f"target class must be between 0 and {num_classes - 1}")
        return out


@dataclass
class SingleAttack:
    """One attacked sample and the model's view of it, before and after."""

    x: np.ndarray  # the clean input, e.g. (C, H, W) or (1, N)
    x_adv: np.ndarray  # the attacked input, same shape
    label: int  # the class attacked away from (the true label, else the clean prediction)
    probs_before: np.ndarray  # (classes,) softmax on the clean input
    probs_after: np.ndarray  # (classes,) softmax on the attacked input
    settings: AttackSettings  # what was run
    snr_db: float  # perturbation loudness against the input (audio's yardstick; inf when nothing changed)

    @property
    def pred_before(self) -> int:
        """Predicted class on the clean input."""
        return int(self.probs_before.argmax())

    @property
    def pred_after(self) -> int:
        """Predicted class on the attacked input."""
        return int(self.probs_after.argmax())

    @property
    def wrong_before(self) -> bool:
        """Untargeted, and the clean prediction already differs from ``label``: there was nothing to fool."""
        return self.settings.target_class is None and self.pred_before != self.label

    @property
    def fooled(self) -> bool:
        """Untargeted: the prediction left ``label``; targeted: it reached the target class."""
        t = self.settings.target_class
        return self.pred_after == t if t is not None else self.pred_after != self.label


@torch.no_grad()
def probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Softmax over classes for a batch of one: (classes,)."""
    with attack_mode(model):
        return torch.softmax(model(x).float(), 1)[0].cpu().numpy()


def attack_one(model: nn.Module, x: torch.Tensor, label: int | None, settings: AttackSettings,
               bounds=PIXEL_BOUNDS) -> SingleAttack:
    """Attack one input ``x`` (a batch of one, on the model's device) with ``settings``.

    ``label``: the true class when known; None = the clean prediction (an upload).
    """
    before = probabilities(model, x)
    label = int(before.argmax()) if label is None else int(label)
    targeted = settings.target_class is not None
    y = torch.tensor([settings.target_class if targeted else label], device=x.device)
    x_adv = attack(model, x, y, settings.eps, method=settings.method, alpha=settings.alpha, steps=settings.steps,
                   targeted=targeted, bounds=bounds, generator=torch.Generator().manual_seed(settings.seed))
    return SingleAttack(x=x[0].cpu().numpy(), x_adv=x_adv[0].cpu().numpy(), label=label, probs_before=before,
                        probs_after=probabilities(model, x_adv), settings=settings,
                        snr_db=float(snr_db(x, x_adv)[0]))


def smallest_eps_one(model: nn.Module, x: torch.Tensor, label: int | None, settings: AttackSettings,
                     bounds=PIXEL_BOUNDS, eps_max: float = 1.0, tol: float = 1e-3) -> SingleAttack | None:
    """``attack_one`` at the smallest eps that fools the model with ``settings.method`` (found by bisection);
    None when nothing up to ``eps_max`` does."""
    targeted = settings.target_class is not None
    y = None if (label is None and not targeted) else torch.tensor(
        [settings.target_class if targeted else label], device=x.device)
    eps, _ = minimal_eps(model, x, y, method=settings.method, eps_max=eps_max, tol=tol, targeted=targeted,
                         steps=settings.steps, bounds=bounds, generator=torch.Generator().manual_seed(settings.seed))
    if not torch.isfinite(eps[0]):
        return None
    found = AttackSettings(**{**settings.to_dict(), "eps": float(eps[0]), "alpha": None})
    return attack_one(model, x, label, found, bounds)


def amplified(x: np.ndarray, x_adv: np.ndarray) -> tuple[np.ndarray, float]:
    """The perturbation made visible: 0.5 + factor * (x_adv - x), with factor = 0.5 / max|x_adv - x| so the
    largest change reaches black or white (grey = unchanged). Returns (image in [0, 1], factor; 0 = no change)."""
    delta = x_adv.astype(np.float64) - x.astype(np.float64)
    peak = float(np.abs(delta).max())
    if peak == 0:
        return np.full_like(x, 0.5, dtype=np.float32), 0.0
    factor = 0.5 / peak
    return np.clip(0.5 + factor * delta, 0, 1).astype(np.float32), factor


def png_bytes(x: np.ndarray) -> bytes:
    """An image (C, H, W) in [0, 1] as PNG bytes: 8 bits per pixel, so values are rounded to /255 steps."""
    import io

    from PIL import Image

    arr = np.clip(np.rint(np.asarray(x, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W[, C])
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def image_input(data, shape) -> torch.Tensor:
    """An image file (path or file-like: an upload) resized like the run's data: (1, C, H, W) in [0, 1]."""
    from core.data.images import decode

    c, h, _ = shape
    return (decode(data, h, c).float() / 255.0)[None]


def top_k(probs: np.ndarray, classes: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable classes (name, probability), most probable first."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]
