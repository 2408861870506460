"""Costs of the debugging tools, each against a baseline measured in the same run:

    .venv/bin/python bench/bench_debug.py [--steps 20] [--repeats 5]

1. gradient norms: the GradientStats callback's own work at the default k (grad_every=10), per step, against a
   plain training step of the digits cnn. Target: <= 3% of a step.
2. gradient checkpointing: a chain of 16 conv layers in 4 segments against no checkpointing (core.debug.
   checkpointing.measure_memory: saved-tensor bytes on the CPU, peak allocated on CUDA). Targets: >= 40% less
   activation memory, step time < 1.5x.
3. profiling: profile_steps over 20 steps of the digits cnn (warm-up, profiler with shapes/memory/stacks, analysis,
   Chrome trace) against 20 plain steps (with one warm-up). Target: < 10x.
Medians of ``--repeats``; the machine's load moves the times, the ratios less.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.data import load  # noqa: E402
from core.debug.checkpointing import median_step_ms, measure_memory, with_checkpointing  # noqa: E402
from core.debug.grads import DEFAULT_EVERY  # noqa: E402
from core.debug.profile import profile_steps, train_step  # noqa: E402 - the profiler's own step: the baseline
from core.device import pick_device  # noqa: E402
from core.models import build_for  # noqa: E402
from core.train.config import recommended  # noqa: E402
from core.train.data import make_loaders, prepare_splits  # noqa: E402
from core.train.grad_stats import GradientStats  # noqa: E402
from core.train.optim import make_optimizer  # noqa: E402

GRAD_TARGET, MEM_TARGET, TIME_TARGET, PROFILE_TARGET = 0.03, 0.40, 1.5, 10.0


def digits_cnn(device):
    """The digits cnn as the Train page starts it: model, optimizer, criterion, a list of training batches."""
    config = recommended("cnn", "builtin:digits")
    bundle = load(config.data)
    model = build_for(bundle, config.model, torch.Generator().manual_seed(0), **config.model_opts).to(device)
    train, val, _ = prepare_splits(config, bundle, model, device=device, with_val=False)
    loader, _, _ = make_loaders(config, train, val, bundle.collate_fn, device)
    batches = [(x.to(device), y.to(device)) for x, y in loader]
    bundle.splits["train"].transform = None
    return model, make_optimizer(model, config), nn.CrossEntropyLoss(), batches


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Loop(SimpleNamespace):
    """What GradientStats reads of the training loop; events it raises (after_grads) go nowhere."""

    def __call__(self, event: str) -> None:
        pass


def grad_norm_cost(device, steps: int, repeats: int) -> tuple[float, float]:
    """(ms of a plain step, ms of GradientStats' work per step at the default k), medians."""
    model, opt, crit, batches = digits_cnn(device)
    loop = _Loop(model=model, device=device, step=0, config=SimpleNamespace(grad_clip=0.0), notices=[],
                 check_every=2, loss=None)
    cb = GradientStats(DEFAULT_EVERY, fetch_every=1)
    cb.before_fit(loop)
    n = -(-max(steps, 2 * DEFAULT_EVERY) // DEFAULT_EVERY) * DEFAULT_EVERY  # whole records only
    plain, extra = [], []
    for r in range(repeats):
        t_plain = t_cb = 0.0
        for i in range(n):
            xb, yb = batches[i % len(batches)]
            loop.step = i
            _sync(device)
            t0 = time.perf_counter()
            loss = crit(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            _sync(device)
            t1 = time.perf_counter()
            loop.loss = loss
            cb.after_backward(loop)
            _sync(device)
            t2 = time.perf_counter()
            opt.step()
            _sync(device)
            t3 = time.perf_counter()
            cb.after_batch(loop)  # the update norms, and the fetch (every record: fetch_every=1)
            _sync(device)
            t4 = time.perf_counter()
            t_plain += (t1 - t0) + (t3 - t2)
            t_cb += (t2 - t1) + (t4 - t3)
        plain.append(t_plain / n * 1e3)
        extra.append(t_cb / n * 1e3)
    return statistics.median(plain), statistics.median(extra)


def conv_chain(n: int = 16, c: int = 32) -> nn.Sequential:
    g = torch.Generator().manual_seed(0)
    layers = [nn.Conv2d(3, c, 3, padding=1), nn.ReLU()]
    layers += [m for _ in range(n - 1) for m in (nn.Conv2d(c, c, 3, padding=1), nn.ReLU())]
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def checkpoint_cost(device, repeats: int):
    """measure_memory's (0, 4) points, with the step times then re-measured alternating plain / checkpointed steps
    (so a change in the machine's load hits both alike)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (16,), generator=g).to(device)
    model = conv_chain().to(device)
    result = measure_memory(model, x, y, segments=(0, 4), repeats=1)
    nets = {0: with_checkpointing(copy.deepcopy(model), 0), 4: with_checkpointing(copy.deepcopy(model), 4)}
    times = {0: [], 4: []}
    for _ in range(max(3, repeats)):
        for n, net in nets.items():
            times[n].append(median_step_ms(net, x, y, 1))
    for p in result.points:
        p.step_ms = statistics.median(times[p.segments])
    return result


def profile_cost(device, steps: int, repeats: int) -> tuple[float, float]:
    """(seconds for 20 plain steps + warm-up, seconds for profile_steps over 20 steps), medians."""
    plain, profiled = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            model, opt, crit, batches = digits_cnn(device)
            source = iter(batches * (steps + 2))
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(steps + 1):
                train_step(model, source, opt, crit, device)
            _sync(device)
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            profile_steps(model, batches, opt, crit, steps, device, Path(tmp) / f"trace-{r}.json")
            profiled.append(time.perf_counter() - t0)
    return statistics.median(plain), statistics.median(profiled)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    ok = True
    step_ms, grad_ms = grad_norm_cost(device, args.steps, args.repeats)
    share = grad_ms / step_ms
    ok &= share <= GRAD_TARGET
    print(f"[{device}] gradient norms (k={DEFAULT_EVERY}): {grad_ms:.3f} ms per step on a {step_ms:.2f} ms step = "
          f"{share:.1%} (target <= {GRAD_TARGET:.0%}: {'met' if share <= GRAD_TARGET else 'MISSED'})")
    mem = checkpoint_cost(device, args.repeats)
    plain, ckpt = mem.points
    saved, slower = 1 - ckpt.activation_bytes / plain.activation_bytes, ckpt.step_ms / plain.step_ms
    ok &= saved >= MEM_TARGET and slower < TIME_TARGET
    print(f"[{device}] 16 convs in 4 segments: activations {plain.activation_bytes / 2**20:.2f} -> "
          f"{ckpt.activation_bytes / 2**20:.2f} MiB ({saved:.0%} saved, target >= {MEM_TARGET:.0%}: "
          f"{'met' if saved >= MEM_TARGET else 'MISSED'}); step {plain.step_ms:.1f} -> {ckpt.step_ms:.1f} ms "
          f"({slower:.2f}x, target < {TIME_TARGET}x: {'met' if slower < TIME_TARGET else 'MISSED'}); {mem.measure}")
    plain_s, prof_s = profile_cost(device, args.steps, args.repeats)
    ratio = prof_s / plain_s
    ok &= ratio < PROFILE_TARGET
    print(f"[{device}] profiling {args.steps} digits-cnn steps: {prof_s:.2f} s against {plain_s:.2f} s plain = "
          f"{ratio:.1f}x (target < {PROFILE_TARGET:g}x: {'met' if ratio < PROFILE_TARGET else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
