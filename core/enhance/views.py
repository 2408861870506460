"""What the Enhance page shows, computed here (the page only draws): the before/after zoom of one region of a
held-out image, the checkerboard views (the residual's spectrum, the flattest region magnified), and the
PSNR-vs-perception points of finished runs.

>>> z = zoom(run_dir, "chelsea", x=0.5, y=0.5, size=48)      # doctest: +SKIP   label -> (size, size, 3) uint8
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.enhance.train import EVAL_NAME, HELD_DIR

LABELS = ("bicubic", "model", "original")
FLAT_WINDOW = 32  # side of the flat region the checkerboard view magnifies (high-resolution pixels)


def held_out_names(run_dir) -> list[str]:
    """The held-out images a finished run wrote (NAME_model.png ...), in name order."""
    folder = Path(run_dir) / HELD_DIR
    return sorted(p.name[: -len("_model.png")] for p in folder.glob("*_model.png")) if folder.is_dir() else []


def _read(run_dir, name: str, label: str) -> np.ndarray:
    from PIL import Image

    with Image.open(Path(run_dir) / HELD_DIR / f"{name}_{label}.png") as img:
        return np.asarray(img.convert("RGB"))


def zoom(run_dir, name: str, x: float, y: float, size: int) -> dict[str, np.ndarray]:
    """The same ``size`` x ``size`` region (centred at fractions ``x``, ``y`` of the width / height) of the bicubic
    upscaling, the model's output and the original: label -> (size, size, 3) uint8."""
    imgs = {label: _read(run_dir, name, label) for label in LABELS}
    h, w = imgs["original"].shape[:2]
    size = max(4, min(size, h, w))
    top = int(np.clip(round(y * h - size / 2), 0, h - size))
    left = int(np.clip(round(x * w - size / 2), 0, w - size))
    return {label: img[top:top + size, left:left + size] for label, img in imgs.items()}


def _y(img: np.ndarray) -> np.ndarray:
    rgb = img.astype(np.float64) / 255
    return (16 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255


@dataclass
class CheckerboardView:
    """The transposed-convolution lesson made visible."""

    spectrum: np.ndarray  # log10 |FFT| of (model - bicubic) on Y, centred: regular artefacts are bright dots
    flat_box: tuple  # (top, left, side) of the flattest region of the original
    flat: dict = field(default_factory=dict)  # label -> that region of each image, contrast stretched, uint8 (s, s)


def checkerboard(run_dir, name: str) -> CheckerboardView:
    """The spectrum of the model's residual over bicubic, and the flattest ``FLAT_WINDOW`` region of the original
    in all three images, each contrast-stretched around its own mean (x8) so a faint checkerboard shows."""
    imgs = {label: _y(_read(run_dir, name, label)) for label in LABELS}
    residual = imgs["model"] - imgs["bicubic"]
    spec = np.log10(np.abs(np.fft.fftshift(np.fft.fft2(residual - residual.mean()))) + 1e-6)
    h, w = spec.shape
    k = FLAT_WINDOW
    orig = imgs["original"]
    best, box = np.inf, (0, 0, min(k, h, w))
    for top in range(0, max(1, h - k + 1), k // 2):
        for left in range(0, max(1, w - k + 1), k // 2):
            v = orig[top:top + k, left:left + k].std()
            if v < best:
                best, box = v, (top, left, min(k, h, w))
    t, l, s = box
    flat = {}
    for label, img in imgs.items():
        region = img[t:t + s, l:l + s]
        flat[label] = np.clip(128 + 8 * 255 * (region - region.mean()), 0, 255).astype(np.uint8)
    return CheckerboardView(spec.astype(np.float32), box, flat)


@dataclass
class TradeoffPoint:
    """One finished run on the PSNR-vs-perception chart."""

    run: str
    model: str
    critic: str
    psnr: float
    perceptual: float  # Lite0 feature distance on the held-out images (lower: perceptually closer)
    sharpness: float
    psnr_bicubic: float
    perceptual_bicubic: float


def tradeoff_points(run_dirs) -> list[TradeoffPoint]:
    """The held-out means of finished enhance runs that measured the perceptual distance."""
    out = []
    for run_dir in run_dirs:
        path = Path(run_dir) / EVAL_NAME
        if not path.is_file():
            continue
        m = json.loads(path.read_text()).get("means") or {}
        if not np.isfinite(m.get("perceptual", np.nan)):
            continue
        cfg = json.loads((Path(run_dir) / "config.json").read_text())
        out.append(TradeoffPoint(Path(run_dir).name, cfg.get("model", ""), cfg.get("critic", "none"), m["psnr"],
                                 m["perceptual"], m.get("sharpness", np.nan), m["psnr_bicubic"],
                                 m["perceptual_bicubic"]))
    return out
