"""GAN benchmarks: recording overhead, the latent slider's speed, and the teaching outcomes.

    .venv/bin/python bench/bench_gan.py [--threads 1] [--device auto] [--skip-outcomes] [--ring-steps N]

(a) recording overhead: a DCGAN (28x28) step with everything the page records (per-step series into the run store,
    the stop flag, the progress strip and the collapse meter every 200 steps, checkpoints every 500 and at epoch
    ends) vs the same step in a plain loop (same model, data, optimizers), interleaved block by block in one process,
    so a busy machine slows both alike. Ratio = plain time / recorded time. Target >= 0.95x.
(b) latent slider: 16 frames from a 28x28 DCGAN -- slerp between two seeds, the generator, each frame encoded as
    PNG -- median over repeats. Target <= 100 ms on the CPU.
(c) teaching outcomes, side by side: toy:ring with the four improvements (modes covered of 8, target >= 7), the
    plain MSE / sigmoid / SGD setting (the failure the notes describe), and a DCGAN on builtin:digits judged by a
    CNN trained in the lab (classes covered of 10, target 10; Frechet distance on the judge's features).

Prints a table and writes bench/results/bench_gan.{json,md}. Nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.device import describe_device, pick_device  # noqa: E402
from core.gan import fit, recommended  # noqa: E402
from core.gan.callbacks import default_callbacks  # noqa: E402
from core.gan.data import load_gan_data  # noqa: E402
from core.gan.latent import generate, interpolate, z_from_seed  # noqa: E402
from core.gan.models import build_gan  # noqa: E402
from core.gan.render import images, png_bytes  # noqa: E402
from core.gan.train import GanLoop  # noqa: E402
from core.train.store import RunStore  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- (a) recording overhead ------------------------------------------------------------------------------------
def _block(loop: GanLoop, order: torch.Tensor, start: int, n: int, recorded: bool) -> float:
    """Time ``n`` generator steps of ``loop`` (with its callbacks' after_step when ``recorded``)."""
    bs, k = loop.config.batch_size, loop.config.d_steps
    _sync(loop.device)
    t0 = time.perf_counter()
    for i in range(start, start + n):
        idx = order[(i * k * bs) % (len(order) - k * bs):][: k * bs].view(k, bs)
        loop.stats = loop.train_step([loop.data.batch(j).to(loop.device) for j in idx])
        loop.step += 1
        if recorded:
            loop("after_step")
    _sync(loop.device)
    return time.perf_counter() - t0


def overhead(device: torch.device, steps: int = 400) -> dict:
    """Plain and recorded DCGAN steps on digits at 28x28, interleaved step by step (which goes first alternates):
    ratio of the median step times (primary) and of the total times (includes the rare snapshots/checkpoints)."""
    cfg = recommended("builtin:digits", "dcgan-28", image_size=28, device=str(device))
    data = load_gan_data(cfg.data, image_size=28)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunStore.create(tmp, cfg.to_dict(), kind="gan")
        plain = GanLoop(cfg, data, device)
        recorded = GanLoop(cfg, data, device, default_callbacks(cfg, run))
        recorded("before_fit")
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
        _block(plain, order, 0, 5, False), _block(recorded, order, 0, 5, True)  # warm-up
        times = {"plain": [], "recorded": []}
        for i in range(steps):
            pair = (("plain", plain), ("recorded", recorded))
            for name, loop in pair if i % 2 == 0 else pair[::-1]:
                times[name].append(_block(loop, order, i, 1, name == "recorded"))
        recorded.status = "finished"
        recorded("after_fit")
        run.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"ratio": med["plain"] / med["recorded"], "total_ratio": sum(times["plain"]) / sum(times["recorded"]),
            "plain_ms_per_step": 1000 * med["plain"], "recorded_ms_per_step": 1000 * med["recorded"],
            "steps_each": steps}


# ---- (b) latent slider -----------------------------------------------------------------------------------------
def slider(repeats: int = 20) -> dict:
    """16 slerp frames from a 28x28 DCGAN generated and PNG-encoded, on the CPU; median and worst of ``repeats``."""
    g, _ = build_gan(recommended("builtin:digits", "dcgan-28"), "image", (1, 28, 28))
    g.eval()
    times = []
    for r in range(repeats + 2):
        t0 = time.perf_counter()
        path = interpolate(z_from_seed(r, 100), z_from_seed(r + 1, 100), 16, "slerp")
        pngs = [png_bytes(p) for p in images(generate(g, path))]
        if r >= 2:  # two warm-up rounds
            times.append(time.perf_counter() - t0)
    return {"median_ms": 1000 * statistics.median(times), "max_ms": 1000 * max(times), "frames": len(pngs),
            "png_bytes": sum(map(len, pngs))}


# ---- (c) teaching outcomes ---------------------------------------------------------------------------------------
def ring(preset: str, steps: int, runs_dir: str, seeds=(0, 1)) -> list[dict]:
    """toy:ring with a preset, for each seed: the final collapse figures."""
    out = []
    for seed in seeds:
        result = fit(recommended("toy:ring", preset=preset, max_steps=steps, seed=seed, runs_dir=runs_dir))
        c = result.collapse
        out.append({"seed": seed, "steps": result.steps, "modes_covered": c["modes_covered"],
                    "near_mode_share": round(c["near_mode_share"], 3), "spread": round(c["diversity_ratio"], 3),
                    "verdict": c["verdict"],
                    "d_real": round(result.history[-1]["d_real"], 3), "d_fake": round(result.history[-1]["d_fake"], 3),
                    "seconds": round(result.seconds, 1)})
    return out


def digits(runs_dir: str, epochs: int) -> dict:
    """A CNN judge trained in the lab on builtin:digits, then a DCGAN on the same data judged by it."""
    from core.train import fit as train_fit
    from core.train import recommended as train_recommended

    judge = train_fit(train_recommended("cnn", "builtin:digits", runs_dir=runs_dir))
    result = fit(recommended("builtin:digits", "dcgan", epochs=epochs, judge=judge.run_dir, runs_dir=runs_dir))
    c = result.collapse
    return {"judge_val_acc": round(judge.best_val_acc, 4), "gan_steps": result.steps,
            "classes_covered": c["classes_covered"], "num_classes": len(c["classes"]),
            "class_histogram": c["class_histogram"], "frechet_distance": round(c["frechet_distance"], 3),
            "diversity_ratio": round(c["diversity_ratio"], 3), "verdict": c["verdict"],
            "seconds": round(result.seconds, 1), "run_dir": result.run_dir}


def _table(report: dict) -> str:
    o, s = report["overhead"], report["slider"]
    rows = [("recording overhead (DCGAN 28x28 step, plain / recorded, median of interleaved steps)",
             f"{o['ratio']:.3f}x (totals {o['total_ratio']:.3f}x)", ">= 0.95x"),
            ("latent slider: 16 frames 28x28 generated + PNG (median)", f"{s['median_ms']:.1f} ms", "<= 100 ms")]
    if "ring_improved" in report:
        for name, target in (("ring_improved", ">= 7 of 8"),
                             ("ring_plain", "the failure: every seed gives the same point")):
            runs = report[name]
            rows.append((f"toy:ring, {name.split('_')[1]} ({runs[0]['steps']} steps, seeds "
                         f"{', '.join(str(r['seed']) for r in runs)})",
                         "; ".join(f"{r['modes_covered']}/8 modes, {r['near_mode_share']:.0%} near a mode, spread "
                                   f"{r['spread']:.0%} of the data's" for r in runs),
                         target))
        d = report["digits"]
        rows.append((f"DCGAN on builtin:digits ({d['gan_steps']} steps), judge CNN {d['judge_val_acc']:.1%}",
                     f"{d['classes_covered']}/{d['num_classes']} classes, FD {d['frechet_distance']:.2f}", "10 of 10"))
    lines = ["| benchmark | result | target |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-outcomes", action="store_true", help="only the two speed benchmarks")
    parser.add_argument("--ring-steps", type=int, default=0, help="ring run length (0: the preset's epochs)")
    parser.add_argument("--digits-epochs", type=int, default=0, help="DCGAN epochs on digits (0: the preset's)")
    parser.add_argument("--overhead-steps", type=int, default=400, help="interleaved steps of each loop")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    report = {"device": describe_device(device), "threads": torch.get_num_threads(),
              "load_average_before": os.getloadavg()[0]}
    report["overhead"] = overhead(device, args.overhead_steps)
    report["slider"] = slider()
    if not args.skip_outcomes:
        with tempfile.TemporaryDirectory() as runs:
            report["ring_improved"] = ring("improved", args.ring_steps, runs)
            report["ring_plain"] = ring("plain", args.ring_steps, runs)
            report["digits"] = digits(runs, args.digits_epochs or recommended("builtin:digits", "dcgan").epochs)
    report["load_average_after"] = os.getloadavg()[0]  # a busy shared machine slows everything; say how busy
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_gan.json").write_text(json.dumps(report, indent=1))
    table = _table(report)
    (RESULTS / "bench_gan.md").write_text(table + "\n")
    print(table)
    print(f"machine load average: {report['load_average_before']:.1f} before, {report['load_average_after']:.1f} after "
          f"({os.cpu_count()} cores)")
    for name in ("ring_improved", "ring_plain"):
        for r in report.get(name, []):
            print(f"{name} seed {r['seed']}: {r['verdict']}")
    if "digits" in report:
        print(f"digits: {report['digits']['verdict']} histogram {report['digits']['class_histogram']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
