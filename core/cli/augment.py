"""``python -m core augment``: apply a pipeline to one image N times; save the draws and what was drawn.

    python -m core augment --pipeline pipe.json --input cat.png --n 8 --out draws/ --seed 0

Draw i uses seed S + i, so any single draw can be replayed with ``Pipeline.sample(x, seed=S + i)``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import PIL.Image

from core.augment import AugmentError, Pipeline, describe
from core.augment.image import to_image, to_tensor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", required=True, help="pipeline JSON (saved from the Augment page)")
    parser.add_argument("--input", required=True, help="an image file")
    parser.add_argument("--n", type=int, default=8, help="number of draws (default 8)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="draw i uses seed SEED + i (default 0)")


def run(args: argparse.Namespace) -> int:
    """Write OUT/draw_XX.png and OUT/params.json; errors go to stderr with exit status 2."""
    try:
        pipeline = Pipeline.from_dict(json.loads(Path(args.pipeline).read_text()))
        if pipeline.kind != "image":
            raise AugmentError(f"this command augments images; {args.pipeline} is a {pipeline.kind} pipeline")
        if args.n < 1:
            raise AugmentError(f"--n must be at least 1, got {args.n}")
        with PIL.Image.open(args.input) as img:
            x = to_tensor(img)
    except (OSError, json.JSONDecodeError, AugmentError, PIL.UnidentifiedImageError) as err:
        print(f"augment: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    draws = []
    for i in range(args.n):
        draw = pipeline.sample(x, seed=args.seed + i)
        name = f"draw_{i:02d}.png"
        to_image(draw.output).save(out / name)
        steps = [{"name": r.name, "applied": r.applied, "params": describe(r.params)} for r in draw.records]
        draws.append({"file": name, "seed": args.seed + i, "steps": steps})
    summary = {"pipeline": pipeline.to_dict(), "input": str(args.input), "draws": draws}
    (out / "params.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.n} draws and params.json to {out}")
    return 0
