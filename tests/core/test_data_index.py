"""core.data.index: counts and kind from the file index, nothing decoded; DataBundle.memory_bytes."""
from __future__ import annotations

import pytest

from core.data import index, load


def _refuse(*args, **kwargs):
    raise AssertionError("decoded data while reading the index")


@pytest.mark.parametrize("source", ["builtin:digits", "builtin:sounds", "builtin:reviews"])
def test_the_index_has_the_counts_of_the_loaded_data_without_decoding_it(source, monkeypatch):
    bundle = load(source)  # the reference: a full, verified load (before decoding is forbidden below)
    for target in ("core.data.images.decode", "core.data.audio.read_audio", "core.data.text.tokenize_many"):
        monkeypatch.setattr(target, _refuse)
    idx = index(source)
    assert (idx.kind, idx.classes, idx.counts()) == (bundle.kind, bundle.classes, bundle.counts())
    assert {n: len(s) for n, s in idx.splits.items()} == {n: len(s) for n, s in bundle.splits.items()}
    assert idx.input_shape == tuple(bundle.input_shape) and idx.sample_rate == bundle.sample_rate


def test_memory_bytes_counts_the_decoded_cache():
    full, headers = load("builtin:shapes"), load("builtin:shapes", verify=False)
    cached = sum(ds._cache.nbytes for ds in full.splits.values())  # the decoded uint8 images
    assert cached <= full.memory_bytes() <= cached + 2**20
    assert headers.memory_bytes() < cached / 10
