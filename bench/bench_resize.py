"""Start small and get bigger (progressive resizing) against training at the final size only, same epochs.

    .venv/bin/python bench/bench_resize.py [--epochs 6] [--seeds 0 1 2] [--threads 2] [--size 64] [--no-photos]

For each data set the lab's CNN (``core.train.recommended`` defaults, nothing tuned) is trained twice per seed with
the same epochs and everything else equal: every epoch at the final size (the baseline), and with a size schedule
that starts at half the size, goes to three quarters at a third of the run and to the full size at two thirds
(``core.train.resize``; each smaller size is made once). Reported: final and best validation accuracy (validation
is always at the final size) and wall-clock seconds, medians over seeds, and the time ratio. Data: the real-photo
set made offline from scikit-image (bench/photo_set.py) at ``--size`` px and builtin:digits at 32 px.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.photo_set import make_photo_set  # noqa: E402
from core.train import fit, recommended  # noqa: E402


def schedule(epochs: int, full: int) -> list[list[int]]:
    """Half the size, then three quarters from a third of the run, the full size from two thirds."""
    third = max(1, epochs // 3)
    return [[0, full // 2], [third, 3 * full // 4], [2 * third, full]]


def one(source: str, size: int, epochs: int, seed: int, runs: str, sizes: list | None) -> dict:
    cfg = recommended("cnn", source, epochs=epochs, seed=seed, runs_dir=runs, stats_every=0, tensorboard=False,
                      data_opts={"image_size": size}, size_schedule=sizes or [])
    start = time.perf_counter()
    result = fit(cfg)
    assert result.status == "finished", result.error
    return {"val_acc": result.history[-1]["val_acc"], "best_val_acc": result.best_val_acc,
            "seconds": time.perf_counter() - start}


def compare(source: str, size: int, epochs: int, seeds, runs: str) -> dict:
    sizes = schedule(epochs, size)
    rows = {"final size only": [], "start small": []}
    for seed in seeds:
        rows["final size only"].append(one(source, size, epochs, seed, runs, None))
        rows["start small"].append(one(source, size, epochs, seed, runs, sizes))
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("val_acc", "best_val_acc", "seconds")}
           for k, v in rows.items()}
    ratio = med["final size only"]["seconds"] / med["start small"]["seconds"]
    print(f"\n{source} at {size} px, {epochs} epochs, seeds {list(seeds)}; schedule {sizes}")
    print(f"{'':<18} {'final val acc':>14} {'best val acc':>13} {'seconds':>9}")
    for k, m in med.items():
        print(f"{k:<18} {m['val_acc']:>14.1%} {m['best_val_acc']:>13.1%} {m['seconds']:>9.1f}")
    print(f"start small is {ratio:.2f}x the speed of training at the final size only (median seconds)")
    return {"source": source, "size": size, "epochs": epochs, "schedule": sizes, "median": med, "runs": rows,
            "speedup": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=64, help="the photos' final size (px)")
    parser.add_argument("--no-photos", action="store_true", help="digits only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = []
    with tempfile.TemporaryDirectory() as runs:
        if not args.no_photos:
            photos = make_photo_set(Path(runs) / "photos")
            out.append(compare(str(photos), args.size, args.epochs, args.seeds, runs))
        out.append(compare("builtin:digits", 32, args.epochs, args.seeds, runs))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
