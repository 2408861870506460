"""What a data set holds, read from its index: the file list and headers (a text file's rows), no pixels or samples.

A page that only shows counts and the data kind (Train, LR Finder) asks for ``index(source)``: the loader runs with
``verify=False`` (image and audio headers only) and nothing is kept in memory but the labels. The worker loads the
data itself when the job runs. Counts can differ from a verified load by files whose header reads but whose data
is corrupt (those are skipped when the data is decoded).

>>> idx = index("builtin:digits")          # doctest: +SKIP
>>> idx.kind, len(idx.classes), len(idx.splits["train"])
('image', 10, 1437)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.data.bundle import Progress, Skipped


@dataclass
class SplitIndex:
    """The labels of one split (what ``len`` and class counts need)."""

    targets: list[int]  # class index per sample, in the split's order

    def __len__(self) -> int:
        return len(self.targets)


@dataclass
class DataIndex:
    """A data set as counts: the parts of a DataBundle that need no decoded data."""

    source: str  # what was asked for
    kind: str  # 'image' | 'audio' | 'text'
    classes: list[str]  # class names
    splits: dict[str, SplitIndex]  # 'train', 'val' (and 'test'): labels only
    input_shape: tuple  # as the loader would give the model (image size from the headers)
    sample_rate: int | None = None  # audio only
    skipped: list[Skipped] = field(default_factory=list)  # files whose header could not be read, with reasons

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per class per split, as ``DataBundle.counts``."""
        return {name: {c: split.targets.count(i) for i, c in enumerate(self.classes)}
                for name, split in self.splits.items()}


def index(source: str, kind: str | None = None, *, progress: Progress | None = None, **opts) -> DataIndex:
    """The index of ``source`` (see ``core.data.load`` for sources and options): headers and file lists only;
    a text source's rows are read and split but not tokenised."""
    from core.data.load import LOADERS, locate
    from core.data.text import text_rows

    source = str(source).strip()
    path, kind = locate(source, kind)
    if kind == "text":
        opts = {k: v for k, v in opts.items() if k in ("val_fraction", "seed")}
        _, parts, classes, targets, idx = text_rows(path, progress=progress, **opts)
        splits = {n: SplitIndex([targets[i] for i in ix]) for n, ix in idx.items() if ix or n != "test"}
        return DataIndex(source, kind, classes, splits, (), None, [s for p in parts for s in p.skipped])
    bundle = LOADERS[kind](path, source=source, progress=progress, **{**opts, "verify": False, "cache_mb": 0})
    return DataIndex(bundle.source, bundle.kind, list(bundle.classes),
                     {name: SplitIndex(list(ds.targets)) for name, ds in bundle.splits.items()},
                     tuple(bundle.input_shape), bundle.sample_rate, list(bundle.skipped))
