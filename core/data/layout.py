"""Folder layouts shared by the image and audio loaders: split folders, class folders, seeded stratified splits."""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from core.data.bundle import DataError, Skipped

# folder names recognised as splits (lower-case) -> canonical split name
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "dev": "val", "test": "test", "testing": "test"}


def split_folders(root: Path) -> dict[str, Path]:
    """Canonical split name -> folder, for the split folders directly under ``root`` (empty if none)."""
    found = {}
    for child in sorted(root.iterdir()):
        name = SPLIT_NAMES.get(child.name.lower())
        if child.is_dir() and name and name not in found:
            found[name] = child
    return found


def class_files(root: Path, suffixes: set[str]) -> dict[str, list[Path]]:
    """Class name -> files with one of ``suffixes`` anywhere under ``root/<class>/`` (hidden files ignored)."""
    out = {}
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "__")):
            continue
        files = sorted(p for p in child.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if files:
            out[child.name] = files
    return out


def loose_files(folders: list[Path], suffixes: set[str]) -> list[Skipped]:
    """Data files lying directly in a root or split folder, outside any class folder: listed, never silently lost."""
    return [Skipped(str(p), "not inside a class folder (expected <folder>/<class>/<file>)")
            for folder in folders for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")]


def stratified_split(labels: list[int], fractions: dict[str, float], seed: int = 0) -> list[str]:
    """Assign each index a split name so every class is split in the same proportions, reproducibly.

    ``fractions`` maps split name -> share of each class, e.g. ``{"val": 0.2}``; the rest is "train". A class with
    at least two samples always keeps one for training and gives at least one to each requested split when it can.

    >>> stratified_split([0, 0, 0, 0, 1, 1, 1, 1, 1], {"val": 0.25})
    ['train', 'train', 'val', 'train', 'val', 'train', 'train', 'train', 'train']
    """
    by_class = defaultdict(list)
    for i, y in enumerate(labels):
        by_class[y].append(i)
    out = ["train"] * len(labels)
    rng = random.Random(seed)
    for y in sorted(by_class):
        idx = by_class[y][:]
        rng.shuffle(idx)
        start = 0
        for name, frac in fractions.items():
            n = max(1, round(frac * len(idx))) if frac > 0 and len(idx) - start > 1 else 0
            for i in idx[start:start + n]:
                out[i] = name
            start += n
    return out


def require_classes(classes: list[str], root: Path, what: str, layout: str, loose: int = 0) -> None:
    """Raise DataError unless there are at least two classes (saying what layout was expected)."""
    if not classes and loose:
        raise DataError(f"{root} holds {loose} {what} but no class folders; expected {layout}")
    if not classes:
        raise DataError(f"no {what} found in {root}; expected {layout}")
    if len(classes) == 1:
        raise DataError(f"only one class ({classes[0]!r}) found in {root}; a classifier needs at least two. "
                        f"Expected {layout}")
