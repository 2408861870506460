"""Time per LR-finder sweep step vs a plain training step on the same model and batch (target: at most 1.1x).

    .venv/bin/python bench/bench_lr.py [--steps 100] [--repeats 7] [--device auto] [--threads 1]

The sweep time includes everything ``find_lr`` does (snapshot, LR setting, loss fetches, restore), divided by its
number of steps; the baseline is a hand-written loop (zero_grad, forward, loss, backward, step) over the same
batch. Medians of ``--repeats`` runs, alternating the two so machine noise hits both alike. One CPU thread by
default: on a shared machine that is far steadier than competing for cores. On a busy machine the end-to-end ratio
still wanders by +-10 % from run to run, so the script also times what the sweep adds on its own (snapshot,
restore, suggestions, per-step LR setting and loss recording): that figure is the noise-free one. It also counts
the minor page faults per step of each side: on the CPU, torch's allocator returns large activation buffers to the
system and faults them back in (hundreds per step, milliseconds of system time in process_time), and the count
moves with the heap's history, so a ratio away from 1 with the same operator counts on both sides is that, not the
sweep's work (torch.profiler: the sweep's step runs the same aten operators plus one stack of the loss).
"""
from __future__ import annotations

import argparse
import copy
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core import models  # noqa: E402
from core.device import describe_device, pick_device  # noqa: E402
from core.train.lr_finder import find_lr  # noqa: E402


CLOCK = time.perf_counter  # main() switches to CPU time on the CPU (see there)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_steps(model, batch, optimizer, loss_fn, steps: int, device) -> float:
    """Seconds per step of a plain PyTorch training loop."""
    x, y = batch
    _sync(device)
    start = CLOCK()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
        loss.backward()
        optimizer.step()
    _sync(device)
    return (CLOCK() - start) / steps


def sweep_steps(model, batch, optimizer, loss_fn, steps: int, device) -> float:
    """Seconds per step of ``find_lr`` over ``steps`` steps (LRs kept small so it never stops early)."""
    _sync(device)
    start = CLOCK()
    result = find_lr(model, [batch], loss_fn, optimizer, start_lr=1e-5, end_lr=1e-3, num_iter=steps, device=device)
    _sync(device)
    assert result.stopped_because == "completed", result.stopped_because
    return (CLOCK() - start) / steps


def bookkeeping(model, optimizer, steps: int) -> tuple[float, float]:
    """What the sweep adds to training, timed alone (free of machine noise): seconds per sweep for the snapshot,
    the restore and the suggestions, and seconds per step for setting LRs and recording the loss."""
    from core.train.lr_finder import _group_ratios, _Record, _restore, _set_lr, _snapshot
    from core.train.suggest import suggest

    start = CLOCK()
    _restore(model, optimizer, _snapshot(model, optimizer))
    suggest([10 ** (-7 + i / 12) for i in range(steps)], [1.0 / (1 + i) for i in range(steps)])
    fixed = CLOCK() - start
    record, ratios, loss = _Record(0.98, 4.0), _group_ratios(optimizer), torch.tensor(1.0)
    start = CLOCK()
    for i in range(steps):
        _set_lr(optimizer, ratios, 1e-3)
        record.add([(1e-3, loss)])
    per_step = (CLOCK() - start) / steps
    _restore(model, optimizer, _snapshot(model, optimizer))
    return fixed, per_step


def bench(name: str, model: nn.Module, batch, device, steps: int, repeats: int) -> float:
    model.to(device)
    batch = tuple(t.to(device) for t in batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    plain_steps(model, batch, optimizer, loss_fn, 10, device)  # warm-up (allocations, Adam state)
    plain, sweep, faults = [], [], {"plain": [], "sweep": []}
    for _ in range(repeats):
        # each side gets a fresh copy of the same model and optimizer state: both start from the same numbers and
        # from equally fresh memory (a model that drifts into denormals, or older allocations, favour neither)
        for times, run, side in ((plain, plain_steps, "plain"), (sweep, sweep_steps, "sweep")):
            twin, twin_opt = copy.deepcopy((model, optimizer))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            times.append(run(twin, batch, twin_opt, loss_fn, steps, device))
            faults[side].append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps)
    p, s = statistics.median(plain), statistics.median(sweep)
    fixed, per_step = bookkeeping(model, optimizer, steps)
    print(f"{name:<28} plain {p * 1e3:8.3f} ms/step   sweep {s * 1e3:8.3f} ms/step   ratio {s / p:5.3f} "
          f"(of the fastest runs {min(sweep) / min(plain):5.3f})   bookkeeping {fixed * 1e3:.2f} ms/sweep + "
          f"{per_step * 1e6:.1f} us/step = {(fixed / steps + per_step) / p:.1%} of a plain step   page faults/step "
          f"plain {statistics.median(faults['plain']):.0f} sweep {statistics.median(faults['sweep']):.0f}")
    return s / p


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cpu":  # CPU time of this process: other programs on a shared machine barely move it
        global CLOCK
        CLOCK = time.process_time
    torch.manual_seed(0)
    print(f"device: {describe_device(device)}; {args.steps} steps x {args.repeats} repeats (medians); "
          f"clock: {CLOCK.__name__}")
    cases = [
        ("cnn, digits 8x8, batch 64", models.build("cnn", 10, input_shape=(1, 8, 8)),
         (torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,)))),
        ("mlp, digits 8x8, batch 64", models.build("mlp", 10, input_shape=(1, 8, 8)),
         (torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,)))),
        ("lstm, 32 tokens, batch 64", models.build("lstm", 2, vocab_size=2000),
         (torch.randint(1, 2000, (64, 32)), torch.randint(0, 2, (64,)))),
    ]
    ratios = [bench(name, model, batch, device, args.steps, args.repeats) for name, model, batch in cases]
    worst = max(ratios)
    print(f"worst ratio {worst:.3f} (target <= 1.1): {'OK' if worst <= 1.1 else 'TOO SLOW'}")
    return 0 if worst <= 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
