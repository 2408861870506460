"""Gradient checkpointing you can measure: keep only the inputs of a few segments during the forward pass and
recompute the rest in the backward pass (``torch.utils.checkpoint``, ``use_reentrant=False``). Less activation
memory for more compute.

BatchNorm and Dropout stay out of the checkpointed segments: a recomputed BatchNorm in training mode would update
its running statistics a second time, and keeping Dropout outside makes sure no recomputation depends on replaying
its random mask. They run plainly between segments (their saved tensors are kept, as without checkpointing).
In-place activations (``ReLU(inplace=True)``) run out of place in a checkpointed chain: in place, they would change
the tensor a segment keeps to recompute from.

>>> model = with_checkpointing(build("mlp", 10, input_shape=(1, 8, 8)), segments=2)   # doctest: +SKIP
>>> measure_memory(model, x, y, segments=(0, 2, 4, 8))                                 # doctest: +SKIP
"""
from __future__ import annotations

import statistics
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint, checkpoint_sequential

from core.models import unwrap

KEEP_OUT = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.Dropout, nn.Dropout1d,
            nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)  # run outside checkpointed segments (module docstring)
SEGMENT_CHOICES = (0, 2, 4, 8)  # what the Memory panel measures; 0 = no checkpointing
KEEP_OUT_REASON = ("BatchNorm and Dropout layers run outside the checkpointed segments: recomputing a BatchNorm in "
                   "training mode would update its running statistics twice.")


def checkpoint_target(model: nn.Module) -> tuple[nn.Module | None, str | None]:
    """Where the activations are: (parent, attribute) of the Sequential to cut into segments -- the model itself
    when it is a Sequential (parent None, attribute ''), else its child Sequential with the most layers (an MLP's
    ``body``, a CNN's ``features``); (None, None) when the model has none of at least two layers."""
    model = unwrap(model)
    if isinstance(model, nn.Sequential):
        return None, ""
    best, size = None, 1
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential) and len(_flatten(child)) > size:
            best, size = name, len(_flatten(child))
    return (model, best) if best else (None, None)


def checkpoint_problem(model: nn.Module) -> str | None:
    """Why gradient checkpointing cannot apply to ``model`` (None when it can): it needs a chain of layers (a
    Sequential) holding at least half of the model's layers, so that cutting it saves something."""
    parent, name = checkpoint_target(model)
    model = unwrap(model)
    leaves = [m for m in model.modules() if not list(m.children())]
    chain = 0 if name is None else len(_flatten(model if parent is None else getattr(parent, name)))
    if chain < 4 or chain < len(leaves) / 2:
        return (f"{type(model).__name__} has no long chain of layers (a Sequential) to cut into checkpointed "
                "segments")
    return None


def checkpointing_problem_for(bundle, name: str) -> str | None:
    """``checkpoint_problem`` of the registry model ``name`` built for ``bundle`` (None: the model's default input)
    on the meta device (no memory, no weights loaded); a model that cannot be built there is reported as not
    checked."""
    from core.models import build, build_for

    try:
        with torch.device("meta"):
            return checkpoint_problem(build(name, 2) if bundle is None else build_for(bundle, name))
    except Exception:  # noqa: BLE001 - a model whose constructor needs real tensors: we cannot tell, so say no
        return f"{name} cannot be checked for gradient checkpointing"


def _flatten(seq: nn.Sequential) -> list[nn.Module]:
    out = []
    for m in seq:
        out += _flatten(m) if isinstance(m, nn.Sequential) else [m]
    return out


def segment_plan(layers: list[nn.Module], segments: int) -> list[tuple[bool, list[int]]]:
    """(checkpointed?, layer indices) runs, in order: the layers split into ``segments`` runs as
    ``checkpoint_sequential`` splits them (``len // segments`` layers each, the last one takes the rest and runs
    plainly: its activations are needed at once by the backward pass), each cut again around BatchNorm / Dropout
    layers, which run plainly."""
    n = len(layers)
    size = n // segments if segments > 1 else 0
    if size < 1:
        return [(False, list(range(n)))]
    bounds = [(s, s + size) for s in range(0, size * (segments - 1), size)]
    bounds.append((bounds[-1][1], n))
    plan: list[tuple[bool, list[int]]] = []
    for start, stop in bounds:
        idx = list(range(start, stop))
        last = stop == n
        run: list[int] = []
        for i in idx:
            if isinstance(layers[i], KEEP_OUT):
                if run:
                    plan.append((not last, run))
                plan.append((False, [i]))
                run = []
            else:
                run.append(i)
        if run:
            plan.append((not last, run))
    return plan


class CheckpointedSequential(nn.Sequential):
    """A Sequential run in ``segments`` checkpointed segments while training (plain in eval mode or without grad).

    Its layers are those of the Sequential it replaces, under the same names (state_dicts and checkpoints are
    unchanged). Nested Sequentials (blocks) are cut at their leaves. Without BatchNorm / Dropout this is exactly
    ``checkpoint_sequential(layers, segments, x, use_reentrant=False)``; with them, the segments are cut around
    those layers (``segment_plan``).
    """

    def __init__(self, seq: nn.Sequential, segments: int):
        super().__init__(OrderedDict(seq.named_children()))
        self.segments = segments
        self.flat = _flatten(self)  # a plain list (not registered twice): the leaves in order
        for m in self.flat:  # an in-place op would change a tensor a segment keeps to recompute from
            if getattr(m, "inplace", False) and segments > 1:
                m.inplace = False
        self.plain_chain = not any(isinstance(m, KEEP_OUT) for m in self.flat)
        self.plan = segment_plan(self.flat, segments)

    @property
    def keep_out_note(self) -> str | None:
        return None if self.plain_chain else KEEP_OUT_REASON

    def forward(self, x):
        if not self.training or self.segments <= 1 or not torch.is_grad_enabled():
            return super().forward(x)
        if self.plain_chain:
            return checkpoint_sequential(self.flat, self.segments, x, use_reentrant=False)
        for ckpt, idx in self.plan:
            run = nn.Sequential(*(self.flat[i] for i in idx))
            x = checkpoint(run, x, use_reentrant=False) if ckpt else run(x)
        return x


def with_checkpointing(model: nn.Module, segments: int) -> nn.Module:
    """``model`` with its chain of layers (``checkpoint_target``) run in ``segments`` checkpointed segments; the
    target is replaced in place (same parameter names), so the returned model is ``model`` itself unless ``model``
    is a Sequential. ``segments`` 0 or 1 puts back the plain Sequential. ``ValueError`` when nothing applies."""
    parent, name = checkpoint_target(model)
    if name is None:
        raise ValueError(checkpoint_problem(model))
    seq = unwrap(model) if parent is None else getattr(parent, name)
    plain = nn.Sequential(OrderedDict(seq.named_children()))
    new = CheckpointedSequential(plain, segments) if segments > 1 else plain
    if parent is None:
        return new
    setattr(parent, name, new)
    return model


class SavedTensorMeter:
    """Bytes the autograd graph keeps for the backward pass during a forward pass: every tensor saved for backward
    (``torch.autograd.graph.saved_tensors_hooks``) plus the inputs checkpointed segments keep, each storage counted
    once, parameters excluded. Use as a context manager around the forward pass."""

    def __init__(self, model: nn.Module):
        self.params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.model, self.seen, self.handles = model, {}, []

    def _count(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in self.params and ptr not in self.seen:
            self.seen[ptr] = storage.nbytes()

    def _pack(self, t):
        self._count(t)
        return t

    @property
    def bytes(self) -> int:
        return sum(self.seen.values())

    def __enter__(self):
        wrapped = [m for m in self.model.modules() if isinstance(m, CheckpointedSequential)]
        for m in wrapped:
            self._wrap_forward(m)
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self.hooks.__enter__()
        return self

    def _wrap_forward(self, m: CheckpointedSequential) -> None:
        """Count the input of each checkpointed run (checkpointing keeps it to recompute from)."""
        for ckpt, idx in m.plan:
            if ckpt:
                self.handles.append(m.flat[idx[0]].register_forward_pre_hook(
                    lambda mod, args: self._count(args[0]) if torch.is_grad_enabled() else None))

    def __exit__(self, *exc):
        self.hooks.__exit__(*exc)
        for h in self.handles:
            h.remove()


@dataclass
class MemoryPoint:
    """One setting of the Memory panel."""

    segments: int  # 0 = no checkpointing
    activation_bytes: int  # CPU: saved-tensor bytes (SavedTensorMeter); CUDA: peak allocated above the weights
    step_ms: float  # median time of a training step (forward + backward)


@dataclass
class MemoryResult:
    """The checkpointing trade-off on one model: a MemoryPoint per number of segments."""

    device: str
    measure: str  # what activation_bytes means on this device
    points: list = field(default_factory=list)
    note: str | None = None  # why BatchNorm / Dropout are outside the segments, when the model has them

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MemoryResult":
        return cls(**{**d, "points": [MemoryPoint(**p) for p in d.get("points", [])]})


def _step(model, x, y) -> None:
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()


def measure_memory(model: nn.Module, x: torch.Tensor, y: torch.Tensor, segments=SEGMENT_CHOICES,
                   repeats: int = 3, progress=None) -> MemoryResult:
    """Activation memory and step time of ``model`` (a chain) on the batch (x, y) for each number of segments.

    CPU: bytes of the tensors autograd saves plus checkpointed inputs (``SavedTensorMeter``); CUDA: the peak of
    ``torch.cuda.max_memory_allocated`` during forward + backward above what was allocated before.
    """
    device = x.device
    model.train()
    result = MemoryResult(device=str(device), measure="peak CUDA memory above the weights (max_memory_allocated)"
                          if device.type == "cuda" else "bytes saved for the backward pass (saved_tensors_hooks)")
    for i, n in enumerate(segments):
        net = with_checkpointing(model, n)
        found = [m for m in net.modules() if isinstance(m, CheckpointedSequential)]
        result.note = result.note or (found[0].keep_out_note if found else None)
        _step(net, x, y)  # warm-up
        result.points.append(MemoryPoint(n, _activation_bytes(net, x, y), median_step_ms(net, x, y, repeats)))
        if progress is not None:
            progress(i + 1, len(segments))
    return result


def _activation_bytes(net, x, y) -> int:
    if x.device.type == "cuda":
        net.zero_grad(set_to_none=True)
        torch.cuda.synchronize(x.device)
        base = torch.cuda.memory_allocated(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        _step(net, x, y)
        torch.cuda.synchronize(x.device)
        return int(torch.cuda.max_memory_allocated(x.device) - base)
    with SavedTensorMeter(net) as meter:
        out = net(x)
    nn.functional.cross_entropy(out, y).backward()
    return meter.bytes


def median_step_ms(net, x, y, repeats: int) -> float:
    """Median wall time (ms) of ``repeats`` training steps (forward + backward) of ``net`` on (x, y)."""
    times = []
    for _ in range(repeats):
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        start = time.perf_counter()
        _step(net, x, y)
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
