"""Image folders (``root/class/x.png``, optionally under ``train/ val/ test/``) as a DataBundle."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from core.data.bundle import DataBundle, DataError, Progress, Skipped
from core.data.layout import class_files, loose_files, require_classes, split_folders, stratified_split
from core.data.summary import image_stats

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
LAYOUT = "an ImageFolder: root/<class>/<image>.png|jpg (optionally under root/train, root/val, root/test)"
CACHE_MB = 512  # default budget: decoded, resized images are kept in memory (uint8) when they fit in it

NOT_AN_IMAGE = "not an image (PIL cannot identify the file format)"


@dataclass
class ImageRecord:
    """One image as seen from its header: where it is, its class and split, its original size and mode."""

    path: Path
    target: int
    split: str
    width: int = 0
    height: int = 0
    mode: str = ""


class ImageDataset(Dataset):
    """Yields ``(x, y)``: x float32 (C, H, W) in [0, 1] resized to ``size`` x ``size``, then ``transform(x)``."""

    def __init__(self, paths: list[Path], targets: list[int], size: int, channels: int, cache=None):
        self.paths = list(paths)  # originals, for display at their own size
        self.targets = list(targets)
        self.size = size
        self.channels = channels
        self.transform = None  # set by the trainer on the train split (augmentation)
        self._cache = cache  # uint8 (N, C, size, size) when it fits in memory, else None (decode on demand)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        if self._cache is not None:
            x = self._cache[i].float() / 255.0
        else:
            x = decode(self.paths[i], self.size, self.channels).float() / 255.0
        if self.transform is not None:
            x = self.transform(x)
        return x, self.targets[i]


def decode(path: Path, size: int, channels: int) -> torch.Tensor:
    """Read an image, convert to L or RGB, resize to ``size`` x ``size``: uint8 (C, size, size). A file that is no
    image raises ValueError saying so (not PIL's message, which prints the file object of an upload)."""
    try:
        opened = Image.open(path)
    except UnidentifiedImageError:
        raise ValueError(NOT_AN_IMAGE) from None
    with opened as im:
        mode = "L" if channels == 1 else "RGB"
        im.draft(mode, (size, size))  # JPEG: decode at reduced scale when much larger than needed
        im = ImageOps.exif_transpose(im)  # phone photos: apply the stored orientation
        im = im.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
        arr = np.asarray(im, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (H, W[, C]) -> (C, H, W)
    return torch.from_numpy(arr.copy())


def read_header(path: Path) -> tuple[int, int, str]:
    """(width, height, mode) from the file header only; raises ValueError with a readable reason."""
    if path.stat().st_size == 0:
        raise ValueError("zero-byte file")
    try:
        with Image.open(path) as im:
            return im.size[0], im.size[1], im.mode
    except UnidentifiedImageError:
        raise ValueError(NOT_AN_IMAGE) from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"unreadable image header ({err})") from None


def _scan(root: Path, val_fraction: float, test_fraction: float):
    """Classes, one record per image file, the split fractions still to apply to 'train', and loose files."""
    folders = split_folders(root)
    loose = loose_files([root, *folders.values()], IMAGE_SUFFIXES)
    if folders:
        per_split = {name: class_files(folder, IMAGE_SUFFIXES) for name, folder in folders.items()}
        classes = sorted({c for files in per_split.values() for c in files})
        records = [ImageRecord(p, classes.index(c), split)
                   for split, files in per_split.items() for c, paths in files.items() for p in paths]
        todo = {} if "val" in per_split else {"val": val_fraction}  # e.g. train/ + test/ only: carve val from train
    else:
        files = class_files(root, IMAGE_SUFFIXES)
        classes = sorted(files)
        records = [ImageRecord(p, classes.index(c), "train") for c, paths in files.items() for p in paths]
        todo = {"val": val_fraction, "test": test_fraction}
    require_classes(classes, root, "images", LAYOUT, len(loose))
    return classes, records, todo, loose


def _resplit(records: list[ImageRecord], fractions: dict[str, float], seed: int) -> None:
    """Seeded stratified split of the readable 'train' records (after skipping, so val never ends up empty)."""
    records = [r for r in records if r.split == "train"]
    for r, split in zip(records, stratified_split([r.target for r in records], fractions, seed)):
        r.split = split


def _headers(records, progress: Progress | None) -> tuple[list[ImageRecord], list[Skipped]]:
    good, skipped = [], []
    for i, r in enumerate(records):
        try:
            r.width, r.height, r.mode = read_header(r.path)
            good.append(r)
        except (ValueError, OSError) as err:
            skipped.append(Skipped(str(r.path), str(err)))
        if progress and i % 200 == 0:
            progress(i, len(records), "reading image headers")
    return good, skipped


def _decode_all(records, size, channels, keep: bool, progress: Progress | None):
    """Decode every image (catches corrupt pixel data a header check misses); keep the pixels if they fit."""
    good, skipped, arrays = [], [], []
    for i, r in enumerate(records):
        try:
            x = decode(r.path, size, channels)
            good.append(r)
            if keep:
                arrays.append(x)
        except (OSError, ValueError, SyntaxError) as err:
            skipped.append(Skipped(str(r.path), f"corrupt image data ({err})"))
        if progress and i % 100 == 0:
            progress(i, len(records), "decoding images")
    return good, skipped, (torch.stack(arrays) if keep and arrays else None)


def default_size(records: list[ImageRecord]) -> int:
    """Square training size from the typical image: median shorter side rounded to 8, kept within 32..64."""
    side = statistics.median(min(r.width, r.height) for r in records)
    return int(min(64, max(32, round(side / 8) * 8)))


def load_images(root: Path, *, source: str, image_size: int | None = None, val_fraction: float = 0.2,
                test_fraction: float = 0.0, seed: int = 0, verify: bool = True, cache_mb: int = CACHE_MB,
                progress: Progress | None = None) -> DataBundle:
    """Load an image folder.

    ``verify`` decodes every image once (slower; catches corrupt pixel data a header check misses); the decoded,
    resized images are kept in memory when they fit in ``cache_mb`` (0: never; the summary needs headers only).
    """
    if not root.is_dir():
        raise DataError(f"{root} is a file; expected a folder: {LAYOUT}")
    classes, records, todo, loose = _scan(root, val_fraction, test_fraction)
    records, skipped = _headers(records, progress)
    skipped = loose + skipped
    if not records:
        raise DataError(f"none of the image files in {root} could be read; expected {LAYOUT}", skipped)
    size = int(image_size or default_size(records))
    channels = 1 if all(r.mode in GRAY_MODES for r in records) else 3
    cache = None
    if verify:
        keep = 0 < len(records) * channels * size * size <= cache_mb * 2**20
        records, bad, cache = _decode_all(records, size, channels, keep, progress)
        skipped += bad
    if todo:
        _resplit(records, todo, seed)
    stats = image_stats(classes, records, size, channels)
    splits = {}
    for name in ("train", "val", "test"):
        idx = [i for i, r in enumerate(records) if r.split == name]
        if idx or name != "test":
            splits[name] = ImageDataset([records[i].path for i in idx], [records[i].target for i in idx], size,
                                        channels, cache[idx] if cache is not None else None)
    if not len(splits["train"]) or not len(splits["val"]):
        raise DataError(f"{root}: need images for both training and validation; expected {LAYOUT}")
    return DataBundle("image", classes, splits, source, (channels, size, size), skipped=skipped, stats=stats)
