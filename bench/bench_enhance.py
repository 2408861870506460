"""Super-resolution benchmark on held-out photos the models never saw (scikit-image's chelsea, coffee, camera).

    .venv/bin/python bench/bench_enhance.py [--steps 1500] [--threads 1] [--models espcn,book] [--no-critic]

Every run trains on random crops of the other scikit-image photos (core.enhance.data.TRAIN_PHOTOS), x2, on the Y
channel, with the defaults of ``python -m core enhance train`` (Adam 1e-3 with cosine decay, L1, batch 16 of 24 px
low-resolution patches), for the same number of steps and seed; then every model and bicubic are measured on the
three whole held-out photos in the same run: PSNR and SSIM on Y with the border cropped by the scale, the Lite0
feature distance (perceptual: lower is closer) and the sharpness ratio (output's mean gradient / the original's).

(a) ESPCN x2 vs bicubic: target +1.0 dB PSNR on Y after a few CPU minutes (wall-clock time reported).
(b) the book's encoder/decoder upsampler in the same table (and any other --models).
(c) ESPCN with a relativistic critic vs its L1-only twin (same seed, steps, data): the critic should score lower
    PSNR and a better perceptual score / sharper output.

Prints a Markdown table and writes bench/results/bench_enhance.{json,md}. Nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.enhance.config import EnhanceConfig  # noqa: E402
from core.enhance.data import load_images  # noqa: E402
from core.enhance.train import fit  # noqa: E402


def _run(label: str, cfg: EnhanceConfig, images) -> dict:
    start = time.perf_counter()
    result = fit(cfg, images=images)
    seconds = time.perf_counter() - start
    m = result.evaluation["means"]
    print(f"  {label}: {result.steps} steps in {seconds:.0f} s, PSNR {m['psnr']:.2f} dB "
          f"(bicubic {m['psnr_bicubic']:.2f})", flush=True)
    return {"label": label, "model": cfg.model, "critic": cfg.critic, "steps": result.steps, "seconds": seconds,
            **{k: m[k] for k in ("psnr", "ssim", "perceptual", "sharpness")},
            "per_image": result.evaluation["images"], "bicubic": {k: m[k + "_bicubic"] for k in
                                                                  ("psnr", "ssim", "perceptual")}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", default="espcn,book")
    p.add_argument("--book-steps", type=int, default=0, help="steps for the book's (slow) upsampler; 0 = --steps")
    p.add_argument("--no-critic", action="store_true")
    p.add_argument("--adversarial-weight", type=float, default=0.05)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    images = load_images("builtin:photos")
    print(f"held out: {', '.join(images.held_names)}; training photos: {len(images.train)}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        base = dict(max_steps=args.steps, scale=2, channels="y", runs_dir=runs, device="cpu", eval_every=250,
                    checkpoint_every=10 ** 6)
        for model in args.models.split(","):
            steps = args.book_steps if model == "book" and args.book_steps else args.steps
            rows.append(_run(f"{model} (L1)", EnhanceConfig(model=model, **{**base, "max_steps": steps}), images))
            _write(rows, args)
        if not args.no_critic:
            rows.append(_run("espcn + relativistic critic", EnhanceConfig(
                model="espcn", critic="relativistic", adversarial_weight=args.adversarial_weight, **base), images))
    table = _write(rows, args)
    print(table)
    return 0


def _write(rows: list[dict], args) -> str:
    """The table so far, written after every row (a long bench interrupted keeps what it measured)."""
    bic = rows[0]["bicubic"]
    lines = ["| model | steps | wall time (s) | PSNR Y (dB) | vs bicubic (dB) | SSIM Y | Lite0 distance | sharpness |",
             "|---|---|---|---|---|---|---|---|",
             f"| bicubic | - | - | {bic['psnr']:.2f} | 0.00 | {bic['ssim']:.4f} | {bic['perceptual']:.3f} | - |"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['steps']} | {r['seconds']:.0f} | {r['psnr']:.2f} | "
                     f"{r['psnr'] - bic['psnr']:+.2f} | {r['ssim']:.4f} | {r['perceptual']:.3f} | "
                     f"{r['sharpness']:.3f} |")
    table = "\n".join(lines)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_enhance.json").write_text(json.dumps({"rows": rows, "bicubic": bic, "threads": args.threads},
                                                       indent=2))
    (out / "bench_enhance.md").write_text(table + "\n")
    return table


if __name__ == "__main__":
    sys.exit(main())
