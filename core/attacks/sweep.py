"""Accuracy versus epsilon over a data loader: ``sweep(model, loader, epsilons)`` -> ``SweepResult``.

Batched: per batch the clean predictions are computed once (they are the eps = 0 column, so eps 0 equals clean
accuracy exactly); for FGSM the same forward pass gives the gradient, whose sign is reused for every epsilon (it
does not depend on eps): one forward/backward plus one forward per non-zero epsilon.
"""
from __future__ import annotations

import base64
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.attacks.methods import PIXEL_BOUNDS, attack, attack_method, attack_mode, logits_and_gradient

Progress = Callable[[int, int, str], None]  # (samples done, total, text)


def encode_array(a: np.ndarray) -> dict:
    """An array as JSON: dtype, shape and the raw bytes in base64 (exact round trip, compact)."""
    a = np.ascontiguousarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(d: dict) -> np.ndarray:
    """The inverse of ``encode_array``."""
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=d["dtype"]).reshape(d["shape"]).copy()


@dataclass
class SweepExamples:
    """The first few samples of the sweep, clean and attacked at every epsilon (float16: for showing)."""

    originals: np.ndarray  # (K, ...) clean inputs
    adversarial: np.ndarray  # (E, K, ...) attacked inputs, one row per epsilon
    labels: list[int]  # (K,) true classes
    preds: list[list[int]]  # (E, K) predictions at each epsilon (eps 0: the clean prediction)

    def to_dict(self) -> dict:
        """JSON-serialisable (arrays base64-encoded)."""
        return {"originals": encode_array(self.originals), "adversarial": encode_array(self.adversarial),
                "labels": list(self.labels), "preds": [list(p) for p in self.preds]}

    @classmethod
    def from_dict(cls, d: dict) -> "SweepExamples":
        """Rebuild from ``to_dict()`` output."""
        return cls(decode_array(d["originals"]), decode_array(d["adversarial"]), list(d["labels"]),
                   [list(p) for p in d["preds"]])


@dataclass
class SweepResult:
    """Accuracy of one model under one attack at several epsilons."""

    method: str  # fgsm | bim | pgd
    epsilons: list[float]  # attack radii, input units
    accuracy: list[float]  # share correct at each epsilon
    per_class: list[list[float | None]]  # (E, C) share correct per true class (None: class absent)
    n: int  # samples evaluated
    classes: list[str] = field(default_factory=list)  # class names (may be empty: ids only)
    steps: int = 0  # iterations of bim / pgd (0 for fgsm)
    examples: SweepExamples | None = None  # a few samples at every epsilon
    seconds: float = 0.0  # wall-clock time of the sweep

    def to_dict(self) -> dict:
        """JSON-serialisable dict (examples' arrays base64-encoded)."""
        d = asdict(self)
        d["examples"] = self.examples.to_dict() if self.examples is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SweepResult":
        """Rebuild from ``to_dict()`` output."""
        d = dict(d)
        d["examples"] = SweepExamples.from_dict(d["examples"]) if d.get("examples") else None
        return cls(**d)

    def table(self) -> list[dict]:
        """One row per epsilon: eps, eps in /255 steps and accuracy (for printing)."""
        return [{"eps": e, "eps_255": e * 255, "accuracy": a} for e, a in zip(self.epsilons, self.accuracy)]


def sweep(model: nn.Module, loader, epsilons, *, method: str = "fgsm", examples: int = 8,
          callback: Progress | None = None, steps: int = 10, alpha: float | None = None, bounds=PIXEL_BOUNDS,
          classes=None, generator: torch.Generator | None = None, limit: int | None = None) -> SweepResult:
    """Accuracy of ``model`` on ``loader`` (batches of (x, y)) under ``method`` at every eps in ``epsilons``.

    ``examples``: keep the first K samples, clean and attacked, at every eps. ``callback(done, total, text)``
    after each batch. BIM / PGD take ``steps`` steps of ``alpha`` (default 2.5 eps / steps). ``limit``: stop after
    this many samples. The model is left as found; batches go to the model's device. ``generator`` draws PGD's
    random starts; one generator serves the whole sweep, so every batch gets its own start (default: one seeded 0,
    so a sweep repeats).

    >>> sweep(model, val_loader, [0, 0.05, 0.1], method="pgd").accuracy    # doctest: +SKIP
    """
    iterative = attack_method(method).iterative  # refuses an unknown method, naming the known ones
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    start, eps_list = time.time(), [float(e) for e in epsilons]
    device = next(model.parameters()).device
    total = min(len(loader.dataset), limit) if limit else len(loader.dataset)
    acc = _Tally(len(eps_list))
    keep = _Keep(examples, len(eps_list))
    done = 0
    for x, y in loader:
        if limit and done >= limit:
            break
        x, y = x[: total - done].to(device), torch.as_tensor(y)[: total - done].to(device)
        preds = _batch_preds(model, x, y, eps_list, method, steps, alpha, bounds, generator, keep)
        acc.add(preds, y)
        keep.add(x, y, preds)
        done += len(y)
        if callback is not None:
            callback(done, total, f"{method}: {done}/{total} samples")
    accuracy, per_class = acc.result(len(classes) if classes else None)
    return SweepResult(method=method, epsilons=eps_list, accuracy=accuracy, per_class=per_class, n=done,
                       classes=[str(c) for c in classes or []], steps=steps if iterative else 0,
                       examples=keep.result(), seconds=time.time() - start)


def _batch_preds(model, x, y, eps_list, method, steps, alpha, bounds, generator, keep) -> torch.Tensor:
    """(E, B) predictions at every eps; eps 0 is the clean prediction (no attack is run for it)."""
    with attack_mode(model):
        grad_sign = None
        if method == "fgsm" and any(eps_list):  # one pass gives the clean logits and the gradient
            logits, grad = logits_and_gradient(model, x, y)
            clean, grad_sign = logits.argmax(1), grad.sign()
        else:
            with torch.no_grad():
                clean = model(x).argmax(1)
        out = []
        for i, eps in enumerate(eps_list):
            if eps == 0:
                out.append(clean)
                keep.adversarial(i, x)
                continue
            if grad_sign is not None:
                x_adv = (x + eps * grad_sign).clamp(*bounds)
            else:
                x_adv = attack(model, x, y, eps, method=method, steps=steps, alpha=alpha, bounds=bounds,
                               generator=generator)
            keep.adversarial(i, x_adv)
            with torch.no_grad():
                out.append(model(x_adv).argmax(1))
    return torch.stack(out)


class _Tally:
    """Correct counts per epsilon and per class, kept on the device and fetched once at the end."""

    def __init__(self, n_eps: int):
        self.n_eps, self.correct, self.count = n_eps, None, None

    def add(self, preds: torch.Tensor, y: torch.Tensor) -> None:
        c = max(int(y.max()) + 1, 1)
        hits = preds == y  # (E, B)
        correct = torch.stack([torch.bincount(y[h], minlength=c) for h in hits])  # (E, C)
        count = torch.bincount(y, minlength=c)
        self.correct = _grow_add(self.correct, correct)
        self.count = _grow_add(self.count, count)

    def result(self, n_classes: int | None):
        if self.count is None:
            return [math.nan] * self.n_eps, [[] for _ in range(self.n_eps)]
        correct, count = self.correct.double().cpu().numpy(), self.count.double().cpu().numpy()
        if n_classes and n_classes > len(count):
            correct = np.pad(correct, ((0, 0), (0, n_classes - len(count))))
            count = np.pad(count, (0, n_classes - len(count)))
        accuracy = (correct.sum(1) / count.sum()).tolist()
        per_class = [[None if n == 0 else float(c / n) for c, n in zip(row, count)] for row in correct]
        return accuracy, per_class


def _grow_add(total, new):
    """total + new, padding the class axis (the last one) when a batch shows a higher class id."""
    if total is None:
        return new
    width = max(total.shape[-1], new.shape[-1])
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[-1]))  # noqa: E731
    return pad(total) + pad(new)


class _Keep:
    """The first ``k`` samples of the sweep, clean and at every epsilon."""

    def __init__(self, k: int, n_eps: int):
        self.k, self.n_eps = k, n_eps
        self.x, self.y, self.preds, self.adv, self._batch_adv = [], [], [], [], {}

    def _room(self) -> int:
        return self.k - sum(len(t) for t in self.x)

    def adversarial(self, i: int, x_adv: torch.Tensor) -> None:
        if self._room() > 0:
            self._batch_adv[i] = x_adv[: self._room()].detach().half().cpu()

    def add(self, x, y, preds) -> None:
        room = self._room()
        if room <= 0:
            return
        self.x.append(x[:room].detach().half().cpu())
        self.y.append(y[:room].cpu())
        self.preds.append(preds[:, :room].cpu())
        self.adv.append(torch.stack([self._batch_adv[i] for i in range(self.n_eps)]))
        self._batch_adv = {}

    def result(self) -> SweepExamples | None:
        if not self.x:
            return None
        return SweepExamples(originals=torch.cat(self.x).numpy(), adversarial=torch.cat(self.adv, 1).numpy(),
                             labels=torch.cat(self.y).tolist(), preds=torch.cat(self.preds, 1).tolist())
