"""Is a run overfitting? One rule, read from its per-epoch table, with what to try.

Flagged when the validation loss has stayed above its lowest value for at least ``RISE_EPOCHS`` epochs, ending at
least ``RISE`` (relative) above it, while the training loss kept falling. (The train-validation accuracy gap alone is
no sign: a model can generalise well and still fit its training set better.)

>>> rows = [dict(epoch=e, train_loss=1 / (e + 1), val_loss=v) for e, v in enumerate([0.9, 0.6, 0.5, 0.55, 0.6])]
>>> overfitting(rows).best_epoch
3
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

RISE_EPOCHS = 2  # epochs after the lowest validation loss before calling it a trend
RISE = 0.05  # the last validation loss is at least 5% above the lowest


@dataclass
class Overfitting:
    best_epoch: int  # counted from 1: the epoch with the lowest validation loss
    best_val_loss: float
    last_val_loss: float
    epochs: int  # epochs recorded
    train_acc: float | None = None  # the last epoch's
    val_acc: float | None = None
    message: str = ""
    advice: list[str] = field(default_factory=list)


def _num(row: dict, name: str) -> float | None:
    value = row.get(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def overfitting(epochs: list[dict], early_stop: int = 0) -> Overfitting | None:
    """The run's overfitting, or None. ``epochs``: one dict per epoch (epoch counted from 0, train_loss, val_loss,
    train_acc, val_acc as the run store records them); ``early_stop``: the run's patience (0 = off), for the advice."""
    rows = [r for r in epochs if _num(r, "val_loss") is not None and _num(r, "train_loss") is not None]
    if len(rows) < RISE_EPOCHS + 2:
        return None
    best = min(range(len(rows)), key=lambda i: rows[i]["val_loss"])
    low, last = float(rows[best]["val_loss"]), float(rows[-1]["val_loss"])
    still_falling = float(rows[-1]["train_loss"]) < float(rows[best]["train_loss"])
    if len(rows) - 1 - best < RISE_EPOCHS or last < low * (1 + RISE) or not still_falling:
        return None
    epoch = int(rows[best].get("epoch", best)) + 1
    out = Overfitting(epoch, low, last, len(rows), _num(rows[-1], "train_acc"), _num(rows[-1], "val_acc"))
    accs = (f"; train accuracy {out.train_acc:.1%} against {out.val_acc:.1%} on validation"
            if out.train_acc is not None and out.val_acc is not None else "")
    out.message = (f"Overfitting: the validation loss has risen since epoch {epoch} ({low:.2f} → {last:.2f}) while "
                   f"the training loss kept falling{accs}. The model is learning its training examples by heart.")
    stop = (f"Turn on early stopping (Advanced settings, e.g. 2 epochs): it would have stopped near epoch "
            f"{epoch + 2}" if not early_stop else f"Early stopping is on ({early_stop} epochs); a smaller patience "
            "stops sooner")
    out.advice = [f"{stop}, or train about {epoch} epochs.",
                  "Add augmentation (the preset, or your own from the Augment page) or more weight decay / dropout.",
                  "More (or more varied) training data helps most.",
                  "The results below use the checkpoint with the best validation accuracy, not the last epoch."]
    return out
