"""Profile training steps: where a step's time and memory go, per layer (forward and backward), per operator, as a
flame graph, and how much of it is the data loader. Runs ``torch.profiler`` (CPU and, with a GPU, CUDA activities;
shapes, memory and Python stacks) over N steps after one warm-up step, and writes a Chrome trace (chrome://tracing,
https://ui.perfetto.dev).

Per-layer forward time: each watched layer's forward runs inside a ``record_function("forward: NAME")`` range (a
pre-hook opens it, a hook closes it). Backward time: autograd numbers every forward op (``sequence_nr``) and its
backward function carries the same number, so each ``evaluate_function: XBackward0`` event is charged to the layer
whose forward range holds the op with its number. Memory: the bytes each range allocated minus those it freed.

>>> result = profile_run("runs/20260101-120000-cnn-digits", steps=20)   # doctest: +SKIP
>>> result.layers[0].layer, result.summary
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from core.models import unwrap

PHASES = ("data", "forward", "loss", "backward", "optimizer")  # the ranges of one profiled step
_FWD = "forward: "
_BWD = "autograd::engine::evaluate_function: "
MAX_STEPS = 50  # a profile of more steps is no more informative, only bigger (the trace grows with each step)
FLAME_DEPTH = 6  # levels of the flame graph below a step's phases
FLAME_MIN_SHARE = 0.002  # nodes below this share of the profiled time are left out of the flame graph


@dataclass
class LayerProfile:
    """One layer's share of the profiled steps (times in ms per step, memory in bytes per step)."""

    layer: str
    forward_ms: float
    backward_ms: float
    forward_bytes: int  # allocated minus freed during its forward (what it keeps: outputs, saved tensors)
    backward_bytes: int  # the same during its backward (negative: saved tensors released)
    share: float = 0.0  # (forward + backward) / step time


@dataclass
class OpProfile:
    """One operator summed over the profiled steps (per step)."""

    name: str
    calls: float  # per step
    self_ms: float  # time in the operator itself, children excluded
    total_ms: float  # with the operators it calls
    self_bytes: int


@dataclass
class ProfileResult:
    """What ``profile_steps`` measured; JSON round-trip with ``to_dict`` / ``from_dict``."""

    steps: int
    device: str
    step_ms: float  # mean wall time of a profiled step
    phases_ms: dict = field(default_factory=dict)  # phase -> ms per step (data, forward, loss, backward, optimizer)
    layers: list = field(default_factory=list)  # LayerProfile, slowest first
    ops: list = field(default_factory=list)  # OpProfile, most self time first
    flame: list = field(default_factory=list)  # (id, parent, label, own ms per step): an icicle of the call tree
    trace: str | None = None  # the Chrome trace file written
    summary: str = ""  # one sentence on what dominates

    @property
    def data_share(self) -> float:
        return self.phases_ms.get("data", 0.0) / self.step_ms if self.step_ms else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ProfileResult":
        d = dict(d)
        d["layers"] = [LayerProfile(**x) for x in d.get("layers", [])]
        d["ops"] = [OpProfile(**x) for x in d.get("ops", [])]
        d["flame"] = [tuple(x) for x in d.get("flame", [])]
        return cls(**d)


def profiled_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers timed: top-level children, a Sequential of blocks expanded one level (as the activation
    statistics); unlike those, parameter-free layers (Flatten, Dropout) count too, so the layers cover the forward."""
    out = []
    for name, child in unwrap(model).named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)) and any(list(c.children()) for c in child.children()):
            out += [(f"{name}.{n}", c) for n, c in child.named_children()]
        else:
            out.append((name, child))
    return out


class _LayerRanges:
    """A ``record_function`` range around each layer's forward, removed on exit."""

    def __init__(self, layers):
        self.open, self.handles = {}, []
        for name, module in layers:
            self.handles.append(module.register_forward_pre_hook(self._pre(name)))
            self.handles.append(module.register_forward_hook(self._post(name)))

    def _pre(self, name):
        def hook(module, args):
            rf = record_function(_FWD + name)
            rf.__enter__()
            self.open.setdefault(name, []).append(rf)
        return hook

    def _post(self, name):
        def hook(module, args, out):
            self.open[name].pop().__exit__(None, None, None)
        return hook

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def profile_steps(model: nn.Module, batches, optimizer, criterion, steps: int, device: torch.device,
                  trace_path: str | Path | None = None, progress=None) -> ProfileResult:
    """Profile ``steps`` training steps (after one warm-up step) of ``model`` on ``batches`` (an iterable of
    (x, y), cycled). ``progress(done, total)`` is called each step. The model's weights change (it trains)."""
    device = torch.device(device)
    model.to(device).train()
    source = _cycle(batches)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    train_step(model, source, optimizer, criterion, device)  # warm-up: lazy inits, allocator, caches
    with _LayerRanges(profiled_layers(model)):
        with profile(activities=activities, record_shapes=True, profile_memory=True, with_stack=True) as prof:
            start = time.perf_counter()
            for i in range(steps):
                train_step(model, source, optimizer, criterion, device)
                if progress is not None:
                    progress(i + 1, steps)
            _sync(device)
            wall = (time.perf_counter() - start) / steps
    if trace_path is not None:
        Path(trace_path).parent.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(trace_path))
    return _analyse(prof.events(), steps, device, wall * 1e3, str(trace_path) if trace_path else None)


def _cycle(batches):
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError("no batches to profile")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model, source, optimizer, criterion, device) -> None:
    with record_function("data"):
        xb, yb = next(source)
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
    with record_function("forward"):
        out = model(xb)
    with record_function("loss"):
        loss = criterion(out, yb)
    with record_function("backward"):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    with record_function("optimizer"):
        optimizer.step()


def _ms(event, cuda: bool) -> float:
    return (event.device_time_total if cuda else event.cpu_time_total) / 1e3


def _bytes(event, cuda: bool) -> int:
    return int(event.device_memory_usage if cuda else event.cpu_memory_usage)


def _range_of(event) -> str | None:
    """The innermost layer range (``forward: NAME``) around ``event``, else None."""
    p = event
    while p is not None:
        if p.name.startswith(_FWD):
            return p.name[len(_FWD):]
        p = p.cpu_parent
    return None


def _analyse(events, steps: int, device: torch.device, step_ms: float, trace: str | None) -> ProfileResult:
    cuda = device.type == "cuda"
    phases = {p: 0.0 for p in PHASES}
    fwd: dict[str, list] = {}
    seq_layer: dict[int, str] = {}
    for e in events:
        if e.name in phases and e.cpu_parent is None or (e.name in phases and _is_python(e.cpu_parent)):
            phases[e.name] += _ms(e, cuda) if e.name != "data" else e.cpu_time_total / 1e3
        elif e.name.startswith(_FWD):
            acc = fwd.setdefault(e.name[len(_FWD):], [0.0, 0, 0.0, 0])
            acc[0] += _ms(e, cuda)
            acc[1] += _bytes(e, cuda)
        elif e.sequence_nr >= 0 and e.name.startswith("aten::"):
            layer = _range_of(e)
            if layer is not None:
                seq_layer.setdefault(e.sequence_nr, layer)
    for e in events:
        if e.name.startswith(_BWD) and e.sequence_nr in seq_layer:
            acc = fwd.setdefault(seq_layer[e.sequence_nr], [0.0, 0, 0.0, 0])
            acc[2] += _ms(e, cuda)
            acc[3] += _bytes(e, cuda)
    per = {k: v / steps for k, v in phases.items()}
    layers = [LayerProfile(name, f / steps, b / steps, int(fb / steps), int(bb / steps),
                           (f + b) / steps / step_ms if step_ms else 0.0)
              for name, (f, fb, b, bb) in fwd.items()]
    layers.sort(key=lambda lp: lp.forward_ms + lp.backward_ms, reverse=True)
    result = ProfileResult(steps=steps, device=str(device), step_ms=step_ms, phases_ms=per, layers=layers,
                           ops=_top_ops(events, steps, cuda), flame=_flame(events, steps, cuda, seq_layer),
                           trace=trace)
    result.summary = summary_sentence(result)
    return result


def _is_python(event) -> bool:
    return event is not None and (".py(" in event.name or event.name.startswith("<built-in"))


def _top_ops(events, steps: int, cuda: bool, top: int = 15) -> list[OpProfile]:
    """Operators (aten::...) by self time, per step."""
    acc: dict[str, list] = {}
    for e in events:
        if not e.name.startswith("aten::"):
            continue
        a = acc.setdefault(e.name, [0, 0.0, 0.0, 0])
        a[0] += 1
        a[1] += (e.self_device_time_total if cuda else e.self_cpu_time_total) / 1e3
        a[2] += _ms(e, cuda)
        a[3] += e.self_device_memory_usage if cuda else e.self_cpu_memory_usage
    ops = [OpProfile(n, c / steps, s / steps, t / steps, int(m / steps)) for n, (c, s, t, m) in acc.items()]
    return sorted(ops, key=lambda o: o.self_ms, reverse=True)[:top]


def _label(event, seq_layer: dict[int, str]) -> str:
    """A flame node's name: a layer's forward range by the layer, a backward function with the layer it belongs to."""
    name = event.name
    if name.startswith(_BWD):
        name = name[len(_BWD):]
        return f"{name} ({seq_layer[event.sequence_nr]})" if event.sequence_nr in seq_layer else name
    return name


def _skipped(event, parent_label: str) -> bool:
    """Frames that only repeat what their parent says: Python frames, nn.Module wrappers, a backward node's own
    function under its ``evaluate_function`` event."""
    return _is_python(event) or event.name.startswith("nn.Module: ") or parent_label.startswith(event.name + " ")


def _flame(events, steps: int, cuda: bool, seq_layer: dict[int, str]) -> list[tuple[str, str, str, float]]:
    """The call tree below each phase, merged over steps, as (id, parent id, label, own ms per step) rows (own: not
    in a child drawn below it): python frames are skipped (their operators are kept), so the tree reads
    phase > layer > operator > kernel."""
    totals: dict[tuple, float] = {}

    def walk(event, path: tuple, depth: int):
        if _skipped(event, path[-1]):
            for child in event.cpu_children:
                walk(child, path, depth)
            return
        path = path + (_label(event, seq_layer),)
        totals[path] = totals.get(path, 0.0) + _ms(event, cuda) / steps
        if depth < FLAME_DEPTH:
            for child in event.cpu_children:
                walk(child, path, depth + 1)

    for e in events:
        if e.name in PHASES and (e.cpu_parent is None or _is_python(e.cpu_parent)):
            walk(e, ("step",), 0)
    whole = sum(v for k, v in totals.items() if len(k) == 2) or 1.0
    rows = [("step", "", "step", whole)]
    for path, ms in sorted(totals.items()):
        if ms / whole >= FLAME_MIN_SHARE and path[:-1] in totals or len(path) == 2:
            rows.append(("/".join(path), "/".join(path[:-1]), path[-1], ms))
    kept = {r[0] for r in rows}
    rows = [r for r in rows if r[1] in kept or r[0] == "step"]
    children: dict[str, float] = {}
    for node, parent, _, ms in rows:
        children[parent] = children.get(parent, 0.0) + ms
    # each node's own time (its total minus its drawn children): widths add up with plotly's branchvalues="remainder"
    return [(node, parent, label, max(ms - children.get(node, 0.0), 0.0)) for node, parent, label, ms in rows]


def summary_sentence(result: ProfileResult) -> str:
    """One sentence on what dominates the step (the phase, the slowest layer, the data loader's share)."""
    if not result.step_ms:
        return "Nothing was measured."
    phase = max(PHASES, key=lambda p: result.phases_ms.get(p, 0.0))
    what = {"data": "data loader", "forward": "forward pass", "backward": "backward pass"}.get(phase, phase)
    text = (f"The {what} takes the largest part of a step "
            f"({result.phases_ms[phase] / result.step_ms:.0%} of {result.step_ms:.1f} ms)")
    if result.layers:
        top = result.layers[0]
        text += f"; the slowest layer is {top.layer} ({top.share:.0%} of the step, forward and backward)"
    share = result.data_share
    if share >= 0.3:
        text += (f". {'It' if phase == 'data' else f'The data loader takes {share:.0%}: it'} means the "
                 f"{result.device.split(':')[0].upper()} waits for data; more DataLoader workers, cached features "
                 "or lighter augmentation would help.")
    else:
        text += f". The data loader takes {share:.0%}, so the model, not the data, sets the pace."
    return text


def profile_run(run_dir: str | Path, steps: int = 20, out_dir: str | Path | None = None, device: str = "auto",
                progress=None) -> ProfileResult:
    """Profile ``steps`` training steps of a run's model (its last checkpoint when there is one) on its data, with
    its optimizer and batch size; the Chrome trace goes to ``out_dir`` (default ``RUN_DIR/profile``)."""
    from core.train.optim import make_optimizer

    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}")
    config, bundle, model, train_dl, dev = run_setup(run_dir, device)
    optimizer = make_optimizer(model, config)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    out_dir = Path(out_dir) if out_dir is not None else Path(run_dir) / "profile"
    trace = out_dir / f"trace-{time.strftime('%Y%m%d-%H%M%S')}.json.gz"  # gzipped: Perfetto and Chrome open it
    try:
        return profile_steps(model, train_dl, optimizer, criterion, steps, dev, trace, progress)
    finally:
        bundle.splits["train"].transform = None


def run_setup(run_dir: str | Path, device: str = "auto"):
    """(config, bundle, model, train loader, device) of a run, as its training had them: the model from its last
    checkpoint when there is one (else its seeded initialisation), its batch size and augmentation. Callers reset
    ``bundle.splits['train'].transform = None`` when done (the bundle may be cached)."""
    from core.data import load
    from core.device import pick_device
    from core.models import build_for
    from core.train.checkpoint import load_checkpoint
    from core.train.config import TrainConfig
    from core.train.data import make_loaders, prepare_splits
    from core.train.evaluate import checkpoint_path
    from core.train.store import RunStore

    config = TrainConfig.from_dict({k: v for k, v in RunStore.open(run_dir).config().items()
                                    if k in TrainConfig.__dataclass_fields__})
    dev = pick_device(device)
    bundle = load(config.data, **config.data_opts)
    model = build_for(bundle, config.model, torch.Generator().manual_seed(config.seed), **config.model_opts)
    ckpt = checkpoint_path(run_dir)
    if ckpt is not None:
        unwrap(model).load_state_dict(load_checkpoint(ckpt)["model"])
    train, val, _ = prepare_splits(config, bundle, model, device=dev, with_val=False)
    train_dl, _, _ = make_loaders(config, train, val, bundle.collate_fn, dev)
    return config, bundle, model.to(dev), train_dl, dev


def layer_rows(result: ProfileResult) -> list[dict]:
    """One row per layer for the CLI's JSON: forward and backward time (ms per step) and memory (bytes per step)."""
    return [{"layer": lp.layer, "forward_ms": round(lp.forward_ms, 4), "backward_ms": round(lp.backward_ms, 4),
             "forward_bytes": lp.forward_bytes, "backward_bytes": lp.backward_bytes,
             "share": round(lp.share, 4) if math.isfinite(lp.share) else None} for lp in result.layers]
