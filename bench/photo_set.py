"""A small real-photo ImageFolder made offline from scikit-image's bundled colour photos.

There are no real photo classes in the built-in data, and nothing can be downloaded here. So each class is one of
scikit-image's real photographs (astronaut, cat, coffee, rocket, immunohistochemistry slide, Hubble deep field,
retina), and its images are random crops of it (a quarter to a half of the side, random aspect, flips, mild colour
and brightness changes), saved as 160 px JPEGs. Train crops come from the left 60% of each photo and validation
crops from the right 40%, so validation shows regions of the scene that training never saw.

It is an easy set (seven scenes, not seven categories of object), which is why the benchmark says what it is.

    .venv/bin/python bench/photo_set.py OUT_DIR [--train 60] [--val 20] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

PHOTOS = {"astronaut": "astronaut", "cat": "chelsea", "coffee": "coffee", "rocket": "rocket",
          "tissue": "immunohistochemistry", "galaxies": "hubble_deep_field", "retina": "retina"}
SIDE = 160  # saved image size (px)
TRAIN_PART = 0.6  # train crops from the left 60% of each photo, validation crops from the rest


def _crop(photo: Image.Image, left: int, right: int, rng: random.Random) -> Image.Image:
    width = right - left
    side = int(min(width, photo.height) * rng.uniform(0.25, 0.5))
    aspect = rng.uniform(0.8, 1.25)
    w, h = min(width, int(side * aspect)), min(photo.height, int(side / aspect))
    x, y = left + rng.randint(0, width - w), rng.randint(0, photo.height - h)
    img = photo.crop((x, y, x + w, y + h)).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
    return ImageEnhance.Color(img).enhance(rng.uniform(0.8, 1.2))


def make_photo_set(out: Path, train: int = 60, val: int = 20, seed: int = 0) -> Path:
    """Write ``out/{train,val}/<class>/*.jpg`` (once; an existing complete set is reused) and return ``out``."""
    import skimage.data

    out = Path(out)
    if len(list(out.glob("*/*/*.jpg"))) == len(PHOTOS) * (train + val):
        return out
    rng = random.Random(seed)
    for name, loader in PHOTOS.items():
        photo = Image.fromarray(np.asarray(getattr(skimage.data, loader)())[..., :3]).convert("RGB")
        cut = int(photo.width * TRAIN_PART)
        for split, n, (left, right) in (("train", train, (0, cut)), ("val", val, (cut, photo.width))):
            folder = out / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                _crop(photo, left, right, rng).save(folder / f"{name}_{i:03d}.jpg", quality=90)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=60)
    parser.add_argument("--val", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_photo_set(args.out, args.train, args.val, args.seed))
