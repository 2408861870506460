"""Adversarial training as a part of the one training loop: a callback that swaps each training batch for its
attacked version (``before_batch``) and records robust accuracy on a fixed validation subset (``after_epoch``).

``TrainConfig.adversarial`` (a dict, None = off) becomes an ``AdversarialConfig``:

- ``{"method": "fgsm", "eps": 0.1, "alpha": 0.125, "random_start": True}``: fast adversarial training (Wong et al.
  2020): from a uniform random point of the eps-ball, one signed-gradient step of alpha = 1.25 eps, projected back;
- ``{"method": "pgd", "eps": 0.1, "steps": 7}``: Madry et al.'s PGD training (step 2.5 eps / steps by default).

Robust accuracy (epoch metric ``val_robust_acc``) is PGD with ``eval_steps`` steps at the same eps on the same
``eval_subset`` validation samples every epoch, beside the clean ``val_acc``. PGD rather than the training attack:
a model trained on FGSM can learn to resist FGSM alone ("catastrophic overfitting"); PGD shows it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch.utils.data import DataLoader, Subset

from core.attacks.methods import PIXEL_BOUNDS, WAVE_BOUNDS, fgsm, pgd
from core.fields import from_fields
from core.models import unwrap
from core.train.callbacks import Callback

METHODS = ("fgsm", "pgd")


@dataclass
class AdversarialConfig:
    """How training batches are attacked and how robustness is measured (input units: pixels or waveform)."""

    method: str = "fgsm"  # fgsm (fast: one step, from a random start when random_start) | pgd (several steps)
    eps: float = 0.1  # L-infinity radius of the attack; pixels run 0..1 (MNIST-scale 0.3, photos 8/255)
    alpha: float | None = None  # step size; None = 1.25 eps for fgsm (Wong et al.), 2.5 eps / steps for pgd
    steps: int = 7  # pgd: iterations per batch (ignored by fgsm)
    random_start: bool = True  # start from a uniform random point of the eps-ball (what makes fast FGSM work)
    eval_subset: int = 256  # validation samples (the first N, fixed) on which robust accuracy is measured
    eval_steps: int = 10  # PGD iterations of that measurement

    @classmethod
    def from_dict(cls, d: dict) -> "AdversarialConfig":
        """From ``TrainConfig.adversarial``; unknown keys are refused with their names."""
        return from_fields(cls, d, "adversarial setting", list_known=True)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @property
    def step(self) -> float:
        """The step size actually used."""
        if self.alpha is not None:
            return float(self.alpha)
        return 1.25 * self.eps if self.method == "fgsm" else 2.5 * self.eps / max(1, self.steps)


def adversarial_settings(eps: float, method: str = "fgsm") -> dict:
    """``TrainConfig.adversarial`` for the usual recipes: fast FGSM (random start, step 1.25 eps; Wong et al.) or
    PGD with 7 steps of 2.5 eps / 7 (Madry et al.). The command line's --adversarial-eps and the Train page use it."""
    if method == "fgsm":
        return {"method": "fgsm", "eps": eps, "alpha": 1.25 * eps, "random_start": True}
    return {"method": "pgd", "eps": eps, "steps": 7, "random_start": True}


def adversarial_problems(settings: dict | None, kind: str | None = None) -> list[str]:
    """Why ``TrainConfig.adversarial`` cannot be used (empty when fine or off)."""
    if not settings:
        return []
    try:
        cfg = AdversarialConfig.from_dict(dict(settings))
    except (TypeError, ValueError) as err:
        return [str(err)]
    out = []
    if kind == "text":
        out.append("adversarial training perturbs the input along its gradient; token ids are discrete, so it is "
                   "not available for text")
    if cfg.method not in METHODS:
        out.append(f"adversarial method must be one of {', '.join(METHODS)}, not {cfg.method!r}")
    if not (isinstance(cfg.eps, (int, float)) and 0 <= cfg.eps <= 1):
        out.append(f"adversarial epsilon must be between 0 and 1 (pixel values run from 0 to 1), got {cfg.eps!r}")
    if cfg.alpha is not None and not cfg.alpha > 0:
        out.append("adversarial step size (alpha) must be positive (or empty for the default)")
    if cfg.steps < 1 or cfg.eval_steps < 1 or cfg.eval_subset < 1:
        out.append("adversarial steps, eval_steps and eval_subset must be at least 1")
    return out


def _attack_batch(cfg: AdversarialConfig, model, x, y, bounds, generator):
    if cfg.method == "fgsm" and not cfg.random_start:
        return fgsm(model, x, y, cfg.eps, bounds=bounds)
    steps = 1 if cfg.method == "fgsm" else cfg.steps
    return pgd(model, x, y, cfg.eps, alpha=cfg.step, steps=steps, random_start=cfg.random_start, bounds=bounds,
               generator=generator)


def robust_accuracy(model, dataset, eps: float, *, steps: int = 10, bounds=PIXEL_BOUNDS, batch_size: int = 128,
                    collate_fn=None, seed: int = 0) -> float:
    """Share of ``dataset`` still classified correctly under PGD (``steps`` steps, random start drawn with
    ``seed``, step 2.5 eps / steps) at ``eps``. The model is left as found."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    correct = torch.zeros((), device=device)
    for x, y in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn):
        x, y = x.to(device), torch.as_tensor(y).to(device)
        x_adv = pgd(model, x, y, eps, steps=steps, bounds=bounds, generator=generator)
        with torch.no_grad():
            correct += (model(x_adv).argmax(1) == y).sum()
    return float(correct) / max(1, len(dataset))


class AdversarialTraining(Callback):
    """Train on attacked batches; ``val_robust_acc`` per epoch. Runs on every DDP process (each attacks its own
    shard through the plain module, no gradient sync); the measurement is the same on all of them."""

    order = -5  # attack before ActivationStats (0) starts recording the batch; val_robust_acc set before the
    # MetricsRecorder (10), TensorBoardLogger (15) and Checkpointer (20) read the epoch's metrics

    def __init__(self, config: AdversarialConfig, val_dataset, kind: str = "image", seed: int = 0):
        self.config, self.kind, self.seed = config, kind, seed
        self.bounds = WAVE_BOUNDS if kind == "audio" else PIXEL_BOUNDS
        n = min(config.eval_subset, len(val_dataset))
        self.subset = Subset(val_dataset, range(n))  # fixed: the same samples every epoch

    def before_fit(self, loop):
        self.generator = torch.Generator().manual_seed(loop.config.seed + 7919 * (1 + loop.info.rank))
        loop.notices.append(
            f"adversarial training: {self.config.method} at eps {self.config.eps:g} (step {self.config.step:.3g}"
            f"{', random start' if self.config.random_start else ''}); robust accuracy (PGD-{self.config.eval_steps})"
            f" on {len(self.subset)} validation samples per epoch")

    def before_batch(self, loop):
        if self.config.eps > 0:
            loop.xb = _attack_batch(self.config, unwrap(loop.model), loop.xb, loop.yb, self.bounds, self.generator)

    def after_epoch(self, loop):
        model = unwrap(loop.model)
        value = robust_accuracy(model, self.subset, self.config.eps, steps=self.config.eval_steps,
                                bounds=self.bounds, seed=self.seed)
        loop.metrics["val_robust_acc"] = value
        if loop.history:
            loop.history[-1]["val_robust_acc"] = value
