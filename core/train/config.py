"""What a training run is asked to do (``TrainConfig``) and what it did (``RunResult``)."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from core.fields import from_fields

OPTIMIZERS = ("adam", "adamw", "sgd")  # sgd always with momentum (TrainConfig.momentum)
SCHEDULERS = ("none", "step", "cosine", "one-cycle")


@dataclass
class TrainConfig:
    """Everything one training run needs; JSON round-trip with ``to_dict`` / ``from_dict``.

    >>> TrainConfig(data="builtin:digits", model="cnn", max_steps=5).to_dict()["max_steps"]
    5
    """

    data: str = "builtin:digits"  # core.data.load source: builtin:NAME, a folder or a file
    model: str = "cnn"  # core.models registry name; must suit the data's kind
    model_opts: dict = field(default_factory=dict)  # extra constructor options, e.g. {"hidden": 128}
    data_opts: dict = field(default_factory=dict)  # extra core.data.load options (image size, max vocab, ...)
    epochs: int = 8  # passes over the training split
    batch_size: int = 64  # samples per optimizer step (per process under DDP)
    optimizer: str = "adamw"  # adam | adamw | sgd (with momentum); adamw is a robust default
    lr: float = 3e-3  # peak learning rate of the head (one-cycle warms up to it)
    weight_decay: float = 1e-4  # L2 penalty (decoupled for adamw); small, keeps weights in check
    momentum: float = 0.9  # sgd momentum (ignored by adam/adamw)
    scheduler: str = "one-cycle"  # none | step | cosine | one-cycle (warm-up then cosine down; fast convergence)
    step_size: int = 3  # step scheduler: epochs between LR drops
    gamma: float = 0.1  # step scheduler: factor applied at each drop
    freeze_epochs: int = 0  # train only the head for this many epochs, then unfreeze (transfer models)
    train_bn: bool = True  # while frozen, keep batch-norm layers trainable (they adapt to the new data cheaply)
    cache_features: bool = True  # backbone frozen all run, no augmentation: its features computed once per image
    lr_decay: float = 1.0  # differential LRs: head = lr, previous group lr/lr_decay, earlier lr/lr_decay**2
    mixup_alpha: float = 0.0  # mixup Beta(a, a) per batch; 0 = off; refused for text
    label_smoothing: float = 0.0  # epsilon of nn.CrossEntropyLoss(label_smoothing=...); 0 = plain CE
    augment: dict | None = None  # core.augment Pipeline.to_dict(); None = the kind's preset (if augment_preset)
    augment_preset: bool = True  # when augment is None use core.augment.preset(kind); False = no augmentation
    grad_clip: float = 0.0  # clip the global gradient norm to this; 0 = off
    seed: int = 0  # seeds python, numpy and torch: same config, same run
    deterministic: bool = False  # torch.use_deterministic_algorithms: bit-reproducible, sometimes slower
    device: str = "auto"  # auto (cuda > mps > cpu) or an explicit torch device string
    runs_dir: str | None = None  # where the run directory goes; None = settings' runs root
    stats_every: int = 10  # record activation statistics every N steps; 0 = off
    stats_all_layers: bool = False  # hook every leaf layer instead of the top-level blocks
    checkpoint_segments: int = 0  # gradient checkpointing: the model's chain in N segments (core.debug); 0/1 = off
    grad_every: int = 10  # record each layer's gradient norm and update/weight ratio every N steps; 0 = off
    log_every: int = 10  # fetch losses / stats from the device every N steps (no per-step sync)
    early_stop: int = 0  # stop when val loss has not improved for this many epochs; 0 = off
    tensorboard: bool = True  # also write TensorBoard event files into the run directory
    num_workers: int = 0  # DataLoader worker processes; 0 keeps cached features in this process
    max_steps: int = 0  # stop after this many optimizer steps in all (tiny runs, tests); 0 = no limit
    resume_from: str | None = None  # a run directory or checkpoint file to continue from (its last checkpoint)
    # adversarial training, None = off; e.g. {"method": "fgsm", "eps": 0.1, "alpha": 0.125, "random_start": True}
    # (fast FGSM training) or {"method": "pgd", "eps": 0.1, "steps": 7}; see core.train.adversarial
    adversarial: dict | None = None
    # start small and get bigger: [[first_epoch, size], ...], e.g. [[0, 64], [2, 128], [4, 224]], ending at the
    # data's image size; [] = every epoch at the data's size (see core.train.resize)
    size_schedule: list = field(default_factory=list)
    # distillation, None = off: {"teacher": RUN_DIR, "temperature": 4.0, "alpha": 0.0}; the student learns the
    # teacher's softened probabilities (+ alpha x the true labels); see core.train.distill
    distill: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Rebuild from ``to_dict()`` output; unknown keys are refused with their names."""
        return from_fields(cls, d)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def problems(self, kind: str | None = None) -> list[str]:
        """Reasons this config cannot run (empty when fine); ``kind`` is the data kind when known."""
        out = []
        if self.optimizer not in OPTIMIZERS:
            out.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            out.append(f"scheduler must be one of {', '.join(SCHEDULERS)}, not {self.scheduler!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                out.append(f"{name} must be at least 1")
        if not self.lr > 0:
            out.append("learning rate must be positive")
        if not 0 <= self.label_smoothing < 1:
            out.append("label smoothing must be in [0, 1)")
        if self.mixup_alpha < 0:
            out.append("mixup alpha must be >= 0 (0 = off)")
        if self.mixup_alpha > 0 and kind == "text":
            out.append("mixup mixes inputs pixel by pixel (or sample by sample); token ids cannot be averaged, "
                       "so mixup is not available for text; set mixup alpha to 0")
        if self.lr_decay < 1:
            out.append("lr_decay must be >= 1 (1 = same LR for every layer group)")
        if not 0 <= self.freeze_epochs <= self.epochs:
            out.append("freeze epochs must be between 0 and the number of epochs")
        if not 0 <= self.checkpoint_segments <= 64:
            out.append("checkpoint segments must be between 0 (off) and 64")
        if self.grad_clip < 0 or self.weight_decay < 0 or self.max_steps < 0:
            out.append("grad_clip, weight_decay and max_steps must be >= 0")
        if self.adversarial:
            from core.train.adversarial import adversarial_problems

            out += adversarial_problems(self.adversarial, kind or _model_kind(self.model))
        if self.size_schedule:
            from core.train.sizes import schedule_problems

            out += schedule_problems(self.size_schedule, self.epochs, None, kind or _model_kind(self.model))
        if self.distill:
            from core.train.distill import distill_problems

            out += distill_problems(self.distill, self.data, self.mixup_alpha, self.adversarial, self.model)
        return out

    def check(self, kind: str | None = None) -> None:
        """Raise ``ValueError`` listing every problem (see ``problems``)."""
        problems = self.problems(kind)
        if problems:
            raise ValueError("; ".join(problems))


def _model_kind(model: str) -> str | None:
    """The data kind a registered model is for (None for an unknown name: reported elsewhere)."""
    from core.models import MODELS

    return MODELS[model].kind if model in MODELS else None


def recommended(model: str, data: str = "builtin:digits", **overrides) -> TrainConfig:
    """The registry's defaults for ``model`` on ``data``: what the pages pre-fill, the CLI starts and the benchmark
    measures (one place for all three). ``overrides`` are TrainConfig fields the user set.

    - per-source refinements (``ModelSpec.data_defaults``) apply on top of the model's defaults;
    - a transfer model with nothing pretrained to load here starts unfrozen: a frozen random backbone cannot help;
    - a model whose defaults keep the backbone frozen for the whole run keeps it so when only ``epochs`` changes.

    >>> recommended("lstm", "builtin:reviews").model
    'lstm'
    """
    from core.models import spec, weights_plan

    s = spec(model)
    values = {**s.defaults, **s.data_defaults.get(data, {})}
    frozen_throughout = 0 < values.get("freeze_epochs", 0) == values.get("epochs", -1)
    if frozen_throughout and "epochs" in overrides and "freeze_epochs" not in overrides:
        values["freeze_epochs"] = overrides["epochs"]
    if s.backbone and "freeze_epochs" not in overrides:
        weights = {**values.get("model_opts", {}), **overrides.get("model_opts", {})}.get("weights", "auto")
        try:
            pretrained = weights_plan(s.backbone, weights).pretrained
        except FileNotFoundError:  # a named file that is not there: the launch check says so
            pretrained = False
        if not pretrained:
            values["freeze_epochs"] = 0
    return TrainConfig(data=data, model=model, **{**values, **overrides})


@dataclass
class RunResult:
    """What ``fit`` returns: where the run is, how it ended, and the per-epoch history."""

    run_dir: str | None  # the run directory (None on non-zero DDP ranks, which write nothing)
    status: str  # finished | stopped | failed
    epochs_done: int  # epochs completed (validation ran)
    steps: int  # optimizer steps taken in all
    history: list[dict] = field(default_factory=list)  # per epoch: epoch, train_loss, train_acc, val_loss, val_acc, lr
    best_val_acc: float | None = None  # highest validation accuracy seen
    error: str | None = None  # why a failed run failed, and what to try
    stop_reason: str | None = None  # why a stopped / early-finished run stopped
    notices: list[str] = field(default_factory=list)  # things the user should know (no pretrained weights, ...)
    best_checkpoint: str | None = None  # path of checkpoints/best.pt when written
    last_checkpoint: str | None = None  # path of checkpoints/last.pt when written
    seconds: float = 0.0  # wall-clock duration of fit

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return asdict(self)


def input_shape_for(bundle, model: str | None = None) -> tuple:
    """The shape of one example as ``model`` trains on ``bundle`` (by default the bundle's default model): the one
    rule the Datasets page shows, the Augment page previews at and the Train form fits a pipeline to.

    An image model whose settings load the data at its own size (EfficientNet-Lite0: ``data_opts`` image_size 224)
    trains at that size, whatever size the data set was loaded at for browsing; every other model at the bundle's
    ``input_shape``."""
    from core.models import default_model

    shape = tuple(bundle.input_shape)
    if bundle.kind != "image" or len(shape) != 3:
        return shape
    size = (recommended(model or default_model(bundle), bundle.source).data_opts or {}).get("image_size")
    return (shape[0], int(size), int(size)) if size else shape
