"""Callbacks: everything around the loop. Each is a class with methods named after the loop's events.

Events (in order): ``before_fit``, ``before_epoch``, ``before_batch``, ``after_loss``, ``after_batch``,
``after_epoch``, ``after_fit`` and ``after_stats`` (activation statistics were fetched: ``loop.stats_rows``).
A callback reads and may change the loop's state (``loop.model``, ``loop.loss``, ``loop.step``, ...); to end training
it raises ``StopTraining``, which the loop catches so that ``after_fit`` (cleanup) always runs.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from core.train.checkpoint import BEST, LAST, checkpoint_dict, copy_checkpoint, save_checkpoint
from core.train.hooks import Hooks, activation_stats, collapse_hint, first_tensor, grad_norm, named_layers
from core.train.optim import bn_eval_if_frozen, set_frozen


class StopTraining(Exception):
    """Raised by a callback (or the loop) to end training early; the loop catches it and cleans up."""

    def __init__(self, reason: str, status: str = "stopped"):
        super().__init__(reason)
        self.reason = reason
        self.status = status  # 'stopped' (user / stop flag) or 'finished' (early stopping, step limit)


class NonFiniteLoss(StopTraining):
    """The loss became NaN or infinite: the run fails with advice; the last good checkpoint stays."""

    def __init__(self, step: int, epoch: int, lr: float):
        super().__init__(
            f"the training loss became NaN/infinite at step {step} (epoch {epoch + 1}, LR {lr:.3g}); the weights "
            "are no longer usable, so training stopped. Try a lower learning rate (the LR finder helps), gradient "
            "clipping (e.g. 1.0), or check the data for NaN values.",
            status="failed")


class Callback:
    """Base class: override the events you need (each gets the loop). ``order``: lower runs first."""

    order = 0
    main_only = False  # True: only rank 0 runs it under DDP (it writes files)


def finish_callbacks(loop, raise_errors: bool) -> None:
    """Every callback's ``after_fit`` runs, even when one of them fails; the first error is raised afterwards (when
    ``raise_errors``). Used by the classifier loop and the GAN loop alike."""
    first = None
    for cb in loop.callbacks:
        try:
            getattr(cb, "after_fit", lambda loop: None)(loop)
        except Exception as err:  # noqa: BLE001 - cleanup of the others must still happen
            first = first or err
    if first is not None and raise_errors:
        raise first


class Freezer(Callback):
    """Train only the head for the first ``epochs`` epochs, then unfreeze (batch-norm stays trainable if asked)."""

    order = -10

    def __init__(self, epochs: int, train_bn: bool = True):
        self.epochs, self.train_bn = epochs, train_bn

    def before_epoch(self, loop):
        frozen = loop.epoch < self.epochs
        n = set_frozen(loop.model, frozen, self.train_bn)
        if frozen:
            bn_eval_if_frozen(loop.model)  # frozen batch-norm keeps its running statistics too
        if frozen and loop.epoch == 0:
            loop.notices.append(f"backbone frozen for {self.epochs} epoch(s) ({n:,} parameters); head trains")


class MetricsRecorder(Callback):
    """Per-step loss and LR, per-epoch metrics, activation statistics and notes into the RunStore."""

    order = 10
    main_only = True

    def __init__(self, run):
        self.run = run

    def before_fit(self, loop):
        self.run.set_plan(steps_per_epoch=loop.steps_per_epoch, total_steps=loop.total_steps)
        self._noted = 0
        self._notes(loop)

    def after_batch(self, loop):
        self.run.log_step(loop.step, loop.epoch, loop.loss.detach(), loop.lr)  # tensor: fetched at flush

    def after_stats(self, loop):
        for step, rows in loop.stats_rows:
            self.run.log_activations(step, rows)

    def after_grads(self, loop):
        for step, rows in loop.grad_rows:
            self.run.log_grads(step, rows)
        if getattr(loop, "grad_clipped", None) is not None and loop.grad_rows:
            self.run.log_scalars(loop.grad_rows[-1][0], {"grad_clipped_frac": loop.grad_clipped})

    def after_epoch(self, loop):
        self.run.log_epoch(loop.epoch, loop.metrics)
        self._notes(loop)

    def after_fit(self, loop):
        self._notes(loop)
        self.run.flush()

    def _notes(self, loop):
        for message in loop.notices[self._noted:]:
            warn = any(w in message for w in ("collapsed", "zero", "vanishing gradients", "exploding gradients"))
            self.run.note(message, "warning" if warn else "info")
        self._noted = len(loop.notices)


class ActivationStats(Callback):
    """Mean, std and fraction near zero of each watched layer's output, plus its gradient norm, every ``every``
    steps. Computed on the device and fetched in one transfer every ``fetch_every`` records (no per-step sync);
    only the pending records and the latest values are kept, so memory is bounded. Flags collapsed layers."""

    order = 0

    def __init__(self, every: int = 10, all_layers: bool = False, fetch_every: int = 10):
        self.every, self.all_layers, self.fetch_every = max(1, every), all_layers, max(1, fetch_every)
        self.latest: dict[str, tuple[float, float, float, float]] = {}  # layer -> last (mean, std, frac0, gnorm)
        self.flagged: set[str] = set()

    def before_fit(self, loop):
        self.layers = named_layers(loop.model, self.all_layers)
        self.hooks = Hooks(self.layers, self._hook)
        self.recording, self._current, self._pending = False, {}, []

    def _hook(self, name, module, out):
        if self.recording:
            t = first_tensor(out)
            if t is not None and t.is_floating_point():
                self._current[name] = activation_stats(t)

    def before_batch(self, loop):
        self.recording = loop.step % self.every == 0
        self._current = {}

    def after_batch(self, loop):
        if not self.recording:
            return
        self.recording = False
        names = [n for n, _ in self.layers if n in self._current]
        if names:
            none = torch.full((), float("nan"), device=self._current[names[0]].device)  # no parameters: n/a
            modules = dict(self.layers)
            norms = [grad_norm(modules[n]) for n in names]
            stats = torch.stack([torch.cat([self._current[n], (g if g is not None else none).reshape(1)])
                                 for n, g in zip(names, norms)])  # (layers, 4) on the device
            self._pending.append((loop.step, names, stats))
        if len(self._pending) >= self.fetch_every:
            self.fetch(loop)

    def fetch(self, loop):
        """Move pending statistics to the CPU in one transfer, publish them (``after_stats``) and check collapse."""
        if not self._pending:
            return
        values = torch.cat([s for _, _, s in self._pending]).cpu().tolist()  # the one sync
        loop.stats_rows, i = [], 0
        for step, names, _ in self._pending:
            rows = [(n, *values[i + k][:3], _none_if_nan(values[i + k][3])) for k, n in enumerate(names)]
            i += len(names)
            loop.stats_rows.append((step, rows))
            for row in rows:
                self.latest[row[0]] = tuple(row[1:])
        self._pending = []
        self._flag(loop)
        loop("after_stats")

    def _flag(self, loop):
        for name, (mean, std, frac_zero, _) in self.latest.items():
            hint = None if name in self.flagged else collapse_hint(name, mean, std, frac_zero)
            if hint:
                self.flagged.add(name)
                loop.notices.append(hint)

    def after_epoch(self, loop):
        self.fetch(loop)

    def after_fit(self, loop):
        try:
            if loop.status != "failed":
                self.fetch(loop)
        finally:
            self.hooks.remove()


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


class Checkpointer(Callback):
    """After each epoch: ``checkpoints/last.pt`` always, ``checkpoints/best.pt`` when val accuracy improved."""

    order = 20
    main_only = True

    def __init__(self, directory, monitor: str = "val_acc"):
        self.directory, self.monitor = Path(directory), monitor
        self.best = -math.inf

    def after_epoch(self, loop):
        state = checkpoint_dict(loop.model, loop.optimizer, loop.scheduler, config=loop.config.to_dict(),
                                epoch=loop.epoch, step=loop.step, metrics=loop.metrics, classes=loop.classes,
                                vocab=loop.vocab_tokens)
        loop.last_checkpoint = str(save_checkpoint(state, self.directory / LAST))
        value = loop.metrics.get(self.monitor, -math.inf)
        if value > self.best:
            self.best = value
            loop.best_checkpoint = str(copy_checkpoint(loop.last_checkpoint, self.directory / BEST))


class EarlyStopping(Callback):
    """Stop when ``monitor`` (val loss by default) has not improved by ``min_delta`` for ``patience`` epochs."""

    order = 30

    def __init__(self, patience: int, monitor: str = "val_loss", min_delta: float = 0.0):
        self.patience, self.monitor, self.min_delta = patience, monitor, min_delta
        self.best, self.bad = math.inf, 0

    def after_epoch(self, loop):
        value = loop.metrics[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad >= self.patience:
            raise StopTraining(f"early stopping: {self.monitor} has not improved for {self.patience} epoch(s)",
                               status="finished")


class TensorBoardLogger(Callback):
    """TensorBoard events in the run directory: loss, accuracy, LR and per-layer activation mean/std.

    Step losses stay on the device and are written every ``every`` steps in one transfer.
    """

    order = 15
    main_only = True

    def __init__(self, log_dir, every: int = 10):
        self.log_dir, self.every = str(log_dir), max(1, every)

    def before_fit(self, loop):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(self.log_dir)
        self._losses, self._steps, self._lrs = [], [], []

    def after_batch(self, loop):
        self._losses.append(loop.loss.detach())
        self._steps.append(loop.step)
        self._lrs.append(loop.lr)
        if len(self._losses) >= self.every:
            self._write_steps()

    def _write_steps(self):
        if not self._losses:
            return
        losses = torch.stack(self._losses).float().cpu().tolist()
        for step, loss, lr in zip(self._steps, losses, self._lrs):
            self.writer.add_scalar("loss/train_step", loss, step)
            self.writer.add_scalar("lr", lr, step)
        self._losses, self._steps, self._lrs = [], [], []

    def after_stats(self, loop):
        for step, rows in loop.stats_rows:
            for layer, mean, std, *_ in rows:
                self.writer.add_scalar(f"activations/{layer}/mean", mean, step)
                self.writer.add_scalar(f"activations/{layer}/std", std, step)

    def after_grads(self, loop):
        for step, rows in loop.grad_rows:
            for layer, grad, _, ratio in rows:
                if grad is not None:
                    self.writer.add_scalar(f"gradients/{layer}/norm", grad, step)
                if ratio is not None:
                    self.writer.add_scalar(f"gradients/{layer}/update_ratio", ratio, step)

    def after_epoch(self, loop):
        self._write_steps()
        for name, value in loop.metrics.items():
            self.writer.add_scalar(f"epoch/{name}", value, loop.epoch)
        self.writer.flush()

    def after_fit(self, loop):
        try:
            if loop.status != "failed":
                self._write_steps()
        finally:
            self.writer.close()


class StopFlag(Callback):
    """Stops within one batch when the run store's stop flag is set (the Stop button, ``request_stop``)."""

    order = -20
    main_only = True

    def __init__(self, run):
        self.run = run

    def before_batch(self, loop):
        if self.run.stop_requested():
            loop.request_stop(StopTraining("stopped on request", status="stopped"))

