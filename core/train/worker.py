"""Training as a job (core.jobs): the checks a page runs before launching, and ``launch``.

``launch(config)`` creates the run directory (status 'queued') and starts a worker process (core.jobs.worker) that
trains it with ``core.train.fit(config, run=store)``; all it has to say goes into the run store. Stop with
``RunStore.open(run_dir).request_stop()``; a killed worker reads as 'interrupted' with its metrics intact.

Example::

    run_dir = launch(TrainConfig(data="builtin:digits", model="cnn", epochs=2), owner="ann")
    RunStore.open(run_dir).info().status      # 'queued' -> 'running' -> 'finished'
"""
from __future__ import annotations

import os
from pathlib import Path

from core.jobs import launch as launch_job
from core.jobs import log_tail, run_worker, worker_threads  # noqa: F401 - the training worker's public names


def _config_dict(config) -> dict:
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def launch_problems(config, kind: str | None = None, limits=None) -> list[str]:
    """Why ``config`` cannot be launched here (empty list when it can): everything the worker would refuse for data
    ``kind`` (``core.train.checks.train_problems``) and this server's limits (``load_settings().limits``: max
    epochs, batch size)."""
    from core.settings import load_settings
    from core.train import TrainConfig
    from core.train.checks import train_problems

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    limits = limits or load_settings().limits
    from core.jobs.limits import size_problems

    return train_problems(cfg, kind) + size_problems(epochs=cfg.epochs, batch_size=cfg.batch_size, limits=limits)


MAX_SENSIBLE_LR = 10.0  # the LR Finder's default end: above it no optimizer here trains (the loss blows up)


def launch_warnings(config, train_size: int | None = None) -> list[str]:
    """Settings that can run but are probably a mistake (the page shows them; nothing is refused):
    a learning rate above ``MAX_SENSIBLE_LR``, a batch larger than the ``train_size`` training examples."""
    from core.train.checks import batch_warning

    out = []
    if config.lr > MAX_SENSIBLE_LR:
        out.append(f"a learning rate of {config.lr:.3g} is far above anything that trains (the LR Finder sweeps up "
                   f"to {MAX_SENSIBLE_LR:g}): expect the loss to become NaN within a few steps")
    batch = batch_warning(config.batch_size, train_size)
    return out + ([batch] if batch else [])


def launch(config, runs_dir: str | os.PathLike | None = None, kind: str | None = None,
           owner: str | None = None) -> Path:
    """Create a training run for ``config`` (a TrainConfig or its dict) and train it in a worker; return the run dir.

    ``runs_dir`` defaults to ``config.runs_dir``, then the configured runs root. An impossible config (see
    ``launch_problems``; ``kind`` is the data kind when known) raises ``ValueError`` with every reason, and no run
    is created. Returns at once; the run waits in the queue when the server is busy (core.jobs.queue).
    """
    problems = launch_problems(config, kind)
    if problems:
        raise ValueError("; ".join(problems))
    cfg = _config_dict(config)
    if runs_dir is None:
        from core.settings import load_settings
        runs_dir = cfg.get("runs_dir") or load_settings().runs_dir
    cfg["runs_dir"] = str(runs_dir)
    return launch_job("train", cfg, owner=owner, runs_dir=runs_dir)
