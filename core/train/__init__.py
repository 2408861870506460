"""Training: ``TrainConfig`` -> ``fit(config, callbacks)`` -> ``RunResult``, recorded in a run directory.

>>> from core.train import TrainConfig, fit
>>> result = fit(TrainConfig(data="builtin:digits", model="cnn", max_steps=20))   # doctest: +SKIP

The loop (core.train.loop) is one function with named events; metrics, activation statistics, checkpoints, early
stopping, TensorBoard and the stop button are callbacks (core.train.callbacks). The run store is core.train.store,
the LR range test core.train.lr_finder.
"""
from __future__ import annotations

import importlib

from core.train.config import OPTIMIZERS, SCHEDULERS, RunResult, TrainConfig, recommended

# names resolved on first use, so `import core.train` stays light and each part can land independently
_LAZY = {"fit": "core.train.loop", "Callback": "core.train.callbacks", "StopTraining": "core.train.loop",
         "load_checkpoint": "core.train.checkpoint", "load_model": "core.train.checkpoint",
         "find_lr": "core.train.lr_finder",
         "LRFinderResult": "core.train.lr_finder"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.train' has no attribute {name!r}")


__all__ = ["TrainConfig", "RunResult", "recommended", "OPTIMIZERS", "SCHEDULERS", *_LAZY]
