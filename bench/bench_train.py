"""Training benchmarks: recording overhead, cached spectrograms, peak memory, and quality of the defaults.

    .venv/bin/python bench/bench_train.py [--repeats 5] [--threads 1] [--device auto] [--skip-quality]

(a) throughput: ``fit`` with everything the dashboard records switched on (per-step loss/LR into the run store,
    activation statistics every 10 steps, TensorBoard, checkpoints each epoch, the stop flag checked every batch)
    vs a plain PyTorch loop (same model, data, batch size, optimizer, schedule; no hooks). Target >= 0.95x.
    Primary figure: the two loops run interleaved step by step in one process (a plain step, then a recorded step,
    ...), so a busy shared machine slows both alike; ratio of median step times. Secondary figures: separate
    runs, alternated, timing epochs 2..N (median batch-to-batch time; whole epochs incl. validation and
    checkpoints) -- honest but at the mercy of other processes' load.
(b) spectrogram features: per-item cost of reading a cached log-mel (CachedFeatures) vs rendering the
    spectrogram to a PNG image and reading it back (matplotlib when installed, else PIL with a colour map), and
    vs recomputing the log-mel each time. Target >= 50x cheaper than rendering.
(c) peak memory (max RSS) of a default run on each built-in data set, each in its own process. Target < 2 GB.
(d) quality of the defaults (``core.train.recommended``): digits CNN >= 95% val acc within a minute, sounds
    spectrogram CNN >= 90%, reviews LSTM beats the majority class.

Prints a table and writes bench/results/bench_train.{json,md}. One CPU thread by default: on a shared machine it is
much steadier (and here faster) than competing for cores; ``--threads 0`` keeps torch's default.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.data import load  # noqa: E402
from core.device import describe_device, pick_device  # noqa: E402
from core.models import CachedFeatures, build_for  # noqa: E402
from core.train import TrainConfig, fit  # noqa: E402
from core.train.callbacks import Callback  # noqa: E402
from core.train.optim import make_optimizer, make_scheduler  # noqa: E402

RESULTS = ROOT / "bench" / "results"
QUALITY = [("cnn", "builtin:digits"), ("mel_cnn", "builtin:sounds"), ("lstm", "builtin:reviews"),
           ("cnn", "builtin:shapes")]


# ---- (a) throughput --------------------------------------------------------------------------------------------------
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _EpochTimer(Callback):
    """Wall time from the start of epoch 2 to the end of the last epoch (after every other callback), and the
    intervals between consecutive batches within an epoch (data loading + step + every callback)."""

    order = 1000

    def __init__(self):
        self.steps, self._last = [], None

    def before_epoch(self, loop):
        self._last = None
        if loop.epoch == 1:
            _sync(loop.device)
            self.start = time.perf_counter()

    def before_batch(self, loop):
        _sync(loop.device)
        now = time.perf_counter()
        if self._last is not None and loop.epoch >= 1:
            self.steps.append(now - self._last)
        self._last = now

    def after_epoch(self, loop):
        _sync(loop.device)
        self.end = time.perf_counter()


def plain_loop(config: TrainConfig, bundle, device) -> tuple[float, list[float]]:
    """A hand-written loop: same model, loaders, optimizer and schedule as fit, validation each epoch, no hooks."""
    torch.manual_seed(config.seed)
    model = build_for(bundle, config.model, **config.model_opts).to(device)
    train = torch.utils.data.DataLoader(bundle.splits["train"], batch_size=config.batch_size, shuffle=True,
                                        generator=torch.Generator().manual_seed(0))
    val = torch.utils.data.DataLoader(bundle.splits["val"], batch_size=config.batch_size * 2)
    opt = make_optimizer(model, config)
    sched, _ = make_scheduler(opt, config, config.epochs * len(train))
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = []
    for epoch in range(config.epochs):
        if epoch == 1:
            _sync(device)
            start = time.perf_counter()
        model.train()
        last = None
        for x, y in train:
            _sync(device)
            now = time.perf_counter()
            if last is not None and epoch >= 1:
                steps.append(now - last)
            last = now
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(x.to(device)).argmax(1) == y.to(device)).sum() for x, y in val)
        float(correct)
    _sync(device)
    return time.perf_counter() - start, steps


class _Lockstep(Callback):
    """Runs one plain-loop step (its own model, optimizer and loader) before each recorded step, timing both, so
    the two are measured within milliseconds of each other and the machine's load hits them alike."""

    order = -1000  # first in before_batch: the recorded interval covers all of the previous step and its callbacks

    def __init__(self, config: TrainConfig, bundle, device):
        torch.manual_seed(config.seed)
        self.model = build_for(bundle, config.model, **config.model_opts).to(device)
        self.loader = torch.utils.data.DataLoader(bundle.splits["train"], batch_size=config.batch_size,
                                                  shuffle=True)
        self.opt = make_optimizer(self.model, config)
        self.sched, _ = make_scheduler(self.opt, config, 10 ** 6)
        self.loss_fn, self.device, self._it = torch.nn.CrossEntropyLoss(), device, iter(())
        self.plain, self.recorded, self._exit = [], [], None

    def before_epoch(self, loop):
        self._exit = None  # intervals never span an epoch boundary (validation, checkpoints)

    def before_batch(self, loop):
        _sync(self.device)
        start = time.perf_counter()
        if self._exit is not None:  # a pair: the plain step just before and the recorded step after it
            self.plain.append(self._last_plain)
            self.recorded.append(start - self._exit)
        self._last_plain = self._plain_step()
        self._exit = time.perf_counter()

    def _plain_step(self) -> float:
        start = time.perf_counter()
        try:
            x, y = next(self._it)
        except StopIteration:
            self._it = iter(self.loader)
            x, y = next(self._it)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        loss = self.loss_fn(self.model(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        _sync(self.device)
        return time.perf_counter() - start


def lockstep(config: TrainConfig, bundle, device: str) -> dict:
    """Per-step throughput ratio plain / recorded from interleaved steps (see _Lockstep)."""
    ls = _Lockstep(config, bundle, pick_device(device))
    fit(config.replace(epochs=6), [ls], bundle=bundle)
    plain, recorded = ls.plain, ls.recorded
    return {"plain_step_ms": 1e3 * statistics.median(plain), "recorded_step_ms": 1e3 * statistics.median(recorded),
            "ratio": statistics.median(plain) / statistics.median(recorded), "pairs": len(plain),
            "pair_ratio_median": statistics.median(p / r for p, r in zip(plain, recorded))}


def recorded_loop(config: TrainConfig, bundle) -> tuple[float, list[float]]:
    timer = _EpochTimer()
    fit(config, [timer], bundle=bundle)
    return timer.end - timer.start, timer.steps


def throughput(repeats: int, device: str) -> dict:
    bundle = load("builtin:digits")
    with tempfile.TemporaryDirectory() as runs:
        config = TrainConfig(data="builtin:digits", model="cnn", model_opts={"width": 16}, epochs=3, batch_size=64,
                             augment_preset=False, scheduler="one-cycle", runs_dir=runs, device=device,
                             stats_every=10, log_every=10, tensorboard=True)
        plain, ours = [], []
        for i in range(repeats):  # alternate which goes first, so drifting machine load hits both alike
            if i % 2 == 0:
                plain.append(plain_loop(config, bundle, pick_device(device)))
                ours.append(recorded_loop(config, bundle))
            else:
                ours.append(recorded_loop(config, bundle))
                plain.append(plain_loop(config, bundle, pick_device(device)))
        step = lockstep(config, bundle, device)
    epoch_ratios = [p[0] / o[0] for p, o in zip(plain, ours)]
    step_ratios = [statistics.median(p[1]) / statistics.median(o[1]) for p, o in zip(plain, ours)]
    return {"plain_s": statistics.median(p[0] for p in plain), "recorded_s": statistics.median(o[0] for o in ours),
            "plain_step_ms": 1e3 * statistics.median(t for p in plain for t in p[1]),
            "recorded_step_ms": 1e3 * statistics.median(t for o in ours for t in o[1]),
            "step_ratio_median": statistics.median(step_ratios), "step_ratios": step_ratios, "lockstep": step,
            "ratio_median": statistics.median(epoch_ratios), "ratios": epoch_ratios,
            "setup": "cnn(width 16) on builtin:digits, batch 64, 2 timed epochs (train + val), no augmentation"}


# ---- (b) spectrogram features ------------------------------------------------------------------------------------------
def _render_png(logmel: torch.Tensor) -> bytes:
    """A spectrogram image as a user would make it: colour-mapped, 224x224, saved as PNG."""
    m = logmel[0]
    m = ((m - m.min()) / (m.max() - m.min() + 1e-9)).flip(0).numpy()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(2.24, 2.24), dpi=100)
        plt.axes([0, 0, 1, 1]).imshow(m, aspect="auto", cmap="magma")
        plt.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()
    except ImportError:
        from PIL import Image
        rgb = (torch.stack([torch.tensor(m), torch.tensor(m) ** 2, torch.tensor(m) ** 0.5], -1) * 255).byte()
        buf = io.BytesIO()
        Image.fromarray(rgb.numpy()).resize((224, 224), Image.BILINEAR).save(buf, format="PNG")
        return buf.getvalue()


def _read_png(data: bytes) -> torch.Tensor:
    from PIL import Image
    import numpy as np
    img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(img).permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)


def _per_item(fn, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n


def features() -> dict:
    try:
        import matplotlib  # noqa: F401
        renderer = "matplotlib"
    except ImportError:
        renderer = "PIL (matplotlib is not installed)"
    bundle = load("builtin:sounds")
    model = build_for(bundle, "mel_cnn")
    clips = bundle.splits["train"]
    n = min(48, len(clips))
    cached = CachedFeatures(clips, model.frontend)
    for i in range(n):
        cached.features(i)  # fill the cache (the first epoch)

    def render(i):
        return _read_png(_render_png(model.features_of(clips[i][0].unsqueeze(0))[0]))

    with torch.no_grad():
        t_cached = _per_item(lambda i: cached[i], n)
        t_recompute = _per_item(lambda i: model.features_of(clips[i][0].unsqueeze(0)), n)
        t_render = _per_item(render, n)
    return {"cached_us": t_cached * 1e6, "recompute_us": t_recompute * 1e6, "render_us": t_render * 1e6,
            "render_vs_cached": t_render / t_cached, "recompute_vs_cached": t_recompute / t_cached,
            "renderer": renderer, "items": n}


# ---- (c) + (d) memory and quality ------------------------------------------------------------------------------------
_CHILD = """
import json, resource, sys, time, torch
sys.path.insert(0, {root!r})
if {threads}:
    torch.set_num_threads({threads})
from core.train import recommended, fit
from core.data import load
from collections import Counter
bundle = load({data!r})
start = time.time()
r = fit(recommended({model!r}, {data!r}, runs_dir={runs!r}, device={device!r}), bundle=bundle)
val = bundle.splits["val"].targets
print(json.dumps({{"status": r.status, "error": r.error, "best_val_acc": r.best_val_acc,
    "final_val_acc": r.history[-1]["val_acc"] if r.history else None, "epochs": r.epochs_done,
    "seconds": time.time() - start, "majority": max(Counter(val).values()) / len(val),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "val_acc_by_epoch": [round(h["val_acc"], 4) for h in r.history],
    "seconds_by_epoch": None}}))
"""


def quality(threads: int, device: str) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as runs:
        for model, data in QUALITY:
            code = _CHILD.format(root=str(ROOT), threads=threads, model=model, data=data, runs=runs, device=device)
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                  env=dict(os.environ, OMP_NUM_THREADS=str(threads or os.cpu_count())))
            if proc.returncode != 0:
                out.append({"model": model, "data": data, "status": "crashed", "error": proc.stderr[-500:]})
                continue
            out.append({"model": model, "data": data, **json.loads(proc.stdout.strip().splitlines()[-1])})
    return out


# ---- report --------------------------------------------------------------------------------------------------------
def table(res: dict) -> str:
    t, f = res["throughput"], res["features"]
    ls = t["lockstep"]
    lines = ["| benchmark | result | target |", "|---|---|---|",
             f"| (a) throughput, all recording on / plain loop, steps interleaved in one process ({ls['pairs']} "
             f"pairs; median step time ratio) | {ls['ratio']:.3f}x (plain {ls['plain_step_ms']:.1f} ms, recorded "
             f"{ls['recorded_step_ms']:.1f} ms; median of pair ratios {ls['pair_ratio_median']:.3f}) | >= 0.95x |",
             f"| (a') throughput per step (median batch-to-batch time), all recording on / plain loop, median of "
             f"{len(t['step_ratios'])} paired runs | {t['step_ratio_median']:.3f}x (plain {t['plain_step_ms']:.1f} ms, "
             f"recorded {t['recorded_step_ms']:.1f} ms) | >= 0.95x |",
             f"| (a'') throughput per epoch incl. validation, checkpoints, flushes (same runs) | "
             f"{t['ratio_median']:.3f}x (plain {t['plain_s']:.2f} s, recorded {t['recorded_s']:.2f} s) | >= 0.95x |",
             f"| (b) cached log-mel per item vs render PNG + read back [{f['renderer']}] | "
             f"{f['render_vs_cached']:.0f}x cheaper ({f['cached_us']:.1f} us vs {f['render_us']:.0f} us) | >= 50x |",
             f"| (b') cached vs recomputing log-mel each time | {f['recompute_vs_cached']:.0f}x cheaper "
             f"({f['recompute_us']:.0f} us) | - |"]
    for q in res.get("quality", []):
        if q.get("status") == "crashed":
            lines.append(f"| (c,d) {q['model']} on {q['data']} | crashed: {q['error'][-120:]} | |")
            continue
        target = {"builtin:digits": ">= 0.95 within 60 s", "builtin:sounds": ">= 0.90",
                  "builtin:reviews": f"> majority {q['majority']:.2f}"}.get(q["data"], "sensible")
        lines.append(f"| (c,d) {q['model']} on {q['data']} | val acc best {q['best_val_acc']:.3f} / final "
                     f"{q['final_val_acc']:.3f}, {q['epochs']} epochs in {q['seconds']:.0f} s, "
                     f"peak RSS {q['peak_rss_mb']:.0f} MB | {target}; RSS < 2048 MB |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--skip-quality", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    res = {"device": describe_device(pick_device(args.device)), "load_average": os.getloadavg(),
           "throughput": throughput(args.repeats, args.device), "features": features()}
    if not args.skip_quality:
        res["quality"] = quality(args.threads, args.device)
    text = table(res)
    print(f"device: {res['device']}; load average at start {res['load_average']}")
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_train.json").write_text(json.dumps(res, indent=2))
    (RESULTS / "bench_train.md").write_text(f"device: {res['device']}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
