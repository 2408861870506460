"""One sample, attacked for the page: a request in, one result object out (``one_sample``).

>>> request = OneSampleRequest(target.ref, x, label=3, settings=AttackSettings(method="pgd", eps=8 / 255))
>>> runs_inline(target, request)       # within the server's inline budget (core.inline)?   # doctest: +SKIP
>>> view = one_sample(target, request)  # here, or in an 'attack_one' job (core.attacks.jobs)  # doctest: +SKIP
>>> view.attack.fooled, view.top_after, view.png, view.smallest                                # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from core.attacks.audio import snr_db
from core.attacks.methods import METHODS, PIXEL_BOUNDS, attack, attack_method, attack_mode, eps_problems
from core.attacks.minimal import GRID, minimal_eps, search_tries
from core.attacks.sweep import decode_array, encode_array
from core.attacks.target import AttackTarget
from core.inline import fits_inline

EPS_MAX = 1.0  # the smallest-epsilon search's range: [0, EPS_MAX]
EPS_TOL = 1e-3  # ... and its precision
TOP_K = 5  # classes shown before and after


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
                     bounds=PIXEL_BOUNDS, eps_max: float = EPS_MAX, tol: float = EPS_TOL) -> SingleAttack | None:
    """``attack_one`` at the smallest eps on a grid of ``GRID`` that fools the model with ``settings.method``,
    refined by bisection (core.attacks.minimal); None when no grid point up to ``eps_max`` does."""
    targeted = settings.target_class is not None
    y = None if (label is None and not targeted) else torch.tensor(
        [settings.target_class if targeted else label], device=x.device)
    eps, _ = minimal_eps(model, x, y, method=settings.method, eps_max=eps_max, tol=tol, targeted=targeted,
                         steps=settings.steps, bounds=bounds, generator=torch.Generator().manual_seed(settings.seed))
    if not torch.isfinite(eps[0]):
        return None
    found = AttackSettings(**{**settings.to_dict(), "eps": float(eps[0]), "alpha": None})
    return attack_one(model, x, label, found, bounds)


@dataclass
class OneSampleRequest:
    """Everything one attack of one sample depends on: the result is cached and looked up by ``key()``."""

    target: str  # AttackTarget.ref: a run directory or "pretrained:NAME"
    x: np.ndarray  # the input, a batch of one: (1, C, H, W) pixels or (1, 1, N) waveform
    label: int | None = None  # the true class when known; None = the clean prediction (an upload, a photo)
    settings: AttackSettings = field(default_factory=AttackSettings)
    smallest: bool = False  # also search the smallest epsilon that fools the model with this method
    name: str = ""  # what the sample is called ("validation #12", a file name): shown, not part of the key
    version: float = 0.0  # the checkpoint's modification time (a new checkpoint is a new target)

    def __post_init__(self):
        self.x = np.ascontiguousarray(np.asarray(self.x, dtype=np.float32))
        if isinstance(self.settings, dict):
            self.settings = AttackSettings(**self.settings)

    def key(self) -> str:
        """A digest of the target, its version, the sample's values, the settings and the search flag."""
        h = hashlib.sha1(json.dumps([self.target, self.version, self.label, self.settings.to_dict(), self.smallest,
                                     list(self.x.shape)], sort_keys=True).encode())
        h.update(self.x.tobytes())
        return h.hexdigest()

    def to_dict(self) -> dict:
        """JSON-serialisable (the input base64-encoded): an 'attack_one' job's config."""
        return {"target": self.target, "x": encode_array(self.x), "label": self.label,
                "settings": self.settings.to_dict(), "smallest": bool(self.smallest), "name": self.name,
                "version": self.version}

    @classmethod
    def from_dict(cls, d: dict) -> "OneSampleRequest":
        """Rebuild from ``to_dict()`` output (extra keys, such as a job's naming, are ignored)."""
        return cls(target=d["target"], x=decode_array(d["x"]), label=d.get("label"),
                   settings=AttackSettings(**d["settings"]), smallest=bool(d.get("smallest")),
                   name=d.get("name", ""), version=float(d.get("version", 0.0)))


def request_passes(request: OneSampleRequest) -> tuple[int, int]:
    """The most (forward passes, forward + backward passes) ``one_sample`` takes for ``request``: the attack
    (before, the attack, after) and, when asked, the search (a first pass, each try's attack and check, then the
    attack at the eps found)."""
    s = request.settings
    grads = attack_method(s.method).gradient_passes(s.steps)
    forwards, gradients = 2, grads
    if request.smallest:
        tries = search_tries(EPS_MAX, EPS_TOL, GRID)
        forwards += 1 + tries + 2
        gradients += 1 + tries * grads + grads
    return forwards, gradients


def runs_inline(target: AttackTarget, request: OneSampleRequest) -> bool:
    """Whether ``request`` fits the server's inline budget (core.inline) for this target's model size."""
    forwards, gradients = request_passes(request)
    return fits_inline(target.macs, forwards, gradients)


@dataclass
class OneSample:
    """Everything the one-sample view shows, from one call: the attack, its top classes before and after, the
    perturbation made visible, the adversarial image as PNG, and the smallest epsilon found when asked."""

    attack: SingleAttack  # the attack at the chosen settings (its outcome: .fooled, .wrong_before, .snr_db)
    classes: list[str]  # class names
    kind: str  # 'image' | 'audio'
    top_before: list[tuple[str, float]]  # the TOP_K most probable classes on the clean input
    top_after: list[tuple[str, float]]  # ... on the attacked input
    perturbation: np.ndarray | None  # images: 0.5 + factor (x_adv - x), grey = unchanged; None for audio
    amplification: float  # that factor; 0 = no change
    png: bytes | None  # images: the adversarial input as an 8-bit PNG; None for audio
    searched: bool = False  # the smallest epsilon was asked for
    smallest: "OneSample | None" = None  # the view at the smallest eps found (None: not asked, or none up to 1)

    def to_dict(self) -> dict:
        """JSON-serialisable (arrays base64-encoded); the views are rebuilt from the attacks by ``from_dict``."""
        return {"attack": _attack_dict(self.attack), "classes": list(self.classes), "kind": self.kind,
                "searched": self.searched,
                "smallest": _attack_dict(self.smallest.attack) if self.smallest is not None else None}

    @classmethod
    def from_dict(cls, d: dict) -> "OneSample":
        """Rebuild from ``to_dict()`` output."""
        smallest = _attack_from(d["smallest"]) if d.get("smallest") else None
        return view(_attack_from(d["attack"]), d["classes"], d["kind"], searched=d["searched"], smallest=smallest)


def _attack_dict(a: SingleAttack) -> dict:
    return {"x": encode_array(a.x), "x_adv": encode_array(a.x_adv), "label": a.label,
            "probs_before": encode_array(a.probs_before), "probs_after": encode_array(a.probs_after),
            "settings": a.settings.to_dict(), "snr_db": a.snr_db}


def _attack_from(d: dict) -> SingleAttack:
    return SingleAttack(x=decode_array(d["x"]), x_adv=decode_array(d["x_adv"]), label=int(d["label"]),
                        probs_before=decode_array(d["probs_before"]), probs_after=decode_array(d["probs_after"]),
                        settings=AttackSettings(**d["settings"]), snr_db=float(d["snr_db"]))


def view(result: SingleAttack, classes, kind: str, *, searched: bool = False,
         smallest: SingleAttack | None = None) -> OneSample:
    """What the page shows of an attack (no model needed): top classes, the amplified perturbation, PNG bytes."""
    image = kind == "image"
    perturbation, factor = amplified(result.x, result.x_adv) if image else (None, 0.0)
    return OneSample(attack=result, classes=list(classes), kind=kind, top_before=top_k(result.probs_before, classes),
                     top_after=top_k(result.probs_after, classes), perturbation=perturbation,
                     amplification=factor, png=png_bytes(result.x_adv) if image else None, searched=searched,
                     smallest=view(smallest, classes, kind) if smallest is not None else None)


def one_sample(target: AttackTarget, request: OneSampleRequest) -> OneSample:
    """Attack ``request``'s sample on ``target`` and, when asked, find the smallest epsilon: the one call behind
    the page's one-sample view (inline when ``runs_inline``, else in an 'attack_one' job)."""
    x = torch.as_tensor(request.x).to(target.device)
    result = attack_one(target.model, x, request.label, request.settings, target.bounds)
    found = None
    if request.smallest:
        found = smallest_eps_one(target.model, x, request.label, request.settings, target.bounds)
    return view(result, target.classes, target.kind, searched=request.smallest, smallest=found)


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


def top_k(probs: np.ndarray, classes: list[str], k: int = TOP_K) -> list[tuple[str, float]]:
    """The ``k`` most probable classes (name, probability), most probable first."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]
