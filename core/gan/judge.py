"""A classifier run of the lab as the judge of generated images: which classes they look like, and how far their
features lie from the real images' (a Frechet distance on the judge's penultimate features).

The Frechet distance is torchmetrics' ``FrechetInceptionDistance`` given the judge as a custom feature extractor
(an ``nn.Module`` with ``num_features``): no Inception network, no torch-fidelity, nothing downloaded.

>>> judge = Judge.load("runs/20260101-120000-cnn-digits")                  # doctest: +SKIP
>>> judge.classify(fake).bincount(minlength=len(judge.classes))           # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


def judge_problems(config) -> list[str]:
    """Why ``config.judge`` cannot judge this run (empty when there is no judge or it can)."""
    if not config.judge:
        return []
    from core.train.checkpoint import run_checkpoint
    from core.train.store import CONFIG_NAME, RunStore

    run_dir = Path(config.judge)
    if not (run_dir / CONFIG_NAME).is_file():
        return [f"the judge {config.judge} is not a run directory (no {CONFIG_NAME})"]
    store = RunStore.open(run_dir)
    if store.info().kind != "train":
        return [f"the judge {run_dir.name} is not a classifier run"]
    data = store.config().get("data")
    if data != config.data:
        return [f"the judge {run_dir.name} was trained on {data}, not on {config.data}: its classes "
                "would mean nothing here"]
    if run_checkpoint(run_dir) is None:
        return [f"the judge {run_dir.name} has no checkpoint yet (it has not finished an epoch)"]
    return []


def _last_linear(model: nn.Module) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer whose input could serve as features")
    return linears[-1]


class Judge(nn.Module):
    """A trained classifier applied to generated images: ``forward`` gives its penultimate features (the input of
    its last Linear layer), ``classify`` its predicted classes. Inputs are GAN images in [-1, 1]; they are mapped to
    the classifier's [0, 1], its channel count and its input size first (bilinear, antialiased)."""

    def __init__(self, classifier: nn.Module, input_shape: tuple, classes: list[str], name: str = "judge"):
        super().__init__()
        self.classifier = classifier.eval()
        self.input_shape, self.classes, self.name = tuple(input_shape), list(classes), name
        self.head = _last_linear(classifier)
        self.num_features = self.head.in_features  # what FrechetInceptionDistance reads for its state size
        self.requires_grad_(False)

    @classmethod
    def load(cls, run_dir: str | Path) -> "Judge":
        """The classifier of a lab run (best checkpoint, else last), rebuilt from the checkpoint alone."""
        from core.train.checkpoint import LAST, load_model, run_checkpoint

        model, ckpt = load_model(run_checkpoint(run_dir) or run_dir, LAST)  # no checkpoint: load_model says so
        shape = tuple(ckpt.get("model_opts", {}).get("input_shape") or ())
        if len(shape) != 3:
            raise ValueError(f"the judge {Path(run_dir).name} is not an image classifier")
        return cls(model, shape, ckpt.get("classes") or [str(i) for i in range(ckpt["num_classes"])],
                   Path(run_dir).name)

    def train(self, mode: bool = True) -> "Judge":
        return super().train(False)  # a judge never leaves eval mode (FID's metric calls .train())

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """GAN images (B, C, h, w) in [-1, 1] -> the classifier's input (B, C', H, W) in [0, 1]."""
        c, h, w = self.input_shape
        x = (x.float() + 1) / 2
        if x.shape[1] != c:  # grey <-> colour
            x = x.mean(1, keepdim=True).expand(-1, c, -1, -1) if c in (1, 3) else x
        if tuple(x.shape[-2:]) != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        return x.clamp(0, 1)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = []
        hook = self.head.register_forward_hook(lambda m, inputs, out: features.append(inputs[0]))
        try:
            logits = self.classifier(self.prepare(x))
        finally:
            hook.remove()
        return logits, features[0].flatten(1)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, num_features) of GAN images ``x``."""
        return self._run(x)[1]

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted class ids (B,) of GAN images ``x``."""
        return self._run(x)[0].argmax(1)


def frechet_metric(judge: Judge, real: torch.Tensor, batch: int = 256):
    """A torchmetrics ``FrechetInceptionDistance`` on the judge's features, already fed the ``real`` images
    (kept across ``reset()``: only the generated side is measured again each time)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=judge, reset_real_features=False)
    for chunk in real.split(batch):
        metric.update(chunk, real=True)
    return metric


def frechet_distance(metric, fake: torch.Tensor, batch: int = 256) -> float:
    """The Frechet distance between the real images the metric holds and ``fake`` (at least 2 images)."""
    metric.reset()
    for chunk in fake.split(batch):
        metric.update(chunk, real=False)
    return float(metric.compute())
