"""Feature caching: log-mel computed once per clip, a frozen backbone's features once per image, not once per epoch.

``CachedFeatures(dataset, frontend)`` wraps a split (``BackboneFeatures(model)`` is the frontend of a transfer model
whose backbone stays frozen). The first time item ``i`` is read its waveform goes through
the model's ``frontend`` (on the CPU) and the result is kept; every later epoch reads the cached tensor. The wrapper's
``.transform`` (e.g. a SpecAugment pipeline from core.augment, kind 'spectrogram') applies to the cached features
on every read, so augmentation stays random per epoch while the expensive part is done once.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class BackboneFeatures(nn.Module):
    """A transfer model's ``features`` (everything before the head) as a module: (B, C, H, W) -> (B, F)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.features(x)


class CachedFeatures(Dataset):
    """A dataset of (features, y) where features = frontend(waveform), computed once per item and cached."""

    def __init__(self, dataset: Dataset, frontend: nn.Module, transform=None):
        self.dataset = dataset
        self.frontend = copy.deepcopy(frontend).cpu().eval()  # the model may live on a GPU; features are made here
        self.transform = transform  # applied to cached features on every read (augmentation)
        self.targets = list(getattr(dataset, "targets", []))
        self.paths = getattr(dataset, "paths", None)
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self):
        return len(self.dataset)

    @torch.no_grad()
    def features(self, index: int) -> torch.Tensor:
        """Cached log-mel features of item ``index``: (1, n_mels, T)."""
        feats = self._cache.get(index)
        if feats is None:
            wave, _ = self.dataset[index]
            feats = self.frontend(wave.unsqueeze(0))[0].contiguous()  # (1, N) -> (1, n_mels, T)
            self._cache[index] = feats
        return feats

    @torch.no_grad()
    def fill(self, batch_size: int = 64, device: torch.device | str = "cpu",
             progress: Callable[[int, int], None] | None = None) -> "CachedFeatures":
        """Compute every missing item's features now, ``batch_size`` at a time on ``device``; returns self.
        ``progress(done, total)`` is called after each batch (items of this call)."""
        missing = [i for i in range(len(self)) if i not in self._cache]
        if not missing:
            return self
        frontend = self.frontend.to(device)
        loader = DataLoader(_Items(self.dataset, missing), batch_size=batch_size, shuffle=False)
        done = 0
        for index, x in loader:
            feats = frontend(x.to(device)).cpu()  # (B, ...) -> (B, features...)
            self._cache.update(zip(index.tolist(), feats.unbind(0)))
            done += len(index)
            if progress is not None:
                progress(done, len(missing))
        self.frontend = frontend.cpu()
        return self

    def __getitem__(self, index: int):
        feats = self.features(index)
        if self.transform is not None:
            feats = self.transform(feats.clone())
        return feats, int(self.targets[index]) if self.targets else self.dataset[index][1]

    @property
    def cached(self) -> int:
        """How many items have their features cached."""
        return len(self._cache)


class _Items(Dataset):
    """(index, x) for some items of a dataset (the inputs whose features ``fill`` computes)."""

    def __init__(self, dataset: Dataset, indices: list[int]):
        self.dataset, self.indices = dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.indices[i], self.dataset[self.indices[i]][0]
