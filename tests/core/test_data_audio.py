"""Audio folders: class folders, ESC-50 and Free-Spoken-Digit names, resampling/down-mixing, every bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from core.data import DataError, load
from core.data.audio import fix_length


def _wav(path, seconds=0.25, rate=8000, channels=1, freq=440.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    data = np.stack([0.5 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)], axis=1)
    sf.write(path, data.astype(np.float32), rate, subtype="PCM_16")
    return path


def _classes(root, n=5, **kw):
    for c in ("dog", "rain"):
        for i in range(n):
            _wav(root / c / f"{i}.wav", **kw)
    return root


def test_class_folders_resample_and_downmix_to_mono(tmp_path):
    _classes(tmp_path, n=5, rate=8000, channels=2)
    _wav(tmp_path / "dog" / "hi.wav", rate=22050)
    b = load(str(tmp_path), sample_rate=16000, clip_seconds=0.5)
    assert b.kind == "audio" and b.classes == ["dog", "rain"] and b.sample_rate == 16000
    assert b.input_shape == (1, 8000) and sum(len(d) for d in b.splits.values()) == 11
    s = b.summary()
    json.dumps(s)
    assert s["original_sample_rates"] == {"8000": 10, "22050": 1} and s["original_channels"] == {"1": 1, "2": 10}
    ds = next(d for d in b.splits.values() if any(p.name == "0.wav" and p.parent.name == "dog" for p in d.paths))
    i = next(k for k, p in enumerate(ds.paths) if p.name == "0.wav" and p.parent.name == "dog")
    x, y = ds[i]
    data, rate = sf.read(ds.paths[i], dtype="float32", always_2d=True)
    ref = AF.resample(torch.from_numpy(data.mean(axis=1)), rate, 16000)  # reference: torchaudio's own resample
    assert x.shape == (1, 8000) and b.classes[y] == "dog"
    assert torch.allclose(x[0, :ref.numel()], ref, atol=1e-4)
    assert torch.all(x[0, ref.numel():] == 0)  # 0.25 s clip zero-padded to 0.5 s


def test_transform_gets_the_waveform(tmp_path):
    b = load(str(_classes(tmp_path, n=3)), clip_seconds=0.25)
    ds = b.splits["train"]
    x, _ = ds[0]
    ds.transform = lambda w: -w
    assert torch.equal(ds[0][0], -x)


def test_fix_length_crops_and_pads():
    w = torch.arange(5.0)
    assert fix_length(w, 3).tolist() == [0, 1, 2] and fix_length(w, 7).tolist() == [0, 1, 2, 3, 4, 0, 0]


def test_esc50_names_use_the_fold_as_split_and_meta_for_class_names(tmp_path):
    for target in (0, 1):
        for fold in range(1, 6):
            _wav(tmp_path / "audio" / f"{fold}-{1000 + fold}-A-{target}.wav")
    b = load(str(tmp_path))
    assert b.classes == ["0", "1"] and b.counts()["val"] == {"0": 1, "1": 1}
    assert all(p.name.startswith("5-") for p in b.splits["val"].paths)
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("filename,fold,target,category\nx.wav,1,0,dog\ny.wav,1,1,rooster\n")
    assert load(str(tmp_path), val_fold=1).classes == ["dog", "rooster"]


def test_free_spoken_digit_names(tmp_path):
    for label in (0, 1, 7):
        for n in range(8):
            _wav(tmp_path / f"{label}_jackson_{n}.wav")
    b = load(str(tmp_path))
    assert b.classes == ["0", "1", "7"]
    assert b.counts() == {"train": {"0": 3, "1": 3, "7": 3}, "val": {"0": 5, "1": 5, "7": 5}}


def test_unreadable_and_truncated_wavs_are_skipped_with_reasons(tmp_path):
    _classes(tmp_path, n=4)
    whole = _wav(tmp_path / "tmp.wav", seconds=0.5).read_bytes()
    (tmp_path / "dog" / "truncated.wav").write_bytes(whole[:len(whole) // 2])
    (tmp_path / "dog" / "header_only.wav").write_bytes(whole[:30])
    (tmp_path / "rain" / "empty.wav").write_bytes(b"")
    (tmp_path / "rain" / "text.wav").write_text("not audio at all")
    (tmp_path / "tmp.wav").unlink()
    b = load(str(tmp_path))
    reasons = {s.path.split("/")[-1]: s.reason for s in b.skipped}
    assert set(reasons) == {"truncated.wav", "header_only.wav", "empty.wav", "text.wav"}
    assert "truncated" in reasons["truncated.wav"] and "zero-byte" in reasons["empty.wav"]
    assert "unreadable" in reasons["text.wav"]
    assert "data" in reasons["header_only.wav"] and str(tmp_path) not in reasons["header_only.wav"]  # no path twice
    assert sum(len(d) for d in b.splits.values()) == 8


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "no image, audio or text files"),
    (lambda p: [_wav(p / "solo" / f"{i}.wav") for i in range(3)], "only one class"),
])
def test_unusable_audio_folders_raise_one_clear_error(tmp_path, make, message):
    make(tmp_path / "data")
    with pytest.raises(DataError, match=message):
        load(str(tmp_path / "data"))


def test_empty_folder_with_kind_given_says_what_was_expected(tmp_path):
    with pytest.raises(DataError, match="ESC-50"):
        load(str(tmp_path), kind="audio")


def test_builtin_sounds_follow_esc50_naming():
    b = load("builtin:sounds")
    assert len(b.classes) >= 6 and b.kind == "audio"
    counts = b.counts()
    assert all(counts["train"][c] + counts["val"][c] >= 40 for c in b.classes)
    names = [p.name for p in b.splits["train"].paths]
    assert all(len(n[:-4].split("-")) == 4 and 1 <= int(n.split("-")[0]) <= 4 for n in names)
    s = b.summary()
    assert 1.0 <= s["durations"]["min"] and s["durations"]["max"] <= 2.0
    x, _ = b.splits["val"][0]
    assert x.shape == b.input_shape and x.abs().max() > 0.1


def test_memory_budget_zero_reads_clips_on_demand(tmp_path):
    _classes(tmp_path, n=3, rate=8000)
    cached, lazy = load(str(tmp_path)), load(str(tmp_path), cache_mb=0)
    assert cached.splits["train"]._cache is not None and lazy.splits["train"]._cache is None
    assert torch.equal(cached.splits["train"][0][0], lazy.splits["train"][0][0])
