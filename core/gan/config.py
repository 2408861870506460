"""What a GAN run is asked to do (``GanConfig``) and what it did (``GanResult``).

The four improvements of the teaching material are independent switches on every model: ``loss`` (mse -> bce),
``activation`` of the hidden layers (sigmoid -> leaky_relu), ``layer_norm`` (off -> on) and ``optimizer``
(sgd -> adam). ``d_steps`` is k, the discriminator steps per generator step.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from core.fields import from_fields
from core.gan.specs import TOYS

LOSSES = ("mse", "bce")  # mse: (D(x) - target)^2 as in the plain GAN; bce: the log-loss of the GAN paper
ACTIVATIONS = ("sigmoid", "leaky_relu")  # of every hidden layer (LeakyReLU slope 0.2)
OPTIMIZERS = ("sgd", "adam")  # each network has its own optimizer of this kind

# ideal values of a balanced game (D cannot tell real from fake: D(x) = D(G(z)) = 0.5) per loss
IDEAL_LOSS = {"mse": 0.25, "bce": math.log(2)}  # (1 - 0.5)^2 and -ln(0.5)
IDEAL_D = 0.5  # mean D(x) and mean D(G(z)) at the balance


def ideal_lines(loss: str, summed: bool = False) -> dict[str, float]:
    """The balanced-game values the loss chart draws: each D loss, the G loss, D(x) and D(G(z)).

    ``summed``: the real and fake discriminator losses shown as one sum (2 x each: 0.5 for MSE, 2 ln 2 for BCE).

    >>> round(ideal_lines("bce")["d_loss_real"], 3), round(ideal_lines("bce", summed=True)["d_loss"], 3)
    (0.693, 1.386)
    """
    each = IDEAL_LOSS[loss]
    d = {"d_loss": 2 * each} if summed else {"d_loss_real": each, "d_loss_fake": each}
    return {**d, "g_loss": each, "d_real": IDEAL_D, "d_fake": IDEAL_D}


@dataclass
class GanConfig:
    """Everything one GAN run needs; JSON round-trip with ``to_dict`` / ``from_dict``.

    >>> GanConfig(data="toy:ring", max_steps=5).to_dict()["max_steps"]
    5
    """

    data: str = "toy:ring"  # toy:1010 | toy:ring | an image source core.data.load reads (builtin:digits, a folder)
    model: str = "mlp"  # core.gan.models registry name: mlp | dcgan (sized to the data) | dcgan-8/-28/-32/-64
    model_opts: dict = field(default_factory=dict)  # extra constructor options, e.g. {"hidden": [64]}, {"width": 32}
    data_opts: dict = field(default_factory=dict)  # extra core.data.load options for image sources
    image_size: int = 0  # side the images are loaded at; 0 = the data's own size (snapped to a DCGAN size)
    loss: str = "bce"  # mse | bce: the first improvement (BCE's gradient does not vanish when D is sure)
    activation: str = "leaky_relu"  # sigmoid | leaky_relu in the hidden layers: the second improvement
    layer_norm: bool = True  # LayerNorm after each hidden layer (DCGAN: instead of batch-norm): the third
    optimizer: str = "adam"  # sgd | adam, one per network: the fourth improvement
    lr_g: float = 1e-4  # generator learning rate
    lr_d: float = 1e-4  # discriminator learning rate
    betas: list = field(default_factory=lambda: [0.5, 0.999])  # Adam's betas; beta1 0.5 is the DCGAN recipe
    momentum: float = 0.0  # SGD momentum (0: the plain SGD of the teaching material)
    d_steps: int = 1  # k: discriminator steps (each on a real and a generated batch) per generator step
    batch_size: int = 64  # real samples per discriminator step (and generated samples per step)
    latent_dim: int = 0  # size of z; 0 = the model's default for the data (toy:1010: 1, ring: 8, images: 100)
    noise_input: bool = False  # toy:1010: feed the generator random noise instead of the constant 0.5
    samples: int = 0  # toy data: real samples per epoch; 0 = the toy's default (image data: the train split)
    epochs: int = 10  # passes over the real data
    max_steps: int = 0  # stop after this many generator steps in all (tiny runs, tests); 0 = no limit
    snapshot_every: int = 100  # render the fixed preview seeds every N generator steps (the progress strip)
    preview: int = 0  # how many fixed seeds the strip shows; 0 = the data's default (16 images, 512 ring points)
    collapse_every: int = 0  # measure mode collapse every N steps; 0 = with every snapshot
    judge: str | None = None  # a classifier run directory trained on the same data: class histogram, FID
    checkpoint_every: int = 500  # also save both networks every N steps (epoch ends and the end always save)
    log_every: int = 10  # fetch the per-step numbers from the device every N steps (no per-step sync)
    seed: int = 0  # seeds the explicit torch.Generators: weights, data order, z; same config, same run
    device: str = "auto"  # auto (cuda > mps > cpu) or an explicit torch device string
    runs_dir: str | None = None  # where the run directory goes; None = settings' runs root
    resume_from: str | None = None  # a GAN run directory to continue from (its last checkpoint)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GanConfig":
        """Rebuild from ``to_dict()`` output; unknown keys are refused with their names."""
        return from_fields(cls, d)

    def replace(self, **changes) -> "GanConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def is_toy(self) -> bool:
        """True for toy:1010 and toy:ring (generated data, no files)."""
        return self.data in TOYS

    def improvements(self) -> dict[str, bool]:
        """Which of the four improvements are on (the page and the verdict name them). A DCGAN is always normalised
        (batch-norm, or LayerNorm instead), so its third improvement is always on."""
        norm = ("normalisation", True) if self.model.startswith("dcgan") else ("LayerNorm", self.layer_norm)
        return {"BCE loss": self.loss == "bce", "LeakyReLU": self.activation == "leaky_relu", norm[0]: norm[1],
                "Adam": self.optimizer == "adam"}

    def problems(self, probe=None, limits=None) -> list[str]:
        """Reasons this config cannot run (empty when fine).

        ``probe``: a ``core.gan.data.DataProbe`` of ``data`` (kind, image size, or why it is unreadable); with it
        the model is checked against the data (an 8x8 DCGAN on 64x64 images is refused). ``limits``: the server's
        ``Limits`` (max epochs, batch size).
        """
        from core.gan.judge import judge_problems
        from core.gan.models import model_problems

        out = self._field_problems()
        out += model_problems(self, probe) + judge_problems(self)
        if limits is not None:
            from core.jobs.limits import size_problems

            out += size_problems(epochs=self.epochs, batch_size=self.batch_size, limits=limits)
        return out

    def _field_problems(self) -> list[str]:
        out = []
        for name, allowed in (("loss", LOSSES), ("activation", ACTIVATIONS), ("optimizer", OPTIMIZERS)):
            if getattr(self, name) not in allowed:
                out.append(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "d_steps", "snapshot_every", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                out.append(f"{name.replace('_', ' ')} must be at least 1")
        if not (self.lr_g > 0 and self.lr_d > 0):
            out.append("learning rates must be positive")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            out.append("Adam betas must be two numbers in [0, 1)")
        for name in ("max_steps", "latent_dim", "samples", "preview", "collapse_every", "image_size", "momentum"):
            if getattr(self, name) < 0:
                out.append(f"{name.replace('_', ' ')} must be >= 0")
        if self.noise_input and self.data != "toy:1010":
            out.append("noise input is a toy:1010 option (the other generators always take random z)")
        if self.judge and self.is_toy:
            out.append("a judge classifier rates images; the toy data sets have no classes to judge")
        return out

    def check(self, probe=None) -> None:
        """Raise ``ValueError`` listing every problem (see ``problems``)."""
        problems = self.problems(probe)
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class GanResult:
    """What ``core.gan.fit`` returns: where the run is, how it ended, per-epoch history and the collapse figures."""

    run_dir: str | None  # the run directory
    status: str  # finished | stopped | failed
    steps: int  # generator steps taken in all (each after ``d_steps`` discriminator steps)
    epochs_done: int  # passes over the real data completed
    history: list[dict] = field(default_factory=list)  # per epoch: means of the per-step series + collapse figures
    collapse: dict | None = None  # the last CollapseReport.to_dict() (modes covered, diversity, judge figures)
    error: str | None = None  # why a failed run failed
    stop_reason: str | None = None  # why a stopped / early-finished run stopped
    notices: list[str] = field(default_factory=list)  # things the user should know
    last_checkpoint: str | None = None  # checkpoints/last.pt when written
    seconds: float = 0.0  # wall-clock duration of fit

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GanResult":
        """Rebuild from ``to_dict()`` output."""
        return cls(**d)
