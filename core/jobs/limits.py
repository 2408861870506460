"""This server's limits on jobs, once, for every job kind: ``launch`` asks ``launch_refusals`` before it creates
anything, and the forms ask ``size_problems`` to refuse an impossible setting before the button is pressed.

- sizes (lab.toml ``[limits]``): ``max_epochs`` and ``max_batch_size`` for any job whose config has epochs or a
  batch size (training, GAN, the training settings an LR sweep runs with), ``max_lr_iters`` for a sweep's steps;
- the queue: at most ``max_queued_jobs`` jobs waiting;
- a served lab's quota: at most ``max_jobs_per_user`` jobs of one user running or queued at once.

>>> size_problems(epochs=500, batch_size=32, limits=Limits(max_epochs=20))[0]
"500 epochs is over this server's limit of 20 (max_epochs in lab.toml)"
"""
from __future__ import annotations

import os
from pathlib import Path

from core.settings import Limits, Settings


def size_problems(epochs: int | None = None, batch_size: int | None = None, num_iter: int | None = None,
                  limits: Limits | None = None) -> list[str]:
    """Why these sizes are over this server's limits (empty when they are not)."""
    limits = limits or Limits()
    out = []
    if epochs is not None and epochs > limits.max_epochs:
        out.append(f"{epochs} epochs is over this server's limit of {limits.max_epochs} (max_epochs in lab.toml)")
    if batch_size is not None and batch_size > limits.max_batch_size:
        out.append(f"batch size {batch_size} is over this server's limit of {limits.max_batch_size} "
                   "(max_batch_size in lab.toml)")
    if num_iter is not None and num_iter > limits.max_lr_iters:
        out.append(f"{num_iter} sweep steps is over this server's limit of {limits.max_lr_iters} "
                   "(max_lr_iters in lab.toml)")
    return out


def config_problems(config: dict, limits: Limits | None = None) -> list[str]:
    """``size_problems`` of a job config of any kind: its own epochs / batch size, those of the training settings
    it carries (an LR sweep's ``train``), and a sweep's number of steps."""
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    sweep = config.get("sweep") if isinstance(config.get("sweep"), dict) else {}

    def number(*values):
        return next((int(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)), None)

    return size_problems(epochs=number(config.get("epochs"), train.get("epochs")),
                         batch_size=number(config.get("batch_size"), train.get("batch_size")),
                         num_iter=number(sweep.get("num_iter")), limits=limits)


def _active_jobs(runs_dir: Path) -> list:
    from core.train.run_info import ACTIVE
    from core.train.store import list_runs

    return [r for r in list_runs(runs_dir) if r.status in ACTIVE] if runs_dir.is_dir() else []


def launch_refusals(config: dict, owner: str | None, runs_dir: str | os.PathLike, settings: Settings) -> list[str]:
    """Why this server refuses to launch a job now: sizes, a full queue, the owner's quota (empty when it may)."""
    limits = settings.limits
    out = config_problems(config, limits)
    active = _active_jobs(Path(runs_dir))
    waiting = sum(r.status == "queued" for r in active)
    if waiting >= limits.max_queued_jobs:
        out.append(f"{waiting} jobs are already waiting in the queue (max_queued_jobs in lab.toml); try again when "
                   "some have started")
    if settings.served and owner is not None:
        mine = sum(r.owner == owner for r in active)
        if mine >= limits.max_jobs_per_user:
            out.append(f"you already have {mine} job{'s' if mine != 1 else ''} running or waiting, this server's "
                       f"limit per person (max_jobs_per_user in lab.toml); stop one or wait until it ends")
    return out
