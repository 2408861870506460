"""Inspect speed: the layer table of resnet18 at 224x224, and Grad-CAM of 32 images batched vs 32 single calls.

    .venv/bin/python bench/bench_inspect.py [--repeats 5] [--threads 1] [--device auto] [--json]

Targets: layer table of resnet18 under 1 s (median; a plain forward pass is timed alongside for scale), and Grad-CAM
for 32 images in one batched call at least 10x faster than 32 calls of one image each (ratio of medians, same
model, layer and images, measured in the same run, alternating). The models are the lab's: the cnn at the sizes
of the built-in digits (1x32x32) and shapes (3x64x64), and resnet18 at 224x224. One CPU thread by default, which
is the steadiest figure on a shared machine; a big model on a CPU gains less from batching than a small one
(its per-call cost is mostly arithmetic, not overhead), and the table says so rather than hiding it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core import models  # noqa: E402
from core.device import describe_device, pick_device  # noqa: E402
from core.inspect import default_cam_layer, grad_cam, layer_table  # noqa: E402

BATCH = 32


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def bench_layer_table(repeats: int, device) -> dict:
    net = torchvision.models.resnet18().to(device).eval()
    x = torch.zeros(1, 3, 224, 224, device=device)
    layer_table(net, (3, 224, 224), example=x)  # warm-up
    table, forward = [], []
    for _ in range(repeats):
        table.append(timed(lambda: layer_table(net, (3, 224, 224), example=x), device))
        with torch.no_grad():
            forward.append(timed(lambda: net(x), device))
    return {"layer_table_s": statistics.median(table), "forward_s": statistics.median(forward),
            "target_s": 1.0, "ok": statistics.median(table) < 1.0}


def _cases(device):
    g = torch.Generator().manual_seed(0)
    yield "cnn 1x32x32 (digits)", models.build("cnn", 10, input_shape=(1, 32, 32), width=16), \
        torch.rand(BATCH, 1, 32, 32, generator=g)
    yield "cnn 3x64x64 (shapes)", models.build("cnn", 5, input_shape=(3, 64, 64), width=16), \
        torch.rand(BATCH, 3, 64, 64, generator=g)
    yield "resnet18 3x224x224", torchvision.models.resnet18(num_classes=10), torch.rand(BATCH, 3, 224, 224, generator=g)


def bench_grad_cam(repeats: int, device) -> list[dict]:
    out = []
    for name, net, x in _cases(device):
        net, x = net.to(device).eval(), x.to(device)
        layer = default_cam_layer(net, None, rows=layer_table(net, (), example=x[:1]))
        batched = lambda: grad_cam(net, x, None, layer)  # noqa: E731
        single = lambda: [grad_cam(net, x[i:i + 1], None, layer) for i in range(BATCH)]  # noqa: E731
        torch.testing.assert_close(batched(), torch.cat(single()), rtol=1e-3, atol=1e-5)  # same maps, warm-up
        tb, ts = [], []
        for _ in range(repeats):  # alternating, so machine noise hits both alike
            tb.append(timed(batched, device))
            ts.append(timed(single, device))
        b, s = statistics.median(tb), statistics.median(ts)
        out.append({"model": name, "layer": layer, "batched_s": b, "single_s": s, "speedup": s / b,
                    "ok": s / b >= 10})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu (default) | auto | cuda | mps")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    table = bench_layer_table(args.repeats, device)
    cams = bench_grad_cam(args.repeats, device)
    if args.json:
        print(json.dumps({"device": describe_device(device), "layer_table": table, "grad_cam": cams}, indent=2))
        return 0
    print(f"device: {describe_device(device)}, {args.repeats} repeats, medians")
    print(f"layer table of resnet18 at 224x224: {table['layer_table_s']:.3f} s (target < 1 s: "
          f"{'ok' if table['ok'] else 'MISSED'}); one forward pass: {table['forward_s']:.3f} s")
    print(f"Grad-CAM of {BATCH} images: one batched call vs {BATCH} single-image calls (target >= 10x)")
    for c in cams:
        print(f"  {c['model']:<22} at {c['layer']:<10} batched {c['batched_s']:.3f} s, single {c['single_s']:.3f} s, "
              f"{c['speedup']:.1f}x {'ok' if c['ok'] else 'below 10x'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
