"""What ``core.data.load`` returns: a DataBundle of torch Datasets plus what could not be read and why."""
from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch.utils.data import Dataset

# progress(done, total, message): long loads report through this; the page turns it into a progress bar
Progress = Callable[[int, int, str], None]


class DataError(ValueError):
    """A source that cannot be used at all (missing, empty, one class...). The message says what was expected;
    ``skipped`` lists the files that could not be read, with reasons, when that is why (e.g. every image is broken)."""

    def __init__(self, message: str, skipped: list | tuple = ()):
        super().__init__(message)
        self.skipped = list(skipped)


@dataclass(frozen=True)
class Skipped:
    """A file (or a line of a file, ``path:line``) that could not be read, and why."""

    path: str  # the file, or "file:line" for one bad line of a text file
    reason: str  # human-readable: "not an image (cannot identify image file)", "zero-byte file", ...


@dataclass
class DataBundle:
    """A dataset ready for training: one torch Dataset per split and everything the pages need to explain it."""

    kind: str  # 'image' | 'audio' | 'text'
    classes: list[str]  # class names; a sample's y indexes this list
    splits: dict[str, Dataset]  # 'train', 'val' (always) and 'test' (when the source has one)
    source: str  # what was asked for: "builtin:digits", a folder, a file
    input_shape: tuple  # one sample x: image (C, H, W); audio (1, num_samples); text () (variable length)
    skipped: list[Skipped] = field(default_factory=list)  # unreadable files/lines with reasons; never silent
    sample_rate: Optional[int] = None  # audio: the rate every clip was resampled to
    vocab: Any = None  # text: core.data.text.Vocab built on the train split
    collate_fn: Optional[Callable] = None  # text: pads a batch to (ids (B, L), y (B,)); None for image/audio
    stats: dict = field(default_factory=dict)  # kind-specific statistics (JSON-serialisable) for summary()

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per class per split: ``{"train": {"cat": 10, ...}, "val": {...}}``."""
        out = {}
        for name, ds in self.splits.items():
            c = Counter(ds.targets)
            out[name] = {cls: int(c.get(i, 0)) for i, cls in enumerate(self.classes)}
        return out

    def imbalance(self) -> float:
        """Largest class over smallest class in the train split (inf when a class has no training sample)."""
        train = self.counts()["train"].values()
        return float("inf") if min(train) == 0 else max(train) / min(train)

    def examples(self, per_class: int, seed: int = 0, split: str = "train") -> dict[str, list[int]]:
        """Class name -> up to ``per_class`` random indices into ``splits[split]`` (seeded: 'reshuffle' = new seed)."""
        rng = random.Random(seed)
        by_class: dict[int, list[int]] = {}
        for i, y in enumerate(self.splits[split].targets):
            by_class.setdefault(y, []).append(i)
        return {c: sorted(rng.sample(by_class.get(ci, []), min(per_class, len(by_class.get(ci, [])))))
                for ci, c in enumerate(self.classes)}

    def memory_bytes(self) -> int:
        """Roughly how much memory the bundle holds: decoded samples (tensors), token ids, texts and paths.

        Long lists are estimated from their first items, so this stays cheap on millions of rows."""
        seen: set[int] = set()
        return sum(_approx_bytes(vars(ds), seen) for ds in self.splits.values())

    def summary(self) -> dict:
        """A JSON-serialisable description: counts per class per split, kind-specific statistics, skipped files."""
        imb = self.imbalance()
        return {
            "source": self.source,
            "kind": self.kind,
            "classes": list(self.classes),
            "counts": self.counts(),
            "total": sum(len(ds) for ds in self.splits.values()),
            "imbalance": None if imb == float("inf") else round(imb, 3),
            "input_shape": list(self.input_shape),
            "sample_rate": self.sample_rate,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            **self.stats,
        }


def _approx_bytes(x, seen: set[int], sample: int = 64) -> int:
    if isinstance(x, torch.Tensor):
        storage = x.untyped_storage()
        if storage.data_ptr() in seen:  # views of one cache (e.g. the splits of one decoded array) count once
            return 0
        seen.add(storage.data_ptr())
        return storage.nbytes()
    if isinstance(x, dict):
        return sys.getsizeof(x) + sum(_approx_bytes(v, seen, sample) for v in x.values())
    if isinstance(x, (list, tuple)):
        head = [_approx_bytes(v, seen, sample) for v in x[:sample]]
        return sys.getsizeof(x) + (sum(head) * len(x) // len(head) if head else 0)
    if isinstance(x, (str, int, float, bytes)) or x is None:
        return sys.getsizeof(x)
    if hasattr(x, "__dict__") and not callable(x):  # a Dataset, a Vocab: what they hold
        if id(x) in seen:
            return 0
        seen.add(id(x))
        return _approx_bytes(vars(x), seen, sample)
    return sys.getsizeof(str(x))  # paths and other small values
