"""Data loading speed: our cached Datasets vs the plain-PyTorch baseline, and header-only summaries.

Measures (median of repeats, same process, same files):
  images  one pass over builtin:shapes' train split in batches of 64 (DataLoader, 0 workers):
          ours = core.data ImageDataset (decoded once at load, kept as uint8)
          plain = torchvision.datasets.ImageFolder + Resize + ToTensor (decodes every epoch)
  audio   one pass over builtin:sounds' train split: ours (decoded + resampled once) vs plain
          (soundfile.read + torchaudio.functional.resample + pad per item)
  inspect summary of N photo-sized JPEGs: header-only (verify=False) vs decoding every image (verify=True)
  first   the one-off cost: core.data.load() of each built-in (files already generated)
Targets: images and audio epochs >= 3x faster than plain; header-only summary >= 5x faster than decoding.

    .venv/bin/python bench/bench_data.py [--repeats 5] [--photos 300] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the lab's core on the path
from core.data import load  # noqa: E402
from core.data.audio import fix_length  # noqa: E402


class PlainAudio(Dataset):
    """What one writes without core.data: read, down-mix, resample and pad every item, every epoch."""

    def __init__(self, paths, targets, rate, n):
        self.paths, self.targets, self.rate, self.n = paths, targets, rate, n

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        data, rate = sf.read(self.paths[i], dtype="float32", always_2d=True)
        wave = AF.resample(torch.from_numpy(data.mean(axis=1)), rate, self.rate)
        return fix_length(wave, self.n)[None], self.targets[i]


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def epoch(ds) -> None:
    for _ in DataLoader(ds, batch_size=64, shuffle=True, num_workers=0):
        pass


def bench_images(repeats: int) -> dict:
    bundle = load("builtin:shapes")
    size = bundle.input_shape[-1]
    root = Path(bundle.splits["train"].paths[0]).parents[1]
    resize = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    plain = datasets.ImageFolder(str(root), resize)
    keep = {str(p) for p in bundle.splits["train"].paths}
    plain.samples = [s for s in plain.samples if s[0] in keep]  # the same training files
    ours_t = median_time(lambda: epoch(bundle.splits["train"]), repeats)
    plain_t = median_time(lambda: epoch(plain), repeats)
    return {"images": len(plain.samples), "ours_s": ours_t, "plain_s": plain_t, "speedup": plain_t / ours_t}


def bench_audio(repeats: int) -> dict:
    bundle = load("builtin:sounds")
    ds = bundle.splits["train"]
    plain = PlainAudio([str(p) for p in ds.paths], ds.targets, bundle.sample_rate, bundle.input_shape[-1])
    ours_t, plain_t = median_time(lambda: epoch(ds), repeats), median_time(lambda: epoch(plain), repeats)
    return {"clips": len(ds), "ours_s": ours_t, "plain_s": plain_t, "speedup": plain_t / ours_t}


def bench_inspect(n: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.RandomState(0)
        for i in range(n):
            folder = Path(tmp) / f"class{i % 3}"
            folder.mkdir(exist_ok=True)
            Image.fromarray(rng.randint(0, 255, (480, 640, 3), dtype=np.uint8)).save(folder / f"{i}.jpg", quality=85)
        quick = median_time(lambda: load(tmp, verify=False).summary(), repeats)
        full = median_time(lambda: load(tmp, verify=True, cache_mb=0).summary(), max(1, repeats // 2))
    return {"photos": n, "header_only_s": quick, "decode_all_s": full, "speedup": full / quick}


def bench_first_load(repeats: int) -> dict:
    names = ("digits", "shapes", "sounds", "reviews")
    return {name: median_time(lambda: load(f"builtin:{name}"), repeats) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"images": bench_images(args.repeats), "audio": bench_audio(args.repeats),
              "inspect": bench_inspect(args.photos, args.repeats), "load_s": bench_first_load(3),
              "threads": torch.get_num_threads()}
    out = Path(__file__).with_name("results") / "bench_data.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
