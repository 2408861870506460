"""Checkpoints: plain dicts of state_dicts and JSON-like values, loadable with ``torch.load(weights_only=True)``.

A checkpoint holds ``model`` and ``optimizer`` (and ``scheduler``) state_dicts, the run's ``config`` dict, ``epoch``,
``step``, ``metrics``, and what is needed to rebuild the model: ``model_name``, ``model_opts``, ``num_classes``,
``classes`` (and ``vocab``, the token list, for text models).

>>> model, ckpt = load_model("runs/20260101-120000-cnn-digits/checkpoints/best.pt")   # doctest: +SKIP
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from torch import nn

from core.models import rebuild, unwrap

BEST, LAST = "best.pt", "last.pt"


def checkpoint_dict(model: nn.Module, optimizer=None, scheduler=None, *, config: dict | None = None,
                    epoch: int = -1, step: int = 0, metrics: dict | None = None, classes=None, vocab=None) -> dict:
    """Everything worth saving about a training state, as weights_only-loadable values."""
    m = unwrap(model)
    return {
        "model": m.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "config": dict(config or {}),
        "epoch": int(epoch),
        "step": int(step),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "model_name": getattr(m, "model_name", type(m).__name__),
        "model_opts": _plain(getattr(m, "build_opts", {})),
        "num_classes": int(getattr(m, "num_classes", 0)),
        "classes": [str(c) for c in classes] if classes is not None else None,
        "vocab": list(vocab) if vocab is not None else None,
    }


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write atomically (temporary file, then rename): a crash mid-write never leaves a broken checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def copy_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """``dst`` becomes a copy of the checkpoint ``src`` (a hard link when possible: instant, no second write).

    Safe with atomic saves: replacing ``src`` later makes a new file, so ``dst`` keeps the old content.
    """
    src, dst = Path(src), Path(dst)
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # no hard links here (some network / Windows file systems)
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return dst


def find_checkpoint(where: str | os.PathLike, name: str = LAST) -> Path:
    """A checkpoint file: ``where`` itself, or ``where/checkpoints/NAME`` for a run directory."""
    where = Path(where)
    path = where if where.is_file() else where / "checkpoints" / name
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: the run has not finished an epoch yet, or the path is "
                                "not a run directory / checkpoint file")
    return path


def run_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The one rule for "a run's model": its best checkpoint, else its last one, else None (none saved yet)."""
    for name in (BEST, LAST):
        path = Path(run_dir) / "checkpoints" / name
        if path.is_file():
            return path
    return None


def load_checkpoint(where: str | os.PathLike, name: str = LAST, map_location="cpu") -> dict:
    """Load a checkpoint (a file, or a run directory's ``checkpoints/NAME``) with ``weights_only=True``."""
    return torch.load(find_checkpoint(where, name), map_location=map_location, weights_only=True)


def load_model(where: str | os.PathLike, name: str = BEST, map_location="cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint and load its weights; returns ``(model in eval mode, checkpoint)``.

    Pretrained-weight lookups are skipped (the checkpoint has the weights; ``core.models.rebuild``).
    """
    ckpt = load_checkpoint(where, name, map_location)
    model = rebuild(ckpt["model_name"], ckpt["num_classes"], **ckpt["model_opts"])
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


def _plain(value):
    """Tuples -> lists, recursively (weights_only loading accepts them either way; JSON prefers lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
