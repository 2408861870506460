"""Learning-rate range test (Smith 2015; fastai / pytorch-lr-finder style) that always leaves things as it found them.

``find_lr`` trains for ``num_iter`` batches while the LR grows from ``start_lr`` to ``end_lr``, records the raw and
smoothed loss per step, stops when the loss blows up, and restores the model's parameters and buffers and the
optimizer's state bitwise afterwards, whether the sweep completed, diverged or raised.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator, Literal, Sequence

import torch
from torch import nn

from core.train.suggest import seed_spread, SeedSpread, suggest

StopReason = Literal["completed", "diverged", "non-finite loss"]
# callback(steps_done, num_iter, lr, smoothed_loss): called whenever losses have been fetched (see ``check_every``).
Progress = Callable[[int, int, float, float], None]


@dataclass
class LRFinderResult:
    lrs: list[float]  # LR of the (highest-LR) base parameter group at each recorded step
    losses: list[float]  # raw training loss of each step's batch
    smoothed: list[float]  # debiased exponential moving average of ``losses``
    suggestions: dict[str, float]  # rule name -> suggested LR (see core.train.suggest)
    stopped_because: StopReason  # 'completed', 'diverged' (smoothed > diverge x best) or 'non-finite loss'
    stop_lr: float | None = None  # LR of the step that stopped the sweep (a non-finite step is not recorded)
    settings: dict = field(default_factory=dict)  # start_lr, end_lr, num_iter, step_mode, beta, diverge

    def to_dict(self) -> dict:
        """JSON-serialisable dict (all values are finite floats, strings or None)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LRFinderResult":
        return cls(**d)


def lr_at(step: int, num_iter: int, start_lr: float, end_lr: float, step_mode: str = "exp") -> float:
    """LR of sweep step ``step`` (0-based): geometric ('exp') or arithmetic ('linear') from start_lr to end_lr.

    The first step is ``start_lr`` and the last ``end_lr`` exactly (no rounding drift at the ends).

    >>> lr_at(0, 5, 1e-4, 1.0), lr_at(2, 5, 1e-4, 1.0), lr_at(4, 5, 1e-4, 1.0)
    (0.0001, 0.01, 1.0)
    """
    if step >= num_iter - 1:
        return end_lr
    t = step / (num_iter - 1)
    if step_mode == "exp":
        return start_lr * (end_lr / start_lr) ** t
    return start_lr + (end_lr - start_lr) * t


def find_lr(model: nn.Module, loader: Iterable, loss_fn: Callable, optimizer: torch.optim.Optimizer, *,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100, step_mode: str = "exp",
            beta: float = 0.98, diverge: float = 4.0, device: str | torch.device | None = None,
            callback: Progress | None = None, check_every: int | None = None) -> LRFinderResult:
    """Sweep the LR from ``start_lr`` to ``end_lr`` over ``num_iter`` batches ``(x, y)`` of ``loader`` (cycled when
    shorter), one optimizer step per batch, and return the losses and suggestions.

    With several parameter groups, the group with the highest LR follows the sweep and the others keep their ratio
    to it (differential LRs); frozen parameters (no gradient) are not touched. Stops when the smoothed loss exceeds
    ``diverge`` x the best smoothed loss so far, or on a non-finite loss. The model is moved to ``device`` (default:
    where it is) for the sweep and back afterwards.

    Losses are fetched from the device every ``check_every`` steps (default: every step on the CPU, where fetching
    is free; every 16 steps elsewhere, so the GPU is not synchronised each step). The divergence rule needs every
    step's loss, so it is applied to each fetched step in order and the record is cut at the first step that trips
    it: the result is the same as checking every step, at the price of up to ``check_every - 1`` wasted steps.

    >>> model = nn.Linear(4, 3)
    >>> batches = [(torch.randn(16, 4), torch.randint(0, 3, (16,)))]  # any iterable of (x, y): a DataLoader
    >>> result = find_lr(model, batches, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
    ...                  num_iter=30)
    >>> result.lrs[0], len(result.lrs) <= 30, sorted(result.suggestions) <= ["minimum/10", "steepest", "valley"]
    (1e-07, True, True)
    """
    _check_args(start_lr, end_lr, num_iter, step_mode, beta, diverge)
    home = _model_device(model)
    device = torch.device(device) if device is not None else home
    check_every = check_every or (1 if device.type == "cpu" else 16)
    saved = _snapshot(model, optimizer)
    try:
        if device != home:
            model.to(device)
            optimizer.load_state_dict(_clone(saved["optimizer"]))  # moves optimizer state to the sweep device
        model.train()
        ratios = _group_ratios(optimizer)
        record = _Record(beta, diverge)
        pending: list[tuple[float, torch.Tensor]] = []
        for step, batch in zip(range(num_iter), _cycle(loader)):
            lr = lr_at(step, num_iter, start_lr, end_lr, step_mode)
            _set_lr(optimizer, ratios, lr)
            pending.append((lr, _train_step(model, optimizer, loss_fn, batch, device)))
            if len(pending) == check_every or step == num_iter - 1:
                stopped = record.add(pending)  # the one device sync per ``check_every`` steps
                pending.clear()
                if callback is not None and record.lrs:
                    callback(step + 1, num_iter, record.lrs[-1], record.smoothed[-1])
                if stopped:
                    break
    finally:
        if device != home:
            model.to(home)
        _restore(model, optimizer, saved)
    settings = dict(start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, step_mode=step_mode, beta=beta,
                    diverge=diverge)
    return LRFinderResult(record.lrs, record.losses, record.smoothed, suggest(record.lrs, record.smoothed),
                          record.stopped_because, record.stop_lr, settings)


def find_lr_seeds(build: Callable[[], tuple[nn.Module, torch.optim.Optimizer]], loader: Iterable,
                  loss_fn: Callable, seeds: Sequence[int], **kwargs) -> tuple[list[LRFinderResult], SeedSpread]:
    """Run ``find_lr`` once per seed (``torch.manual_seed(seed)``, then ``build()`` makes the model and optimizer, so
    the seed drives initialisation, shuffling and dropout) and summarise the spread. The global RNG state is
    restored afterwards. ``kwargs`` go to ``find_lr``; a ``callback`` gets the seed index as a fifth argument."""
    callback = kwargs.pop("callback", None)
    results = []
    with torch.random.fork_rng(devices=[]):
        for i, seed in enumerate(seeds):
            torch.manual_seed(seed)
            model, optimizer = build()
            cb = None if callback is None else (lambda *a, _i=i: callback(*a, _i))
            results.append(find_lr(model, loader, loss_fn, optimizer, callback=cb, **kwargs))
    spread = seed_spread([(r.lrs, r.smoothed) for r in results], [r.suggestions for r in results])
    return results, spread


class _Record:
    """Raw and smoothed losses as they are fetched, with the stop rule applied step by step."""

    def __init__(self, beta: float, diverge: float):
        self.beta, self.diverge = beta, diverge
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.avg, self.best = 0.0, math.inf
        self.stopped_because: StopReason = "completed"
        self.stop_lr: float | None = None

    def add(self, pending: list[tuple[float, torch.Tensor]]) -> bool:
        """Record fetched steps in order; True (and the reason set) at the first step that stops the sweep."""
        values = torch.stack([loss for _, loss in pending]).float().tolist()  # one device -> host copy
        for (lr, _), loss in zip(pending, values):
            if not math.isfinite(loss):
                self.stopped_because, self.stop_lr = "non-finite loss", lr
                return True
            self.avg = self.beta * self.avg + (1 - self.beta) * loss
            smoothed = self.avg / (1 - self.beta ** (len(self.losses) + 1))
            self.lrs.append(lr)
            self.losses.append(loss)
            self.smoothed.append(smoothed)
            self.best = min(self.best, smoothed)
            if smoothed > self.diverge * self.best:
                self.stopped_because, self.stop_lr = "diverged", lr
                return True
        return False


def _train_step(model, optimizer, loss_fn, batch, device) -> torch.Tensor:
    x, y = batch
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _cycle(loader: Iterable) -> Iterator:
    """Batches of ``loader`` forever, starting a new pass (a new shuffle) when one ends."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the data loader yielded no batches: is the training split empty?")


def _group_ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each group's LR as a fraction of the highest group LR (1.0 for all when every LR is zero)."""
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    top = max(lrs)
    return [lr / top if top > 0 else 1.0 for lr in lrs]


def _set_lr(optimizer: torch.optim.Optimizer, ratios: list[float], lr: float) -> None:
    for group, ratio in zip(optimizer.param_groups, ratios):
        if isinstance(group["lr"], torch.Tensor):  # tensor LRs (capturable / compiled optimizers) are updated in place
            group["lr"].fill_(lr * ratio)
        else:
            group["lr"] = lr * ratio


def _model_device(model: nn.Module) -> torch.device:
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _clone(obj):
    """Deep copy of a (nested) state dict with every tensor cloned to the CPU (the snapshot costs no device memory)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(v) for v in obj)
    return obj


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Everything the sweep changes: parameters and all buffers (persistent or not), train/eval flags, optimizer."""
    tensors = {f"p:{n}": t for n, t in model.named_parameters()} | {f"b:{n}": t for n, t in model.named_buffers()}
    return {"tensors": {n: _clone(t) for n, t in tensors.items()},
            "training": {m: m.training for m in model.modules()},
            "optimizer": _clone(optimizer.state_dict())}


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, saved: dict) -> None:
    tensors = {f"p:{n}": t for n, t in model.named_parameters()} | {f"b:{n}": t for n, t in model.named_buffers()}
    with torch.no_grad():
        for name, t in tensors.items():
            t.copy_(saved["tensors"][name])
    for module, training in saved["training"].items():
        module.training = training
    optimizer.zero_grad(set_to_none=True)
    optimizer.load_state_dict(saved["optimizer"])  # may keep the snapshot's tensors: fine, it is not used again


def _check_args(start_lr, end_lr, num_iter, step_mode, beta, diverge) -> None:
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if num_iter < 2:
        raise ValueError(f"num_iter must be at least 2, got {num_iter}")
    if step_mode not in ("exp", "linear"):
        raise ValueError(f"step_mode must be 'exp' or 'linear', got {step_mode!r}")
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    if diverge <= 1:
        raise ValueError(f"diverge must be > 1 (a multiple of the best loss), got {diverge}")
