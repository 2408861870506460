"""Tiny learnable synthetic DataBundles (image, audio, text) for tests, demos and benchmarks: no files, instant.

>>> bundle = synthetic_bundle("image", n=64)
>>> fit(TrainConfig(model="cnn", epochs=1), bundle=bundle)      # doctest: +SKIP
"""
from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from core.data.bundle import DataBundle


class TensorSplit(Dataset):
    """(x, y) pairs from tensors, with the split attributes core.data promises: ``targets`` and ``transform``."""

    def __init__(self, xs, ys):
        self.xs, self.targets, self.transform = xs, [int(y) for y in ys], None

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        x = self.xs[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.targets[i]


class TinyVocab:
    """Token ids: 0 = <pad>, 1 = <unk>, then ``w0``, ``w1``, ..."""

    pad_index, unk_index = 0, 1

    def __init__(self, size: int):
        self.itos = ["<pad>", "<unk>", *[f"w{i}" for i in range(size - 2)]]
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(t, self.unk_index) for t in text.split()]


def pad_collate(batch):
    """Pad a batch of (ids (L,), y) to (ids (B, L_max), y (B,)) with 0."""
    ids, ys = zip(*batch)
    return pad_sequence(list(ids), batch_first=True, padding_value=0), torch.tensor(ys)


def _split(kind, n, classes, shape, gen):
    y = torch.arange(n) % classes
    if kind == "text":  # class c uses tokens from its own band of the vocabulary; variable lengths
        lengths = torch.randint(3, 12, (n,), generator=gen)
        xs = [2 + int(c) * 5 + torch.randint(0, 5, (int(k),), generator=gen) for c, k in zip(y, lengths)]
        return TensorSplit(xs, y)
    x = torch.rand(n, *shape, generator=gen) * 0.5
    if kind == "image":  # a bright patch whose position encodes the class
        for i, c in enumerate(y):
            x[i, :, int(c) % shape[1], :] += 0.5
    else:  # audio: a sine whose frequency encodes the class
        t = torch.arange(shape[-1]) / 8000
        x = 0.1 * x + torch.stack([torch.sin(2 * torch.pi * (200 + 300 * int(c)) * t) for c in y]).unsqueeze(1)
    return TensorSplit(x, y)


def synthetic_bundle(kind: str = "image", n: int = 64, classes: int = 2, shape: tuple | None = None,
                     seed: int = 0) -> DataBundle:
    """A DataBundle of ``n`` train and ``n // 2`` val samples that a small model can learn quickly."""
    gen = torch.Generator().manual_seed(seed)
    shape = shape or {"image": (1, 8, 8), "audio": (1, 2000), "text": ()}[kind]
    splits = {"train": _split(kind, n, classes, shape, gen), "val": _split(kind, max(2, n // 2), classes, shape, gen)}
    return DataBundle(kind=kind, classes=[f"c{i}" for i in range(classes)], splits=splits,
                      source=f"synthetic:{kind}", input_shape=shape, sample_rate=8000 if kind == "audio" else None,
                      vocab=TinyVocab(2 + 5 * classes) if kind == "text" else None,
                      collate_fn=pad_collate if kind == "text" else None)
