"""The training loop: ``fit(config, callbacks)`` -> ``RunResult``.

One loop with named events; everything else is a callback (core.train.callbacks). Stopping (the Stop button, early
stopping, a non-finite loss) is an exception the loop catches, so ``after_fit`` -- removing hooks, closing files,
flushing the store -- always runs. The loop never syncs with the device per step: losses, accuracy and statistics
stay on the device and are fetched in batches (on the CPU the NaN check runs every step; it costs nothing there).
"""
from __future__ import annotations

import math
import os
import random
import time

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.models import build_for, unwrap
from core.train.callbacks import (ActivationStats, Checkpointer, EarlyStopping, Freezer, MetricsRecorder,
                                  NonFiniteLoss, StopFlag, StopTraining, TensorBoardLogger, finish_callbacks)
from core.train.checkpoint import load_checkpoint
from core.train.checks import check
from core.train.config import RunResult, TrainConfig
from core.train.data import make_loaders, prepare_splits
from core.train.distributed import DistInfo, broadcast_object, setup, sum_across, teardown
from core.train.mixup import mixup_batch, mixup_loss
from core.train.optim import bn_eval_if_frozen, make_optimizer, make_scheduler

EVENTS = ("before_fit", "before_epoch", "before_batch", "after_loss", "after_batch", "after_epoch", "after_fit",
          "after_stats", "after_backward", "after_grads")

__all__ = ["fit", "Loop", "StopTraining", "NonFiniteLoss", "EVENTS"]


class Loop:
    """The state of one training run, shared with the callbacks (they read and change its attributes)."""

    def __init__(self, config: TrainConfig, model, optimizer, scheduler, schedule_unit, train_dl, val_dl, sampler,
                 callbacks, info: DistInfo, bundle, start_epoch: int = 0, start_step: int = 0):
        self.config, self.model, self.optimizer = config, model, optimizer
        self.scheduler, self.schedule_unit = scheduler, schedule_unit
        self.train_dl, self.val_dl, self.sampler = train_dl, val_dl, sampler
        self.callbacks = sorted(callbacks, key=lambda cb: getattr(cb, "order", 0))
        self.info, self.device = info, info.device
        self.classes = list(bundle.classes)
        vocab = getattr(bundle, "vocab", None)
        self.vocab_tokens = list(vocab.itos) if vocab is not None and hasattr(vocab, "itos") else None
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.epoch, self.step, self.start_epoch, self.batch_index = start_epoch, start_step, start_epoch, 0
        self.steps_per_epoch = len(train_dl)
        self.total_steps = total_steps(config, self.steps_per_epoch)
        self.lr = optimizer.param_groups[-1]["lr"]
        self.metrics, self.history, self.notices, self.stats_rows = {}, [], [], []
        self.status, self.error, self.stop_reason = "running", None, None
        self.best_checkpoint = self.last_checkpoint = None
        # NaN checks and cross-process stop flags need a sync: every step on one CPU process, else every log_every
        self.check_every = 1 if (self.device.type == "cpu" and info.world == 1) else max(1, config.log_every)
        self._bad = torch.zeros((), dtype=torch.bool, device=self.device)
        self._pending_stop: StopTraining | None = None
        self._mix_gen = torch.Generator().manual_seed(config.seed + 1 + info.rank)

    def __call__(self, event: str) -> None:
        """Run ``event`` on every callback that has it, in ``order``."""
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self)

    def request_stop(self, stop: StopTraining) -> None:
        """Stop now (one process) or at the next check, on every process together (DDP)."""
        if self.info.world == 1:
            raise stop
        self._pending_stop = stop

    # ---- the loop -------------------------------------------------------------------------------------------
    def fit(self) -> None:
        """Train for the configured epochs; sets ``status`` ('finished', 'stopped', 'failed')."""
        try:
            self("before_fit")
            for self.epoch in range(self.start_epoch, self.config.epochs):
                self._train_epoch()
                self.metrics = {**self._train_metrics, **self._validate(), "lr": self.lr}
                if self.schedule_unit == "epoch":
                    self.scheduler.step()
                self.history.append({"epoch": self.epoch, **self.metrics})
                self("after_epoch")
                if self._step_limit_reached():
                    raise StopTraining(f"step limit reached ({self.config.max_steps} steps)", status="finished")
            self.status = "finished"
        except StopTraining as stop:
            self.status, self.stop_reason = stop.status, stop.reason
            self.error = self._with_checkpoint_note(stop.reason) if stop.status == "failed" else None
        except BaseException:  # a crash: clean up, then let the original error through
            self.status = "failed"
            finish_callbacks(self, raise_errors=False)
            raise
        finish_callbacks(self, raise_errors=True)

    def _with_checkpoint_note(self, reason: str) -> str:
        if self.last_checkpoint:
            epoch = self.history[-1]["epoch"] + 1
            return f"{reason} The last good checkpoint (after epoch {epoch}) was kept."
        return f"{reason} No checkpoint had been written by this run yet."

    def _step_limit_reached(self) -> bool:
        return bool(self.config.max_steps) and self.step >= self.config.max_steps

    def _train_epoch(self) -> None:
        self.model.train()
        bn_eval_if_frozen(self.model)
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        self("before_epoch")
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device)
        seen = 0
        for self.batch_index, (xb, yb) in enumerate(self.train_dl):
            if self._step_limit_reached():
                break
            self.xb = xb.to(self.device, non_blocking=True)
            self.yb = yb.to(self.device, non_blocking=True)
            self("before_batch")
            self._one_batch()
            n = self.yb.shape[0]
            loss_sum += self.loss.detach() * n
            correct += (self.out.detach().argmax(1) == self.yb).sum()
            seen += n
            self("after_batch")
            self.step += 1
            if self.step % self.check_every == 0:
                self._check()
        self._check()
        totals = sum_across(torch.stack([loss_sum, correct.float(), torch.tensor(float(seen), device=self.device)]),
                            self.info).tolist()
        n = max(totals[2], 1.0)
        self._train_metrics = {"train_loss": totals[0] / n, "train_acc": totals[1] / n}

    def _one_batch(self) -> None:
        xb, yb = self.xb, self.yb
        if self.config.mixup_alpha > 0:
            xb, y_a, y_b, self.lam = mixup_batch(xb, yb, self.config.mixup_alpha, self._mix_gen)
            self.out = self.model(xb)
            self.loss = mixup_loss(self.criterion, self.out, y_a, y_b, self.lam)
        else:
            self.out = self.model(xb)
            self.loss = self.criterion(self.out, yb)
        self("after_loss")
        self.optimizer.zero_grad(set_to_none=True)
        self.loss.backward()
        self("after_backward")  # gradients complete, not yet clipped (core.train.grad_stats)
        if self.config.grad_clip > 0:
            params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
            self.grad_total_norm = torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)  # before clipping
        self.lr = self.optimizer.param_groups[-1]["lr"]  # the head's LR used for this step
        self.optimizer.step()
        if self.schedule_unit == "batch" and self.scheduler.last_epoch < self.scheduler_total:
            self.scheduler.step()
        self._bad |= ~torch.isfinite(self.loss.detach())

    @property
    def scheduler_total(self) -> int:
        """Steps the per-batch schedule was built for (it must not be stepped past its end)."""
        return getattr(self.scheduler, "total_steps", None) or getattr(self.scheduler, "T_max", math.inf)

    def _check(self) -> None:
        """The periodic sync: a non-finite loss fails the run; a stop requested on any process stops all."""
        flags = torch.stack([self._bad.float(), torch.tensor(float(self._pending_stop is not None),
                                                             device=self.device)])
        bad, stop = sum_across(flags, self.info).tolist()
        if bad:
            raise NonFiniteLoss(self.step - 1, self.epoch, self.lr)
        if stop:
            raise self._pending_stop or StopTraining("stopped on request (another process)", status="stopped")

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        """Validation loss (plain cross-entropy, no smoothing) and accuracy, summed over processes."""
        model = unwrap(self.model)
        model.eval()
        totals = torch.zeros(3, device=self.device)
        for xb, yb in self.val_dl:
            xb, yb = xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
            out = model(xb)
            totals += torch.stack([nn.functional.cross_entropy(out.float(), yb, reduction="sum"),
                                   (out.argmax(1) == yb).sum().float(), torch.tensor(float(len(yb)),
                                                                                      device=self.device)])
        loss, correct, n = sum_across(totals, self.info).tolist()
        if n == 0:
            return {"val_loss": math.nan, "val_acc": math.nan}
        return {"val_loss": loss / n, "val_acc": correct / n}


def total_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """Optimizer steps the run will take: epochs x batches, capped by ``max_steps``."""
    total = config.epochs * steps_per_epoch
    return min(total, config.max_steps) if config.max_steps else total


def default_callbacks(config: TrainConfig, run, info: DistInfo) -> list:
    """The callbacks every run gets, from its config (writers only on rank 0)."""
    cbs = []
    if config.freeze_epochs > 0:
        cbs.append(Freezer(config.freeze_epochs, config.train_bn))
    if config.early_stop > 0:
        cbs.append(EarlyStopping(config.early_stop))
    if run is not None and info.main:
        cbs += [StopFlag(run), MetricsRecorder(run), Checkpointer(run.checkpoint_dir)]
        if config.stats_every > 0:
            fetch = max(1, config.log_every // config.stats_every)  # one transfer about every log_every steps
            cbs.append(ActivationStats(config.stats_every, config.stats_all_layers, fetch_every=fetch))
        if config.tensorboard:
            cbs.append(TensorBoardLogger(run.run_dir, every=config.log_every))
    if config.grad_every > 0 and info.main:
        from core.train.grad_stats import GradientStats

        cbs.append(GradientStats(config.grad_every, fetch_every=max(1, config.log_every // config.grad_every)))
    if run is not None and info.main and info.device.type == "cuda":
        from core.train.grad_stats import DeviceMonitor

        cbs.append(DeviceMonitor(run))
    return cbs


def _seed(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def _resume(config: TrainConfig, model, optimizer, scheduler, notices: list[str]) -> tuple[int, int]:
    """Load the last checkpoint of ``config.resume_from`` into model/optimizer/scheduler; (start epoch, step)."""
    ckpt = load_checkpoint(config.resume_from)
    if ckpt["model_name"] != config.model:
        raise ValueError(f"the checkpoint in {config.resume_from} is for model {ckpt['model_name']!r}, "
                         f"not {config.model!r}")
    unwrap(model).load_state_dict(ckpt["model"])
    if ckpt.get("optimizer"):
        optimizer.load_state_dict(ckpt["optimizer"])
    sched = ckpt.get("scheduler")
    if scheduler is not None and sched and sched.get("total_steps", None) == getattr(scheduler, "total_steps", None):
        scheduler.load_state_dict(sched)
    elif scheduler is not None:
        notices.append("resumed with a different schedule length: the LR schedule restarts")
    notices.append(f"resumed from {config.resume_from} after epoch {ckpt['epoch'] + 1} (step {ckpt['step']})")
    return ckpt["epoch"] + 1, ckpt["step"]


def fit(config: TrainConfig, callbacks=(), *, run=None, bundle=None) -> RunResult:
    """Train ``config.model`` on ``config.data``, recording into a run directory; returns a ``RunResult``.

    ``run``: a RunStore already created (the worker's); otherwise one is created under ``config.runs_dir``.
    ``bundle``: a DataBundle to train on instead of loading ``config.data`` (notebooks, tests).
    Under ``torchrun`` (WORLD_SIZE > 1) each process trains a shard with DistributedDataParallel; rank 0 writes.
    A crash records status 'failed' with the error and re-raises; a NaN loss returns status 'failed' with advice.

    >>> fit(TrainConfig(data="builtin:digits", model="cnn", max_steps=5)).status   # doctest: +SKIP
    'finished'
    """
    start = time.time()
    info = setup(config.device)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    run = _open_run(config, run, info)
    train_split, transform_before = None, None
    try:
        _seed(config.seed, config.deterministic)
        if bundle is None:
            from core.data import load
            bundle = load(config.data, **config.data_opts)
        check(config, bundle.kind)  # what the launch form refused, refused here too
        train_split = bundle.splits["train"]
        transform_before = getattr(train_split, "transform", None)
        return _train(config, bundle, run, info, callbacks, start)
    except KeyboardInterrupt:
        if run is not None:
            run.set_status("stopped", error="interrupted from the keyboard")
        raise
    except BaseException as err:
        if run is not None:
            run.set_status("failed", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        if train_split is not None:
            train_split.transform = transform_before  # the bundle may be reused (a page's cache): as it came
        torch.use_deterministic_algorithms(deterministic_before)
        teardown(info)


def _train(config: TrainConfig, bundle, run, info: DistInfo, callbacks, start: float) -> RunResult:
    """Build and run the loop. Its own function so the (DDP) model is freed before the process group goes."""
    loop = _make_loop(config, bundle, run, info, callbacks)
    if run is not None:
        run.set_status("running")
    loop.fit()
    if run is not None:
        run.set_status(loop.status, error=loop.error)
    return _result(loop, run, start)


def _open_run(config: TrainConfig, run, info: DistInfo):
    if not info.main:
        return None
    if run is None:
        from core.settings import load_settings
        from core.train.store import RunStore
        run = RunStore.create(config.runs_dir or load_settings().runs_dir, config.to_dict())
    return run


def _make_loop(config: TrainConfig, bundle, run, info: DistInfo, callbacks) -> Loop:
    # initial weights from the seed's own generator: the LR finder starts from the same model (find_lr_for)
    model = build_for(bundle, config.model, torch.Generator().manual_seed(config.seed), **config.model_opts)
    notices = [model.notice] if getattr(model, "notice", None) else []
    if config.checkpoint_segments > 1:
        from core.debug.checkpointing import KEEP_OUT, with_checkpointing

        model = with_checkpointing(model, config.checkpoint_segments)  # ValueError (the run fails) when no chain
        kept = any(isinstance(m, KEEP_OUT) for m in model.modules())
        notices.append(f"gradient checkpointing in {config.checkpoint_segments} segments"
                       + (" (BatchNorm and Dropout run outside them)" if kept else ""))
    train, val, more = prepare_splits(config, bundle, model, device=info.device,
                                      progress=run.set_progress if run is not None else None)  # caching phase
    notices += more
    train_dl, val_dl, sampler = make_loaders(config, train, val, bundle.collate_fn, info.device, info.world,
                                             info.rank)
    model.to(info.device)
    if info.world > 1:
        ids = [info.device.index] if info.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=config.freeze_epochs > 0)
    optimizer = make_optimizer(model, config)
    scheduler, unit = make_scheduler(optimizer, config, total_steps(config, len(train_dl)))
    start_epoch = start_step = 0
    if config.resume_from:
        start_epoch, start_step = _resume(config, model, optimizer, scheduler, notices)
    cbs = default_callbacks(config, run, info) + [cb for cb in callbacks if info.main or not getattr(cb, "main_only", False)]
    if config.adversarial:
        from core.train.adversarial import AdversarialConfig, AdversarialTraining

        cbs.append(AdversarialTraining(AdversarialConfig.from_dict(config.adversarial), bundle.splits["val"],
                                       bundle.kind, config.seed))
    if config.size_schedule:
        from core.train.resize import ProgressiveResizing

        cbs.append(ProgressiveResizing(config.size_schedule, bundle))
    if config.distill:
        from core.train.distill import DistillConfig, Distillation

        cbs.append(Distillation(DistillConfig.from_dict(config.distill), bundle, info.device, config.data_opts))
    loop = Loop(config, model, optimizer, scheduler, unit, train_dl, val_dl, sampler, cbs, info, bundle,
                start_epoch, start_step)
    loop.notices.extend(notices)
    return loop


def _result(loop: Loop, run, start: float) -> RunResult:
    accs = [h["val_acc"] for h in loop.history if not math.isnan(h.get("val_acc", math.nan))]
    run_dir = broadcast_object(str(run.run_dir) if run is not None else None, loop.info)
    return RunResult(run_dir=run_dir, status=loop.status, epochs_done=len(loop.history), steps=loop.step,
                     history=loop.history, best_val_acc=max(accs) if accs else None, error=loop.error,
                     stop_reason=loop.stop_reason, notices=list(loop.notices),
                     best_checkpoint=loop.best_checkpoint, last_checkpoint=loop.last_checkpoint,
                     seconds=time.time() - start)
