"""Knowledge distillation (Hinton et al. 2015) and defensive distillation (Papernot et al. 2016).

The student learns the teacher's softened probabilities ``softmax(teacher_logits / T)``, optionally with the true
labels weighted by ``alpha``:

    loss = (1 - alpha) * T^2 * KL( softmax(t / T) || softmax(s / T) )  +  alpha * CE(s, y)

The T^2 keeps the soft term's gradients on the scale of the hard term's as T changes (Hinton et al., section 2).
At test time the student's logits are used as they are (T = 1).

- Knowledge distillation: a smaller student (e.g. an MLP) from a bigger teacher (a CNN), T about 2-5, alpha 0-0.5.
- Defensive distillation: the same architecture at a high T (20-100). The robustness to gradient attacks (FGSM,
  PGD) reported for it is largely *gradient masking*: at T = 1 the student's softmax saturates, so the loss
  gradients an attack follows vanish numerically; the decision boundaries barely move. Attacks crafted on an
  undistilled surrogate still transfer (Carlini & Wagner 2016, "Defensive distillation is not robust to
  adversarial examples"). bench/bench_quality.py measures it on the digits.

In ``TrainConfig.distill``: ``{"teacher": RUN_DIR, "temperature": 4.0, "alpha": 0.0}``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

MAX_TEMPERATURE = 100.0


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
                      targets: torch.Tensor | None = None, alpha: float = 0.0,
                      criterion: nn.Module | None = None) -> torch.Tensor:
    """Hinton's loss: T^2 * KL(teacher_T || student_T) (batch mean), plus ``alpha`` x cross-entropy on ``targets``.

    >>> s, t = torch.zeros(2, 3), torch.zeros(2, 3)
    >>> float(distillation_loss(s, t, 4.0))
    0.0
    """
    t = float(temperature)
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits.detach() / t, dim=1),
                    reduction="batchmean", log_target=True) * (t * t)
    if alpha <= 0 or targets is None:
        return soft
    hard = (criterion or nn.CrossEntropyLoss())(student_logits, targets)
    return (1 - alpha) * soft + alpha * hard


@dataclass
class DistillConfig:
    teacher: str  # the teacher's run directory (its best checkpoint, else its last)
    temperature: float = 4.0  # T: how soft the teacher's probabilities are; 20-100 for defensive distillation
    alpha: float = 0.0  # weight of the true labels' cross-entropy (0 = teacher only)

    @classmethod
    def from_dict(cls, d: dict) -> "DistillConfig":
        return cls(str(d.get("teacher") or ""), float(d.get("temperature", 4.0)), float(d.get("alpha", 0.0)))


def distill_settings(teacher: str, temperature: float = 4.0, alpha: float = 0.0) -> dict:
    """The ``TrainConfig.distill`` value for these settings."""
    return {"teacher": str(teacher), "temperature": float(temperature), "alpha": float(alpha)}


def distill_problems(distill: dict, data: str | None = None, mixup_alpha: float = 0.0,
                     adversarial=None, model: str | None = None) -> list[str]:
    """Why these distillation settings cannot run (empty when they can)."""
    from core.train.evaluate import checkpoint_path

    try:
        d = DistillConfig.from_dict(distill)
    except (TypeError, ValueError, AttributeError):
        return ["distillation settings must be a teacher run, a temperature and an alpha"]
    out = []
    if not 0 < d.temperature <= MAX_TEMPERATURE:
        out.append(f"the distillation temperature must be in (0, {MAX_TEMPERATURE:g}]")
    if not 0 <= d.alpha <= 1:
        out.append("the true-label weight alpha must be in [0, 1]")
    if mixup_alpha > 0:
        out.append("distillation and mixup cannot be combined (the teacher sees the unmixed batch); turn one off")
    if adversarial:
        out.append("distillation and adversarial training cannot be combined here; turn one off")
    teacher = Path(d.teacher)
    if not d.teacher or not (teacher / "metrics.sqlite").is_file():
        return out + ["the teacher must be a finished training run"]
    if checkpoint_path(teacher) is None:
        return out + [f"the teacher run {teacher.name} has no checkpoint yet"]
    cfg = _teacher_config(teacher)
    if data is not None and (cfg.get("data") != data):
        out.append(f"the teacher {teacher.name} was trained on {cfg.get('data')}, not on {data}: a teacher must "
                   "know the same classes and inputs")
    if _cached_inputs(cfg.get("model")) or _cached_inputs(model):
        out.append("distillation needs teacher and student to take the same raw inputs; spectrogram and "
                   "transfer models train on cached features, so they cannot be distilled into or from here")
    return out


def _cached_inputs(model: str | None) -> bool:
    from core.models import MODELS

    return model in MODELS and MODELS[model].input_features is not None


def _teacher_config(teacher: Path) -> dict:
    from core.train.store import RunStore

    return RunStore.open(teacher).config()


def parameter_count(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


class Distillation:
    """A loop callback: after the loss, replace it with the distillation loss against the teacher's logits.

    The teacher (eval mode, no gradients) sees the same batch as the student. Notices say who teaches whom, the
    sizes, and at the end the teacher's and the student's validation accuracy.
    """

    order = -5

    def __init__(self, config: DistillConfig, bundle, device, data_opts: dict | None = None):
        from core.train.evaluate import load_run_model

        self.config = config
        cfg = _teacher_config(Path(config.teacher))
        same_view = (cfg.get("data_opts") or {}) == (data_opts or {})  # else the teacher loads its own view
        self.teacher, teacher_bundle = load_run_model(config.teacher, bundle if same_view else None)
        if list(teacher_bundle.classes) != list(bundle.classes):
            raise ValueError(f"the teacher {Path(config.teacher).name} was trained on other classes")
        self.teacher.to(device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.teacher_name, self.teacher_model = Path(config.teacher).name, cfg.get("model", "?")
        self.teacher_acc = _final_val_acc(config.teacher)

    def before_fit(self, loop):
        n_t, n_s = parameter_count(self.teacher), parameter_count(loop.model)
        loop.notices.append(f"distilling from {self.teacher_name} ({self.teacher_model}, {n_t:,} parameters"
                            f"{_acc(self.teacher_acc)}) at temperature {self.config.temperature:g}, true-label "
                            f"weight {self.config.alpha:g}; the student has {n_s:,} parameters "
                            f"({n_s / max(n_t, 1):.2f}x the teacher)")

    def after_loss(self, loop):
        with torch.no_grad():
            teacher_logits = self.teacher(loop.xb)
        loop.loss = distillation_loss(loop.out, teacher_logits, self.config.temperature, loop.yb,
                                      self.config.alpha, loop.criterion)

    def after_fit(self, loop):
        accs = [h.get("val_acc") for h in loop.history if h.get("val_acc") is not None]
        if accs:
            loop.notices.append(f"teacher {self.teacher_model}{_acc(self.teacher_acc)} with "
                                f"{parameter_count(self.teacher):,} parameters; student (this run) "
                                f"val acc {accs[-1]:.1%} with {parameter_count(loop.model):,} parameters")


def _final_val_acc(run_dir) -> float | None:
    from core.train.store import RunStore

    epochs = RunStore.open(run_dir).epochs()
    return float(epochs["val_acc"].iloc[-1]) if "val_acc" in epochs and len(epochs) else None


def _acc(acc: float | None) -> str:
    return f", val acc {acc:.1%}" if acc is not None else ""
