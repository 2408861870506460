"""What a super-resolution run is asked to do (``EnhanceConfig``) and what it measured (``EnhanceResult``)."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.enhance.data import CHANNELS, PHOTOS_SOURCE, SCALES
from core.enhance.losses import CRITICS, PIXEL_LOSSES

MAX_PATCH = 96  # low-resolution patch side at most (memory per batch stays small)


@dataclass
class EnhanceConfig:
    """Everything one super-resolution run needs; JSON round-trip with ``to_dict`` / ``from_dict``. The defaults
    (ESPCN x2 on Y, L1, Adam 1e-3, 1500 steps) beat bicubic on the held-out photos in a few CPU minutes.

    >>> EnhanceConfig(max_steps=5).to_dict()["max_steps"]
    5
    """

    data: str = PHOTOS_SOURCE  # builtin:photos (scikit-image's photos) | builtin:shapes | a folder | a .zip
    scale: int = 2  # 2 | 3 | 4: the upsampling factor (and the downscaling of the pairs)
    model: str = "espcn"  # core.enhance.models registry: book | srcnn | espcn | resize_conv
    channels: str = "y"  # y: train and measure on luminance (colour from bicubic), as the papers | rgb
    patch: int = 24  # low-resolution patch side of the training pairs (high-resolution side: patch * scale)
    batch_size: int = 16  # pairs per step (fresh random crops every step)
    epochs: int = 6  # an epoch is ``steps_per_epoch`` steps (the crops are random: there is no fixed pass)
    steps_per_epoch: int = 250  # steps per epoch
    max_steps: int = 0  # stop after this many steps in all (tiny runs, tests); 0 = epochs * steps_per_epoch
    lr: float = 1e-3  # Adam learning rate of the upsampler (at the start: it decays along a cosine to lr/100)
    pixel_loss: str = "l1"  # l1 | mse: the PSNR-oriented loss
    perceptual_weight: float = 0.0  # weight of the EfficientNet-Lite0 feature loss (0 = off; try 0.05)
    critic: str = "none"  # none | plain | relativistic: the adversarial loss (SRGAN / ESRGAN)
    adversarial_weight: float = 0.01  # weight of the adversarial term for the upsampler
    lr_critic: float = 1e-4  # Adam learning rate of the critic
    perceptual_eval: bool = True  # at the end, also measure the Lite0 feature distance of the held-out images
    eval_every: int = 100  # measure PSNR on held-out crops and render the strip every N steps
    checkpoint_every: int = 500  # also save the networks every N steps (the end always saves)
    seed: int = 0  # seeds the explicit torch.Generators: weights, crops
    device: str = "auto"  # auto (cuda > mps > cpu) or a torch device string
    runs_dir: str | None = None  # where the run directory goes; None = settings' runs root
    resume_from: str | None = None  # an enhance run directory to continue from (its last checkpoint)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EnhanceConfig":
        """Rebuild from ``to_dict()`` output; unknown keys are refused with their names."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown EnhanceConfig field(s): {', '.join(unknown)}")
        return cls(**d)

    def replace(self, **changes) -> "EnhanceConfig":
        return dataclasses.replace(self, **changes)

    @property
    def total_steps(self) -> int:
        total = self.epochs * self.steps_per_epoch
        return min(total, self.max_steps) if self.max_steps else total

    def problems(self, limits=None) -> list[str]:
        """Reasons this config cannot run (empty when fine); ``limits``: the server's ``Limits``."""
        from core.enhance.models import MODELS

        out = []
        for name, allowed in (("model", tuple(MODELS)), ("channels", CHANNELS), ("pixel_loss", PIXEL_LOSSES),
                              ("critic", CRITICS)):
            if getattr(self, name) not in allowed:
                out.append(f"{name.replace('_', ' ')} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.scale not in SCALES:
            out.append(f"scale must be one of {', '.join(map(str, SCALES))}, not {self.scale}")
        for name in ("epochs", "steps_per_epoch", "batch_size", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                out.append(f"{name.replace('_', ' ')} must be at least 1")
        if not 8 <= self.patch <= MAX_PATCH:
            out.append(f"patch must be between 8 and {MAX_PATCH} low-resolution pixels, not {self.patch}")
        if self.model == "book" and self.patch % 4:
            out.append("the book's upsampler needs a patch side divisible by 4 (its encoder divides by 4)")
        if not (self.lr > 0 and self.lr_critic > 0):
            out.append("learning rates must be positive")
        if self.perceptual_weight < 0 or self.adversarial_weight < 0 or self.max_steps < 0:
            out.append("weights and the step limit must be >= 0")
        if limits is not None:
            if self.epochs > limits.max_epochs:
                out.append(f"{self.epochs} epochs is over this server's limit of {limits.max_epochs} "
                           "(max_epochs in lab.toml)")
            if self.batch_size > limits.max_batch_size:
                out.append(f"batch size {self.batch_size} is over this server's limit of {limits.max_batch_size}")
        return out

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class ImageScore:
    """One held-out image: PSNR / SSIM of the model and of bicubic, and the perceptual figures."""

    name: str
    psnr: float
    psnr_bicubic: float
    ssim: float
    ssim_bicubic: float
    perceptual: float = float("nan")  # Lite0 feature distance to the original (lower: more alike)
    perceptual_bicubic: float = float("nan")
    sharpness: float = float("nan")  # mean gradient of the output relative to the original's (1 = as sharp)


@dataclass
class EvalReport:
    """PSNR and SSIM of a model and of bicubic on a source's images, per image and the means."""

    source: str
    scale: int
    on: str  # 'y' or 'rgb': where PSNR / SSIM were measured
    images: list = field(default_factory=list)  # ImageScore dicts
    means: dict = field(default_factory=dict)  # psnr, psnr_bicubic, ssim, ssim_bicubic, perceptual, ...
    skipped: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EvalReport":
        return cls(**d)


@dataclass
class EnhanceResult:
    """What ``core.enhance.fit`` returns: where the run is, how it ended, the held-out evaluation."""

    run_dir: str | None
    status: str  # finished | stopped | failed
    steps: int
    seconds: float
    evaluation: dict | None = None  # EvalReport.to_dict() on the held-out images at the end
    stop_reason: str | None = None
    notices: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EnhanceResult":
        return cls(**d)
