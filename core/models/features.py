"""Feature caching for spectrogram models: log-mel computed once per clip, not once per epoch.

``CachedFeatures(dataset, model)`` wraps an audio split. The first time item ``i`` is read its waveform goes through
the model's ``frontend`` (on the CPU) and the result is kept; every later epoch reads the cached tensor. The wrapper's
``.transform`` (e.g. a SpecAugment pipeline from core.augment, kind 'spectrogram') applies to the cached features
on every read, so augmentation stays random per epoch while the expensive part is done once.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.data import Dataset


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

    def __getitem__(self, index: int):
        feats = self.features(index)
        if self.transform is not None:
            feats = self.transform(feats.clone())
        return feats, int(self.targets[index]) if self.targets else self.dataset[index][1]

    @property
    def cached(self) -> int:
        """How many items have their features cached."""
        return len(self._cache)
