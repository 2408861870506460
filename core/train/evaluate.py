"""After a run: reload its model, evaluate it on a split, predict one input, summarise the layers.

>>> model, bundle = load_run_model(run_dir)                        # doctest: +SKIP
>>> ev = evaluate(model, bundle)                                   # probabilities for every val example
>>> ev.accuracy, ev.confusion(), ev.most_confident_wrong(12)       # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from core.train.checkpoint import run_checkpoint



@dataclass
class Mistake:
    """One wrongly classified example."""

    index: int  # position in the split
    true: int  # true class index
    pred: int  # predicted class index
    confidence: float  # the model's probability for its (wrong) prediction


@dataclass
class Evaluation:
    """Class probabilities of a model on one split, with the derived views the Train page shows."""

    classes: list[str]  # class names, index = class id
    targets: np.ndarray  # (N,) true class ids
    probs: np.ndarray  # (N, C) softmax probabilities

    @property
    def preds(self) -> np.ndarray:
        """(N,) predicted class ids."""
        return self.probs.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        """Share of examples classified correctly."""
        return float((self.preds == self.targets).mean()) if len(self.targets) else float("nan")

    def confusion(self) -> np.ndarray:
        """(C, C) counts: row = true class, column = predicted class."""
        c = len(self.classes)
        return np.bincount(self.targets * c + self.preds, minlength=c * c).reshape(c, c)

    def per_class_accuracy(self) -> np.ndarray:
        """(C,) recall of each class (nan for a class with no examples)."""
        m = self.confusion()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(m) / m.sum(axis=1)

    def most_confident_wrong(self, k: int = 12) -> list[Mistake]:
        """The ``k`` wrong predictions the model was most sure of, most confident first."""
        preds = self.preds
        wrong = np.flatnonzero(preds != self.targets)
        conf = self.probs[wrong, preds[wrong]]
        order = wrong[np.argsort(-conf, kind="stable")][:k]
        return [Mistake(int(i), int(self.targets[i]), int(preds[i]), float(self.probs[i, preds[i]])) for i in order]


@torch.no_grad()
def predict_probs(model: nn.Module, dataset, *, collate_fn=None, batch_size: int = 256,
                  device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities (N, C) and targets (N,) of ``model`` over ``dataset`` (model left in eval mode)."""
    model.eval().to(device)
    probs, targets = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_fn):
        probs.append(torch.softmax(model(x.to(device)).float(), dim=1).cpu())  # (B, C)
        targets.append(torch.as_tensor(y))
    if not probs:
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return torch.cat(probs).numpy(), torch.cat(targets).numpy().astype(np.int64)


def evaluate(model: nn.Module, bundle, split: str = "val", **kw) -> Evaluation:
    """Evaluate ``model`` on ``bundle.splits[split]`` (no augmentation: the split's transform is not applied)."""
    dataset = bundle.splits[split]
    saved, dataset.transform = getattr(dataset, "transform", None), None
    try:
        probs, targets = predict_probs(model, dataset, collate_fn=bundle.collate_fn, **kw)
    finally:
        dataset.transform = saved
    return Evaluation(classes=list(bundle.classes), targets=targets, probs=probs)


checkpoint_path = run_checkpoint  # the run's best checkpoint, else its last one, else None


def _state_dict(obj: dict) -> dict:
    for key in ("model", "model_state", "state_dict"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    return obj


def load_run_model(run_dir: str | Path, bundle=None) -> tuple[nn.Module, object]:
    """Rebuild a run's model from config.json and load its best (else last) checkpoint, on the CPU, eval mode.

    Returns ``(model, bundle)``; pass ``bundle`` to reuse already loaded data. Raises ``FileNotFoundError`` when
    the run has no checkpoint yet.
    """
    from core import data, models
    from core.train.store import RunStore

    path = checkpoint_path(run_dir)
    if path is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet")
    cfg = RunStore.open(run_dir).config()
    bundle = bundle or data.load(cfg["data"], **(cfg.get("data_opts") or {}))
    opts = {**models.bundle_opts(bundle, cfg["model"]), **(cfg.get("model_opts") or {})}
    model = models.rebuild(cfg["model"], len(bundle.classes), **opts)  # the checkpoint has the trained weights
    model.load_state_dict(_state_dict(torch.load(path, map_location="cpu", weights_only=True)))
    return model.eval(), bundle


def prepare_input(bundle, item) -> torch.Tensor:
    """One user input as a batch of one, preprocessed like the bundle's val split.

    ``item``: an image or audio file path (image / audio data) or a sentence (text data).
    """
    if bundle.kind == "image":
        from core.data.images import decode

        c, h, _ = bundle.input_shape
        return (decode(Path(item), h, c).float() / 255.0)[None]  # (C, H, W) -> (1, C, H, W)
    if bundle.kind == "audio":
        from core.data.audio import fix_length, read_audio

        return fix_length(read_audio(Path(item), bundle.sample_rate), bundle.input_shape[-1])[None, None]
    ids = bundle.vocab.encode(str(item)) or [bundle.vocab.unk_index]
    return bundle.collate_fn([(torch.tensor(ids, dtype=torch.long), 0)])[0]  # (1, L)


@torch.no_grad()
def predict_one(model: nn.Module, bundle, item) -> np.ndarray:
    """Class probabilities (C,) for one image / audio file path or sentence."""
    x = prepare_input(bundle, item)
    return torch.softmax(model.eval()(x).float(), dim=1)[0].numpy()


@dataclass
class LayerRow:
    """One top-level block of a model in the summary table."""

    name: str  # attribute name
    kind: str  # module class
    params: int  # parameters in the block
    trainable: int  # of which require gradients now
    frozen_while_freezing: bool  # part of the backbone frozen during the first freeze_epochs (transfer)


def model_summary(model: nn.Module) -> list[LayerRow]:
    """Parameters per top-level block: total, trainable now, and whether freezing the backbone freezes it."""
    from core.models import layer_groups, unwrap

    model = unwrap(model)
    head = {id(m) for m in layer_groups(model)[-1]}
    rows = []
    for name, child in model.named_children():
        ps = list(child.parameters())
        rows.append(LayerRow(name, type(child).__name__, sum(p.numel() for p in ps),
                             sum(p.numel() for p in ps if p.requires_grad), id(child) not in head))
    return rows


@dataclass
class Freezing:
    """What a run did with its backbone: the rule the Train page's summary and the Inspect page both show."""

    backbone: int  # parameters that freezing the backbone freezes (0: no backbone frozen, or not a transfer model)
    frozen_epochs: int  # epochs they were frozen, of ``epochs``
    epochs: int  # epochs the run trained

    @property
    def whole_run(self) -> bool:
        """The backbone stayed frozen for every epoch: the run trained the head only."""
        return self.backbone > 0 and self.frozen_epochs >= self.epochs

    @property
    def never_trained(self) -> int:
        """Parameters the run never changed (the backbone when it was frozen for the whole run, else 0)."""
        return self.backbone if self.whole_run else 0

    def text(self) -> str:
        if not self.backbone:
            return "every parameter trained in every epoch"
        if self.whole_run:
            return (f"the backbone ({self.backbone:,} parameters) stayed frozen for all {self.epochs} epoch(s): the "
                    "run trained the head only and kept the pretrained backbone as it was")
        return (f"the backbone ({self.backbone:,} parameters) was frozen for the first {self.frozen_epochs} of "
                f"{self.epochs} epoch(s), then trained with the rest")


def run_freezing(model: nn.Module, config: dict, epochs_done: int | None = None) -> Freezing:
    """The ``Freezing`` of a run from its config (``freeze_epochs``, ``epochs``, ``model``) and the epochs it
    completed (``epochs_done``; the configured epochs when not given), for its rebuilt ``model``."""
    from core.train.optim import frozen_count

    freeze = int(config.get("freeze_epochs") or 0)
    epochs = int(epochs_done or config.get("epochs") or 0)
    if not (freeze and epochs):
        return Freezing(0, 0, epochs)
    return Freezing(frozen_count(model, bool(config.get("train_bn", True))), min(freeze, epochs), epochs)
