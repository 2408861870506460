"""Generator for the built-in sound set: synthetic environmental sounds as WAV files in ESC-50 naming."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000  # most clips are written at the default training rate (loading them needs no resampling) ...
ODD_RATE = 22050  # ... every fourth at 22.05 kHz, so the summary shows mixed originals and loading resamples them
CLASSES = ["siren", "alarm", "engine", "rain", "clock", "birds"]  # target index = position
CLIPS_PER_CLASS = 40  # 8 per fold x 5 folds
FOLDS = 5


def _t(n: int, rate: int) -> np.ndarray:
    return np.arange(n) / rate


def siren(n: int, rng: np.random.RandomState, rate: int) -> np.ndarray:
    """A tone sweeping up and down (wail), 500-1600 Hz."""
    lo, hi, lfo = rng.uniform(500, 800), rng.uniform(1100, 1600), rng.uniform(0.6, 2.0)
    freq = lo + (hi - lo) * 0.5 * (1 - np.cos(2 * np.pi * lfo * _t(n, rate) + rng.uniform(0, 6)))
    return np.sin(2 * np.pi * np.cumsum(freq) / rate)


def alarm(n: int, rng: np.random.RandomState, rate: int) -> np.ndarray:
    """Square-ish beeps switching on and off several times a second."""
    t = _t(n, rate)
    tone = np.tanh(3 * np.sin(2 * np.pi * rng.uniform(1800, 3200) * t))
    gate = (np.sin(2 * np.pi * rng.uniform(3, 7) * t + rng.uniform(0, 6)) > 0).astype(float)
    return tone * gate


def engine(n: int, rng: np.random.RandomState, rate: int) -> np.ndarray:
    """Low hum: a 40-110 Hz fundamental with harmonics, throbbing, plus rumble."""
    t, f0 = _t(n, rate), rng.uniform(40, 110)
    hum = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 7))
    throb = 1 + 0.4 * np.sin(2 * np.pi * rng.uniform(4, 12) * t)
    return hum * throb + 0.3 * np.convolve(rng.randn(n), np.ones(40) / 40, mode="same")


def rain(n: int, rng: np.random.RandomState, rate: int) -> np.ndarray:
    """Broadband hiss with random droplet clicks."""
    x = 0.4 * rng.randn(n)
    for start in rng.randint(0, n - 200, size=rng.randint(20, 60)):
        x[start:start + 200] += rng.uniform(0.5, 2.0) * rng.randn(200) * np.exp(-np.arange(200) / 30)
    return x


def clock(n: int, rng: np.random.RandomState, rate: int) -> np.ndarray:
    """Tick-tock: short decaying clicks at a steady rate, alternating pitch."""
    x, period = np.zeros(n), int(rate / rng.uniform(2, 4))
    env = np.exp(-np.arange(600) / 80)
    for k, start in enumerate(range(rng.randint(0, period), n - 600, period)):
        f = 3000 if k % 2 == 0 else 2200
        x[start:start + 600] += env * np.sin(2 * np.pi * f * np.arange(600) / rate)
    return x


def birds(n: int, rng: np.random.RandomState, rate: int) -> np.ndarray:
    """Chirps: short upward/downward frequency sweeps between 2 and 6 kHz at random times."""
    x = np.zeros(n)
    for start in rng.randint(0, n - 3000, size=rng.randint(3, 9)):
        m = rng.randint(800, 3000)
        f = np.linspace(rng.uniform(2000, 4000), rng.uniform(3000, 6000), m)
        x[start:start + m] += np.sin(2 * np.pi * np.cumsum(f) / rate) * np.hanning(m)
    return x


SOUNDS = {"siren": siren, "alarm": alarm, "engine": engine, "rain": rain, "clock": clock, "birds": birds}


def make_clip(target: int, seed: int, rate: int = RATE) -> np.ndarray:
    """One 1-2 s clip of class ``CLASSES[target]`` at ``rate`` with background noise, peak-normalised: float32 (N,)."""
    rng = np.random.RandomState(seed)
    n = int(rate * rng.uniform(1.0, 2.0))
    x = SOUNDS[CLASSES[target]](n, rng, rate)
    x = x / (np.abs(x).max() + 1e-9) + rng.uniform(0.005, 0.05) * rng.randn(n)
    return (rng.uniform(0.3, 0.9) * x / np.abs(x).max()).astype(np.float32)


def write_sounds(out: Path) -> None:
    """``out/audio/{fold}-{clip}-A-{target}.wav`` (16-bit mono, 16 or 22.05 kHz) and ``out/meta/esc50.csv``,
    laid out as in ESC-50."""
    (out / "audio").mkdir(parents=True)
    (out / "meta").mkdir()
    rows = []
    for target, name in enumerate(CLASSES):
        for k in range(CLIPS_PER_CLASS):
            fold, clip = k % FOLDS + 1, 100000 + 1000 * target + k
            filename = f"{fold}-{clip}-A-{target}.wav"
            rate = ODD_RATE if k % 4 == 3 else RATE
            sf.write(out / "audio" / filename, make_clip(target, seed=clip, rate=rate), rate, subtype="PCM_16")
            rows.append([filename, fold, target, name, False, str(clip), "A"])
    with open(out / "meta" / "esc50.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
