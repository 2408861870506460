"""Audio folders as a DataBundle: class folders, ESC-50 names, Free-Spoken-Digit names; any rate, any channels."""
from __future__ import annotations

import csv
import math
import re
import struct
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.transforms as T
from torch.utils.data import Dataset

from core.data.bundle import DataBundle, DataError, Progress, Skipped
from core.data.layout import class_files, loose_files, require_classes, split_folders, stratified_split
from core.data.summary import audio_stats

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}  # whatever libsndfile reads
ESC50 = re.compile(r"^(\d+)-(\d+)-([A-Za-z0-9]+)-(\d+)$")  # {fold}-{clip}-{take}-{target}
FSDD = re.compile(r"^(\d+)_([A-Za-z]+)_(\d+)$")  # {label}_{speaker}_{n}; n 0-4 is the official test set
LAYOUT = ("audio class folders root/<class>/<clip>.wav, ESC-50 names {fold}-{clip}-{take}-{target}.wav, "
          "or Free-Spoken-Digit names {label}_{speaker}_{n}.wav")
CACHE_MB = 512  # default budget: decoded clips are kept in memory (float32) when they fit in it


@dataclass
class AudioRecord:
    """One clip as its header describes it."""

    path: Path
    target: int
    split: str
    sample_rate: int = 0
    channels: int = 0
    frames: int = 0
    subtype: str = ""


class AudioDataset(Dataset):
    """Yields ``(x, y)``: x float32 (1, num_samples) mono at ``sample_rate``, cropped/zero-padded, then transform."""

    def __init__(self, paths, targets, sample_rate: int, num_samples: int, cache=None):
        self.paths = list(paths)
        self.targets = list(targets)
        self.sample_rate = sample_rate
        self.num_samples = num_samples
        self.transform = None  # set by the trainer on the train split (augmentation on the waveform)
        self._cache = cache  # list of 1-D float32 tensors at sample_rate, or None (read on demand)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        wave = self._cache[i] if self._cache is not None else read_audio(self.paths[i], self.sample_rate)
        x = fix_length(wave, self.num_samples)[None]  # (N,) -> (1, N)
        if self.transform is not None:
            x = self.transform(x)
        return x, self.targets[i]


def fix_length(wave: torch.Tensor, n: int) -> torch.Tensor:
    """Crop to the first ``n`` samples or zero-pad at the end."""
    return wave[:n] if wave.numel() >= n else torch.nn.functional.pad(wave, (0, n - wave.numel()))


def wav_truncation(path: Path) -> str | None:
    """For a RIFF/WAVE file: a reason when the data chunk claims more bytes than the file holds, else None.

    libsndfile silently shortens such files, so truncation has to be checked from the chunk sizes.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, n = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                have = size - f.tell()
                if n != 0xFFFFFFFF and have < n:
                    return f"truncated WAV: header declares {n} bytes of audio, the file holds {have}"
                return None
            f.seek(n + (n & 1), 1)


def read_header(path: Path) -> tuple[int, int, int, str]:
    """(sample_rate, channels, frames, subtype) via soundfile.info; ValueError with a readable reason."""
    if path.stat().st_size == 0:
        raise ValueError("zero-byte file")
    reason = wav_truncation(path) if path.suffix.lower() == ".wav" else None
    if reason:
        raise ValueError(reason)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as err:  # error_string: libsndfile's reason without the path again
        raise ValueError(f"unreadable audio ({getattr(err, 'error_string', None) or err})") from None
    if info.frames <= 0:
        raise ValueError("no audio frames")
    return info.samplerate, info.channels, info.frames, info.subtype


def read_audio(path: Path, sample_rate: int) -> torch.Tensor:
    """Read any soundfile format, average the channels, resample to ``sample_rate``: float32 (N,)."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (frames, channels)
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if rate != sample_rate:
        with torch.no_grad():
            wave = _resampler(rate, sample_rate)(wave)
    return wave


@lru_cache(maxsize=16)
def _resampler(orig: int, new: int) -> T.Resample:
    """torchaudio's sinc resampler (same maths as torchaudio.functional.resample) with its kernel built once."""
    return T.Resample(orig, new)


def _esc50_names(root: Path) -> dict[int, str]:
    """target -> category from an ESC-50 ``meta/esc50.csv`` anywhere under root (empty when there is none)."""
    for meta in root.rglob("esc50.csv"):
        with open(meta, newline="", encoding="utf-8", errors="replace") as f:
            return {int(row["target"]): row["category"] for row in csv.DictReader(f)
                    if row.get("target", "").isdigit() and row.get("category")}
    return {}


def _by_pattern(files: list[Path], pattern: re.Pattern) -> list[re.Match] | None:
    """Matches of every file stem when at least 80% of the names follow ``pattern``, else None."""
    matches = [pattern.match(p.stem) for p in files]
    return matches if files and sum(m is not None for m in matches) >= 0.8 * len(files) else None


def _named(files: list[Path], matches: list, label_group: int, split_of, names=None, pattern: str = ""):
    """(classes, records, skipped) for files whose names carry the label (ESC-50, Free-Spoken-Digit)."""
    labels = sorted({x.group(label_group) for x in matches if x}, key=lambda s: (len(s), s))  # numeric order
    classes = [names.get(int(lab), lab) for lab in labels] if names else labels
    records = [AudioRecord(p, labels.index(x.group(label_group)), split_of(x)) for p, x in zip(files, matches) if x]
    skipped = [Skipped(str(p), f"name does not follow {pattern}") for p, x in zip(files, matches) if not x]
    return classes, records, skipped


def _folders(root: Path):
    """(classes, records, loose files) for class folders, optionally under train/ val/ test/."""
    folders = split_folders(root)
    per_split = {name: class_files(f, AUDIO_SUFFIXES) for name, f in folders.items()}
    per_split = per_split or {"train": class_files(root, AUDIO_SUFFIXES)}
    classes = sorted({c for fs in per_split.values() for c in fs})
    records = [AudioRecord(p, classes.index(c), split) for split, fs in per_split.items()
               for c, paths in fs.items() for p in paths]
    return classes, records, loose_files([root, *folders.values()], AUDIO_SUFFIXES)


def _scan(root: Path, val_fold: int):
    """(classes, records, skipped) for a folder in one of the supported layouts."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if (m := _by_pattern(files, ESC50)) is not None:
        found = _named(files, m, 4, lambda x: "val" if int(x.group(1)) == val_fold else "train",
                       _esc50_names(root), "ESC-50 {fold}-{clip}-{take}-{target}")
    elif (m := _by_pattern(files, FSDD)) is not None:  # n 0-4 is the official test set: used for validation
        found = _named(files, m, 1, lambda x: "val" if int(x.group(3)) < 5 else "train", None,
                       "{label}_{speaker}_{n}")
    else:
        found = _folders(root)
    require_classes(found[0], root, "audio clips", LAYOUT, len(found[2]))
    return found


def _split_if_needed(records: list[AudioRecord], val_fraction: float, seed: int) -> None:
    """No validation clips from the layout: seeded stratified split of the readable clips."""
    if not any(r.split == "val" for r in records):
        for r, s in zip(records, stratified_split([r.target for r in records], {"val": val_fraction}, seed)):
            r.split = s


def _read_all(records, sample_rate: int, verify: bool, budget: int, progress: Progress | None):
    """Headers for every clip; with ``verify`` also decode (and keep, if it fits) every clip."""
    good, skipped, waves, total = [], [], [], 0
    for i, r in enumerate(records):
        try:
            r.sample_rate, r.channels, r.frames, r.subtype = read_header(r.path)
            if verify:
                wave = read_audio(r.path, sample_rate)
                total += wave.numel() * 4
                waves.append(wave if total <= budget else None)
            good.append(r)
        except (ValueError, OSError, sf.LibsndfileError) as err:
            skipped.append(Skipped(str(r.path), str(err)))
        if progress and i % 20 == 0:
            progress(i, len(records), "reading audio")
    cache = waves if verify and waves and all(w is not None for w in waves) else None
    return good, skipped, cache


def load_audio(root: Path, *, source: str, sample_rate: int = 16000, clip_seconds: float | None = None,
               val_fold: int = 5, val_fraction: float = 0.2, seed: int = 0, verify: bool = True,
               cache_mb: int = CACHE_MB, progress: Progress | None = None) -> DataBundle:
    """Load an audio folder; every clip becomes mono at ``sample_rate``, cut or padded to ``clip_seconds``.

    ``verify`` decodes every clip once (catches files that fail after a valid header); the decoded clips are kept
    in memory when they fit in ``cache_mb`` (0: never). ``val_fold``: the ESC-50 fold used for validation.
    """
    if root.is_file():
        raise DataError(f"{root} is a single file; expected a folder: {LAYOUT}")
    classes, records, skipped = _scan(root, val_fold)
    records, bad, cache = _read_all(records, sample_rate, verify, cache_mb * 2**20, progress)
    skipped += bad
    if not records:
        raise DataError(f"none of the audio files in {root} could be read; expected {LAYOUT}", skipped)
    _split_if_needed(records, val_fraction, seed)
    durations = sorted(r.frames / r.sample_rate for r in records)
    clip_seconds = clip_seconds or min(10.0, math.ceil(2 * durations[int(0.95 * (len(durations) - 1))]) / 2)
    num_samples = max(1, int(round(clip_seconds * sample_rate)))
    splits = {}
    for name in ("train", "val", "test"):
        idx = [i for i, r in enumerate(records) if r.split == name]
        if idx or name != "test":
            splits[name] = AudioDataset([records[i].path for i in idx], [records[i].target for i in idx], sample_rate,
                                        num_samples, [cache[i] for i in idx] if cache is not None else None)
    if not len(splits["train"]) or not len(splits["val"]):
        raise DataError(f"{root}: need clips for both training and validation; expected {LAYOUT}")
    stats = audio_stats(classes, records, sample_rate, clip_seconds)
    return DataBundle("audio", classes, splits, source, (1, num_samples), skipped=skipped, sample_rate=sample_rate,
                      stats=stats)
