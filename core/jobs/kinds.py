"""The job kinds: kind -> the function a worker runs for it, and the checks that refuse a config before launch.

A job function takes a ``core.jobs.Job`` and does the work (training, a sweep, ...), writing what it has to say into
``job.store`` and ``job.write_result``. Functions are named as ``"module:function"`` strings, so the worker process
imports only the kind it runs (a queued worker stays small) and a kind's package can land on its own.
Adding a kind is one entry here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class JobKind:
    name: str  # the kind, stored with the run (RunInfo.kind)
    run: str  # "module:function": function(job: Job) -> None, run inside the worker
    problems: str | None = None  # "module:function": function(config: dict) -> list[str], reasons to refuse
    label: str = ""  # what it is, in words, for lists and messages


KINDS: dict[str, JobKind] = {}


def register(name: str, run: str, problems: str | None = None, label: str = "") -> JobKind:
    """Add (or replace) the job kind ``name``; ``run`` and ``problems`` are ``"module:function"`` strings."""
    KINDS[name] = JobKind(name, run, problems, label or name)
    return KINDS[name]


def kind(name: str) -> JobKind:
    """The registered kind ``name``; ``ValueError`` naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown job kind {name!r}; known kinds: {', '.join(sorted(KINDS))}") from None


def resolve(target: str) -> Callable:
    """The function a ``"module:function"`` string names."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def problems(name: str, config: dict) -> list[str]:
    """Why a job of kind ``name`` with ``config`` cannot start (empty when it can)."""
    k = kind(name)
    return list(resolve(k.problems)(config)) if k.problems else []


register("train", "core.train.jobs:run_train", "core.train.jobs:train_problems", "training")
register("lr_find", "core.train.lr_job:run", "core.train.lr_job:problems", "LR range test")
register("gan", "core.gan.jobs:run_gan", "core.gan.jobs:gan_problems", "GAN training")
register("attack_sweep", "core.attacks.jobs:run", "core.attacks.jobs:problems", "attack sweep (accuracy vs epsilon)")
register("class_visual", "core.inspect.jobs:run_class_visual", "core.inspect.jobs:visual_problems",
         "class visualisation")
register("export", "core.inspect.jobs:run_export", "core.inspect.jobs:export_problems", "model export")
register("attack_one", "core.attacks.jobs:run_one", "core.attacks.jobs:one_problems",
         "one-sample attack (and its smallest epsilon)")
register("cam_grid", "core.inspect.jobs:run_cam_grid", "core.inspect.jobs:cam_grid_problems", "Grad-CAM grid")
register("profile", "core.debug.jobs:run_profile", "core.debug.jobs:profile_problems",
         "profile (time and memory per layer)")
register("memory", "core.debug.jobs:run_memory", "core.debug.jobs:memory_problems",
         "memory with gradient checkpointing")
register("enhance", "core.enhance.jobs:run_enhance", "core.enhance.jobs:enhance_problems", "super-resolution training")
register("enhance_apply", "core.enhance.jobs:run_apply", "core.enhance.jobs:apply_problems",
         "super-resolution of one image")
register("attack_transfer", "core.attacks.transfer:run", "core.attacks.transfer:problems",
         "transfer attack (black-box table)")
register("ensemble", "core.export.ensemble:run_job", "core.export.ensemble:job_problems", "ensemble of runs")
