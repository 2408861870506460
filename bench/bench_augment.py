"""Preview speed: 16 draws of a 512x512 photo through a 6-step image pipeline.

Measures (median of repeats, same process, same input):
  ours   Pipeline.sample(x, seed=i) for i in 0..15: draws parameters first, records them, seeds each draw
  plain  the same torchvision v2.Compose applied directly, torch.manual_seed(i) before each draw
Targets: ours <= 0.3 s, ours / plain <= 1.2.

    .venv/bin/python bench/bench_augment.py [--repeats 7] [--size 512] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from core.augment import Pipeline, Step
from core.augment.image import to_tensor
from core.data import sample_photos

PIPELINE = Pipeline("image", [
    Step("RandomResizedCrop", {"size": 512, "scale": [0.5, 1.0]}), Step("RandomHorizontalFlip", {}, 0.5),
    Step("ColorJitter", {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.05}, 0.8),
    Step("RandomRotation", {"degrees": 15.0}), Step("GaussianBlur", {"kernel_size": 5}, 0.5),
    Step("RandomErasing", {}, 0.5)])


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


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, compose = photo(args.size), PIPELINE.build()
    assert all(torch.equal(a, b) for a, b in zip(ours(PIPELINE, x, 4), plain(compose, x, 4)))  # same draws
    ours(PIPELINE, x, 2), plain(compose, x, 2)  # warm up
    t_plain, t_ours = [], []
    for _ in range(args.repeats):  # interleaved, so load from other processes hits both alike
        t_plain.append(median_time(lambda: plain(compose, x, args.draws), 1))
        t_ours.append(median_time(lambda: ours(PIPELINE, x, args.draws), 1))
    result = {"draws": args.draws, "size": args.size, "steps": len(PIPELINE.steps), "threads": torch.get_num_threads(),
              "ours_s": statistics.median(t_ours), "plain_torchvision_s": statistics.median(t_plain)}
    result["ratio"] = result["ours_s"] / result["plain_torchvision_s"]
    result["load_average_1min"] = os.getloadavg()[0]  # other processes on a shared machine inflate both timings
    result["targets_met"] = result["ours_s"] <= 0.3 and result["ratio"] <= 1.2
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_augment.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
