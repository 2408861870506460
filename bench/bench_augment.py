"""Preview speed: 16 draws of a 512x512 photo through a 6-step image pipeline.

Measures (median of repeats, same process, same input):
  ours   Pipeline.sample(x, seed=i) for i in 0..15: draws parameters first, records them, seeds each draw
  plain  the same torchvision v2.Compose applied directly, torch.manual_seed(i) before each draw
Targets: ours <= 0.3 s, ours / plain <= 1.2. Wall and process CPU seconds are both reported: on a shared machine
the CPU time (with --threads 1) is the steadier figure.

    .venv/bin/python bench/bench_augment.py [--repeats 7] [--size 512] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the lab's core on the path
from core.augment import Pipeline, Step  # noqa: E402
from core.augment.image import to_tensor  # noqa: E402
from core.data import sample_photos  # noqa: E402



def six_steps(hue: float) -> Pipeline:
    """Crop (kept at 512), flip, colour jitter, rotation, blur, erasing: a typical photo pipeline."""
    return Pipeline("image", [
        Step("RandomResizedCrop", {"size": 512, "scale": [0.5, 1.0]}), Step("RandomHorizontalFlip", {}, 0.5),
        Step("ColorJitter", {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": hue}, 0.8),
        Step("RandomRotation", {"degrees": 15.0}), Step("GaussianBlur", {"kernel_size": 5}, 0.5),
        Step("RandomErasing", {}, 0.5)])


# torchvision's hue shift on float images (RGB -> HSV -> RGB) is the costliest step by far, so both are reported
PIPELINES = {"with_hue": six_steps(0.05), "without_hue": six_steps(0.0)}
PIPELINE = PIPELINES["with_hue"]


def photo(size: int) -> torch.Tensor:
    return to_tensor(sample_photos()["astronaut"].resize((size, size)))  # (3, size, size) float in [0, 1]


def ours(pipeline: Pipeline, x: torch.Tensor, n: int) -> list:
    return [pipeline.sample(x, seed=i).output for i in range(n)]


def plain(compose, x: torch.Tensor, n: int) -> list:
    out = []
    for i in range(n):
        torch.manual_seed(i)
        out.append(compose(x))
    return out


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time is less disturbed by other processes on the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(pipeline: Pipeline, x: torch.Tensor, args) -> dict:
    """Median wall / CPU seconds of ``args.draws`` draws, ours vs the plain Compose, and their ratios."""
    compose = pipeline.build()
    assert all(torch.equal(a, b) for a, b in zip(ours(pipeline, x, 4), plain(compose, x, 4)))  # same draws
    t_plain, t_ours = [], []
    for _ in range(args.repeats):  # interleaved, so load from other processes hits both alike
        t_plain.append(timed(lambda: plain(compose, x, args.draws)))
        t_ours.append(timed(lambda: ours(pipeline, x, args.draws)))
    med = lambda ts, i: statistics.median(t[i] for t in ts)  # noqa: E731
    result = {"draws": args.draws, "size": args.size, "steps": len(pipeline.steps), "threads": torch.get_num_threads(),
              "ours_s": med(t_ours, 0), "plain_torchvision_s": med(t_plain, 0),
              "ours_cpu_s": med(t_ours, 1), "plain_torchvision_cpu_s": med(t_plain, 1)}
    result["ratio"] = result["ours_s"] / result["plain_torchvision_s"]
    result["cpu_ratio"] = result["ours_cpu_s"] / result["plain_torchvision_cpu_s"]
    result["load_average_1min"] = os.getloadavg()[0]  # other processes on a shared machine inflate both timings
    result["targets_met"] = result["ours_s"] <= 0.3 and result["ratio"] <= 1.2
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x = photo(args.size)
    results = {name: measure(pipeline, x, args) for name, pipeline in PIPELINES.items()}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_augment.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
