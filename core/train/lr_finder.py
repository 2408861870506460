"""Learning-rate range test (Smith 2015; fastai / pytorch-lr-finder style) that always leaves things as it found them.

``find_lr`` trains for ``num_iter`` batches while the LR grows from ``start_lr`` to ``end_lr``, records the raw and
smoothed loss per step, stops when the loss blows up, and restores the model's parameters and buffers and the
optimizer's state bitwise afterwards, whether the sweep completed, diverged or raised.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator, Literal, Sequence

import torch
from torch import nn

from core.train.suggest import DebiasedEMA, SeedSpread, SuggestionSpread, seed_spread, suggest

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
    problems = sweep_problems(start_lr, end_lr, num_iter, step_mode, beta, diverge)
    if problems:
        raise ValueError("; ".join(problems))
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


def find_lr_seeds(build: Callable[[torch.Generator], tuple[nn.Module, torch.optim.Optimizer]],
                  loader: Iterable | Callable[[torch.Generator], Iterable], loss_fn: Callable, seeds: Sequence[int],
                  **kwargs) -> tuple[list[LRFinderResult], SeedSpread]:
    """Run ``find_lr`` once per seed and summarise the spread.

    Each seed gets its own ``torch.Generator``: ``build(generator)`` makes the model and optimizer from it
    (initial weights, dropout masks) and ``loader`` is either a fixed iterable of batches or a function of the
    generator (its shuffles and augmentation draws). torch's global generator is neither used nor changed, so
    sweeps in other threads do not disturb each other. ``kwargs`` go to ``find_lr``; a ``callback`` gets the seed
    index as a fifth argument."""
    callback = kwargs.pop("callback", None)
    results = []
    for i, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(seed)
        model, optimizer = build(generator)
        batches = loader(generator) if callable(loader) else loader
        cb = None if callback is None else (lambda *a, _i=i: callback(*a, _i))
        results.append(find_lr(model, batches, loss_fn, optimizer, callback=cb, **kwargs))
    spread = seed_spread([(r.lrs, r.smoothed) for r in results], [r.suggestions for r in results])
    return results, spread


@dataclass
class SweepSettings:
    """How the page and the CLI run the range test (the keyword arguments of ``find_lr``)."""

    start_lr: float = 1e-7  # far below any useful LR: the curve starts flat
    end_lr: float = 10.0  # far above: the sweep normally stops on divergence before it gets there
    num_iter: int = 100  # batches (optimizer steps); ~100 gives a readable curve in seconds on small data
    step_mode: str = "exp"  # exp (equal steps per decade, the usual) or linear
    beta: float = 0.98  # smoothing of the loss curve (fastai's default)
    diverge: float = 4.0  # stop once the smoothed loss exceeds this multiple of its best

    def problems(self) -> list[str]:
        """Reasons these settings cannot run (empty when fine), including the server's iteration cap."""
        from core.settings import load_settings

        return sweep_problems(**asdict(self), max_iter=load_settings().limits.max_lr_iters)


def sweep_problems(start_lr: float, end_lr: float, num_iter: int, step_mode: str, beta: float, diverge: float,
                   max_iter: int | None = None) -> list[str]:
    """Why ``find_lr`` cannot sweep with these arguments (empty when it can); ``max_iter``: a server's cap on
    ``num_iter``. The one check behind ``find_lr`` and ``SweepSettings.problems`` (the page and the CLI)."""
    out = []
    if not 0 < start_lr < end_lr:
        out.append(f"the start LR must be positive and below the end LR (got {start_lr:g} .. {end_lr:g})")
    if max_iter is not None and not 2 <= num_iter <= max_iter:
        out.append(f"the number of iterations must be between 2 and {max_iter} (this server's limit), "
                   f"not {num_iter}")
    elif num_iter < 2:
        out.append(f"the number of iterations must be at least 2, not {num_iter}")
    if step_mode not in ("exp", "linear"):
        out.append(f"step mode must be 'exp' or 'linear', not {step_mode!r}")
    if not 0 <= beta < 1:
        out.append(f"the smoothing beta must be in [0, 1), not {beta:g}")
    if not diverge > 1:
        out.append(f"the divergence threshold must be above 1 (x the best loss), not {diverge:g}")
    return out


@dataclass
class LRFinderReport:
    """``find_lr_for``'s answer: one sweep per seed, their spread, and what the user should know."""

    results: list[LRFinderResult]  # one per seed, in the order of the seeds
    seeds: list[int]  # the seeds used
    spread: SeedSpread  # band of the smoothed curves and spread of each suggestion (zero width for one seed)
    notices: list[str] = field(default_factory=list)  # e.g. no pretrained weights, mixup not applied

    @property
    def suggestions(self) -> dict[str, float]:
        """The LRs to offer: the sweep's suggestions; with several seeds each rule's median over the sweeps (on a
        log scale), for the rules more than half of the sweeps gave (a lone sweep's suggestion is not offered)."""
        if len(self.results) == 1:
            return dict(self.results[0].suggestions)
        return {name: s.median for name, s in self.spread.suggestions.items()
                if len(s.values) > len(self.results) / 2}

    def missing(self, name: str) -> str | None:
        """Why some sweeps gave no ``name`` suggestion, in words (None when every sweep gave one)."""
        from core.train.suggest import clear_drop

        parts = []
        for seed, r in zip(self.seeds, self.results):
            if name in r.suggestions:
                continue
            why = ("its loss never fell clearly" if not clear_drop(r.smoothed) else
                   f"it stopped early ({r.stopped_because}) before the rule could apply"
                   if r.stopped_because != "completed" else "its curve has no point this rule accepts")
            parts.append(f"seed {seed}: {why}")
        return "; ".join(parts) or None

    @property
    def drop(self) -> float:
        """How far the smoothed loss fell below its start (``core.train.suggest.relative_drop``; median over seeds)."""
        import statistics

        from core.train.suggest import relative_drop

        return statistics.median(relative_drop(r.smoothed) for r in self.results)

    def to_dict(self) -> dict:
        """JSON-serialisable dict (what the LR job writes as its result)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LRFinderReport":
        spread = dict(d["spread"])
        spread["suggestions"] = {k: SuggestionSpread(**v) for k, v in spread.get("suggestions", {}).items()}
        return cls([LRFinderResult.from_dict(r) for r in d["results"]], list(d["seeds"]), SeedSpread(**spread),
                   list(d.get("notices", [])))


def find_lr_for(config, sweep: SweepSettings | None = None, *, bundle=None, seeds: Sequence[int] | None = None,
                callback: Callable | None = None) -> LRFinderReport:
    """The range test for a ``TrainConfig``: the model ``fit`` would start from (same seed, same initialisation),
    its optimizer with the config's layer-group LR ratios, the backbone frozen when training starts frozen, the
    training split with its augmentation, cross-entropy with the config's label smoothing.

    ``seeds`` (default: the config's seed) repeats the sweep, each seed's own generator driving initialisation,
    shuffling, augmentation and dropout. ``callback(steps_done, num_iter, lr, smoothed_loss, seed_index)`` reports
    progress. torch's global generator is not used, and the bundle is left as it was (the bundle is never changed,
    so a page may share it between sessions).

        >>> from core.train import TrainConfig
        >>> config, sweep = TrainConfig(data="builtin:digits", model="mlp"), SweepSettings(num_iter=30)
        >>> find_lr_for(config, sweep).results[0].suggestions  # doctest: +SKIP
    """
    from core.device import pick_device
    from core.models import build_for
    from core.models.init import seeded_dropout
    from core.train.checks import check
    from core.train.data import prepare_splits
    from core.train.optim import make_optimizer, set_frozen

    sweep = sweep or SweepSettings()
    problems = sweep.problems()
    if problems:
        raise ValueError("; ".join(problems))
    if bundle is None:
        from core.data import load
        bundle = load(config.data, **config.data_opts)
    check(config, bundle.kind)
    device, seeds = pick_device(config.device), list(seeds) if seeds else [config.seed]
    notices = [] if config.mixup_alpha == 0 else ["mixup is not applied during the sweep (plain batches)"]
    if config.freeze_epochs > 0:
        notices.append(f"the backbone is frozen, as in the first {config.freeze_epochs} epoch(s) of training: "
                       "this is the LR for the head while frozen")

    augment = torch.Generator()  # the training split's augmentation draws; reseeded from each seed's generator
    unseeded: list[str] = []

    def build(generator):
        model = build_for(bundle, config.model, generator, **config.model_opts)  # fit's initial weights
        unseeded[:] = seeded_dropout(model, generator)
        if config.freeze_epochs > 0:
            set_frozen(model, True, config.train_bn)
        model.to(device)
        augment.manual_seed(int(torch.randint(1 << 62, (), generator=generator)))
        return model, make_optimizer(model, config)

    probe = build_for(bundle, config.model, **config.model_opts)  # how the data must be prepared
    notices += [probe.notice] if getattr(probe, "notice", None) else []
    train, _, more = prepare_splits(config, _own_train_split(bundle), probe, generator=augment, with_val=False)

    def loader(generator):
        return _train_loader(train, config.batch_size, bundle.collate_fn, device, generator)

    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    results, spread = find_lr_seeds(build, loader, loss_fn, seeds, callback=callback, **asdict(sweep))
    if unseeded:
        notices.append(f"{', '.join(unseeded)} draw dropout from torch's global generator (PyTorch offers no "
                       "other): in a shared process the sweep may not replay exactly")
    return LRFinderReport(results, seeds, spread, notices + more)


def _own_train_split(bundle):
    """A shallow copy of the bundle whose train split is a shallow copy too: the sweep sets its augmentation
    (``.transform``) there, never on the bundle a page shares between sessions. The data itself is not copied."""
    own = copy.copy(bundle)
    own.splits = {**bundle.splits, "train": copy.copy(bundle.splits["train"])}
    return own


def _train_loader(train, batch_size: int, collate_fn, device: torch.device, generator: torch.Generator):
    """Batches shuffled by ``generator`` (each seed shuffles differently); a last batch of one sample is dropped
    (batch-norm cannot train on it)."""
    from torch.utils.data import DataLoader

    return DataLoader(train, batch_size=batch_size, shuffle=True, collate_fn=collate_fn, generator=generator,
                      drop_last=len(train) % batch_size == 1, pin_memory=device.type == "cuda")


class _Record:
    """Raw and smoothed losses as they are fetched, with the stop rule applied step by step."""

    def __init__(self, beta: float, diverge: float):
        self.ema, self.diverge = DebiasedEMA(beta), diverge
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.best = math.inf
        self.stopped_because: StopReason = "completed"
        self.stop_lr: float | None = None

    def add(self, pending: list[tuple[float, torch.Tensor]]) -> bool:
        """Record fetched steps in order; True (and the reason set) at the first step that stops the sweep."""
        values = torch.stack([loss for _, loss in pending]).float().tolist()  # one device -> host copy
        for (lr, _), loss in zip(pending, values):
            if not math.isfinite(loss):
                self.stopped_because, self.stop_lr = "non-finite loss", lr
                return True
            smoothed = self.ema.add(loss)
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
