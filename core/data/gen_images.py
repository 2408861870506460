"""Generators for the built-in image sets: scikit-learn's digits as PNG files, and colour shapes."""
from __future__ import annotations

import colorsys
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.data.layout import stratified_split

# shape class -> number of images: deliberately imbalanced (the largest is 5x the smallest)
SHAPE_COUNTS = {"circle": 200, "square": 150, "triangle": 100, "cross": 60, "star": 40}
LOW_RES_CLASS = "star"  # drawn at 16-20 px while the others are 48-96 px: the size check should flag it


def write_digits(out: Path) -> None:
    """scikit-learn's 1797 real 8x8 digits as 8-bit PNGs in ``out/{train,val,test}/<digit>/<index>.png`` (70/15/15)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    splits = stratified_split(list(digits.target), {"val": 0.15, "test": 0.15}, seed=0)
    for i, (img, y, split) in enumerate(zip(digits.images, digits.target, splits)):
        folder = out / split / str(int(y))
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(img * (255 / 16)).astype(np.uint8)  # 0..16 ink levels -> 0..255
        Image.fromarray(pixels).save(folder / f"{i:04d}.png")


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a shape centred at (cx, cy) with 'radius' r, rotated by ``angle`` radians."""
    if shape == "square":
        pts = [(math.cos(a), math.sin(a)) for a in (math.pi / 4 + k * math.pi / 2 for k in range(4))]
    elif shape == "triangle":
        pts = [(math.cos(a), math.sin(a)) for a in (-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))]
    elif shape == "star":
        pts = [((1 if k % 2 == 0 else 0.45) * math.cos(a), (1 if k % 2 == 0 else 0.45) * math.sin(a))
               for k, a in enumerate(-math.pi / 2 + k * math.pi / 5 for k in range(10))]
    else:  # cross: a plus sign of width 0.35 r
        t = 0.35
        pts = [(-t, -1), (t, -1), (t, -t), (1, -t), (1, t), (t, t), (t, 1), (-t, 1), (-t, t), (-1, t), (-1, -t),
               (-t, -t)]
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in pts]


def _colours(rng: random.Random) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A random background colour and a shape colour that contrasts with it (hue and brightness)."""
    h, v = rng.random(), rng.uniform(0.25, 0.95)
    bg = colorsys.hsv_to_rgb(h, rng.uniform(0.2, 0.9), v)
    fg = colorsys.hsv_to_rgb((h + rng.uniform(0.3, 0.7)) % 1, rng.uniform(0.5, 1.0), 1.15 - v if v > 0.6 else 0.95)
    return tuple(int(255 * c) for c in bg), tuple(int(255 * min(c, 1)) for c in fg)


def draw_shape(shape: str, width: int, height: int, rng: random.Random) -> Image.Image:
    """One RGB image of ``shape`` at a random place, size, rotation and colour (drawn at 4x, then downsampled)."""
    k = 4
    bg, fg = _colours(rng)
    img = Image.new("RGB", (width * k, height * k), bg)
    draw = ImageDraw.Draw(img)
    side = min(width, height) * k
    r = side * rng.uniform(0.22, 0.4)
    cx, cy = rng.uniform(r, width * k - r), rng.uniform(r, height * k - r)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi)), fill=fg)
    return img.resize((width, height), Image.Resampling.LANCZOS)


def write_shapes(out: Path) -> None:
    """Colour shapes in ``out/<shape>/<n>.png`` (no split folders: the loader makes a stratified split)."""
    rng = random.Random(1234)
    for shape, count in SHAPE_COUNTS.items():
        folder = out / shape
        folder.mkdir(parents=True)
        for n in range(count):
            lo, hi = (16, 20) if shape == LOW_RES_CLASS else (48, 96)
            w, h = rng.randint(lo, hi), rng.randint(lo, hi)
            draw_shape(shape, w, h, rng).save(folder / f"{shape}_{n:03d}.png")
